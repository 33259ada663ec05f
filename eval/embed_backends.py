"""Embedding backends side by side: torch fp32, torch int8, ONNX fp32 and ONNX int8.

Plus, for reference only (not an option of rag.index.embed), torch fp32 under ``torch.autocast``
bfloat16, which uses the CPU's AMX / AVX512-BF16 units where it has them (this one has both).

One run, same inputs, same process, the four backends interleaved (each query and each batch
is timed on every backend in rotating order, so load from other processes on the machine falls
on all of them alike):

* single-query latency (``encode([question])``, what a warm ``search()`` pays) over the
  questions of ``eval/data/digest_questions.jsonl``: p50 / p90 / mean;
* batch throughput on SciFact abstracts (title + "\\n" + text, the first ``--docs`` of
  ``/work/shared/data/scifact/corpus.jsonl``) and on the seed corpus's digest chunks, encoded
  sorted by length (as ``eval.embcache`` feeds the SciFact benchmark) in slices of 32;
* agreement with torch fp32: per-text cosine (min / mean) of query, abstract and chunk
  vectors, and the overlap of the dense top-10 chunks for each digest question;
* load time (a ``--cold`` run exports the ONNX files into a temporary folder, so it includes
  the one-off export), the load average before and after.

Speed-ups are reported twice: ratio of totals, and the median of paired ratios (each query or
slice timed on both backends back to back), which is the robust one on a shared machine.
``--threads N`` runs torch and ONNX Runtime with N threads each (default: their defaults).

Run: ``python -m eval.embed_backends [--docs 256] [--cold] [--threads 0]``; writes
``eval/results/embed_backends.json`` and prints a table. Needs the ``onnx`` extra.
"""

from __future__ import annotations

import argparse
import importlib.metadata as md
import json
import os
import statistics
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

from rag.corpus.ingest import load_corpus
from rag.extract.papers import extract_papers
from rag.extract.metadata import load_metadata
from rag.index.chunk import chunk_corpus
from rag.index.embed import BUNDLED, Embedder, SentenceTransformerEmbedder, resolve_model_path
from rag.index.embed_onnx import OnnxEmbedder
from rag.settings import Settings

ROOT = Path(__file__).resolve().parent
SCIFACT = Path("/work/shared/data/scifact/corpus.jsonl")
OUT = ROOT / "results" / "embed_backends.json"
BACKENDS = ("torch_fp32", "torch_int8", "onnx_fp32", "onnx_int8", "torch_bf16_autocast")
STEP = 32  # texts per timed encode() call: one batch; small slices interleave finely


class Bf16Autocast:
    """The torch fp32 embedder run under ``torch.autocast("cpu", bfloat16)``: matmuls in
    bfloat16 (AMX on recent Xeons), reductions in fp32. Measured here, not offered in rag."""

    def __init__(self, inner: SentenceTransformerEmbedder) -> None:
        self.inner, self.name, self.dim = inner, inner.name + "+bf16", inner.dim

    def encode(self, texts: list[str], progress: bool = False) -> np.ndarray:
        import torch

        with torch.autocast("cpu", dtype=torch.bfloat16):
            return np.asarray(self.inner.encode(texts, progress), dtype=np.float32)


def loadavg() -> list[float]:
    """The 1, 5 and 15 minute load averages (as ``uptime`` shows them)."""
    return [round(x, 2) for x in os.getloadavg()]


def load_backends(model: str, batch_size: int, cache: Path | None,
                  threads: int) -> tuple[dict[str, Embedder], dict[str, float]]:
    """The embedders and the seconds each took to load (ONNX: export if not cached)."""
    path = resolve_model_path(model)
    name = model if model == BUNDLED else f"local:{path.resolve()}"
    makers = {
        "torch_fp32": lambda: SentenceTransformerEmbedder(model, batch_size, False),
        "torch_int8": lambda: SentenceTransformerEmbedder(model, batch_size, True),
        "onnx_fp32": lambda: OnnxEmbedder(path, name, batch_size, False, cache, threads),
        "onnx_int8": lambda: OnnxEmbedder(path, name, batch_size, True, cache, threads),
    }
    out, secs = {}, {}
    for key, make in makers.items():
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out[key] = make()
        secs[key] = round(time.perf_counter() - t0, 2)
    out["torch_bf16_autocast"] = Bf16Autocast(out["torch_fp32"])  # same model object
    return out, secs


def texts_for(n_docs: int) -> tuple[list[str], list[str], list[str]]:
    """Digest questions, SciFact abstracts and the seed corpus's digest chunk texts."""
    questions = [json.loads(line)["question"] for line in
                 (ROOT / "data" / "digest_questions.jsonl").read_text().splitlines() if line]
    docs = []
    with open(SCIFACT, encoding="utf-8") as fh:
        for line in fh:
            d = json.loads(line)
            docs.append(f"{d.get('title', '')}\n{d.get('text', '')}")
            if len(docs) >= n_docs:
                break
    s = Settings()
    digests, _ = load_corpus(s.corpus_dir)
    meta, _ = load_metadata(s.metadata_dir)
    chunks = chunk_corpus(digests, extract_papers(digests, meta), s.context_header,
                          s.max_chunk_chars)
    return questions, docs, [c.embed_text for c in chunks]


def rotated(i: int) -> list[str]:
    return list(BACKENDS[i % len(BACKENDS):] + BACKENDS[:i % len(BACKENDS)])


def time_queries(emb: dict[str, Embedder], questions: list[str]
                 ) -> tuple[dict[str, list[float]], dict[str, np.ndarray]]:
    """Each question encoded alone by every backend (rotating order); ms and vectors."""
    ms = {k: [] for k in emb}
    vecs = {k: [] for k in emb}
    for i, q in enumerate(questions):
        for k in rotated(i):
            t0 = time.perf_counter()
            v = emb[k].encode([q])
            ms[k].append(1000 * (time.perf_counter() - t0))
            vecs[k].append(v[0])
    return ms, {k: np.vstack(v) for k, v in vecs.items()}


def time_batches(emb: dict[str, Embedder], texts: list[str]
                 ) -> tuple[dict[str, list[float]], dict[str, np.ndarray]]:
    """Slices of 64 encoded by every backend (rotating order); seconds and vectors."""
    secs: dict[str, list[float]] = {k: [] for k in emb}
    parts: dict[str, list[np.ndarray]] = {k: [] for k in emb}
    for j, start in enumerate(range(0, len(texts), STEP)):
        part = texts[start:start + STEP]
        for k in rotated(j):
            t0 = time.perf_counter()
            parts[k].append(emb[k].encode(part))
            secs[k].append(time.perf_counter() - t0)
    return secs, {k: np.vstack(v) for k, v in parts.items()}


def paired(ref: list[float], other: list[float]) -> float:
    """Median over pairs of ref time / other time (> 1: other is faster)."""
    return statistics.median(a / b for a, b in zip(ref, other))


def cosine_stats(a: np.ndarray, ref: np.ndarray) -> dict[str, float]:
    cos = (a * ref).sum(axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(ref, axis=1))
    return {"min": float(cos.min()), "mean": float(cos.mean()),
            "max_abs_diff": float(np.abs(a - ref).max())}


def top10_overlap(q: np.ndarray, c: np.ndarray, q_ref: np.ndarray, c_ref: np.ndarray
                  ) -> dict[str, float]:
    """Share of torch fp32's dense top-10 chunks a backend also ranks in its top 10."""
    top = np.argsort(-(q @ c.T), axis=1)[:, :10]
    ref = np.argsort(-(q_ref @ c_ref.T), axis=1)[:, :10]
    share = [len(set(a) & set(b)) / 10 for a, b in zip(top, ref)]
    return {"mean": float(np.mean(share)), "min": float(np.min(share)),
            "same_top1": float(np.mean(top[:, 0] == ref[:, 0]))}


def cpu_flags() -> list[str]:
    """The CPU features that decide int8 / bfloat16 speed (Linux /proc/cpuinfo)."""
    try:
        flags = set(Path("/proc/cpuinfo").read_text().split())
    except OSError:
        return []
    return sorted(flags & {"avx2", "avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16",
                           "amx_tile", "amx_int8", "amx_bf16"})


def versions() -> dict[str, str]:
    out = {}
    for name in ("torch", "onnxruntime", "onnx", "sentence-transformers", "transformers",
                 "tokenizers"):
        try:
            out[name] = md.version(name)
        except md.PackageNotFoundError:
            out[name] = "missing"
    return out


def run(n_docs: int, cold: bool, threads: int, batch_size: int) -> dict:
    """The whole measurement; returns the JSON-able result."""
    import torch

    if threads:
        torch.set_num_threads(threads)
    load_before = loadavg()
    questions, docs, chunks = texts_for(n_docs)
    docs, chunks = sorted(docs, key=len), sorted(chunks, key=len)
    with tempfile.TemporaryDirectory() as tmp:
        emb, load_s = load_backends(BUNDLED, batch_size, Path(tmp) if cold else None, threads)
        for e in emb.values():  # warm-up: first calls allocate and pick kernels
            for q in questions[:5]:
                e.encode([q])
            e.encode(chunks[:STEP])
        q_ms, q_vecs = time_queries(emb, questions)
        d_s, d_vecs = time_batches(emb, docs)
        c_s, c_vecs = time_batches(emb, chunks)
        files = {k: {"path": str(e.onnx_path), "mb": round(e.onnx_path.stat().st_size / 1e6, 1)}
                 for k, e in emb.items() if isinstance(e, OnnxEmbedder)}
    base = "torch_fp32"
    result: dict = {
        "what": "eval/embed_backends.py: torch vs ONNX Runtime embedding of all-MiniLM-L6-v2",
        "model": BUNDLED, "cpus": os.cpu_count(), "torch_threads": torch.get_num_threads(),
        "command": "python -m eval.embed_backends" + (f" --docs {n_docs}" if n_docs != 256
                                                      else "") + (" --cold" if cold else "")
        + (f" --threads {threads}" if threads else ""),
        "onnx_threads": threads or "default (physical cores)", "batch_size": batch_size,
        "versions": versions(), "cpu_flags": cpu_flags(), "load_avg_before": load_before, "cold_export": cold,
        "load_s": load_s, "onnx_files": files,
        "inputs": {"questions": len(questions), "scifact_docs": len(docs),
                   "scifact_mean_chars": round(statistics.mean(map(len, docs))),
                   "digest_chunks": len(chunks),
                   "chunk_mean_chars": round(statistics.mean(map(len, chunks)))},
        "backends": {},
    }
    for k in emb:
        lat = sorted(q_ms[k])
        result["backends"][k] = {
            "name": emb[k].name,
            "query_ms": {"p50": statistics.median(lat), "p90": lat[int(0.9 * (len(lat) - 1))],
                         "mean": statistics.mean(lat)},
            "scifact_docs_per_s": len(docs) / sum(d_s[k]),
            "chunks_per_s": len(chunks) / sum(c_s[k]),
            "cosine_vs_torch_fp32": {"queries": cosine_stats(q_vecs[k], q_vecs[base]),
                                     "scifact": cosine_stats(d_vecs[k], d_vecs[base]),
                                     "chunks": cosine_stats(c_vecs[k], c_vecs[base])},
            "top10_overlap_vs_torch_fp32": top10_overlap(q_vecs[k], c_vecs[k], q_vecs[base],
                                                         c_vecs[base]),
        }
    ref = result["backends"][base]
    for k, r in result["backends"].items():
        r["speedup"] = {"query_p50": ref["query_ms"]["p50"] / r["query_ms"]["p50"],
                        "scifact": r["scifact_docs_per_s"] / ref["scifact_docs_per_s"],
                        "chunks": r["chunks_per_s"] / ref["chunks_per_s"]}
        r["paired_speedup_median"] = {"query": paired(q_ms[base], q_ms[k]),
                                      "scifact": paired(d_s[base], d_s[k]),
                                      "chunks": paired(c_s[base], c_s[k])}
        # ~20,000 SciFact-benchmark texts (abstracts + LangChain chunks + queries) of about
        # abstract length, at this run's abstract throughput: the cold-cache embedding time
        r["projected_scifact_cold_embed_min"] = 20_000 / r["scifact_docs_per_s"] / 60
    result["load_avg_after"] = loadavg()
    return result


def table(result: dict) -> str:
    """A markdown table of the headline numbers."""
    head = ("| backend | query p50 ms | p90 ms | SciFact docs/s | chunks/s | speed-up q / docs "
            "/ chunks (totals) | paired median | cosine min (q/docs/chunks) | top-10 overlap "
            "| 20k texts, min |")
    rows = [head, "|---|---|---|---|---|---|---|---|---|---|"]
    for k, r in result["backends"].items():
        c, sp, pm = r["cosine_vs_torch_fp32"], r["speedup"], r["paired_speedup_median"]
        rows.append(
            f"| {k} | {r['query_ms']['p50']:.1f} | {r['query_ms']['p90']:.1f} | "
            f"{r['scifact_docs_per_s']:.1f} | {r['chunks_per_s']:.1f} | "
            f"{sp['query_p50']:.2f} / {sp['scifact']:.2f} / {sp['chunks']:.2f} | "
            f"{pm['query']:.2f} / {pm['scifact']:.2f} / {pm['chunks']:.2f} | "
            f"{c['queries']['min']:.5f} / {c['scifact']['min']:.5f} / {c['chunks']['min']:.5f} | "
            f"{r['top10_overlap_vs_torch_fp32']['mean']:.3f} | "
            f"{r['projected_scifact_cold_embed_min']:.1f} |")
    return "\n".join(rows)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--docs", type=int, default=256, help="SciFact abstracts to encode")
    p.add_argument("--cold", action="store_true",
                   help="export the ONNX models into a temporary folder (load time = export)")
    p.add_argument("--threads", type=int, default=0, help="ONNX Runtime threads (0: default)")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--out", type=Path, default=OUT)
    args = p.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    result = run(args.docs, args.cold, args.threads, args.batch_size)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(table(result))
    print(f"load average before {result['load_avg_before']}, after {result['load_avg_after']}; "
          f"load s {result['load_s']}; written to {args.out}")


if __name__ == "__main__":
    main()
