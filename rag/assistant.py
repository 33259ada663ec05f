"""The Assistant: one object that owns an index and answers questions over it.

It only wires the stages together: it checks the index (building it when missing or stale,
or refusing an incompatible one with a message), loads it, and hands questions to the
retriever and the answerer. When another process (``rag index``) publishes a new build, the
next question loads it and swaps it in whole (:class:`Live`): a question in flight keeps the
index it started with, and a build that fails to load is reported once and the old one kept.
``rag.ask`` and ``rag.search`` use a lazily created default Assistant over ``corpus/`` and
``index/`` (``RAG_CORPUS_DIR`` / ``RAG_INDEX_DIR``).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, NamedTuple, TypeVar, overload

import numpy as np

from rag.answer.compose import Answerer, catalog_of
from rag.answer.draft import collect
from rag.answer.lists import is_bare_code_list, list_answer
from rag.answer.query import Catalog, check_question, parse
from rag.answer.retrieve import Filters, Reranker, Retriever, cross_encoder_reranker
from rag.errors import IndexStateError, QuestionError
from rag.index.embed import Embedder, embedder_from_settings
from rag.index.load import CURRENT, Index, current_folder, load_index
from rag.records import Answer, Hit, Paper, Query
from rag.settings import Settings

if TYPE_CHECKING:  # the build side is imported only when building (query time never needs it)
    from langchain_core.language_models import BaseChatModel

    from rag.corpus.arxiv import ArxivClient, FetchReport
    from rag.index.build import BuildReport

log = logging.getLogger(__name__)
T = TypeVar("T")


class Retrieved(NamedTuple):
    """A question as ``ask`` searched it: the :class:`Query` read from it (filters included),
    its hits, best first, and its vector."""

    query: Query
    hits: list[Hit]
    vector: np.ndarray
    live: Live | None = None  # the index the hits came from


@dataclass(frozen=True)
class Live:
    """One loaded index with everything built over it, swapped in and out as a whole."""

    index: Index
    retriever: Retriever
    answerer: Answerer
    catalog: Catalog


class _FromLive(Generic[T]):
    """An attribute of :class:`Assistant` read from its current :class:`Live` (same name)."""

    def __init__(self, doc: str) -> None:
        self.__doc__ = doc

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, obj: None, owner: type | None = None) -> _FromLive[T]: ...
    @overload
    def __get__(self, obj: Assistant, owner: type | None = None) -> T: ...

    def __get__(self, obj: Assistant | None, owner: type | None = None) -> T | _FromLive[T]:
        return self if obj is None else getattr(obj.live, self.name)


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
        self._live: Live | None = None
        self._lock = threading.Lock()  # one build or first load at a time
        self._swap = threading.Lock()  # one reload at a time; other questions keep the old index
        self._pointer: tuple[int, int] | None = None  # (inode, mtime) of CURRENT when loaded
        self._failed: str | None = None  # a published build that could not be loaded
        self.last_build: BuildReport | None = None

    # ------------------------------------------------------------------ lifecycle
    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            self._embedder = embedder_from_settings(self.settings)
        return self._embedder

    def state(self) -> tuple[str, str]:
        """('ok' | 'missing' | 'stale' | 'incompatible', reason) of the index on disk."""
        from rag.index.state import index_state

        return index_state(self.settings, self.embedder.name)

    def build(self, rebuild: bool = False) -> BuildReport:
        """Build or refresh the index now (only changed chunks are embedded); the next
        question uses the new build."""
        from rag.index.build import build_index

        with self._lock:
            report = build_index(self.settings, self.embedder, progress=self.progress,
                                 rebuild=rebuild)
            self.last_build = report
        return report

    @property
    def is_loaded(self) -> bool:
        """Whether an index is loaded (nothing is built or loaded by asking)."""
        return self._live is not None

    @property
    def live(self) -> Live:
        """The loaded index and its retriever, answerer and catalog: built first when missing
        or stale (auto_build), and swapped for a newer build published since it was loaded."""
        live = self._live
        if live is None:
            return self._first_load()
        pointer = self._stat_pointer()
        if pointer == self._pointer or not self._swap.acquire(blocking=False):
            return live  # unchanged, or another question is loading the new build
        try:
            return self._reload(pointer)
        finally:
            self._swap.release()

    def _first_load(self) -> Live:
        state, reason = self.state()
        if state != "ok":
            if not self.auto_build:
                raise IndexStateError(f"The index is {state}: {reason}.",
                                      "run `rag index` (add --rebuild for a full rebuild)")
            log.info("index %s (%s): building", state, reason)
            self.build(rebuild=state == "incompatible")
        with self._lock:
            if self._live is None:
                self._pointer = self._stat_pointer()
                self._live = self._load()
            return self._live

    def _reload(self, pointer: tuple[int, int] | None) -> Live:
        """Load the build CURRENT now names and swap it in; on failure keep the old one."""
        assert self._live is not None
        folder = current_folder(self.settings.index_dir)
        if folder is None or folder == self._live.index.folder or folder.name == self._failed:
            self._pointer = pointer
            return self._live
        try:
            live = self._load()
        except IndexStateError as err:
            self._failed = folder.name
            log.warning("a new index was published but cannot be loaded; still serving %s. %s",
                        self._live.index.folder.name, err)
            return self._live
        log.info("serving the new index %s (was %s)", live.index.folder.name,
                 self._live.index.folder.name)
        self._live, self._pointer = live, pointer
        return live

    def _stat_pointer(self) -> tuple[int, int] | None:
        try:
            st = os.stat(Path(self.settings.index_dir) / CURRENT)
        except OSError:
            return None
        return st.st_ino, st.st_mtime_ns

    def _load(self) -> Live:
        index = load_index(self.settings, self.embedder.name)
        reranker = self._reranker
        if reranker is None and self.settings.reranker:
            reranker = cross_encoder_reranker(self.settings.reranker)
        catalog = catalog_of(index)  # document frequencies from BM25: no chunk tokenised
        return Live(index, Retriever(index, self.embedder, self.settings, reranker),
                    Answerer(index, self.embedder, self.settings, catalog), catalog)

    index = _FromLive[Index]("The loaded index (see :attr:`live`).")
    retriever = _FromLive[Retriever]("Hybrid search over the loaded index.")
    answerer = _FromLive[Answerer]("Composes extractive answers over the loaded index.")
    catalog = _FromLive[Catalog]("What question reading knows about the loaded corpus.")

    # ------------------------------------------------------------------ queries

    def read(self, question: str, since: dt.date | str | None = None,
             until: dt.date | str | None = None, digest: str | None = None,
             has_code: bool | None = None) -> Query:
        """``question`` read once into a :class:`Query` (checked; explicit filters win over
        the dates it implies)."""
        return self._read(question, since, until, digest, has_code)

    def _read(self, question: str, since: dt.date | str | None = None,
              until: dt.date | str | None = None, digest: str | None = None,
              has_code: bool | None = None, live: Live | None = None) -> Query:
        f = Filters.make(since, until, digest, has_code)
        check_question(question, self.settings.max_question_chars)  # before loading anything
        catalog = (live or self.live).catalog
        return parse(question, catalog, max_chars=self.settings.max_question_chars,
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
        extractive answer, yielded once. See ``rag.answer.llm.stream_answer``.
        """
        if llm is None or llm is True:
            chat = None
            if self.settings.llm_backend != "extractive":  # langchain only imported for a model
                from rag.answer.llm_backends import chat_model_from_settings

                chat = chat_model_from_settings(self.settings)
        else:
            chat = llm or None  # False: extractive
        if isinstance(question, str):
            check_question(question, self.settings.max_question_chars)  # before loading
        live = self.live  # one index for the whole question
        query = question if isinstance(question, Query) else self._read(
            question, since, until, digest, has_code, live)
        r = self._retrieve(query, live=live)
        if chat is None:
            answer = self.answer(r)
            yield answer.text
            yield answer
            return
        from rag.answer.llm import stream_answer

        yield from stream_answer(chat, r.query, r.hits, answerer=live.answerer,
                                 embedder=self.embedder, settings=self.settings,
                                 query_vector=r.vector, fallback=lambda: self.answer(r))

    def retrieve(self, query: Query | str, k: int = 20) -> Retrieved:
        """What ``ask`` answers from: the query's hits (its filters applied) and its vector."""
        return self._retrieve(query, k)

    def _retrieve(self, query: Query | str, k: int = 20, live: Live | None = None) -> Retrieved:
        live = live or self.live
        if isinstance(query, str):
            query = self._read(query, live=live)
        hits, vector = live.retriever.search_encoded(query, k=k)  # one encoding, one search
        return Retrieved(query, hits, vector, live)

    def answer(self, r: Retrieved) -> Answer:
        """The extractive answer to a retrieved query: every paper that belongs for list and
        topic questions, the best few otherwise (from the index the hits came from)."""
        live = r.live or self.live
        if r.query.wants_set or is_bare_code_list(r.query):
            return list_answer(live.answerer, live.retriever, r.query, r.hits, r.vector)
        return live.answerer.answer(r.query, r.hits, r.vector)

    def fetch_abstracts(self, client: ArxivClient | None = None, progress: bool | None = None,
                        refresh: bool = True) -> FetchReport:
        """Fetch arXiv abstracts of the corpus's papers into ``corpus/arxiv/abstracts.jsonl``
        (by id, else by title), then refresh the index so they are searchable."""
        from rag.corpus.arxiv import fetch_abstracts
        from rag.corpus.ingest import load_corpus
        from rag.extract.metadata import load_metadata
        from rag.extract.papers import extract_papers

        docs, _ = load_corpus(self.settings.corpus_dir, self.settings)
        metadata, _ = load_metadata(self.settings.metadata_dir, self.settings)
        papers = extract_papers(docs, metadata).papers.values()
        ids = [p.arxiv_id for p in papers if p.arxiv_id]
        titles = [p.title for p in papers if not p.arxiv_id and len(p.title.split()) >= 4
                  and not p.title.startswith("Work by")]
        report = fetch_abstracts(ids, titles, self.settings.metadata_dir, client,
                                 progress=self.progress if progress is None else progress)
        if refresh and report.fetched:
            self.build()
        return report

    def papers(self) -> list[Paper]:
        """Every paper in the index, newest digest mention first."""
        index = self.index
        def newest(p: Paper) -> dt.date:
            dates = [d for m in p.mentions if m.digest_id in index.digests
                     and (d := index.digests[m.digest_id].date) is not None]
            return max(dates) if dates else dt.date.min
        return sorted(index.papers.values(), key=lambda p: (newest(p), p.title), reverse=True)

    def status(self) -> dict:
        """Counts, model and build time of the loaded index (for the CLI and the app)."""
        index = self.index
        m = index.manifest
        counts = m.get("counts") or {}
        return {"digests": counts.get("digests", len(index.digests)),
                "papers": counts.get("papers", len(index.papers)),
                "chunks": counts.get("chunks", len(index.chunks)), "model": m.get("model"),
                "built_at": m.get("built_at"), "build": index.folder.name,
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


def ask(question: str, **filters: Any) -> Answer:
    """Answer a question from the default corpus, citing the papers. See Assistant.ask."""
    return default_assistant().ask(question, **filters)


def search(query: str, k: int = 10, **filters: Any) -> list[Hit]:
    """Search the default corpus. See Assistant.search."""
    return default_assistant().search(query, k=k, **filters)
