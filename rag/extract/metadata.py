"""Metadata: load the arXiv metadata snapshot and join it, and paper texts, to the papers.

Snapshot records (``*.jsonl``: arXiv id, title, authors, cached abstracts from
:mod:`rag.corpus.arxiv`) are matched to papers by title (no match beats a wrong one) and, for papers
the digests name without a title, by first author and topic, each paper compared only with the
records that share a title or author key with it (:class:`MetadataIndex`); a match brings the arXiv
id, title, real author list and abstract. Paper texts (:mod:`rag.corpus.paper_texts`) are linked to
papers by arXiv id or title. :func:`rag.extract.papers.extract_papers` calls :func:`join_metadata`.
Snapshot files are read like digests (size-bounded, text or refused, parsed under a time limit); a
line that is not JSON, nests too deeply or has fields of the wrong type is a warning naming the file
and line.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from rag.corpus.ingest import LoadedDigest, parse_files
from rag.corpus.paper_texts import PaperText
from rag.corpus.readers import jsonl_lines, name_list, optional_text
from rag.corpus.safe_read import Limits, decode, inside, limits_of, outside_warning
from rag.extract.key_blocks import KeyBlocks
from rag.extract.titles import similar_normalized, similar_title_keys
from rag.records import Paper
from rag.text import normalize_title, slugify, strip_accents, tokenize

if TYPE_CHECKING:
    from rag.corpus.parse_cache import ParseCache
    from rag.settings import Settings

log = logging.getLogger(__name__)


def parse_metadata_file(path: Path, data: bytes) -> tuple[list[dict], list[str]]:
    """The records of one arXiv snapshot file's bytes; (records, warnings naming the file and
    line). A record needs "arxiv_id" and "title" as text; "authors" must be a list of names
    and "abstract" text, else that field is dropped with a warning. Runs in a parser
    process."""
    path = Path(path)
    text, warnings = decode(data, path)
    recs, bad = jsonl_lines(text, path.name, ("arxiv_id", "title"))
    warnings += bad
    out = []
    for n, rec in recs:
        line = f"line {n}"
        clean = {k: v for k, v in rec.items() if k not in ("authors", "abstract")}
        if "authors" in rec:
            clean["authors"] = list(name_list(rec, "authors", path.name, line, warnings))
        if (abstract := optional_text(rec, "abstract", path.name, line, warnings)):
            clean["abstract"] = abstract
        out.append(clean)
    return out, warnings


def load_metadata(folder: Path, settings: Settings | Limits | None = None,
                  cache: ParseCache | None = None) -> tuple[list[dict], list[str]]:
    """Read every ``*.jsonl`` arXiv snapshot in ``folder``; bad lines and files become
    warnings naming them. Files are size-bounded and parsed under the time limit of
    ``settings`` (a :class:`rag.Settings` or :class:`~rag.corpus.safe_read.Limits`; None: from the
    environment), or taken from ``cache`` when their content is unchanged; a link to a file
    outside the corpus folder (``folder``'s parent) is not followed."""
    limits = limits_of(settings)
    records: list[dict] = []
    warnings: list[str] = []
    if not Path(folder).is_dir():
        return records, warnings
    root = Path(folder).parent
    files = []
    for path in sorted(p for p in Path(folder).glob("*.jsonl") if p.is_file()):
        if inside(path, root):
            files.append(path)
        else:
            warnings.append(outside_warning(path, root))
    kept = {p: hit for p in files if cache is not None and (hit := cache.records(p))}
    parsed, notes = parse_files(parse_metadata_file, [p for p in files if p not in kept], limits)
    warnings += notes
    for path, (got, warns) in parsed:
        kept[path] = got, warns
        if cache is not None:
            cache.put_records(path, got, warns)
    for got, warns in (kept[p] for p in files if p in kept):  # in file order
        records += got
        warnings += warns
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
    if any(_NOTE.search(a) for a in names):
        return ()
    return tuple(names)


_NOTE = re.compile(r"[()]|not in excerpt|digest:|\bet al\b|full list", re.I)


class MetadataIndex:
    """Metadata records by the keys :func:`match_metadata` and :func:`match_by_authors` can
    match on, so a paper is compared with the few records that share one instead of all:
    normalised title, its part before a colon, its starts of 3+ words, three of its four
    longest words at a similar length (:func:`rag.extract.titles.similar_title_keys`), first
    author."""

    def __init__(self, metadata: list[dict], stored: Mapping[str, np.ndarray] | None = None
                 ) -> None:
        """Index ``metadata``, or take the index of the same records from ``stored`` (what
        :meth:`to_arrays` gave for them); ValueError when ``stored`` is not such an index."""
        self.blocks: Mapping[str, list[int]] | KeyBlocks
        if stored is not None:
            self.rows, self.blocks, authors = _from_arrays(metadata, stored)
        else:
            self.rows = [_row(rec) for rec in metadata]
            blocks: dict[str, list[int]] = defaultdict(list)
            for i, (_, nt, pre) in enumerate(self.rows):
                words = nt.split()
                keys = {f"t:{nt}", f"c:{pre}",
                        *(f"p:{' '.join(words[:k])}" for k in range(3, len(words)))}
                keys.update("s:" + k for k in similar_title_keys(nt, _SIMILAR))
                for key in keys:
                    blocks[key].append(i)
            self.blocks = blocks
            authors = first_author_keys(metadata)
        self.author_keys = authors
        self.by_author: dict[tuple[str, str], list[dict]] = defaultdict(list)
        for rec, author in zip(metadata, authors):
            if author is not None:
                self.by_author[author].append(rec)

    def to_arrays(self) -> dict[str, np.ndarray]:
        """The index as numpy arrays (no objects: saved without pickle), for :meth:`__init__`'s
        ``stored``: normalised titles and parts before a colon as lines of ASCII text, first
        authors as JSON, the blocks as :class:`rag.extract.key_blocks.KeyBlocks` arrays."""
        blocks = self.blocks if isinstance(self.blocks, KeyBlocks) else KeyBlocks.of(self.blocks)
        text = {"nt": "\n".join(nt for _, nt, _ in self.rows),
                "pre": "\n".join(pre for _, _, pre in self.rows),
                "authors": json.dumps(self.author_keys, ensure_ascii=False)}
        return {**{k: np.frombuffer(v.encode("utf-8", "surrogatepass"), np.uint8)
                   for k, v in text.items()},
                "blocks": blocks.hashes, "starts": blocks.starts, "members": blocks.members}

    def candidates(self, titles: set[str]) -> list[tuple[dict, str, str]]:
        """(record, normalised title, normalised part before a colon) of the records (in
        metadata order) that may match one of these normalised titles."""
        keys = []
        for c in titles:
            keys += [f"t:{c}", f"c:{c}", f"p:{c}"]
            if len(c) > 25:
                keys += ["s:" + k for k in similar_title_keys(c, _SIMILAR, band=True)]
        return [self.rows[i] for i in sorted({i for k in keys for i in self.blocks.get(k, ())})]


def _from_arrays(metadata: list[dict], stored: Mapping[str, np.ndarray]
                 ) -> tuple[list[tuple[dict, str, str]], KeyBlocks, list[tuple[str, str] | None]]:
    """(rows, blocks, first-author keys) of :meth:`MetadataIndex.to_arrays`'s arrays for
    ``metadata``; ValueError when they are not the index of that many records."""
    n = len(metadata)
    try:
        if any(stored[k].dtype != np.uint8 for k in ("nt", "pre", "authors")):
            raise TypeError("text arrays of another type")
        nt, pre, authors = (bytes(stored[k]).decode("utf-8") for k in ("nt", "pre", "authors"))
        keys = json.loads(authors)
        blocks = KeyBlocks(stored["blocks"], stored["starts"], stored["members"])
    except (KeyError, TypeError, ValueError) as err:  # ValueError: bad UTF-8 or JSON
        raise ValueError(f"not a metadata index ({err})") from err
    titles = (nt.split("\n"), pre.split("\n")) if n else ([], [])
    if not (isinstance(keys, list) and len(keys) == len(titles[0]) == len(titles[1]) == n
            and all(k is None or (isinstance(k, list) and len(k) == 2 and all(
                isinstance(x, str) for x in k)) for k in keys)
            and KeyBlocks.valid(blocks.hashes, blocks.starts, blocks.members, n)):
        raise ValueError(f"not a metadata index of {n} records")
    return list(zip(metadata, *titles)), blocks, [tuple(k) if k else None for k in keys]


_SIMILAR = 0.92  # title similarity at which match_metadata takes a record (score 0.85)


def _row(rec: dict) -> tuple[dict, str, str]:
    # normalised once per record, outside normalize_title's cache (which the many records of
    # a large snapshot would otherwise flush of the titles that the papers look up repeatedly)
    norm = normalize_title.__wrapped__
    return rec, norm(rec["title"]), norm(rec["title"].split(":")[0])


def match_metadata(paper: Paper, metadata: list[dict], index: MetadataIndex | None = None
                   ) -> dict | None:
    """The one metadata record whose title is this paper's, or None (no match beats a wrong
    one): exact normalised title, a title that starts with the paper's (3+ words), or an
    arXiv title whose part before the colon is the paper's short name or label. With an
    ``index`` of ``metadata`` only the records that share a key with the paper are compared."""
    cands = {normalize_title(paper.title)}
    if paper.short_name:
        cands.add(normalize_title(paper.short_name))
        cands.add(normalize_title(f"{paper.short_name}: {paper.title}"))
    cands.discard("")
    scored: list[tuple[float, dict]] = []
    rows = (_row(rec) for rec in metadata) if index is None else index.candidates(cands)
    for rec, nt, pre in rows:
        best = 0.0
        for c in cands:
            if c == nt:
                best = max(best, 1.0)
            elif c == pre and len(c) >= 4:
                best = max(best, 0.95)
            elif len(c.split()) >= 3 and nt.startswith(c + " "):
                best = max(best, 0.9)
            elif len(c) > 25 and similar_normalized(c, nt, _SIMILAR):
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
                     keys: list[tuple[str, str] | None] | None = None,
                     index: MetadataIndex | None = None) -> dict | None:
    """Fallback for papers the digest names without their title (PhyloGPN, ZeroHungerAI): the
    digest's first author (with a first name or initial, not just "Li et al.") must be the
    record's first author, the record must be the only such one, and the paper's passages must
    share at least two content words with the record's title. ``index`` (of ``metadata``)
    finds the records of a first author by look-up."""
    words = set(tokenize(context))
    if index is None and keys is None:
        keys = first_author_keys(metadata)
    for written in paper.authors:
        first = re.split(r",|\band\b|\bet al\b", written)[0].strip()
        key = _first_author_key(first)
        if key is None:
            continue
        hits = index.by_author.get(key, []) if index is not None else \
            [r for r, k in zip(metadata, keys or []) if k == key]
        if len(hits) == 1 and len(words & set(tokenize(hits[0]["title"]))) >= 2:
            return hits[0]
    return None


class Matches(Protocol):
    """A memo of match results (arXiv id, "" for none) by what they depend on, kept between
    builds for one metadata snapshot (:class:`rag.extract.cache.ExtractCache` keeps one)."""

    def get(self, key: str) -> str | list[str] | None: ...
    def put(self, key: str, value: str) -> None: ...
    def stored_index(self) -> dict[str, np.ndarray] | None: ...
    def store_index(self, data: dict[str, np.ndarray]) -> None: ...


def join_metadata(papers: dict[str, Paper], metadata: list[dict],
                  docs: list[LoadedDigest] | None = None, exhaustive: bool = False,
                  memo: Matches | None = None) -> dict[str, Paper]:
    """Attach arXiv id, title and the real author list to the papers that match a record, by
    title first and, for papers named without a title, by first author and topic. Each paper
    is compared with the records a :class:`MetadataIndex` gives it (``exhaustive``: with every
    record, the quadratic reference path). ``memo`` (for this ``metadata``) gives each match
    it already holds by the paper's title and short name, or authors and passages, and stores
    the others: the index is built only when one is missing."""
    out = dict(papers)
    text = {(d.digest.id, p.index): p.text for d in docs or [] for p in d.passages}
    claims: dict[str, list[tuple[float, str]]] = defaultdict(list)
    records = {r["arxiv_id"]: r for r in metadata}
    built: list[MetadataIndex] = []

    def index() -> MetadataIndex | None:
        if not exhaustive and not built:
            stored = memo.stored_index() if memo is not None else None
            if stored is not None:
                try:
                    built.append(MetadataIndex(metadata, stored))
                except ValueError as err:
                    log.warning("the stored metadata index is damaged (%s); it is built again",
                                err)
            if not built:
                built.append(MetadataIndex(metadata))
                if memo is not None:
                    memo.store_index(built[0].to_arrays())
        return built[0] if built else None

    keys = first_author_keys(metadata) if docs and exhaustive else None

    def memoised(key: str, match: Callable[[MetadataIndex | None], dict | None]) -> dict | None:
        if memo is None:
            return match(index())
        key = hashlib.blake2b(key.encode("utf-8", "surrogatepass"), digest_size=12).hexdigest()
        found = memo.get(key)
        if not isinstance(found, str):
            rec = match(index())
            memo.put(key, rec["arxiv_id"] if rec else "")
            return rec
        return records.get(found)

    for pid, paper in papers.items():
        rec = memoised(f"t\x1f{paper.title}\x1f{paper.short_name or ''}",
                       partial(match_metadata, paper, metadata))
        score = 1.0
        if rec is None and docs:
            context = " ".join(text.get((m.digest_id, m.passage_index), "")
                               for m in paper.mentions)
            rec = memoised("a\x1f" + "\x1f".join(paper.authors) + "\x1e" + context,
                           partial(match_by_authors, paper, metadata, context, keys))
            score = 0.5
        if rec is None:
            continue
        if paper.arxiv_id and paper.arxiv_id != rec["arxiv_id"]:
            log.warning("paper %r: digest links arXiv %s but its title matches %s; kept the link",
                        paper.title, paper.arxiv_id, rec["arxiv_id"])
            continue
        claims[rec["arxiv_id"]].append((score, pid))
    for arxiv_id, who in claims.items():
        who.sort(reverse=True)
        if len(who) > 1 and who[0][0] == who[1][0]:
            log.warning("arXiv %s matches several papers (%s); left unmatched", arxiv_id,
                        ", ".join(pid for _, pid in who))
            continue
        pid, rec = who[0][1], records[arxiv_id]
        out[pid] = replace(out[pid], arxiv_id=arxiv_id, arxiv_title=rec["title"],
                           arxiv_authors=clean_author_list(rec.get("authors", [])))
    for pid, paper in out.items():  # abstracts fetched from arXiv (rag.corpus.arxiv's cache)
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
