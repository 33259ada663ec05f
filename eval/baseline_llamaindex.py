"""A second baseline: LlamaIndex's own hybrid retrieval over the same texts and model.

What a LlamaIndex user would build: ``Document`` per text, LlamaIndex's default node parser
(``SentenceSplitter``, 1024 tokens / 200 overlap), a ``VectorStoreIndex`` (in-memory
``SimpleVectorStore``, cosine) and a ``BM25Retriever`` (``llama-index-retrievers-bm25``: bm25s,
English stemmer and stopwords) over the same nodes, fused by ``QueryFusionRetriever`` in
``mode="reciprocal_rerank"`` (LlamaIndex's RRF, k 60, equal weights) with ``num_queries=1``,
so no LLM is ever called (a ``MockLLM`` stands in for the one the constructor resolves). The
embedding model is the project's own (the bundled MiniLM, through :class:`ProjectEmbedding`
wrapping a :class:`rag.index.embed.Embedder`), so nothing is downloaded and the vectors are the
ones digest-rag uses (the benchmark's embedding cache serves them). Each sub-retriever returns
``candidates`` (100, digest-rag's ``settings.candidates``) nodes; a document ranks at its best
node, as in the LangChain baseline.

Needs the ``eval`` extra (``pip install -e '.[eval]'``); without it :func:`missing` says so and
the benchmark row is skipped. Alone, beside digest-rag's product search measured in the same
run (SciFact by default)::

    python -m eval.baseline_llamaindex [--scifact FOLDER] [--queries N] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from rag.index.embed import Embedder

EXTRA = "eval"
LABEL = "LlamaIndex vector + BM25, QueryFusionRetriever RRF (baseline)"
PACKAGES = ("llama-index-core", "llama-index-retrievers-bm25")
METRICS = {"ndcg@10": "ndcg@10", "recall@1": "recall@1", "recall@5": "recall@5",
           "recall@10": "recall@10", "mrr@10": "mrr@10", "recall@100": "recall@100"}


def missing() -> str | None:
    """None when LlamaIndex can be imported, else a message naming the extra to install."""
    try:
        import llama_index.core  # noqa: F401
        import llama_index.retrievers.bm25  # noqa: F401
    except ImportError as err:
        return (f"LlamaIndex baseline skipped: LlamaIndex is not installed (no module "
                f"{err.name or 'llama_index'}). Fix: pip install -e '.[{EXTRA}]' (the {EXTRA} "
                f"extra pins {' and '.join(PACKAGES)})")
    return None


def versions() -> dict[str, str]:
    """Installed versions of the LlamaIndex packages (for the report)."""
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for p in PACKAGES:
        try:
            out[p] = version(p)
        except PackageNotFoundError:
            out[p] = "not installed"
    return out


def embedding(embedder: Embedder) -> Any:
    """The project's embedder as a LlamaIndex ``BaseEmbedding`` (``.inner`` can be swapped)."""
    from llama_index.core.base.embeddings.base import BaseEmbedding
    from pydantic import PrivateAttr

    class ProjectEmbedding(BaseEmbedding):
        """Any :class:`rag.index.embed.Embedder` (unit vectors) seen by LlamaIndex."""

        _inner: Any = PrivateAttr()

        def __init__(self, inner: Embedder) -> None:
            super().__init__(model_name=inner.name, embed_batch_size=256)
            self._inner = inner

        @property
        def inner(self) -> Embedder:
            return self._inner

        @inner.setter
        def inner(self, value: Embedder) -> None:
            self._inner = value

        def _get_query_embedding(self, query: str) -> list[float]:
            return self._inner.encode([query])[0].tolist()

        def _get_text_embedding(self, text: str) -> list[float]:
            return self._inner.encode([text])[0].tolist()

        def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
            return [v.tolist() for v in self._inner.encode(list(texts))]

        async def _aget_query_embedding(self, query: str) -> list[float]:
            return self._get_query_embedding(query)

        async def _aget_text_embedding(self, text: str) -> list[float]:
            return self._get_text_embedding(text)

    return ProjectEmbedding(embedder)


class LlamaIndexBaseline:
    """LlamaIndex nodes, vector index, BM25 retriever and their RRF fusion over ``docs``."""

    def __init__(self, docs: dict[str, str], embedder: Embedder, candidates: int = 100,
                 progress: bool = False) -> None:
        from llama_index.core import Document, VectorStoreIndex
        from llama_index.core.llms import MockLLM
        from llama_index.core.node_parser import SentenceSplitter
        from llama_index.core.retrievers import QueryFusionRetriever
        from llama_index.retrievers.bm25 import BM25Retriever

        t0 = time.perf_counter()
        documents = [Document(text=text, id_=did) for did, text in docs.items()]
        nodes = SentenceSplitter().get_nodes_from_documents(documents, show_progress=progress)
        t1 = time.perf_counter()
        self.embed_model = embedding(embedder)
        index = VectorStoreIndex(nodes, embed_model=self.embed_model, show_progress=progress)
        t2 = time.perf_counter()
        bm25 = BM25Retriever.from_defaults(nodes=nodes, similarity_top_k=candidates)
        t3 = time.perf_counter()
        self.fusion = QueryFusionRetriever(
            [index.as_retriever(similarity_top_k=candidates), bm25], llm=MockLLM(),
            mode="reciprocal_rerank", similarity_top_k=candidates, num_queries=1,
            use_async=False)
        self.seconds = {"split_s": t1 - t0, "embed_index_s": t2 - t1, "bm25_s": t3 - t2,
                        "build_s": time.perf_counter() - t0, "nodes": len(nodes),
                        "docs": len(documents)}

    def doc_run(self, text: str, query_vector: np.ndarray | None = None,
                k: int = 100) -> dict[str, float]:
        """The first ``k`` distinct documents of the fused nodes, ``{doc: score}`` best first
        (rank-based scores, as :func:`eval.beir.beir_run`). With ``query_vector`` the query is
        not encoded (retrieval work alone)."""
        from llama_index.core.schema import QueryBundle

        emb = None if query_vector is None else np.asarray(query_vector).tolist()
        found = self.fusion.retrieve(QueryBundle(query_str=text, embedding=emb))
        docs: list[str] = []
        for n in found:
            did = n.node.ref_doc_id or n.node.node_id
            if did not in docs:
                docs.append(did)
            if len(docs) >= k:
                break
        return {d: float(len(docs) - i) for i, d in enumerate(docs)}


def llamaindex_row(docs: dict[str, str], queries: dict[str, str],
                   qrels: dict[str, dict[str, int]], embedder: Embedder,
                   query_vectors: dict[str, np.ndarray], candidates: int = 100,
                   progress: bool = False) -> dict:
    """The benchmark row (label, metrics incl. recall@100, per-query retrieval latency with
    the query vector given, build seconds, versions), or ``{"skipped": why}`` when LlamaIndex
    is not installed."""
    why = missing()
    if why:
        return {"skipped": why}
    return score(LlamaIndexBaseline(docs, embedder, candidates, progress), queries, qrels,
                 query_vectors, candidates)


def score(base: LlamaIndexBaseline, queries: dict[str, str], qrels: dict[str, dict[str, int]],
          query_vectors: dict[str, np.ndarray], candidates: int = 100) -> dict:
    """Metrics and per-query retrieval latency (query vectors given) of a built baseline."""
    from .metrics import evaluate_run, latency_summary

    base.doc_run(next(iter(queries.values())), next(iter(query_vectors.values())))  # warm
    run, times = {}, []
    for qid, text in queries.items():
        t0 = time.perf_counter()
        run[qid] = base.doc_run(text, query_vectors[qid])
        times.append(time.perf_counter() - t0)
    return {"label": LABEL, "metrics": evaluate_run(qrels, run, METRICS),
            "search_latency": latency_summary(times), "build": base.seconds,
            "versions": versions(), "candidates": candidates}


def live_times(search: Any, texts: list[str]) -> list[float]:
    """Seconds of ``search(text)`` per text (query encoding included), after one warm call."""
    search(texts[0])
    out = []
    for t in texts:
        t0 = time.perf_counter()
        search(t)
        out.append(time.perf_counter() - t0)
    return out


def main(argv: list[str] | None = None) -> dict:
    """The LlamaIndex row beside digest-rag's product search (hybrid RRF), same run."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    from rag.answer.retrieve import Retriever
    from rag.index.embed import embedder_from_settings
    from rag.settings import Settings

    from .beir import BeirBench, beir_present, beir_run, doc_text, load_beir
    from .embcache import CACHE, CachedEmbedder
    from .metrics import evaluate_run, latency_summary

    root = Path(__file__).resolve().parent.parent
    p = argparse.ArgumentParser(prog="python -m eval.baseline_llamaindex",
                                description=__doc__.split("\n\n")[0])
    p.add_argument("--scifact", type=Path, default=root.parent / "shared" / "data" / "scifact",
                   help="BEIR folder (default ../shared/data/scifact, read in place)")
    p.add_argument("--queries", type=int, default=None, help="only the first N queries")
    p.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = p.parse_args(argv)
    if why := missing():
        print(why, file=sys.stderr)
        return {"skipped": why}
    if why := beir_present(args.scifact):
        raise SystemExit(f"error: {why}. Fix: pass --scifact FOLDER (a BEIR dataset)")
    settings = Settings()
    bare = embedder_from_settings(settings)
    emb = CachedEmbedder(bare, CACHE)
    corpus, queries, qrels = load_beir(args.scifact)
    if args.queries:
        queries = dict(list(queries.items())[: args.queries])
        qrels = {q: qrels[q] for q in queries}
    bench = BeirBench(corpus, queries, qrels, emb, settings, progress=True)
    out: dict = {"dataset": os.path.relpath(args.scifact, root), "docs": len(corpus),
                 "queries": len(queries), "model": bare.name, "cpus": os.cpu_count(),
                 "load_avg_start": os.getloadavg()[0]}
    # digest-rag: the product search() (hybrid RRF, title header), as the benchmark runs it
    index, _ = bench.index(True)
    r = bench.retriever()
    _, times = bench.run("hybrid")
    run = beir_run(r, queries, 100, bench.qv)
    live = Retriever(index, bare, settings)  # type: ignore[arg-type]
    out["digest_rag"] = {"label": "hybrid RRF, title header (product search())",
                         "metrics": evaluate_run(qrels, run, METRICS),
                         "search_latency": latency_summary(times),
                         "live_latency": latency_summary(
                             live_times(lambda t: live.search(t, k=10), list(queries.values())))}
    base = LlamaIndexBaseline({k: doc_text(d) for k, d in corpus.items()}, emb,
                              settings.candidates, progress=True)
    emb.save()
    row = score(base, queries, qrels, bench.qv, settings.candidates)
    base.embed_model.inner = bare  # live: LlamaIndex encodes each query with the bare model
    row["live_latency"] = latency_summary(
        live_times(lambda t: base.doc_run(t, None, 10), list(queries.values())))
    out["llamaindex"] = row
    out["load_avg_end"] = os.getloadavg()[0]
    print(json.dumps(out, indent=1))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(out, indent=1), encoding="utf-8")
    return out


if __name__ == "__main__":
    main()
