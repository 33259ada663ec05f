"""Retrieve: hybrid search over an index, dense + lexical (BM25) with rank fusion.

Both rankers run on the chunks that pass the filters (digest date range, digest, has code);
their rankings are fused with weighted reciprocal-rank fusion by the search engine
``settings.store`` names (:mod:`rag.index.engines`: FAISS + BM25 here, or Qdrant), which this module
does not know; an optional reranker (any callable scoring (query, texts), e.g. a local
cross-encoder) reorders the head. Results can be grouped so that each paper appears once, at
its best chunk.

:meth:`Retriever.rank_papers` ranks whole papers (list and topic questions, long documents
such as SciFact's abstracts): a paper's dense score is the best cosine over all its passages
(never one truncated vector of a long profile), its lexical score is BM25 over its profile
(title, short name, every passage about it), both within the filters, fused by z-scores.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from rag.errors import MissingExtraError, QuestionError
from rag.index.embed import Embedder
from rag.index.engines import RowFacets, RowFilter, SearchEngine, open_engine
from rag.index.engines import top_k as top_k  # re-exported (tests, benchmarks)
from rag.index.load import Index
from rag.records import Hit, Paper, Query
from rag.settings import Settings

Reranker = Callable[[str, Sequence[str]], Sequence[float]]


@dataclass(frozen=True)
class Filters:
    """Restrict search to some digests. Dates are inclusive and compare digest dates."""

    since: dt.date | None = None
    until: dt.date | None = None
    digest: str | None = None  # digest id, or part of its title (case-insensitive)
    has_code: bool | None = None  # True: only chunks about a paper with a code link

    @classmethod
    def make(cls, since: dt.date | str | None = None, until: dt.date | str | None = None,
             digest: str | None = None, has_code: bool | None = None) -> Filters:
        """Build filters from user input, checking it (ISO date strings accepted)."""
        def as_date(v: dt.date | str | None, name: str) -> dt.date | None:
            if v is None or v == "":
                return None
            if isinstance(v, dt.date):
                return v
            try:
                return dt.date.fromisoformat(str(v).strip())
            except ValueError as err:
                raise QuestionError(f"Filter {name}={v!r} is not a date.",
                                    "write it as YYYY-MM-DD, e.g. 2026-03-01") from err
        f = cls(as_date(since, "since"), as_date(until, "until"), digest or None, has_code)
        if f.since and f.until and f.since > f.until:
            raise QuestionError(f"Filter since={f.since} is after until={f.until}.",
                                "swap the two dates")
        return f

    @property
    def active(self) -> bool:
        return any(v is not None for v in (self.since, self.until, self.digest, self.has_code))

    @classmethod
    def of(cls, query: Query) -> Filters:
        """The filters a query carries (explicit, or read from its text)."""
        return cls(query.since, query.until, query.digest, query.has_code)


@dataclass(frozen=True)
class PaperScore:
    """A paper ranked for a list or topic question."""

    paper: Paper
    dense: float  # best cosine of the question to any of its passages (within the filters)
    lexical: float  # BM25 of its profile, divided by the best profile's BM25 for the question
    score: float  # z-score fusion of the two (Retriever.rank_papers)
    row: int  # its best passage's row


def cross_encoder_reranker(model_path: str) -> Reranker:
    """A reranker from a local sentence-transformers CrossEncoder folder."""
    try:
        from sentence_transformers import CrossEncoder
    except ImportError as err:
        raise MissingExtraError("Reranking", "default", "sentence-transformers") from err
    model = CrossEncoder(model_path, device="cpu")
    return lambda query, texts: [float(s) for s in model.predict([(query, t) for t in texts])]


class Retriever:
    """Hybrid search over one loaded index."""

    def __init__(self, index: Index, embedder: Embedder, settings: Settings,
                 reranker: Reranker | None = None, engine: SearchEngine | None = None) -> None:
        """``engine`` runs the searches; by default the one ``settings.store`` names."""
        self.index, self.embedder, self.settings = index, embedder, settings
        self.reranker = reranker
        self.facets = RowFacets.of(index)
        self.engine = engine or open_engine(index, settings, self.facets)
        self._pairs: tuple[np.ndarray, np.ndarray] | None = None

    def resolve(self, filters: Filters | None) -> RowFilter | None:
        """The filters as chunk rows see them (a digest name becomes the ids it matches), or
        None when nothing is filtered."""
        if filters is None or not filters.active:
            return None
        ids = None
        if filters.digest:
            want = filters.digest.lower()
            ids = frozenset(d.id for d in self.index.digests.values()
                            if d.id.lower() == want or want in d.title.lower())
            if not ids:
                some = sorted(self.index.digests)[:3]
                raise QuestionError(f"No digest matches {filters.digest!r}.",
                                    "pass a digest id or part of a digest's title, e.g. "
                                    + ", ".join(repr(x) for x in some))
        return RowFilter(filters.since.toordinal() if filters.since else None,
                         filters.until.toordinal() if filters.until else None,
                         ids, filters.has_code)

    def mask(self, filters: Filters | None) -> np.ndarray | None:
        """Boolean row mask for the filters, or None when nothing is filtered."""
        return self.facets.mask(self.resolve(filters))

    def search(self, query: Query | str, k: int = 10, filters: Filters | None = None,
               group_by_paper: bool = False, query_vector: np.ndarray | None = None) -> list[Hit]:
        """The k best hits for ``query``, best first. A :class:`Query` brings its own search
        text and filters (``filters`` overrides them); a string is searched as it is."""
        return self.search_encoded(query, k, filters, group_by_paper, query_vector)[0]

    def search_encoded(self, query: Query | str, k: int = 10, filters: Filters | None = None,
                       group_by_paper: bool = False, query_vector: np.ndarray | None = None
                       ) -> tuple[list[Hit], np.ndarray]:
        """:meth:`search` and the question's vector (encoded here when not given), for a
        caller that needs both (``ask()``: one encoding, one search per question). The
        question is encoded first, then searched: scoring BM25 in a worker thread during the
        encoding was no faster on 2 cores, where ONNX Runtime already uses both (at 1 M
        chunks, alternating in one process: 11.8 ms sequential against 12.0 overlapped)."""
        if isinstance(query, Query):
            filters = filters if filters is not None else Filters.of(query)
            query = query.search_text
        where = self.resolve(filters)
        qv = query_vector if query_vector is not None else self.embedder.encode([query])[0]
        if not self.index.chunks:
            return [], qv
        found = self.engine.hybrid(query, qv, where)
        fused = found.fused
        order = list(found.order)
        if self.reranker is not None and order:
            head = order[: max(k * 3, 20)]
            scores = self.reranker(query, [self.index.chunks[i].embed_text for i in head])
            order = [head[j] for j in np.argsort(-np.asarray(scores), kind="stable")] + \
                order[len(head):]
        hits: list[Hit] = []
        seen: set[str] = set()
        for i in order:
            chunk = self.index.chunks[i]
            papers = tuple(self.index.papers[p] for p in chunk.paper_ids if p in self.index.papers)
            if group_by_paper and papers:
                if papers[0].id in seen:
                    continue
                seen.add(papers[0].id)
            hits.append(Hit(chunk=chunk, score=fused[i], digest=self.index.digests[chunk.digest_id],
                            paper=papers[0] if papers else None, papers=papers,
                            dense_score=found.dense.get(i),
                            lexical_score=found.lexical.get(i)))
            if len(hits) >= k:
                break
        return hits, qv

    def _paper_pairs(self) -> tuple[np.ndarray, np.ndarray]:
        """(row of each (row, paper) pair, paper of each pair), made once."""
        if self._pairs is None:  # from the index's row columns (rag.index.table), no chunk read
            self._pairs = self.index.paper_pairs(self.index.profile_ids)
        return self._pairs

    def rank_papers(self, query: Query, query_vector: np.ndarray,
                    filters: Filters | None = None, limit: int | None = None
                    ) -> list[PaperScore]:
        """Papers with a passage inside the filters, best first (see the module docstring):
        score = share * z(best passage cosine) + (1 - share) * z(profile BM25), z-scores taken
        over every paper in the filters (dense alone when no profile matches a word). ``limit``
        keeps only the best few (all by default)."""
        index, share = self.index, self.settings.paper_dense_share
        pair_rows, pair_papers = self._paper_pairs()
        if not len(pair_rows):
            return []
        mask = self.mask(filters if filters is not None else Filters.of(query))
        sims = self.engine.similarities(query_vector)
        pair_sims = sims[pair_rows]
        if mask is not None:
            pair_sims = np.where(mask[pair_rows], pair_sims, -np.inf)
        best = np.full(len(index.profile_ids), -np.inf, dtype=np.float32)
        np.maximum.at(best, pair_papers, pair_sims)
        keep = np.flatnonzero(np.isfinite(best))
        if not len(keep):
            return []
        at_best = np.isfinite(pair_sims) & (pair_sims == best[pair_papers])
        best_row = np.zeros(len(best), dtype=np.int64)
        best_row[pair_papers[at_best][::-1]] = pair_rows[at_best][::-1]  # first row on ties
        dense, lex = best[keep], index.paper_lexical.scores(query.search_text)
        lex = lex[keep] if len(lex) else np.zeros(len(keep), dtype=np.float32)
        score = share * _z(dense) + (1 - share) * _z(lex) if lex.std() > 0 else _z(dense)
        top = float(lex.max()) or 1.0
        order = np.argsort(-score, kind="stable")[:limit]
        return [PaperScore(index.papers[index.profile_ids[keep[i]]], float(dense[i]),
                           float(lex[i]) / top, float(score[i]), int(best_row[keep[i]]))
                for i in order]


def _z(x: np.ndarray) -> np.ndarray:
    """Standard scores of ``x`` (zeros when it does not vary)."""
    sd = float(x.std())
    return (x - x.mean()) / sd if sd > 0 else np.zeros_like(x)
