"""Engines: who runs hybrid search over a loaded index, behind one narrow interface.

:class:`rag.answer.retrieve.Retriever` asks a :class:`SearchEngine` for the fused candidates of a
question (:meth:`SearchEngine.hybrid`) and for the question's cosine to every passage
(:meth:`SearchEngine.similarities`, for ranking whole papers); it never knows which engine runs.
Two implement it, chosen by ``settings.store``:

* :class:`FaissEngine` (``faiss``, the default): FAISS and BM25 (bm25s) in this process, fused
  here by weighted reciprocal-rank fusion.
* :class:`rag.index.qdrant.QdrantEngine` (``qdrant``): one Qdrant collection holding dense and
  BM25-weighted sparse vectors, both searched in one call and fused by the same RRF (or by
  Qdrant's own, server-side: ``qdrant_fusion``).

Filters arrive resolved to what each chunk row carries (:class:`RowFilter`: digest date
ordinal, digest ids, has-code), which FAISS applies as a row mask and Qdrant as payload filters.
Both engines read vectors (cosines for answering, paper ranking) from the build's own vectors.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

import numpy as np

from rag.index.loaded import facets_of_rows
from rag.index.table import row_columns
from rag.records import Chunk, Digest, Paper
from rag.settings import Settings

if TYPE_CHECKING:
    from rag.index.load import Index


@dataclass(frozen=True)
class RowFilter:
    """Filters as chunk rows see them; None means "any". Undated digests have date -1."""

    since: int | None = None  # first digest date allowed (date ordinal)
    until: int | None = None  # last digest date allowed (date ordinal; undated excluded)
    digest_ids: frozenset[str] | None = None  # digests allowed
    has_code: bool | None = None  # chunk is (True) or is not (False) about a paper with code


@dataclass(frozen=True)
class Candidates:
    """What an engine found for one question: rows best first, with their scores."""

    order: tuple[int, ...] = ()  # chunk rows, best fused score first
    fused: Mapping[int, float] = field(default_factory=dict)  # fused score of each row
    dense: Mapping[int, float] = field(default_factory=dict)  # cosine of each row
    lexical: Mapping[int, float] = field(default_factory=dict)  # BM25, where reported


class SearchEngine(Protocol):
    """Hybrid search over the chunk rows of one loaded index."""

    name: str

    def hybrid(self, text: str, vector: np.ndarray, where: RowFilter | None,
               ahead: tuple[np.ndarray, np.ndarray] | None = None) -> Candidates:
        """Dense and lexical candidates (``settings.candidates`` each, within ``where``)
        fused by weighted reciprocal-rank fusion. ``ahead``: the lexical half already run,
        for an engine that has one (``lexical(text, where)``); others ignore it."""
        ...

    def similarities(self, vector: np.ndarray) -> np.ndarray:
        """Cosine of ``vector`` to every row (for ranking whole papers)."""
        ...


class RowFacets:
    """What filters look at, per chunk row: digest date ordinal, digest id, has-code."""

    _last: tuple[RowFilter, np.ndarray] | None = None  # the last filter's mask (see mask)

    def __init__(self, chunks: Sequence[Chunk], digests: Mapping[str, Digest],
                 papers: Mapping[str, Paper]) -> None:
        cols, names = row_columns(chunks)
        self.dates, self.digest_ids, self.has_code = facets_of_rows(cols, names, digests,
                                                                    papers, len(chunks))

    @classmethod
    def of(cls, index: Index) -> RowFacets:
        """The facets of a loaded index, from its row columns (no chunk is read)."""
        facets = cls.__new__(cls)
        facets.dates, facets.digest_ids, facets.has_code = index.row_facets()
        return facets

    def mask(self, where: RowFilter | None) -> np.ndarray | None:
        """Boolean row mask of ``where`` (read-only), or None when it filters nothing. The
        last filter's mask is kept: one question asks for it twice (the lexical half, run
        while the question is encoded, and the dense half), and a digest filter tests every
        row's digest id."""
        if where is None:
            return None
        last = self._last
        if last is not None and last[0] == where:
            return last[1]
        keep = np.ones(len(self.dates), dtype=bool)
        if where.since is not None:
            keep &= self.dates >= where.since
        if where.until is not None:
            keep &= (self.dates >= 0) & (self.dates <= where.until)
        if where.digest_ids is not None:
            keep &= np.isin(self.digest_ids, list(where.digest_ids))
        if where.has_code is not None:
            keep &= self.has_code == where.has_code
        keep.flags.writeable = False
        self._last = (where, keep)
        return keep

    def payload(self, row: int, chunk: Chunk) -> dict:
        """The row's facets as a Qdrant payload (the fields :class:`RowFilter` tests)."""
        return {"date": int(self.dates[row]), "digest_id": chunk.digest_id,
                "has_code": bool(self.has_code[row]), "paper_ids": list(chunk.paper_ids)}


class LocalVectors:
    """The build's own vectors (the index's dense store), read by both engines."""

    def __init__(self, index: Index) -> None:
        self._dense = index.dense
        self._matrix: np.ndarray | None = None

    def at(self, rows: Sequence[int], vector: np.ndarray) -> dict[int, float]:
        """Cosine of ``vector`` to each of ``rows``."""
        rows = list(rows)
        if not rows:
            return {}
        return dict(zip(rows, (self._dense.vectors_at(rows) @ vector).tolist()))

    def similarities(self, vector: np.ndarray) -> np.ndarray:
        if self._matrix is None:  # read once, on the first paper ranking
            self._matrix = self._dense.vectors()
        return self._matrix @ np.asarray(vector, dtype=np.float32)


def rrf(rankings: Iterable[tuple[float, Iterable[int]]], k: int) -> dict[int, float]:
    """Weighted reciprocal-rank fusion: each row scores the sum of weight / (k + rank), rank
    counted from 1, over the (weight, rows best first) rankings it appears in."""
    fused: dict[int, float] = {}
    for w, ids in rankings:
        for rank, i in enumerate(ids):
            fused[int(i)] = fused.get(int(i), 0.0) + w / (k + rank + 1)
    return fused


class FaissEngine:
    """FAISS (dense) and BM25 (lexical) in this process, fused here."""

    name = "faiss"

    def __init__(self, index: Index, settings: Settings, facets: RowFacets | None = None
                 ) -> None:
        self.index, self.settings = index, settings
        self.facets = facets or RowFacets.of(index)
        self.vectors = LocalVectors(index)

    def lexical(self, text: str, where: RowFilter | None) -> tuple[np.ndarray, np.ndarray]:
        """(BM25 score of every row, the ``candidates`` best rows within ``where``): the
        lexical half of :meth:`hybrid`, which needs no question vector, so a caller may run it
        while the question is encoded (:meth:`rag.answer.retrieve.Retriever.search_encoded`)."""
        mask = self.facets.mask(where)
        lex = self.index.lexical.scores(text)
        # top-k among the rows the query's terms occur in (and the filter keeps), not over
        # every row's score: the same rows as top_k over all scores with zeros dropped
        hit = np.flatnonzero(lex > 0)
        if mask is not None:
            hit = hit[mask[hit]]
        return lex, hit[top_k(lex[hit], min(self.settings.candidates, len(self.index.chunks)))]

    def hybrid(self, text: str, vector: np.ndarray, where: RowFilter | None,
               ahead: tuple[np.ndarray, np.ndarray] | None = None) -> Candidates:
        """See :class:`SearchEngine`; ``ahead``: :meth:`lexical` of the same text and filter,
        when the caller ran it already."""
        s, index = self.settings, self.index
        n = len(index.chunks)
        mask = self.facets.mask(where)
        allowed = np.flatnonzero(mask) if mask is not None else None
        if n == 0 or (allowed is not None and len(allowed) == 0):
            return Candidates()
        c = min(s.candidates, n)
        d_ids, d_scores = index.dense.search(vector, c, allowed)
        lex, l_ids = ahead if ahead is not None else self.lexical(text, where)
        fused = rrf(((s.dense_weight, d_ids), (s.lexical_weight, l_ids)), s.rrf_k)
        dense_of = dict(zip(d_ids.tolist(), d_scores.tolist()))
        # lexical-only rows: their cosine too, for answering
        dense_of.update(self.vectors.at([i for i in fused if i not in dense_of], vector))
        order = sorted(fused, key=lambda i: -fused[i])
        lexical = {i: float(lex[i]) if mask is None or mask[i] else 0.0 for i in order}
        return Candidates(tuple(order), fused, dense_of, lexical)

    def similarities(self, vector: np.ndarray) -> np.ndarray:
        return self.vectors.similarities(vector)


def open_engine(index: Index, settings: Settings, facets: RowFacets | None = None
                ) -> SearchEngine:
    """The engine ``settings.store`` names, over ``index``."""
    if settings.store == "qdrant":
        from rag.index.qdrant import open_qdrant

        return open_qdrant(index, settings, facets)
    return FaissEngine(index, settings, facets)


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the ``k`` highest scores, best first, ties by index: the same as a stable
    argsort of every score cut at ``k``, but selecting before sorting (linear in the corpus,
    k log k for the order)."""
    n = len(scores)
    if k <= 0 or n == 0:
        return np.zeros(0, dtype=np.int64)
    if k >= n:
        return np.argsort(-scores, kind="stable")
    cut = np.partition(scores, n - k)[n - k]  # the k-th highest score
    above = np.flatnonzero(scores > cut)
    ties = np.flatnonzero(scores == cut)[: k - len(above)]  # lowest indices first, as stable
    idx = np.concatenate([above, ties])
    return idx[np.argsort(-scores[idx], kind="stable")]
