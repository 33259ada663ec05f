"""Metadata: load the arXiv metadata snapshot and join it, and paper texts, to the papers.

Snapshot records (``*.jsonl``: arXiv id, title, authors, cached abstracts from :mod:`rag.arxiv`)
are matched to papers by title (no match beats a wrong one) and, for papers the digests name
without a title, by first author and topic; a match brings the arXiv id, title, real author
list and abstract. Paper texts (:mod:`rag.sources`) are linked to papers by arXiv id or title.
:func:`rag.papers.extract_papers` calls :func:`join_metadata`.
"""

from __future__ import annotations

import logging
import re
from collections import defaultdict
from dataclasses import replace
from pathlib import Path

from .ingest import LoadedDigest, jsonl_records
from .records import Paper
from .sources import PaperText
from .text import normalize_title, slugify, strip_accents, title_similarity, tokenize

log = logging.getLogger(__name__)


def load_metadata(folder: Path) -> tuple[list[dict], list[str]]:
    """Read every ``*.jsonl`` arXiv snapshot in ``folder``; bad lines become warnings."""
    records: list[dict] = []
    warnings: list[str] = []
    if not Path(folder).is_dir():
        return records, warnings
    for path in sorted(Path(folder).glob("*.jsonl")):
        recs, bad = jsonl_records(path.read_text(encoding="utf-8", errors="replace"), path.name,
                                  ("arxiv_id", "title"))
        records += recs
        warnings += bad
    merged: dict[str, dict] = {}  # one record per arXiv id: a snapshot line plus a cached
    for rec in records:           # abstract for the same paper become one record
        have = merged.setdefault(str(rec["arxiv_id"]), {})
        for k, v in rec.items():
            if v and not have.get(k):
                have[k] = v
    return list(merged.values()), warnings


def clean_author_list(authors: list) -> tuple[str, ...]:
    """Names only. A list carrying a snapshot note ('(not in excerpt; digest: ...)') or 'et al.'
    is not a real author list: it counts as unknown (empty), never as partial names."""
    names = [a.strip() for a in authors or [] if isinstance(a, str) and a.strip()]
    if any(re.search(r"[()]|not in excerpt|digest:|\bet al\b|full list", a, re.I)
           for a in names):
        return ()
    return tuple(names)


def match_metadata(paper: Paper, metadata: list[dict]) -> dict | None:
    """The one metadata record whose title is this paper's, or None (no match beats a wrong
    one): exact normalised title, a title that starts with the paper's (3+ words), or an
    arXiv title whose part before the colon is the paper's short name or label."""
    cands = {normalize_title(paper.title)}
    if paper.short_name:
        cands.add(normalize_title(paper.short_name))
        cands.add(normalize_title(f"{paper.short_name}: {paper.title}"))
    scored: list[tuple[float, dict]] = []
    for rec in metadata:
        nt = normalize_title(rec["title"])
        pre = normalize_title(rec["title"].split(":")[0])
        best = 0.0
        for c in cands:
            if not c:
                continue
            if c == nt:
                best = max(best, 1.0)
            elif c == pre and len(c) >= 4:
                best = max(best, 0.95)
            elif len(c.split()) >= 3 and nt.startswith(c + " "):
                best = max(best, 0.9)
            elif len(c) > 25 and title_similarity(c, nt, at_least=0.92) >= 0.92:
                best = max(best, 0.85)
        if best:
            scored.append((best, rec))
    if not scored:
        return None
    scored.sort(key=lambda x: -x[0])
    if len(scored) > 1 and scored[1][0] == scored[0][0]:
        return None  # ambiguous
    return scored[0][1]


def _first_author_key(name: str) -> tuple[str, str] | None:
    """(first initial, surname) of a full name, e.g. "C. Albors" -> ("c", "albors")."""
    parts = strip_accents(name).lower().replace(".", " ").split()
    if len(parts) < 2 or len(parts[-1]) < 2:
        return None
    return parts[0][0], parts[-1]


def first_author_keys(metadata: list[dict]) -> list[tuple[str, str] | None]:
    """Each record's first-author key (None without a real author list), for
    :func:`match_by_authors`; compute it once per metadata list."""
    return [_first_author_key(names[0]) if (names := clean_author_list(r.get("authors", [])))
            else None for r in metadata]


def match_by_authors(paper: Paper, metadata: list[dict], context: str,
                     keys: list[tuple[str, str] | None] | None = None) -> dict | None:
    """Fallback for papers the digest names without their title (PhyloGPN, ZeroHungerAI): the
    digest's first author (with a first name or initial, not just "Li et al.") must be the
    record's first author, the record must be the only such one, and the paper's passages must
    share at least two content words with the record's title."""
    words = set(tokenize(context))
    keys = first_author_keys(metadata) if keys is None else keys
    for written in paper.authors:
        first = re.split(r",|\band\b|\bet al\b", written)[0].strip()
        key = _first_author_key(first)
        if key is None:
            continue
        hits = [r for r, k in zip(metadata, keys) if k == key]
        if len(hits) == 1 and len(words & set(tokenize(hits[0]["title"]))) >= 2:
            return hits[0]
    return None


def join_metadata(papers: dict[str, Paper], metadata: list[dict],
                  docs: list[LoadedDigest] | None = None) -> dict[str, Paper]:
    """Attach arXiv id, title and the real author list to the papers that match a record, by
    title first and, for papers named without a title, by first author and topic."""
    out = dict(papers)
    text = {(d.digest.id, p.index): p.text for d in docs or [] for p in d.passages}
    claims: dict[str, list[tuple[float, str]]] = defaultdict(list)
    keys = first_author_keys(metadata) if docs else []
    for pid, paper in papers.items():
        rec = match_metadata(paper, metadata)
        score = 1.0
        if rec is None and docs:
            context = " ".join(text.get((m.digest_id, m.passage_index), "")
                               for m in paper.mentions)
            rec, score = match_by_authors(paper, metadata, context, keys), 0.5
        if rec is None:
            continue
        if paper.arxiv_id and paper.arxiv_id != rec["arxiv_id"]:
            log.warning("paper %r: digest links arXiv %s but its title matches %s; kept the link",
                        paper.title, paper.arxiv_id, rec["arxiv_id"])
            continue
        claims[rec["arxiv_id"]].append((score, pid))
    records = {r["arxiv_id"]: r for r in metadata}
    for arxiv_id, who in claims.items():
        who.sort(reverse=True)
        if len(who) > 1 and who[0][0] == who[1][0]:
            log.warning("arXiv %s matches several papers (%s); left unmatched", arxiv_id,
                        ", ".join(pid for _, pid in who))
            continue
        pid, rec = who[0][1], records[arxiv_id]
        out[pid] = replace(out[pid], arxiv_id=arxiv_id, arxiv_title=rec["title"],
                           arxiv_authors=clean_author_list(rec.get("authors", [])))
    for pid, paper in out.items():  # abstracts fetched from arXiv (rag.arxiv's cache)
        rec = records.get(paper.arxiv_id or "")
        if rec and rec.get("abstract") and not paper.abstract:
            out[pid] = replace(paper, abstract=" ".join(str(rec["abstract"]).split()),
                               abstract_source="arXiv")
    return out


def attach_paper_texts(papers: dict[str, Paper], texts: list[PaperText]
                       ) -> tuple[dict[str, Paper], list[str]]:
    """Link each paper text (PDF, abstracts file) to its paper, by arXiv id or title; a text
    that matches no paper becomes a paper of its own. Returns (papers, owner id per text)."""
    out = dict(papers)
    owners: list[str] = []
    for t in texts:
        pid = next((p.id for p in out.values() if t.arxiv_id and p.arxiv_id == t.arxiv_id), None)
        if pid is None:
            rec = match_metadata(Paper("_", t.title), [
                {"arxiv_id": p.id, "title": p.arxiv_title or p.title} for p in out.values()])
            pid = rec["arxiv_id"] if rec else None
        if pid is None:
            pid = base = slugify(t.title)
            n = 2
            while pid in out:
                pid, n = f"{base}-{n}", n + 1
            out[pid] = Paper(id=pid, title=t.title, arxiv_id=t.arxiv_id,
                             arxiv_authors=t.authors)
        if t.abstract and not out[pid].abstract:
            out[pid] = replace(out[pid], abstract=t.abstract, abstract_source=t.origin)
        owners.append(pid)
    return out, owners
