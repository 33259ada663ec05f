"""Retrieval metrics with ranx, on plain BEIR-style dicts, plus latency summaries.

``qrels = {qid: {doc_id: grade}}`` and ``run = {qid: {doc_id: score}}`` (higher is better).
Every query of the qrels is scored; a query missing from the run (or with an empty ranking)
counts as a miss. nDCG uses ranx's default, linear gains (trec_eval's ``ndcg_cut``).

Two metric sets:

* :data:`BEIR_METRICS` (SciFact): nDCG@10, Recall@1/5/10, MRR@10, all relevance levels.
* :data:`DIGEST_METRICS` (digest questions, graded 2 = the paper asked about, 1 = also
  answers): nDCG@10 over both grades; Recall@1/5/10 = the share of questions with a grade-2
  paper in the top k (ranx ``hit_rate@k-l2``; this is what ``eval/core.py`` calls recall@k);
  MRR@10 of the first grade-2 paper; and full recall@10 of every relevant paper.
"""

from __future__ import annotations

import time
import warnings

import numpy as np

BEIR_METRICS = {"ndcg@10": "ndcg@10", "recall@1": "recall@1", "recall@5": "recall@5",
                "recall@10": "recall@10", "mrr@10": "mrr@10"}
DIGEST_METRICS = {"ndcg@10": "ndcg@10", "recall@1": "hit_rate@1-l2",
                  "recall@5": "hit_rate@5-l2", "recall@10": "hit_rate@10-l2",
                  "mrr@10": "mrr@10-l2", "full_recall@10": "recall@10"}


def evaluate_run(qrels: dict[str, dict[str, int]], run: dict[str, dict[str, float]],
                 metrics: dict[str, str] | None = None,
                 per_query: bool = False) -> dict[str, float] | dict[str, dict[str, float]]:
    """Mean of each metric over the qrels' queries (``{name: value}``), computed by ranx.

    With ``per_query`` returns ``{name: {qid: value}}`` instead."""
    from ranx import Qrels, Run, evaluate

    metrics = metrics or BEIR_METRICS
    qrels = {q: {d: int(g) for d, g in rel.items() if g > 0} for q, rel in qrels.items()}
    qrels = {q: rel for q, rel in qrels.items() if rel}
    if not qrels:
        return {name: float("nan") for name in metrics}
    # ranx needs every query to have at least one ranked document: a sentinel no qrel names
    full = {q: (dict(run[q]) if run.get(q) else {}) or {"__none__": 0.0} for q in qrels}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # numba type-safety chatter
        res = evaluate(Qrels(qrels), Run(full), list(metrics.values()), return_mean=not per_query,
                       make_comparable=True)
    if len(metrics) == 1:
        res = {next(iter(metrics.values())): res}
    if per_query:
        qids = list(Qrels(qrels).keys())
        return {name: dict(zip(qids, map(float, res[m]))) for name, m in metrics.items()}
    return {name: float(res[m]) for name, m in metrics.items()}


def latency_summary(seconds: list[float]) -> dict[str, float]:
    """p50 / p95 / mean in milliseconds and the count."""
    if not seconds:
        return {"p50_ms": float("nan"), "p95_ms": float("nan"), "mean_ms": float("nan"), "n": 0}
    xs = np.asarray(seconds) * 1000
    return {"p50_ms": float(np.percentile(xs, 50)), "p95_ms": float(np.percentile(xs, 95)),
            "mean_ms": float(xs.mean()), "n": int(len(xs))}


def search_ask_times(a: object, texts: list[str], rounds: int = 1,
                     progress: bool = False) -> tuple[list[float], list[float]]:
    """Warm ``a.search`` and ``a.ask`` wall times in seconds over ``texts`` (each text asked
    once per round, after one warm-up call of each)."""
    from tqdm.auto import tqdm

    a.search("warm up")  # type: ignore[attr-defined]
    a.ask("warm up question about transfer learning")  # type: ignore[attr-defined]
    s_times, a_times = [], []
    for _ in range(rounds):
        for t in tqdm(texts, desc="latency", leave=False, disable=not progress):
            t0 = time.perf_counter()
            a.search(t, k=10)  # type: ignore[attr-defined]
            s_times.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            a.ask(t)  # type: ignore[attr-defined]
            a_times.append(time.perf_counter() - t0)
    return s_times, a_times
