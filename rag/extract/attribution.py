"""Attribution check: compare what a digest says about a paper's authors and institutions
with the paper's own metadata, and say where they disagree.

Digests are machine-written: a placeholder ("Author A, B, and C from University of Example")
can stand in for the real authors, or a famous name can be credited with someone else's
paper. Each finding is one readable sentence naming both sides, stored in
``Paper.attribution_issues``. No metadata, no comparison: only placeholders are flagged then.
:func:`disagreements` compares digests with each other: two digests giving a paper different
code links or different authors are both shown, each with its digest.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Mapping

from rag.records import Digest, Paper
from rag.text import strip_accents

_PLACEHOLDER_AUTHOR = re.compile(
    r"^\s*(?:authors?\s+[A-Z]\b|[A-Z],\s*[A-Z],?\s+and\s+[A-Z]\b|john\s+doe|jane\s+doe|"
    r"anonymous|first\s+author|author\s+name|et\s+al\.?$)", re.IGNORECASE)
_PLACEHOLDER_INST = re.compile(
    r"\b(?:university of example|example university|institute of example|acme|"
    r"your (?:university|institution)|affiliation)\b", re.IGNORECASE)


def _surnames(written: str) -> list[str]:
    """Surnames of the people a digest names: "J. Z. Kolter et al." -> ["kolter"]."""
    s = strip_accents(written)
    s = re.sub(r"\bet al\.?|\band (?:colleagues|co-authors|coauthors|his team|her team|their "
               r"team|collaborators)\b", " ", s, flags=re.IGNORECASE)
    out = []
    for name in re.split(r",|\band\b", s):
        words = [w.strip(".").lower().replace("-", "") for w in name.split()
                 if len(w.strip(".")) > 1]
        if words:
            out.append(words[-1])
    return out


def _real_surnames(authors: tuple[str, ...]) -> set[str]:
    """Every part of every real name, hyphens removed ("Martín-Pérez" -> "martinperez"):
    surnames can be multi-word ("Filgueira da Silva") or hyphenated."""
    out: set[str] = set()
    for a in authors:
        out.update(w.strip(".").lower().replace("-", "") for w in strip_accents(a).split()
                   if len(w.strip(".")) > 1)
    return out


def _list(names: tuple[str, ...], most: int = 4) -> str:
    shown = ", ".join(names[:most])
    return shown + (f" and {len(names) - most} more" if len(names) > most else "")


def attribution_issues(paper: Paper) -> tuple[str, ...]:
    """Readable disagreements between the digest's attribution and the paper's metadata."""
    issues: list[str] = []
    real = paper.arxiv_authors
    for written in paper.authors:
        if _PLACEHOLDER_AUTHOR.match(written):
            tail = f"; arXiv lists {_list(real)}" if real else ""
            issues.append(f"The digest's author list \"{written}\" looks like a placeholder, "
                          f"not real names{tail}.")
        elif real:
            names = _surnames(written)
            known = _real_surnames(real)
            missing = [n for n in names if n not in known]
            if names and len(missing) == len(names):
                issues.append(f"The digest credits \"{written}\", but the arXiv author list "
                              f"({_list(real)}) does not include "
                              f"{' or '.join(n.title() for n in missing)}.")
    fake_inst = [i for i in paper.institutions if _PLACEHOLDER_INST.search(i)]
    if fake_inst:
        issues.append(f"The digest's institutions ({', '.join(paper.institutions)}) include "
                      f"placeholder names ({', '.join(fake_inst)}); the real affiliations are "
                      "not known here.")
    return tuple(dict.fromkeys(issues))


def _where(d: Digest | None, digest_id: str) -> str:
    if d is None:
        return digest_id
    return f"“{d.title}” ({d.date:%b %-d, %Y})" if d.date else f"“{d.title}”"


def _norm_url(url: str) -> str:
    return url.lower().rstrip("/").removesuffix(".git").split("://", 1)[-1]


def disagreements(paper: Paper, digests: Mapping[str, Digest]) -> tuple[str, ...]:
    """Where digests contradict each other about a paper, each side named with its digest:
    code links that share nothing between two digests, or author credits that name no one in
    common. One digest adding a link or a name to another's is not a disagreement."""
    out: list[str] = []
    name = paper.short_name or paper.title
    code: dict[str, list[str]] = defaultdict(list)
    for c in paper.url_claims:
        if c.kind == "code" and c.url not in code[c.digest_id]:
            code[c.digest_id].append(c.url)
    sets = {d: {_norm_url(u) for u in urls} for d, urls in code.items()}
    if any(not (sets[a] & sets[b]) for a in sets for b in sets if a < b):
        out.append(f"Digests disagree on the code for {name}: " + "; ".join(
            f"{_where(digests.get(d), d)} gives {', '.join(urls)}" for d, urls in code.items())
            + ".")
    credits: dict[str, str] = {}
    for m in paper.mentions:
        if m.authors and m.digest_id not in credits:
            credits[m.digest_id] = m.authors
    names = {d: set(_surnames(a)) for d, a in credits.items()}
    if any(names[a] and names[b] and not (names[a] & names[b])
           for a in names for b in names if a < b):
        out.append(f"Digests disagree on who wrote {name}: " + "; ".join(
            f"{_where(digests.get(d), d)} credits {a}" for d, a in credits.items()).rstrip(".")
            + ".")
    return tuple(out)
