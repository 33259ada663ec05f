"""The Assistant: one object that owns an index and answers questions over it.

It only wires the stages together: it checks the index (building it when missing or stale,
or refusing an incompatible one with a message), loads it, and hands questions to the
retriever and the answerer. ``rag.ask`` and ``rag.search`` use a lazily created default
Assistant over ``corpus/`` and ``index/`` (``RAG_CORPUS_DIR`` / ``RAG_INDEX_DIR``).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import numpy as np
from langchain_core.language_models import BaseChatModel

from .answer import Answerer
from .arxiv import FetchReport, fetch_abstracts
from .embed import Embedder, embedder_from_settings
from .errors import IndexStateError, QuestionError
from .index import BuildReport, Index, build_index, index_state, load_index
from .ingest import load_corpus
from .listing import is_bare_code_list, list_answer
from .llm import chat_model_from_settings, collect, stream_answer
from .papers import extract_papers, load_metadata
from .query import Catalog, check_question, parse
from .records import Answer, Hit, Paper, Query
from .retrieve import Filters, Reranker, Retriever, cross_encoder_reranker
from .settings import Settings
from .text import tokenize

log = logging.getLogger(__name__)


class Retrieved(NamedTuple):
    """A question as ``ask`` searched it: the :class:`Query` read from it (filters included),
    its hits, best first, and its vector."""

    query: Query
    hits: list[Hit]
    vector: np.ndarray


class Assistant:
    """Search and cited answers over one corpus and its index."""

    def __init__(self, corpus_dir: str | Path | None = None, index_dir: str | Path | None = None,
                 settings: Settings | None = None, embedder: Embedder | None = None,
                 reranker: Reranker | None = None, auto_build: bool = True,
                 progress: bool = False) -> None:
        updates = {k: Path(v) for k, v in (("corpus_dir", corpus_dir), ("index_dir", index_dir))
                   if v is not None}
        self.settings = (settings or Settings()).model_copy(update=updates)
        self._embedder = embedder
        self._reranker = reranker
        self.auto_build = auto_build
        self.progress = progress
        self._index: Index | None = None
        self._retriever: Retriever | None = None
        self._answerer: Answerer | None = None
        self._catalog: Catalog | None = None
        self._lock = threading.Lock()
        self.last_build: BuildReport | None = None

    # ------------------------------------------------------------------ lifecycle
    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            self._embedder = embedder_from_settings(self.settings)
        return self._embedder

    def state(self) -> tuple[str, str]:
        """('ok' | 'missing' | 'stale' | 'incompatible', reason) of the index on disk."""
        return index_state(self.settings, self.embedder.name)

    def build(self, rebuild: bool = False) -> BuildReport:
        """Build or refresh the index now (only changed chunks are embedded)."""
        with self._lock:
            report = build_index(self.settings, self.embedder, progress=self.progress,
                                 rebuild=rebuild)
            self.last_build = report
            self._index = None
        return report

    @property
    def index(self) -> Index:
        """The loaded index; built first when missing or stale and auto_build is on."""
        if self._index is None:
            state, reason = self.state()
            if state != "ok":
                if not self.auto_build:
                    raise IndexStateError(f"The index is {state}: {reason}.",
                                          "run `rag index` (add --rebuild for a full rebuild)")
                log.info("index %s (%s): building", state, reason)
                self.build(rebuild=state == "incompatible")
            with self._lock:
                if self._index is None:
                    self._index = load_index(self.settings, self.embedder.name)
                    reranker = self._reranker
                    if reranker is None and self.settings.reranker:
                        reranker = cross_encoder_reranker(self.settings.reranker)
                    self._retriever = Retriever(self._index, self.embedder, self.settings,
                                                reranker)
                    terms = [frozenset(tokenize(c.embed_text)) for c in self._index.chunks]
                    self._catalog = Catalog.build(self._index.digests.values(),
                                                  self._index.papers, terms)
                    self._answerer = Answerer(self._index, self.embedder, self.settings,
                                              self._catalog, terms)
        return self._index

    @property
    def retriever(self) -> Retriever:
        self.index  # noqa: B018 - loads on first use
        assert self._retriever is not None
        return self._retriever

    # ------------------------------------------------------------------ queries
    @property
    def answerer(self) -> Answerer:
        self.index  # noqa: B018 - loads on first use
        assert self._answerer is not None
        return self._answerer

    @property
    def catalog(self) -> Catalog:
        """What question reading knows about the loaded corpus."""
        self.index  # noqa: B018 - loads on first use
        assert self._catalog is not None
        return self._catalog

    def read(self, question: str, since: dt.date | str | None = None,
             until: dt.date | str | None = None, digest: str | None = None,
             has_code: bool | None = None) -> Query:
        """``question`` read once into a :class:`Query` (checked; explicit filters win over
        the dates it implies)."""
        f = Filters.make(since, until, digest, has_code)
        check_question(question, self.settings.max_question_chars)  # before loading anything
        return parse(question, self.catalog, max_chars=self.settings.max_question_chars,
                     since=f.since, until=f.until, digest=f.digest, has_code=f.has_code)

    def search(self, query: str, k: int = 10, since: dt.date | str | None = None,
               until: dt.date | str | None = None, digest: str | None = None,
               has_code: bool | None = None, group_by_paper: bool = False) -> list[Hit]:
        """The k most relevant passages for ``query``, best first (only the filters passed
        apply: search does not read dates from the text)."""
        if not isinstance(k, int) or k < 1:
            raise QuestionError(f"k={k!r} is not a number of results.", "pass k >= 1")
        text, _ = check_question(query, self.settings.max_question_chars)  # no intent needed
        filters = Filters.make(since, until, digest, has_code)
        return self.retriever.search(text, k=k, filters=filters, group_by_paper=group_by_paper)

    def ask(self, question: str, since: dt.date | str | None = None,
            until: dt.date | str | None = None, digest: str | None = None,
            has_code: bool | None = None, llm: BaseChatModel | bool | None = None) -> Answer:
        """A cited answer to ``question`` (``abstained`` when the digests do not cover it).

        Dates in the question ("since March") become filters unless given explicitly. With
        ``llm`` (any LangChain chat model), or a ``settings.llm_backend`` other than
        'extractive', the model writes the answer and its citations are verified afterwards;
        ``llm=False`` forces the extractive answerer whatever the settings say.
        """
        return collect(self.ask_stream(question, since=since, until=until, digest=digest,
                                       has_code=has_code, llm=llm))

    def ask_stream(self, question: str | Query, since: dt.date | str | None = None,
                   until: dt.date | str | None = None, digest: str | None = None,
                   has_code: bool | None = None,
                   llm: BaseChatModel | bool | None = None) -> Iterator[str | Answer]:
        """Stream an answer: ``str`` deltas of the draft as the model writes it, then, as the
        last item, the verified :class:`Answer`, whose ``text`` replaces the draft (its
        citations are checked and renumbered). Without an LLM the draft is the whole
        extractive answer, yielded once. See ``rag.llm.stream_answer``.
        """
        if llm is None or llm is True:
            chat = chat_model_from_settings(self.settings)
        else:
            chat = llm or None  # False: extractive
        query = question if isinstance(question, Query) else self.read(
            question, since, until, digest, has_code)
        r = self.retrieve(query)
        if chat is None:
            answer = self.answer(r)
            yield answer.text
            yield answer
            return
        yield from stream_answer(chat, r.query, r.hits, answerer=self.answerer,
                                 embedder=self.embedder, settings=self.settings,
                                 query_vector=r.vector)

    def retrieve(self, query: Query | str, k: int = 20) -> Retrieved:
        """What ``ask`` answers from: the query's hits (its filters applied) and its vector."""
        if isinstance(query, str):
            query = self.read(query)
        vector = self.embedder.encode([query.search_text])[0]
        hits = self.retriever.search(query, k=k, query_vector=vector)
        return Retrieved(query, hits, vector)

    def answer(self, r: Retrieved) -> Answer:
        """The extractive answer to a retrieved query: every paper that belongs for list and
        topic questions, the best few otherwise."""
        if r.query.wants_set or is_bare_code_list(r.query):
            return list_answer(self.answerer, self.retriever, r.query, r.hits, r.vector)
        return self.answerer.answer(r.query, r.hits, r.vector)

    def fetch_abstracts(self, client: object | None = None, progress: bool | None = None,
                        refresh: bool = True) -> FetchReport:
        """Fetch arXiv abstracts of the corpus's papers into ``corpus/arxiv/abstracts.jsonl``
        (by id, else by title), then refresh the index so they are searchable."""
        docs, _ = load_corpus(self.settings.corpus_dir)
        metadata, _ = load_metadata(self.settings.metadata_dir)
        papers = extract_papers(docs, metadata).papers.values()
        ids = [p.arxiv_id for p in papers if p.arxiv_id]
        titles = [p.title for p in papers if not p.arxiv_id and len(p.title.split()) >= 4
                  and not p.title.startswith("Work by")]
        report = fetch_abstracts(ids, titles, self.settings.metadata_dir, client,  # type: ignore[arg-type]
                                 progress=self.progress if progress is None else progress)
        if refresh and report.fetched:
            self.build()
        return report

    def papers(self) -> list[Paper]:
        """Every paper in the index, newest digest mention first."""
        index = self.index
        def newest(p: Paper) -> dt.date:
            dates = [index.digests[m.digest_id].date for m in p.mentions
                     if m.digest_id in index.digests and index.digests[m.digest_id].date]
            return max(dates) if dates else dt.date.min
        return sorted(index.papers.values(), key=lambda p: (newest(p), p.title), reverse=True)

    def status(self) -> dict:
        """Counts, model and build time of the loaded index (for the CLI and the app)."""
        m = self.index.manifest
        return {"digests": m["counts"]["digests"], "papers": m["counts"]["papers"],
                "chunks": m["counts"]["chunks"], "model": m["model"], "built_at": m["built_at"],
                "warnings": m.get("warnings", [])}


_default: Assistant | None = None
_default_lock = threading.Lock()


def default_assistant() -> Assistant:
    """The shared Assistant over RAG_CORPUS_DIR / RAG_INDEX_DIR (created on first use)."""
    global _default
    with _default_lock:
        if _default is None:
            _default = Assistant()
    return _default


def ask(question: str, **filters: object) -> Answer:
    """Answer a question from the default corpus, citing the papers. See Assistant.ask."""
    return default_assistant().ask(question, **filters)  # type: ignore[arg-type]


def search(query: str, k: int = 10, **filters: object) -> list[Hit]:
    """Search the default corpus. See Assistant.search."""
    return default_assistant().search(query, k=k, **filters)  # type: ignore[arg-type]
