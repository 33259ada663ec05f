"""Retrieval benchmark: digest-rag against its baselines, in one process, one command; and the
one entry point of every evaluation suite (``python -m eval SUITE [options]``, see ``SUITES``;
``python -m eval suites`` lists them).

    python -m eval                       # digest questions + SciFact, report, JSON, plots
    python -m eval --quick               # fewer repeats, no sweep
    python -m eval --skip-scifact        # digest questions only
    python -m eval --scifact /path/to/beir-folder

Every configuration (BM25 only, dense only, hybrid RRF, then each step the product adds,
the LangChain RecursiveCharacterTextSplitter + FAISS baseline and, on SciFact, LlamaIndex's
vector + BM25 QueryFusionRetriever from eval/baseline_llamaindex.py, skipped without the
``eval`` extra) runs side by side with the same embedding model. Writes ``eval/RESULTS.md``
(section "## Retrieval benchmark"; other sections are kept), ``eval/results/benchmark.json``
and ``eval/plots/*.png``. Embeddings are cached by content hash under ``eval/cache/`` so reruns
take seconds.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from tqdm.auto import tqdm  # noqa: E402

from rag import Assistant, Settings  # noqa: E402
from rag.index.embed import embedder_from_settings  # noqa: E402

from . import costs, report, sweep  # noqa: E402
from .baseline import BaselineIndex  # noqa: E402
from .baseline_llamaindex import llamaindex_row  # noqa: E402
from .beir import BeirBench, beir_present, cross_validate, doc_text, load_beir  # noqa: E402
from .digest import DigestBench, ladder  # noqa: E402
from .embcache import CACHE, CachedEmbedder  # noqa: E402
from .gold import digest_questions  # noqa: E402
from .metrics import BEIR_METRICS, evaluate_run, latency_summary, search_ask_times  # noqa: E402

EVAL = Path(__file__).resolve().parent
ROOT = EVAL.parent
COLD_QUESTION = "Which papers adapt foundation models to head CT?"
SHARES = [0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9]  # dense shares cross-validated


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m eval", description=__doc__.split("\n\n")[0])
    p.add_argument("--scifact", type=Path, default=ROOT.parent / "shared" / "data" / "scifact",
                   help="BEIR-format folder (corpus.jsonl, queries.jsonl, qrels/test.tsv); "
                   "default ../shared/data/scifact. Read in place, never copied.")
    p.add_argument("--skip-scifact", action="store_true", help="digest questions only")
    p.add_argument("--quick", action="store_true",
                   help="one cold start, smaller throughput samples, no parameter sweep")
    p.add_argument("--no-sweep", action="store_true", help="skip the parameter sweep")
    p.add_argument("--skip-costs", action="store_true",
                   help="skip subprocess measurements (cold start, build time, memory)")
    p.add_argument("--model", default=None, help="embedding model (default: Settings().model; "
                   "'hashing-256' is the fast test stand-in)")
    p.add_argument("--int8", action="store_true", help="run the model with int8 linear layers")
    p.add_argument("--questions", type=int, default=None, help="use only the first N questions")
    p.add_argument("--out", type=Path, default=EVAL, help="where RESULTS.md, results/ and "
                   "plots/ go (default: eval/)")
    p.add_argument("--cache", type=Path, default=CACHE, help="embedding cache folder")
    return p.parse_args(argv)


def live_latency(a: Assistant, texts: list[str]) -> dict:
    """Warm search() and ask() latency over ``texts`` (p50/p95 plus the raw samples, ms)."""
    s_times, a_times = search_ask_times(a, texts)
    return {"search": {**latency_summary(s_times), "samples_ms": ms(s_times)},
            "ask": {**latency_summary(a_times), "samples_ms": ms(a_times)}}


def ms(seconds: list[float]) -> list[float]:
    return [round(1000 * x, 3) for x in seconds]


def digest_section(args: argparse.Namespace, settings: Settings, emb: CachedEmbedder,
                   bare: object, bar: tqdm, workdir: Path) -> dict:
    """Every ladder configuration + the baseline on the digest questions, abstention, latency."""
    questions = digest_questions()[: args.questions] if args.questions else digest_questions()
    bench = DigestBench(settings, emb, questions, workdir)
    out: dict = {"questions": len(questions), "answerable": len(bench.qrels), "configs": {}}
    bench.warm_queries()
    for cfg in ladder(settings):
        bar.set_postfix_str(f"digest: {cfg.name}")
        run, times = bench.run(cfg)
        out["configs"][cfg.name] = {"label": cfg.label, "metrics": bench.score(run),
                                    "search_latency": latency_summary(times)}
        bar.update()
    bar.set_postfix_str("digest: LangChain baseline")
    run, times, seconds = bench.baseline()
    out["configs"]["langchain"] = {"label": "LangChain splitter 1000/200 + FAISS (baseline)",
                                   "metrics": bench.score(run),
                                   "search_latency": {**latency_summary(times),
                                                      "samples_ms": ms(times)}, "build": seconds}
    bar.update()
    bar.set_postfix_str("digest: abstention + latency")
    default = bench.assistant(settings.context_header)
    out["abstention"] = bench.abstention(default)
    live = Assistant(settings=default.settings, embedder=bare)  # uncached: real query encoding
    out["latency"] = live_latency(live, [q["question"] for q in questions])
    out["index_dir"] = str(default.settings.index_dir)
    bar.update()
    if not args.quick and not args.no_sweep:
        bar.set_postfix_str("digest: sweep")
        out["sweep"] = sweep.digest_sweep(bench, settings)
    bar.update()
    return out


def scifact_section(args: argparse.Namespace, settings: Settings, emb: CachedEmbedder,
                    bare: object, bar: tqdm) -> dict:
    """Every configuration + the baseline on a BEIR dataset (SciFact by default)."""
    corpus, queries, qrels = load_beir(args.scifact)
    bar.set_postfix_str(f"BEIR: encoding {len(corpus)} docs (cached after the first run)")
    encoded0, enc_s0 = emb.encoded, emb.encode_seconds
    bench = BeirBench(corpus, queries, qrels, emb, settings, progress=True)
    index, build = bench.index(True)
    out: dict = {"path": os.path.relpath(args.scifact, ROOT),  # no machine paths in reports
                 "docs": len(corpus), "queries": len(queries),
                 "configs": {}, "build": build}
    configs = [("lexical", "BM25 only", "lexical"), ("dense", "dense only (FAISS)", "dense"),
               ("default", "hybrid RRF, title header (product search())", "hybrid")]
    for name, label, mode in configs:
        bar.set_postfix_str(f"BEIR: {name}")
        run, times = bench.run(mode)
        out["configs"][name] = {"label": label, "metrics": evaluate_run(qrels, run, BEIR_METRICS),
                                "search_latency": latency_summary(times)}
    bar.update()
    bar.set_postfix_str("BEIR: LangChain baseline (encoding its chunks, cached)")
    base = BaselineIndex.build({k: doc_text(d) for k, d in corpus.items()}, emb, progress=True)
    run, times = {}, []
    for qid in queries:
        t0 = time.perf_counter()
        run[qid] = base.doc_run(bench.qv[qid], 10)
        times.append(time.perf_counter() - t0)
    out["configs"]["langchain"] = {"label": "LangChain splitter 1000/200 + FAISS (baseline)",
                                   "metrics": evaluate_run(qrels, run, BEIR_METRICS),
                                   "search_latency": latency_summary(times), "build": base.seconds}
    bar.set_postfix_str("BEIR: LlamaIndex baseline (vector + BM25 fusion)")
    row = llamaindex_row({k: doc_text(d) for k, d in corpus.items()}, queries, qrels, emb,
                         bench.qv, settings.candidates, progress=True)
    if "skipped" in row:  # llama-index not installed: say which extra brings it
        out["llamaindex"] = row
        tqdm.write(row["skipped"])
    else:
        out["configs"]["llamaindex"] = row
    bar.set_postfix_str("BEIR: documents ranked whole (windows, z fusion) + 5-fold CV")
    run, times = bench.papers_run()
    out["configs"]["papers"] = {
        "label": f"windows (max) + z fusion, share {settings.paper_dense_share} "
                 "(rank_papers, product default)",
        "metrics": evaluate_run(qrels, run, BEIR_METRICS), "search_latency":
        latency_summary(times), "build": bench.paper_build()}
    out["cv"] = cross_validate(bench, SHARES)
    out["fresh_encoding"] = {"texts": emb.encoded - encoded0,
                             "seconds": emb.encode_seconds - enc_s0}
    emb.save()
    bar.update()
    # live latency: the product retriever with real query encoding (bare model, no cache)
    bar.set_postfix_str("BEIR: live search latency")
    from rag.answer.retrieve import Retriever

    live = Retriever(index, bare, settings)  # type: ignore[arg-type]
    texts = list(queries.values())[: 100 if args.quick else 300]
    live.search(texts[0])
    times = []
    for t in texts:
        t0 = time.perf_counter()
        live.search(t, k=10)
        times.append(time.perf_counter() - t0)
    out["latency"] = {"search": {**latency_summary(times), "samples_ms": ms(times)}}
    if not args.quick and not args.no_sweep:
        bar.set_postfix_str("BEIR: sweep")
        out["sweep"] = sweep.beir_sweep(bench, settings)
    bar.update()
    return out


def costs_section(args: argparse.Namespace, settings: Settings, bare: object,
                  digest: dict, scifact_path: Path | None, bar: tqdm) -> dict:
    """Subprocess build/memory/cold start and in-process encoding throughput."""
    out: dict = {}
    env = {"RAG_MODEL": settings.model, "RAG_INT8": "1" if settings.int8 else "0",
           "RAG_BACKEND": settings.backend, "RAG_BATCH_PRECISION": settings.batch_precision}
    if not args.skip_costs:
        bar.set_postfix_str("costs: index build in a fresh process")
        out["build"] = costs.build_in_subprocess(env)
        bar.set_postfix_str("costs: cold start")
        out["cold_start"] = costs.cold_start(Path(digest["index_dir"]), COLD_QUESTION,
                                             1 if args.quick else 3, env)
    bar.set_postfix_str("costs: encoding throughput")
    a = Assistant(settings=settings.model_copy(update={"index_dir": Path(digest["index_dir"])}),
                  embedder=bare)  # type: ignore[arg-type]
    chunk_texts = [c.embed_text for c in a.index.chunks]
    tput = costs.throughput(bare, chunk_texts)  # type: ignore[arg-type]
    out["throughput"] = {"digest_chunks": tput}
    if scifact_path is not None:
        corpus, _, _ = load_beir(scifact_path)
        n = 32 if args.quick else 128
        sample = [doc_text(d) for d in list(corpus.values())[:n]]
        out["throughput"]["beir_docs"] = costs.throughput(bare, sample)  # type: ignore[arg-type]
        if not settings.model.startswith("hashing") and not args.quick:
            for key, upd in (("beir_docs_fp32", {"batch_precision": "fp32", "int8": False}),
                             ("beir_docs_int8", {"int8": True})):
                if any(getattr(settings, k) != v for k, v in upd.items()):
                    other = embedder_from_settings(settings.model_copy(update=upd))
                    out["throughput"][key] = costs.throughput(other, sample)  # type: ignore
    bar.update()
    return out


SUITES = {  # name: (module, what it measures); each writes eval/results/<name>.json + RESULTS.md
    "bench": ("eval.__main__", "retrieval benchmark vs baselines, SciFact (the default)"),
    "core": ("eval.core", "digest questions end to end: recall, citations, abstention, speed"),
    "unseen": ("eval.unseen", "digests never tuned on (--final: the sealed test7 half)"),
    "calibrate": ("eval.calibrate", "fit the abstention model on the tuning questions"),
    "ui": ("eval.ui", "the app in a real browser: time to first text and to the answer"),
    "llm": ("eval.llm_real", "a real local LLM (SmolLM2 via xllamacpp), verified answers"),
    "llm-verify": ("eval.llm_verify", "the verifier against scripted misbehaving models"),
    "backends": ("eval.embed_backends", "embedding runtimes: torch, ONNX, int8, bf16"),
    "extraction": ("eval.extraction", "paper extraction against the gold lists"),
    "extraction-scale": ("eval.extraction_scale", "extraction and re-index time, 5-2000 digests"),
    "build-speed": ("eval.build_speed", "a first build against a pure encode of its texts"),
    "scale": ("eval.scale_search", "search, ask, memory and start-up at 100k and 1M chunks"),
    "stores": ("eval.stores", "FAISS and Qdrant stores side by side on SciFact"),
    "robustness": ("eval.robustness", "fuzzed inputs through every reader"),
    "hardening": ("eval.hardening", "damaged indexes, re-index at 1000 digests, app under load"),
    "house": ("eval.house", "import time of the package, module sizes"),
    "scifact-cv": ("eval.scifact_cv", "5-fold CV of the fusion parameters tuned on SciFact"),
}


def run_suite(name: str, argv: list[str]) -> object:
    """Run one suite's ``main`` with ``argv`` (as if called as ``python -m eval NAME ...``)."""
    import importlib
    import inspect

    if name not in SUITES:
        raise SystemExit(f"error: no suite {name!r}. Fix: one of {', '.join(SUITES)} "
                         "(`python -m eval suites` says what each measures)")
    module = importlib.import_module(SUITES[name][0])
    sys.argv = [f"python -m eval {name}", *argv]
    entry = module.main
    return entry(argv) if inspect.signature(entry).parameters else entry()


def main(argv: list[str] | None = None) -> object:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "suites":
        for name, (module, what) in SUITES.items():
            print(f"{name:17} {what}  [{module}]")
        return SUITES
    if argv and not argv[0].startswith("-") and argv[0] != "bench":
        return run_suite(argv[0], argv[1:])
    return benchmark(argv[1:] if argv and argv[0] == "bench" else argv)


def benchmark(argv: list[str] | None = None) -> dict:
    """The retrieval benchmark (``python -m eval`` or ``python -m eval bench``)."""
    args = parse_args(argv)
    t_start = time.perf_counter()
    settings = Settings()
    updates: dict = {}
    if args.model:
        updates["model"] = args.model
    if args.int8:
        updates["int8"] = True
    settings = settings.model_copy(update=updates)
    skip = "--skip-scifact given" if args.skip_scifact else beir_present(args.scifact)
    steps = len(ladder(settings)) + 5 + (0 if skip else 3)
    with tqdm(total=steps, desc="benchmark", unit="step") as bar, \
            tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        bar.set_postfix_str("loading the embedding model")
        bare = embedder_from_settings(settings)
        emb = CachedEmbedder(bare, args.cache)
        cached_at_start = emb.size  # 0: a cold run that encodes everything
        result: dict = {"meta": {
            "date": dt.datetime.now().isoformat(timespec="seconds"), "model": bare.name,
            "int8": settings.int8, "quick": args.quick, "cpus": os.cpu_count(),
            "python": platform.python_version(), "load_avg_start": os.getloadavg(),
            "command": "python -m eval " +
            " ".join(argv if argv is not None else sys.argv[1:]),
            "settings": settings.model_dump(include={
                "context_header", "max_chunk_chars", "dense_weight", "lexical_weight", "rrf_k",
                "candidates", "bm25_k1", "bm25_b", "abstain_threshold", "int8", "backend",
                "batch_precision"})}}
        result["digest"] = digest_section(args, settings, emb, bare, bar, Path(tmp))
        if skip:
            result["scifact"] = {"skipped": skip}
            tqdm.write(f"SciFact/BEIR skipped: {skip}")
        else:
            result["scifact"] = scifact_section(args, settings, emb, bare, bar)
            result["scifact"]["published"] = report.published_anchors(args.scifact)
        result["costs"] = costs_section(args, settings, bare, result["digest"],
                                        None if skip else args.scifact, bar)
        emb.save()
        result["meta"]["cache"] = {"hits": emb.hits, "encoded": emb.encoded,
                                   "encode_seconds": emb.encode_seconds,
                                   "cached_at_start": cached_at_start}
        result["meta"]["total_s"] = time.perf_counter() - t_start
        result["meta"]["load_avg_end"] = os.getloadavg()
        bar.set_postfix_str("writing report and plots")
        result["digest"].pop("index_dir", None)
        report.write_all(result, args.out)
        bar.update()
    print(report.summary(result))
    return result


if __name__ == "__main__":
    main()
