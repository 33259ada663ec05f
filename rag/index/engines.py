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

from collections.abc import Iterable, Iterator, Mapping, Sequence
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

    def hybrid(self, text: str, vector: np.ndarray, where: RowFilter | None) -> Candidates:
        """Dense and lexical candidates (``settings.candidates`` each, within ``where``)
        fused by weighted reciprocal-rank fusion."""
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


class Cosines(Mapping[int, float]):
    """Cosines of the question to some candidate rows: those the dense ranker scored are
    given; any other is read from the vectors when first asked for (a search reads only its
    hits', not every lexical-only candidate's)."""

    def __init__(self, rows: Iterable[int], known: dict[int, float],
                 vectors: LocalVectors, vector: np.ndarray) -> None:
        self._rows, self._known = frozenset(rows) | frozenset(known), dict(known)
        self._vectors, self._vector = vectors, vector

    def __getitem__(self, row: int) -> float:
        if row not in self._known:
            if row not in self._rows:
                raise KeyError(row)
            self._known.update(self._vectors.at([row], self._vector))
        return self._known[row]

    def __iter__(self) -> Iterator[int]:
        return iter(self._rows)

    def __len__(self) -> int:
        return len(self._rows)


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
        """(BM25 score of every row, the ``candidates`` best rows within ``where``, read from
        the question's posting lists: :func:`posting_top_k`): the lexical half of
        :meth:`hybrid`."""
        lex, lists = self.index.lexical.postings(text)
        k = min(self.settings.candidates, len(self.index.chunks))
        return lex, posting_top_k(lex, lists, k, self.facets.mask(where))

    def hybrid(self, text: str, vector: np.ndarray, where: RowFilter | None) -> Candidates:
        """See :class:`SearchEngine`."""
        s, index = self.settings, self.index
        n = len(index.chunks)
        mask = self.facets.mask(where)
        allowed = np.flatnonzero(mask) if mask is not None else None
        if n == 0 or (allowed is not None and len(allowed) == 0):
            return Candidates()
        c = min(s.candidates, n)
        d_ids, d_scores = index.dense.search(vector, c, allowed)
        lex, l_ids = self.lexical(text, where)
        fused = rrf(((s.dense_weight, d_ids), (s.lexical_weight, l_ids)), s.rrf_k)
        # lexical-only rows: their cosine too, for answering, read when asked for
        dense_of = Cosines(fused, dict(zip(d_ids.tolist(), d_scores.tolist())), self.vectors,
                           vector)
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


def posting_top_k(scores: np.ndarray, lists: Sequence[tuple[np.ndarray, np.ndarray]], k: int,
                  mask: np.ndarray | None = None) -> np.ndarray:
    """The ``k`` best rows by ``scores`` among the rows that ``mask`` keeps in ``lists`` (a
    query's posting lists: rows, unique within a list, and their weights, a row's score being
    the sum of its weights), best first, ties by row: the same rows as :func:`top_k` over every
    kept row scoring above 0, without a pass over every row.

    The k-th best kept score within one list (distinct rows) is no higher than the k-th best
    overall: the floor. Then MaxScore pruning: lists whose largest weights sum below the floor
    (common terms) are not read, since a row only in them cannot reach it, and an entry of
    another list is looked up only if its weight plus the other lists' largest weights can."""
    if not lists or k <= 0:
        return np.zeros(0, dtype=np.int64)
    floor = None
    for rows, _ in sorted(lists, key=lambda rw: len(rw[0])):  # the shortest list with k kept
        kept = rows[mask[rows]] if mask is not None else rows
        if len(kept) >= k:
            probe = scores[kept]
            floor = float(probe[np.argpartition(probe, len(probe) - k)[len(probe) - k]])
            break
    if floor is None:  # fewer than k kept rows in every list: rank them all
        listed = np.concatenate([rows for rows, _ in lists])
    else:
        tops = [float(w.max()) if len(w) else 0.0 for _, w in lists]
        total, slack = sum(tops), 1e-4 * (floor + sum(tops))  # float32 sums round: keep ties
        parts, below = [], 0.0
        for j in np.argsort(tops, kind="stable"):  # lists of small weights first
            below += tops[j]
            if below < floor - slack:
                continue  # a row in only these lists scores below the floor: not a candidate
            rows, weights = lists[j]
            least = floor - (total - tops[j]) - slack  # the weight it needs in this list
            parts.append(rows[weights >= least] if least > 0 else rows)
        listed = np.concatenate(parts)
        listed = listed[scores[listed] >= floor]
    if mask is not None:
        listed = listed[mask[listed]]
    rows = np.sort(listed).astype(np.int64)  # then unique (np.unique hashes: slower here)
    rows = rows[np.concatenate(([True], rows[1:] != rows[:-1]))] if len(rows) else rows
    return rows[top_k(scores[rows], k)]
