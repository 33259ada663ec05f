"""Paper table: the papers of a build, written once and read lazily, paper by paper.

A build writes ``papers.jsonl`` (one :class:`~rag.records.Paper` record per line, as
:func:`rag.records.to_dict` writes it) and ``papers-index.json``: the ids in file order, each
line's byte offset, and the few fields start-up needs of every paper (has a code link; short
name, title, author and institution names for :class:`rag.answer.query.Catalog`).
:class:`PaperTable` reads that index at load and a paper's line only when the paper is
asked for (then kept): a query process serving 100,000 papers no longer decodes 100,000
records before its first answer. Builds written before the table (one ``papers.json``) still
load: :func:`read_papers` reads either.
"""

from __future__ import annotations

import json
import os
import weakref
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import NamedTuple

from rag.records import Paper, to_dict

PAPERS = "papers.jsonl"
PAPERS_INDEX = "papers-index.json"
LEGACY = "papers.json"  # builds before the table: every paper in one JSON object


class PaperNames(NamedTuple):
    """What question reading needs of a paper (:meth:`rag.answer.query.Catalog.build`)."""

    id: str
    short_name: str | None
    title: str
    authors: tuple[str, ...]
    arxiv_authors: tuple[str, ...]
    institutions: tuple[str, ...]


def write_papers(folder: Path, papers: Mapping[str, Paper]) -> None:
    """Write ``papers.jsonl`` and ``papers-index.json`` of ``papers`` into a build folder."""
    folder = Path(folder)
    offsets, ids, code, names = [0], [], [], []
    with open(folder / PAPERS, "wb") as fh:
        for pid, p in papers.items():
            line = (json.dumps(to_dict(p), ensure_ascii=False, separators=(",", ":"))
                    + "\n").encode("utf-8", "surrogatepass")
            fh.write(line)
            offsets.append(offsets[-1] + len(line))
            ids.append(pid)
            code.append(1 if p.code_urls else 0)
            names.append([p.short_name, p.title, list(p.authors), list(p.arxiv_authors),
                          list(p.institutions)])
    index = {"ids": ids, "offsets": offsets, "has_code": code, "names": names}
    (folder / PAPERS_INDEX).write_text(json.dumps(index, ensure_ascii=False,
                                                  separators=(",", ":")), encoding="utf-8")


class PaperTable(Mapping[str, Paper]):
    """The papers of a build folder as a read-only mapping id -> Paper, read line by line
    (see the module docstring). ``with_code`` and :meth:`names` answer without reading a
    paper."""

    def __init__(self, folder: Path) -> None:
        folder = Path(folder)
        index = json.loads((folder / PAPERS_INDEX).read_text(encoding="utf-8"))
        ids, offsets = index["ids"], index["offsets"]
        if not (len(offsets) == len(ids) + 1 == len(index["has_code"]) + 1
                == len(index["names"]) + 1):
            raise ValueError(f"{PAPERS_INDEX} lists {len(ids)} ids, {len(offsets)} offsets")
        self._row = {pid: i for i, pid in enumerate(ids)}
        if len(self._row) != len(ids):
            raise ValueError(f"{PAPERS_INDEX} lists a paper id twice")
        self._ids: list[str] = ids
        self._offsets: list[int] = offsets
        self._names: list[list] = index["names"]
        self.with_code = frozenset(p for p, c in zip(ids, index["has_code"]) if c)
        self._file = open(folder / PAPERS, "rb", buffering=0)  # noqa: SIM115 - held open
        weakref.finalize(self, self._file.close)
        size = os.fstat(self._file.fileno()).st_size
        if size != offsets[-1]:
            self._file.close()
            raise ValueError(f"{PAPERS} has {size} bytes, {PAPERS_INDEX} says {offsets[-1]}")
        self._read: dict[str, Paper] = {}  # papers read so far (one dict store: thread-safe)

    def __len__(self) -> int:
        return len(self._ids)

    def __iter__(self) -> Iterator[str]:
        return iter(self._ids)

    def __contains__(self, pid: object) -> bool:
        return pid in self._row

    def __getitem__(self, pid: str) -> Paper:
        paper = self._read.get(pid)
        if paper is not None:
            return paper
        row = self._row[pid]  # KeyError for an unknown id, as a dict
        start, end = self._offsets[row], self._offsets[row + 1]
        data = os.pread(self._file.fileno(), end - start, start)
        if len(data) != end - start:
            raise ValueError(f"{PAPERS} is shorter than {PAPERS_INDEX} says")
        paper = self._read[pid] = Paper.from_dict(json.loads(data))
        return paper

    def names(self) -> Iterator[PaperNames]:
        """Id, short name, title, authors, arXiv authors and institutions of every paper,
        from the index (no paper read)."""
        for pid, (short, title, authors, arxiv, insts) in zip(self._ids, self._names):
            yield PaperNames(pid, short, title, tuple(authors), tuple(arxiv), tuple(insts))


def read_papers(folder: Path) -> Mapping[str, Paper]:
    """The papers of a build folder: a :class:`PaperTable`, or for a build written before
    the table every paper of its ``papers.json``."""
    folder = Path(folder)
    if (folder / PAPERS_INDEX).exists() or not (folder / LEGACY).exists():
        return PaperTable(folder)
    return {k: Paper.from_dict(v) for k, v in
            json.loads((folder / LEGACY).read_text(encoding="utf-8")).items()}


def paper_names(papers: Mapping[str, Paper]) -> Iterator[PaperNames]:
    """:meth:`PaperTable.names` of any mapping of papers (a table reads no paper)."""
    if isinstance(papers, PaperTable):
        yield from papers.names()
        return
    for pid, p in papers.items():
        yield PaperNames(pid, p.short_name, p.title, tuple(p.authors), tuple(p.arxiv_authors),
                         tuple(p.institutions))


def papers_with_code(papers: Mapping[str, Paper]) -> frozenset[str]:
    """Ids of the papers with a code link (a table reads no paper)."""
    if isinstance(papers, PaperTable):
        return papers.with_code
    return frozenset(pid for pid, p in papers.items() if p.code_urls)
