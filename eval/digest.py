"""The digest question set (eval/data/digest_questions.jsonl) through every configuration.

Questions are judged at paper level: a configuration's top 10 hits become the ranked list of
gold papers they are about (:func:`eval.core.ranked_keys`), scored against the graded
relevance (2 = the paper asked about, 1 = also answers) with :mod:`eval.metrics`. The
configurations form a ladder, each adding one step the product takes (see :data:`LADDER`),
and the LangChain baseline (:mod:`eval.baseline`) runs over the very same digest texts, its
chunks credited with every paper whose text they overlap (generous to the baseline).

A question's ``digest`` field is a user's digest filter and applies to every configuration,
the baseline included; date ranges are only applied by the query-handling step, which reads
them from the question text as :meth:`rag.Assistant.ask` does.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from rag import Assistant, Settings
from rag.answer.retrieve import Filters
from rag.dates import read_dates
from rag.index.embed import Embedder

from .baseline import BaselineIndex
from .core import ranked_keys
from .gold import align, gold_papers
from .metrics import DIGEST_METRICS, evaluate_run


@dataclass(frozen=True)
class Config:
    """One configuration of the ladder: settings overrides plus search options."""

    name: str
    label: str
    header: str = "none"
    overrides: dict = field(default_factory=dict)
    group: bool = False
    query_dates: bool = False
    mode: str = "hybrid"  # "hybrid" | "dense" | "lexical"


def ladder(defaults: Settings) -> list[Config]:
    """lexical, dense, hybrid, then each step the product adds, ending at the product default."""
    d = defaults.context_header
    return [
        Config("lexical", "BM25 only", overrides={"dense_weight": 0.0}, mode="lexical"),
        Config("dense", "dense only (FAISS)", overrides={"lexical_weight": 0.0}, mode="dense"),
        Config("hybrid", "hybrid RRF"),
        Config("hybrid+group", "+ paper grouping", group=True),
        Config("hybrid+group+header", f"+ context header ({d})", header=d, group=True),
        Config("default", "+ dates read from the question (= product default)", header=d,
               group=True, query_dates=True),
    ]


def qrels_of(questions: list[dict]) -> dict[str, dict[str, int]]:
    return {q["id"]: dict(q["relevant"]) for q in questions if q["answerable"]}


class DigestBench:
    """Indexes of the seed corpus (one per header mode) and the runs of each configuration."""

    def __init__(self, settings: Settings, embedder: Embedder, questions: list[dict],
                 workdir: Path | None = None) -> None:
        self.settings, self.embedder, self.questions = settings, embedder, questions
        self._tmp = tempfile.TemporaryDirectory(prefix="digest-bench-")
        self.workdir = Path(workdir or self._tmp.name)
        self.assistants: dict[tuple, Assistant] = {}
        self.golds = gold_papers()
        self.qrels = qrels_of(questions)
        self._amaps: dict[str, dict[str, str]] = {}

    def assistant(self, header: str, overrides: dict | None = None) -> Assistant:
        """An Assistant over the seed corpus; indexes are shared per header mode."""
        overrides = dict(overrides or {})
        key = (header, tuple(sorted(overrides.items())))
        if key not in self.assistants:
            # BM25 parameters are baked into the saved index: one index per (header, k1, b)
            bm25 = "".join(f"-{k}{v}" for k, v in sorted(overrides.items()) if k.startswith("bm25"))
            index_dir = self.workdir / f"index-{header.replace('+', '_')}{bm25}"
            s = self.settings.model_copy(update={"index_dir": index_dir, "context_header": header,
                                                 **overrides})
            a = Assistant(settings=s, embedder=self.embedder)
            a.index  # noqa: B018 - build or load now
            self.assistants[key] = a
        return self.assistants[key]

    def warm_queries(self, year: int = 2026) -> None:
        """Encode every question (and its date-stripped form) once, in one batch, so that the
        per-configuration search times measure retrieval, not query encoding."""
        texts = [q["question"] for q in self.questions]
        texts += [f.rest if (f := read_dates(t)) else t for t in texts]
        self.embedder.encode(list(dict.fromkeys(texts)))

    def amap(self, a: Assistant) -> dict[str, str]:
        """Extracted paper id -> gold key (slow to compute: cached per index folder)."""
        key = str(a.index.folder)
        if key not in self._amaps:
            self._amaps[key] = align(list(a.index.papers.values()), self.golds)
        return self._amaps[key]

    def run(self, cfg: Config, k: int = 10, overrides: dict | None = None) -> tuple[dict, list]:
        """({qid: {gold key: score}}, search latencies) of one configuration."""
        a = self.assistant(cfg.header, {**cfg.overrides, **(overrides or {})})
        amap = self.amap(a)
        run: dict[str, dict[str, float]] = {}
        times: list[float] = []
        for q in self.questions:
            if not q["answerable"]:
                continue
            text, since, until = q["question"], None, None
            t0 = time.perf_counter()
            if cfg.query_dates:  # as ask() reads the question
                query = a.read(text)
                since, until, text = query.since, query.until, query.search_text
            hits = a.retriever.search(text, k=k, group_by_paper=cfg.group,
                                      filters=Filters.make(since, until, q.get("digest")))
            times.append(time.perf_counter() - t0)
            if cfg.mode != "hybrid":
                hits = [h for h in hits if h.score > 0]
            keys = ranked_keys(hits, amap)
            run[q["id"]] = {key: float(len(keys) - i) for i, key in enumerate(keys)}
        return run, times

    def score(self, run: dict) -> dict[str, float]:
        return evaluate_run(self.qrels, run, DIGEST_METRICS)  # type: ignore[return-value]

    # ------------------------------------------------------------------ baseline
    def baseline(self, k: int = 10) -> tuple[dict, list, dict]:
        """(run, search latencies, build timings) of the LangChain + FAISS baseline."""
        a = self.assistant("none")
        amap = self.amap(a)
        texts, spans = digest_texts(a)
        base = BaselineIndex.build(texts, self.embedder)
        chunk_papers = []
        for src, start, text in zip(base.sources, base.starts, base.texts):
            end = start + len(text)
            pids: list[str] = []
            for s, e, ids in spans[src]:
                if s < end and e > start:
                    pids.extend(p for p in ids if p not in pids)
            chunk_papers.append(pids)
        run: dict[str, dict[str, float]] = {}
        times: list[float] = []
        for q in self.questions:
            if not q["answerable"]:
                continue
            t0 = time.perf_counter()
            qv = self.embedder.encode([q["question"]])[0]
            rows, _ = base.search(qv, len(base.texts))
            if q.get("digest"):
                rows = np.array([r for r in rows if base.sources[int(r)] == q["digest"]])
            rows = rows[:k]
            times.append(time.perf_counter() - t0)
            keys: list[str] = []
            for r in rows:
                for p in chunk_papers[int(r)]:
                    key = amap.get(p)
                    if key and key not in keys:
                        keys.append(key)
            run[q["id"]] = {key: float(len(keys) - i) for i, key in enumerate(keys)}
        return run, times, base.seconds

    def abstention(self, a: Assistant) -> dict:
        """Unanswerable questions abstained, answerable ones wrongly abstained (via ask())."""
        un, wrong = [], []
        for q in self.questions:
            f = Filters.make(since=q.get("since"), until=q.get("until"), digest=q.get("digest"))
            ans = a.ask(q["question"], since=f.since, until=f.until, digest=f.digest)
            (wrong if q["answerable"] else un).append(ans.abstained)
        return {"unanswerable": len(un), "abstained": float(np.mean(un)) if un else float("nan"),
                "answerable": len(wrong),
                "wrongly_abstained": float(np.mean(wrong)) if wrong else float("nan"),
                "accuracy": float(np.mean(un + [not w for w in wrong]))}


def digest_texts(a: Assistant) -> tuple[dict[str, str], dict[str, list[tuple[int, int, tuple]]]]:
    """Each digest's text (its passages joined by blank lines, what the baseline splits) and
    the character spans of the project's chunks in it, with their paper ids."""
    from rag.corpus.ingest import load_corpus

    docs, _ = load_corpus(a.settings.corpus_dir)
    by_passage: dict[tuple[str, int], list] = {}
    for c in a.index.chunks:
        by_passage.setdefault((c.digest_id, c.passage_index), []).append(c)
    texts: dict[str, str] = {}
    spans: dict[str, list[tuple[int, int, tuple]]] = {}
    for doc in docs:
        did, parts, out, pos = doc.digest.id, [], [], 0
        for p in doc.passages:
            cursor = 0
            for c in by_passage.get((did, p.index), []):
                at = p.text.find(c.text[:60], cursor)
                s = at if at >= 0 else cursor
                e = min(len(p.text), s + len(c.text)) if at >= 0 else len(p.text)
                out.append((pos + s, pos + e, c.paper_ids))
                cursor = e if at >= 0 else cursor
            parts.append(p.text)
            pos += len(p.text) + 2
        texts[did] = "\n\n".join(parts)
        spans[did] = out
    return texts, spans
