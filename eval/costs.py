"""Costs measured outside the benchmark process: cold start, index build time, peak memory,
and encoding throughput.

Cold start and build run in fresh subprocesses (``sys.executable``), so that they include
interpreter start, imports and model loading, and so that ``ru_maxrss`` is the build's own peak
resident memory (VmHWM), not the benchmark's: ``ru_maxrss`` is inherited across fork and exec
on Linux, so a child of a big process would report the parent's peak.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rag.index.embed import Embedder

ROOT = Path(__file__).resolve().parent.parent

_BUILD = r"""
import json, re, sys, time
def peak_mb():  # VmHWM: this process's own peak (ru_maxrss would count the parent's at fork)
    with open("/proc/self/status") as fh:
        return int(re.search(r"VmHWM:\s+(\d+)", fh.read()).group(1)) / 1024
t0 = time.perf_counter()
from rag import Settings
from rag.index.embed import embedder_from_settings
from rag.index.build import build_index
s = Settings()
e = embedder_from_settings(s)
getattr(e, "torch", None)  # RAG_BACKEND=auto loads its batch model lazily: count it as load
load_s = time.perf_counter() - t0
rss_model = peak_mb()
r = build_index(s, e, progress=False, rebuild=True)
print(json.dumps({"model_load_s": load_s, "build_s": r.seconds, "build_encode_s": r.encode_seconds,
                  "chunks": r.chunks, "embedded": r.embedded,
                  "maxrss_after_model_mb": rss_model, "maxrss_mb": peak_mb()}))
"""


def _env(index_dir: Path, settings_env: dict[str, str] | None = None) -> dict[str, str]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false",
           "RAG_INDEX_DIR": str(index_dir), "PYTHONPATH": str(ROOT)}
    env.update(settings_env or {})
    return env


def build_in_subprocess(settings_env: dict[str, str] | None = None,
                        timeout: float = 900) -> dict:
    """Full index build of the configured corpus (no cache) in a fresh process: build time,
    the part of it spent encoding, model load time and peak resident memory (MB)."""
    with tempfile.TemporaryDirectory(prefix="bench-build-") as tmp:
        out = subprocess.run([sys.executable, "-c", _BUILD], capture_output=True, text=True,
                             env=_env(Path(tmp), settings_env), cwd=ROOT, timeout=timeout)
    if out.returncode != 0:
        return {"error": out.stderr.strip().splitlines()[-1:] or ["build failed"]}
    return json.loads(out.stdout.strip().splitlines()[-1])


def cold_start(index_dir: Path, question: str, repeats: int = 3,
               settings_env: dict[str, str] | None = None, timeout: float = 300) -> dict:
    """Seconds from process start to the first answer, ``from rag import ask; ask(...)``
    against a prebuilt index (median of ``repeats`` fresh processes)."""
    code = f"from rag import ask; a = ask({question!r}); print(int(a.abstained))"
    times: list[float] = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             env=_env(index_dir, settings_env), cwd=ROOT, timeout=timeout)
        if out.returncode != 0:
            return {"error": out.stderr.strip().splitlines()[-1:] or ["cold start failed"]}
        times.append(time.perf_counter() - t0)
    return {"median_s": statistics.median(times), "runs_s": times, "question": question}


def throughput(embedder: Embedder, texts: list[str], batch: int = 64) -> dict:
    """Texts per second encoding ``texts`` (already warm; batches of ``batch``)."""
    embedder.encode(texts[:2])
    t0 = time.perf_counter()
    for i in range(0, len(texts), batch):
        embedder.encode(texts[i:i + batch])
    s = time.perf_counter() - t0
    chars = sum(len(t) for t in texts)
    return {"texts": len(texts), "seconds": s, "texts_per_s": len(texts) / s if s else 0.0,
            "mean_chars": chars / max(1, len(texts))}
