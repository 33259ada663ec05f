"""Export: papers as BibTeX and RIS references, for a reference manager.

One entry per paper (an answer's cited papers, or a filtered list from the papers browser).
BibTeX is written by ``bibtexparser`` (text fields LaTeX-encoded by its middleware, URLs and
identifiers kept verbatim) and RIS by ``rispy``; nothing is formatted by hand. A paper with an
arXiv id is a preprint entry with the id (``eprint``/``AN``), ``archivePrefix = {arXiv}``, its
arXiv DOI and URL; code links and the digests that mention the paper go in a note. Authors are
arXiv's list when known, else the digest's ("Koch et al." becomes ``Koch and others``). Only
http(s) URLs that pass :func:`rag.urls.clean_url` are written, and text is plain
(:func:`rag.output.portable.plain`: no HTML tags).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping

import bibtexparser
import rispy
from bibtexparser import model
from bibtexparser.middlewares import LatexEncodingMiddleware

from rag.output.portable import plain
from rag.records import Answer, Digest, Paper
from rag.urls import clean_url

_SKIP = {"a", "an", "the", "on", "of", "for", "in", "to", "and", "with", "via", "towards"}
_ET_AL = re.compile(r"\s+et\s+al\.?$", re.IGNORECASE)


class _RisWriter(rispy.RisWriter):
    """RIS without rispy's "1." numbering line before each entry."""

    def set_header(self, count: int) -> str:
        return ""


def cited_papers(answer: Answer) -> list[Paper]:
    """The papers an answer cites, in citation order, each once."""
    seen: dict[str, Paper] = {}
    for c in answer.citations:
        if c.paper is not None and c.paper.id not in seen:
            seen[c.paper.id] = c.paper
    return list(seen.values())


def _ascii(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()


def _year(p: Paper, digests: Mapping[str, Digest]) -> str | None:
    """The arXiv id's year (2603.04567 -> 2026), else the newest digest's."""
    if p.arxiv_id and re.match(r"\d{4}\.", p.arxiv_id):
        return f"20{p.arxiv_id[:2]}"
    dates = [d for i in p.digest_ids if i in digests and (d := digests[i].date) is not None]
    return str(max(dates).year) if dates else None


def authors(p: Paper) -> list[str]:
    """Author names for a reference: arXiv's list, else the digest's ("X et al." -> X, others)."""
    if p.arxiv_authors:
        return [plain(a) for a in p.arxiv_authors]
    out: list[str] = []
    for who in map(plain, p.authors):
        for name in re.split(r"\s+and\s+|,\s*", who.strip()):
            name = name.strip()
            if _ET_AL.search(name):
                out += [_ET_AL.sub("", name), "others"]
            elif name:
                out.append(name)
    return list(dict.fromkeys(n for n in out if n))


def _key(p: Paper, year: str | None, taken: set[str]) -> str:
    """'koch2026buildyn': first author's last name, year, first word of the title."""
    names = [n for n in authors(p) if n != "others"]
    last = re.sub(r"[^a-z]", "", _ascii(names[0].split()[-1]).lower()) if names else ""
    words = [w for w in re.findall(r"[a-z0-9]+", _ascii(p.title).lower()) if w not in _SKIP]
    base = f"{last or 'anon'}{year or ''}{words[0] if words else 'paper'}"
    key, n = base, 0
    while key in taken:
        n += 1
        key = f"{base}{chr(ord('a') + n - 1) if n <= 26 else n}"
    taken.add(key)
    return key


def _mentions(p: Paper, digests: Mapping[str, Digest]) -> str:
    found = [digests[i] for i in p.digest_ids if i in digests]
    return "; ".join(f"{plain(d.title)} ({d.date.isoformat() if d.date else 'undated'})"
                     for d in found)


def _urls(p: Paper) -> tuple[str | None, list[str]]:
    """(the entry's URL: arXiv, else the first code link; its validated code links)."""
    code = [u for u in (clean_url(x) for x in p.code_urls) if u]
    return (clean_url(p.arxiv_url) if p.arxiv_id else None) or (code[0] if code else None), code


def _note(p: Paper, digests: Mapping[str, Digest], code: list[str]) -> str:
    parts = []
    if code:
        parts.append("Code: " + ", ".join(code))
    mentioned = _mentions(p, digests)
    if mentioned:
        parts.append("Mentioned in the digest" + ("s " if len(p.digest_ids) > 1 else " ")
                     + mentioned)
    return ". ".join(parts)


def bibtex(papers: Iterable[Paper], digests: Mapping[str, Digest] | None = None) -> str:
    """The papers as BibTeX entries (``@misc``; arXiv preprints with eprint, archivePrefix,
    DOI and URL)."""
    digests = digests or {}
    text, raw = bibtexparser.Library(), {}
    taken: set[str] = set()
    for p in papers:
        year = _year(p, digests)
        key = _key(p, year, taken)
        url, code = _urls(p)
        fields = [model.Field("title", plain(p.title))]
        names = authors(p)
        if names:
            fields.append(model.Field("author", " and ".join(names)))
        if year:
            fields.append(model.Field("year", year))
        note = _note(p, digests, code)
        if note:
            fields.append(model.Field("note", note))
        text.add(model.Entry("misc", key, fields))
        ids = []
        if p.arxiv_id:
            ids += [model.Field("eprint", p.arxiv_id), model.Field("archiveprefix", "arXiv"),
                    model.Field("doi", f"10.48550/arXiv.{p.arxiv_id}")]
        if url:
            ids.append(model.Field("url", url))
        raw[key] = ids
    LatexEncodingMiddleware(keep_math=False, enclose_urls=False).transform(text)
    for entry in text.entries:  # identifiers and URLs verbatim, after the encoding
        for f in raw[entry.key]:
            entry.set_field(f)
    return bibtexparser.write_string(text)


def _ris_name(name: str) -> str:
    """'Anna Koch' -> 'Koch, Anna' (RIS author form); one-word names unchanged."""
    parts = name.split()
    return f"{parts[-1]}, {' '.join(parts[:-1])}" if len(parts) > 1 else name


def ris(papers: Iterable[Paper], digests: Mapping[str, Digest] | None = None) -> str:
    """The papers as RIS records (``UNPB`` for arXiv preprints, with ID, AN = arXiv id, DO and
    UR; ``GEN`` otherwise)."""
    digests = digests or {}
    refs: list[dict] = []
    taken: set[str] = set()
    for p in papers:
        year = _year(p, digests)
        url, code = _urls(p)
        ref: dict = {"type_of_reference": "UNPB" if p.arxiv_id else "GEN",
                     "id": _key(p, year, taken), "title": plain(p.title)}
        names = [n for n in authors(p) if n != "others"]
        if names:
            ref["authors"] = [_ris_name(n) for n in names]
        if year:
            ref["year"] = year
        if p.arxiv_id:
            ref["accession_number"] = f"arXiv:{p.arxiv_id}"
            ref["doi"] = f"10.48550/arXiv.{p.arxiv_id}"
        urls = list(dict.fromkeys([u for u in (url, *code) if u]))
        if urls:
            ref["urls"] = urls
        note = _note(p, digests, code)
        if note:
            ref["notes"] = [note]
        refs.append(ref)
    return rispy.dumps(refs, implementation=_RisWriter) + ("\n" if refs else "")


def export(papers: Iterable[Paper], fmt: str, digests: Mapping[str, Digest] | None = None
           ) -> str:
    """``papers`` in ``fmt`` ('bibtex' or 'ris')."""
    if fmt == "bibtex":
        return bibtex(papers, digests)
    if fmt == "ris":
        return ris(papers, digests)
    raise ValueError(f"No export format {fmt!r}: use 'bibtex' or 'ris'.")
