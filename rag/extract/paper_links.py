"""Paper links: after the papers are merged, link the passages and URLs that name them only
indirectly.

A passage may name a paper only by its short name ("MoLRE", "T-PaiNN’s"), be a bullet of a
group about one paper, or carry a URL (written out or behind a link) that belongs to a paper
named near it. These functions add the passage spans and the arXiv id, code and data URLs;
:func:`rag.extract.papers.extract_papers` calls them.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import replace

from rag.corpus.ingest import LoadedDigest
from rag.lexicon import is_name_like
from rag.records import Mention, Paper, UrlClaim
from rag.text import normalize_title
from rag.urls import arxiv_id_of, passage_urls

Span = tuple[int, int, str]  # (start, end, paper_id) within a passage's text


def link_names(docs: list[LoadedDigest], papers: dict[str, Paper],
               spans: dict[tuple[str, int], list[Span]]) -> None:
    """Link passages that name a paper only by its short name ("MoLRE", "T-PaiNN’s").

    A name of word characters and hyphens, named as a whole, is a whole run of such characters
    in the passage; any other name is looked up by its first run of word characters, which a
    passage naming it holds as a whole word: each passage costs a pass or two over its own
    words, not one test per name (200 names start with "T-" in a corpus of 1,000 digests)."""
    by_run: dict[str, list[str]] = defaultdict(list)
    by_word: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for pid, paper in papers.items():
        name = paper.short_name
        if name and len(name) >= 3 and is_name_like(name):
            if WORD_RUN.fullmatch(name):
                by_run[name].append(pid)
                continue
            first = _WORD.search(name)
            assert first is not None  # a name-like token starts with a letter
            by_word[first.group()].append((name, pid))
    for doc in docs:
        for p in doc.passages:
            found = [(name, pid) for name in set(WORD_RUN.findall(p.text)) & by_run.keys()
                     for pid in by_run[name]]
            if by_word:
                found += [hit for word in set(_WORD.findall(p.text)) & by_word.keys()
                          for hit in by_word[word]]
            for name, pid in found:
                for a, b in _whole_name(name, p.text):
                    spans[(p.digest_id, p.index)].append((a, b, pid))
                    _add_mention(papers, pid, p.digest_id, p.index)


def _whole_name(name: str, text: str) -> list[tuple[int, int]]:
    """Spans where ``text`` names ``name`` as a whole word, as the pattern
    ``(?<![\\w/-])NAME(?![\\w-])`` finds them (``\\w``: a letter, digit or "_"), without
    compiling one pattern per name (thousands would flood ``re``'s pattern cache)."""
    out = []
    i = text.find(name)
    while i >= 0:
        j = i + len(name)
        before, after = text[i - 1:i], text[j:j + 1]
        if (not before or not (before.isalnum() or before in "_/-")) and \
                (not after or not (after.isalnum() or after in "_-")):
            out.append((i, j))
            i = text.find(name, j)
        else:
            i = text.find(name, i + 1)
    return out


_WORD = re.compile(r"\w+")
# a run of word characters and hyphens: a name of only those, named as a whole (see
# _whole_name: neither a word character nor a hyphen on either side), is one of the runs
WORD_RUN = re.compile(r"[\w-]+")


def _add_mention(papers: dict[str, Paper], pid: str, digest_id: str, index: int) -> None:
    paper = papers[pid]
    if not any(m.digest_id == digest_id and m.passage_index == index for m in paper.mentions):
        papers[pid] = replace(paper, mentions=paper.mentions + (Mention(digest_id, index),))


def inherit_in_groups(docs: list[LoadedDigest], spans: dict[tuple[str, int], list[Span]]) -> None:
    """Bullets of a group ("Efficient Transfer Learning: Frameworks / Datasets / Code") that
    name no paper belong to the group's paper when the group names exactly one."""
    for doc in docs:
        groups: dict[str, list[int]] = defaultdict(list)
        for p in doc.passages:
            if p.kind == "bullet" and "›" in p.section:
                groups[p.section].append(p.index)
        for idxs in groups.values():
            named = {pid for i in idxs for (_, _, pid) in spans.get((doc.digest.id, i), [])}
            if len(named) == 1:
                pid = next(iter(named))
                for i in idxs:
                    if not spans.get((doc.digest.id, i)):
                        spans[(doc.digest.id, i)].append((0, len(doc.passages[i].text), pid))


def attach_urls(docs: list[LoadedDigest], papers: dict[str, Paper],
                spans: dict[tuple[str, int], list[Span]]) -> None:
    """Give every URL (written out or behind a link) to the paper whose naming the link text
    is, else to the paper named closest before it in its passage (arXiv URLs become arXiv
    ids); a URL in a passage that names no paper ("Code: github.com/x/Cheby-PINNs") goes to
    the paper of the same digest whose title its repository name abbreviates, or whose
    first author it names."""
    by_digest: dict[str, list[str]] = defaultdict(list)  # one pass, not one per digest
    for pid, paper in papers.items():
        for digest_id in paper.digest_ids:
            by_digest[digest_id].append(pid)
    for doc in docs:
        in_digest = by_digest.get(doc.digest.id, [])
        for p in doc.passages:
            urls = passage_urls(p)
            if not urls:
                continue
            here = sorted(spans.get((p.digest_id, p.index), []))
            for pos, end, url, kind in urls:
                inside = [s for s in here if s[0] < end and s[1] > pos and end > pos]
                before = [s for s in here if s[0] <= pos]
                named = sorted({x[2] for x in here})
                # "X is close to Baseline's scores. Code: github.com/lab/x": the repository
                # names its paper, whichever paper the passage named last
                by_repo = _repo_owner(url, named, papers) if len(named) > 1 and \
                    kind != "arxiv" else None
                if inside:
                    owner: str | None = inside[0][2]
                elif by_repo is not None:
                    owner = by_repo
                else:
                    owner = max(before, key=lambda s: (s[0], -s[1]))[2] if before else (
                        here[0][2] if here else _repo_owner(url, in_digest, papers)
                        or _author_owner(p.text, in_digest, papers))
                if owner is None:
                    continue
                if not here:
                    spans[(p.digest_id, p.index)].append((0, len(p.text), owner))
                    _add_mention(papers, owner, p.digest_id, p.index)
                paper = papers[owner]
                if kind == "arxiv":
                    papers[owner] = replace(paper, arxiv_id=paper.arxiv_id or arxiv_id_of(url))
                    continue
                field_ = "data_urls" if kind == "data" else "code_urls"
                claim = UrlClaim(url, "data" if kind == "data" else "code", p.digest_id, p.index)
                if url not in getattr(paper, field_):
                    paper = replace(paper, **{field_: getattr(paper, field_) + (url,)})
                if claim not in paper.url_claims:
                    paper = replace(paper, url_claims=paper.url_claims + (claim,))
                papers[owner] = paper


def _repo_owner(url: str, candidates: list[str], papers: dict[str, Paper]) -> str | None:
    repo = url.rstrip("/").removesuffix(".git").rsplit("/", 1)[-1]
    parts = [x for x in re.split(r"[-_.]", repo.lower()) if x]
    best = [pid for pid in candidates if parts and (all(
        any(w.startswith(x) for w in normalize_title(papers[pid].title).split()) for x in parts)
        or re.sub(r"\W|_", "", (papers[pid].short_name or "").lower()) == "".join(parts))]
    return best[0] if len(best) == 1 else None


def _author_owner(text: str, candidates: list[str], papers: dict[str, Paper]) -> str | None:
    """The one paper of the digest whose first author's surname the passage names ("The
    recordings used by Yusuf and Boateng are released at ..."), else None."""
    words = set(re.findall(r"[\w’'-]+", text))
    hits = []
    for pid in candidates:
        for written in papers[pid].authors[:1]:
            first = re.split(r",|\band\b|\bet al\b", written)[0].split()
            if first and len(first[-1]) > 2 and first[-1] in words:
                hits.append(pid)
    return hits[0] if len(hits) == 1 else None

