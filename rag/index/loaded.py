"""The loaded index: records, stores and per-row columns of one build, as queries see them.

:func:`rag.index.load.load_index` makes an :class:`Index` from a build folder (chunks as a lazy
:class:`~rag.index.table.ChunkTable`, vectors and FAISS memory-mapped); tests and benchmarks also
make one from plain lists. Either way the per-row columns filters, paper ranking and answers
need come from :func:`rag.index.table.row_columns`, never from a pass over Python chunk objects.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from rag.index.paper_table import papers_with_code
from rag.index.stores import FaissStore, LexicalIndex
from rag.index.table import ChunkRows, ChunkTable, PaperRows, row_columns
from rag.records import Chunk, Digest, Paper


@dataclass
class Index:
    """A loaded index: records plus the dense and lexical stores, row-aligned with chunks.

    ``chunks`` is a list or, for a loaded build, a lazy :class:`~rag.index.table.ChunkTable`; the
    per-row columns (:meth:`row_facets`, :meth:`paper_pairs`, :meth:`own_text_rows`,
    :meth:`centroid`) come from the build's ``rows.npz`` then, so nothing iterates the chunks
    at load."""

    folder: Path
    manifest: dict
    digests: dict[str, Digest]
    papers: Mapping[str, Paper]  # a lazy PaperTable for a loaded build
    chunks: Sequence[Chunk]
    keys: Sequence[str]
    dense: FaissStore
    lexical: LexicalIndex
    paper_lexical: LexicalIndex  # BM25 over paper profiles (rag.index.chunk.paper_profiles)
    profile_ids: list[str]  # paper id of each profile row
    chunk_row: Mapping[str, int] = field(default_factory=dict)
    paper_rows: Mapping[str, list[int]] = field(default_factory=dict)  # paper id -> its rows

    def __post_init__(self) -> None:
        if isinstance(self.chunks, ChunkTable):
            self.chunk_row = ChunkRows(self.chunks)
            self.paper_rows = PaperRows(self.chunks.columns, self.chunks.names["papers"])
            return
        self.chunk_row = {c.id: i for i, c in enumerate(self.chunks)}
        rows: dict[str, list[int]] = {}
        for row, c in enumerate(self.chunks):
            for pid in c.paper_ids:
                rows.setdefault(pid, []).append(row)
        self.paper_rows = rows

    @functools.cached_property
    def _rows(self) -> tuple[dict[str, np.ndarray], dict[str, list[str]]]:
        if isinstance(self.chunks, ChunkTable):
            return self.chunks.columns, self.chunks.names
        return row_columns(self.chunks)

    def row_facets(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(digest date ordinal (-1: undated), digest id, has-code) of every row, from the
        row columns: what filters test."""
        cols, names = self._rows
        return facets_of_rows(cols, names, self.digests, self.papers, len(self.chunks))

    def paper_pairs(self, profile_ids: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """(row, profile column) of every (chunk, paper) pair whose paper has a profile and
        a record, in row order."""
        cols, names = self._rows
        col = {pid: j for j, pid in enumerate(profile_ids)}
        where = np.array([col.get(p, -1) if p in self.papers else -1 for p in names["papers"]]
                         or [-1], dtype=np.int64)[cols["pair_papers"]]
        keep = where >= 0
        return cols["pair_rows"][keep], where[keep]

    def own_text_rows(self) -> dict[str, list[int]]:
        """paper id -> rows of the paper's own text (abstract, PDF pages), in row order."""
        cols, names = self._rows
        rows, papers = cols["pair_rows"], cols["pair_papers"]
        sel = cols["own_text"][rows] if len(rows) else np.zeros(0, dtype=bool)
        out: dict[str, list[int]] = {}
        for r, p in zip(rows[sel].tolist(), papers[sel].tolist()):
            out.setdefault(names["papers"][p], []).append(r)
        return out

    def centroid(self) -> np.ndarray | None:
        """The mean passage vector (stored by the build; None for an empty index)."""
        if not len(self.chunks):
            return None
        stored = self._rows[0].get("centroid")
        return stored if stored is not None else self.dense.vectors().mean(0)


def facets_of_rows(cols: Mapping[str, np.ndarray], names: Mapping[str, list[str]],
                   digests: Mapping[str, Digest], papers: Mapping[str, Paper], n: int
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(digest date ordinal (-1: undated), digest id, has-code) of ``n`` rows given as row
    columns (:func:`rag.index.table.row_columns`)."""
    ordinal = np.array([d.date.toordinal() if d.date else -1 for d in
                        (digests[name] for name in names["digests"])], dtype=np.int64)
    digest_ids = np.array(names["digests"] or [""], dtype=object)
    with_code = papers_with_code(papers)
    code = np.array([p in with_code for p in names["papers"]] or [False], dtype=bool)
    has_code = np.zeros(n, dtype=bool)
    rows = cols["pair_rows"]
    has_code[rows[code[cols["pair_papers"]]]] = True
    return ordinal[cols["digest"]] if len(ordinal) else np.zeros(0, np.int64), \
        digest_ids[cols["digest"]], has_code
