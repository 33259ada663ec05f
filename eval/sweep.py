"""Parameter sweep around the product defaults, on the digest questions and on BEIR.

One parameter is varied at a time (fusion weights, RRF constant, BM25 k1 and b), everything
else at its default, so that each row answers "would changing this default help?". The
tuning rule used for the defaults in ``rag/settings.py``: keep a change only when it wins on
the digest set without losing on SciFact (see eval/RESULTS.md).
"""

from __future__ import annotations

from rag.settings import Settings

from .beir import BeirBench
from .digest import DigestBench, ladder
from .metrics import BEIR_METRICS, evaluate_run

GRID: dict[str, list[float]] = {
    "lexical_weight": [0.5, 0.75, 1.0, 1.25, 1.5],
    "rrf_k": [10, 30, 60, 100],
    "bm25_k1": [0.9, 1.2, 1.5],
    "bm25_b": [0.5, 0.75, 0.9],
}


def _points(settings: Settings, grid: dict[str, list[float]]) -> list[tuple[str, float]]:
    """(parameter, value) pairs to try, the default value included once per parameter."""
    out = []
    for name, values in grid.items():
        default = getattr(settings, name)
        for v in sorted(set(values) | {default}):
            out.append((name, int(v) if name == "rrf_k" else float(v)))
    return out


def digest_sweep(bench: DigestBench, settings: Settings,
                 grid: dict[str, list[float]] | None = None) -> dict[str, dict[str, dict]]:
    """{parameter: {value: digest metrics}} for the product default configuration."""
    default = ladder(settings)[-1]
    out: dict[str, dict[str, dict]] = {}
    for name, value in _points(settings, grid or GRID):
        run, _ = bench.run(default, overrides={name: value})
        out.setdefault(name, {})[str(value)] = bench.score(run)
    return out


def beir_sweep(bench: BeirBench, settings: Settings,
               grid: dict[str, list[float]] | None = None) -> dict[str, dict[str, dict]]:
    """{parameter: {value: BEIR metrics}} for the product default (hybrid) configuration."""
    out: dict[str, dict[str, dict]] = {}
    for name, value in _points(settings, grid or GRID):
        run, _ = bench.run("hybrid", {name: value})
        out.setdefault(name, {})[str(value)] = evaluate_run(bench.qrels, run, BEIR_METRICS)
    return out
