"""Search at 100 k and 1 M chunks: which approximate index, and what the product does with it.

    python -m eval.scale_search                    # everything below (~30 min on 2 cores)
    python -m eval.scale_search --sizes 20000      # a quick run
    python -m eval.scale_search --from-json        # RESULTS.md and plot from the JSON
    python -m eval.scale_search --out /tmp/s.json --no-report   # touch nothing in eval/

1. **recall on real vectors**: MiniLM (the bundled model, vectors cached by
   :mod:`eval.embcache`) of SciFact's 5,183 abstracts (one chunk each, as eval/beir.py) plus
   the seed corpus's chunks; queries: SciFact's 300 test queries. recall@10 of FAISS IVF
   (:class:`rag.index.stores.FaissStore` forced approximate) against exact search, per ``nprobe``,
   unfiltered and with random filters keeping 50 / 10 / 1 % of rows.
2. **engine at size**: :func:`eval.scale_synth.synthetic_vectors` (mixes of those real
   vectors, documented there) at each size: build time, file size, recall@10 against exact
   with the same real queries, and latency p50/p95 per ``nprobe``, beside the exact flat scan.
3. **product at size**: :func:`eval.scale_synth.write_build` writes a synthetic build of N
   chunks and each of it and its exact twin (IndexFlatIP over the same vectors) is served by
   a fresh process (:func:`child`): ``rag.Assistant`` with the bundled MiniLM (ONNX query
   encoder), first answer timed from process start (twice: the first load after a build
   hashes every file; the second is the restart figure), then ``search()`` and ``ask()`` p50
   over the SciFact queries, RSS (peak and current, anonymous and file-backed).

Writes ``eval/results/scale_search.json``, the "## Search at 100 k and 1 M chunks" section of
``eval/RESULTS.md`` and ``eval/plots/scale_search.png``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np  # noqa: E402

EVAL = Path(__file__).resolve().parent
ROOT = EVAL.parent
SCIFACT = Path(os.environ.get("SCIFACT_DIR", "/work/shared/data/scifact"))
SECTION = "## Search at 100 k and 1 M chunks"
NPROBES = (8, 16, 32, 48, 64, 96, 128)
TARGET_RECALL = 0.98
FILTERS = (0.5, 0.1, 0.01)


def pct(xs: list[float], q: float) -> float:
    return round(float(np.percentile(xs, q)), 3) if xs else float("nan")


def real_data(limit: int = 0) -> dict:
    """MiniLM vectors of SciFact (its first ``limit`` documents; 0: all) + seed chunks,
    SciFact test queries and sentences."""
    from eval.beir import beir_chunks, load_beir
    from eval.embcache import CachedEmbedder
    from rag.index.build import build_index
    from rag.index.embed import embedder_from_settings
    from rag.index.load import load_index
    from rag.settings import Settings
    from rag.text import sentences

    emb = CachedEmbedder(embedder_from_settings(Settings(backend="torch")))
    corpus, queries, _ = load_beir(SCIFACT)
    corpus = dict(list(corpus.items())[:limit]) if limit else corpus
    docs = emb.encode([c.embed_text for c in beir_chunks(corpus)], progress=True)
    with tempfile.TemporaryDirectory() as tmp:
        s = Settings(index_dir=Path(tmp) / "seed", parse_workers=0)
        build_index(s, emb, progress=False)
        seed = np.array(load_index(s).dense.vectors())
    emb.save()
    sents = [x for d in corpus.values() for x in sentences(d["text"]) if len(x) > 40]
    return {"vectors": np.vstack([docs, seed]).astype(np.float32), "seed_chunks": len(seed),
            "queries": emb.encode(list(queries.values())), "query_texts": list(queries.values()),
            "sentences": sents, "titles": [d["title"] for d in corpus.values() if d["title"]],
            "model": emb.name}


def exact_ids(x: np.ndarray, q: np.ndarray, k: int = 10, rows: np.ndarray | None = None
              ) -> list[set[int]]:
    """Exact top-k row sets of each query (among ``rows``), by blocks of rows."""
    import faiss

    sub = x if rows is None else np.ascontiguousarray(x[rows])
    flat = faiss.IndexFlatIP(x.shape[1])
    flat.add(sub)
    _, ids = flat.search(np.ascontiguousarray(q), k)
    return [set((ids[i] if rows is None else rows[ids[i]]).tolist()) for i in range(len(q))]


def ann_rows(store, x: np.ndarray, q: np.ndarray, nprobes: tuple[int, ...]  # noqa: ANN001
             ) -> list[dict]:
    """recall@10 and latency of ``store`` per nprobe, unfiltered and filtered."""
    rng = np.random.default_rng(0)
    truth = exact_ids(x, q)
    masks = {f: np.sort(rng.choice(len(x), max(10, int(f * len(x))), replace=False))
             for f in FILTERS}
    truths = {f: exact_ids(x, q, rows=rows) for f, rows in masks.items()}
    out = []
    for nprobe in nprobes:
        store.nprobe = nprobe
        times, rec = [], []
        for i, v in enumerate(q):
            t0 = time.perf_counter()
            ids, _ = store.search(v, 10)
            times.append(1000 * (time.perf_counter() - t0))
            rec.append(len(truth[i] & set(ids.tolist())) / 10)
        row = {"nprobe": nprobe, "recall@10": round(float(np.mean(rec)), 4),
               "p50_ms": pct(times, 50), "p95_ms": pct(times, 95)}
        for f, rows in masks.items():
            hits = [len(truths[f][i] & set(store.search(v, 10, rows)[0].tolist())) / 10
                    for i, v in enumerate(q)]
            row[f"recall@10_filter_{f}"] = round(float(np.mean(hits)), 4)
        out.append(row)
        print(f"  nprobe {nprobe}: recall {row['recall@10']} p50 {row['p50_ms']} ms", flush=True)
    return out


def chosen_nprobe(rows: list[dict]) -> int:
    """The fewest lists probed reaching TARGET_RECALL unfiltered (else the most tried)."""
    return next((r["nprobe"] for r in rows if r["recall@10"] >= TARGET_RECALL),
                rows[-1]["nprobe"])


def flat_latency(x: np.ndarray, q: np.ndarray) -> dict:
    from rag.index.stores import FaissStore

    flat = FaissStore(x.shape[1], ann_threshold=0)
    flat.add(x)
    times = []
    for v in q:
        t0 = time.perf_counter()
        flat.search(v, 10)
        times.append(1000 * (time.perf_counter() - t0))
    return {"p50_ms": pct(times, 50), "p95_ms": pct(times, 95)}


def rss_mb() -> dict:
    """Peak and current resident memory of this process (MB), current split anon / file.
    Linux keeps ru_maxrss across fork + exec (a child starts with its parent's peak), so the
    peak is VmHWM, which starts again at exec."""
    status = dict(line.split(":", 1) for line in
                  Path("/proc/self/status").read_text().splitlines() if ":" in line)
    kb = {k: int(status[k].split()[0]) for k in ("VmHWM", "VmRSS", "RssAnon", "RssFile")
          if k in status}
    # peak: VmHWM (this process image); ru_maxrss also counts the parent's RSS at fork
    return {"peak": round(kb.get("VmHWM", 0) / 1024),
            "ru_maxrss": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
            "current": round(kb.get("VmRSS", 0) / 1024), "anon": round(kb.get("RssAnon", 0) / 1024),
            "file": round(kb.get("RssFile", 0) / 1024)}


def child(index_dir: str, corpus_dir: str, spawned: float, queries_file: str) -> None:
    """One serving process: first answer from process start, then search/ask latency, RSS."""
    from rag import Assistant
    from rag.settings import Settings

    t_import = time.time()
    texts = json.loads(Path(queries_file).read_text(encoding="utf-8"))
    a = Assistant(settings=Settings(index_dir=index_dir, corpus_dir=corpus_dir),
                  auto_build=False)
    a.live  # noqa: B018 - the model and the index, loaded (timed apart from the first answer)
    loaded = time.time()
    a.ask(texts[0])
    first = time.time()
    load = rss_mb()
    search, ask, dense, lexical, encode, retrieve, hybrid = [], [], [], [], [], [], []
    for t in texts[1:]:
        t0 = time.perf_counter()
        a.search(t, k=10)
        search.append(1000 * (time.perf_counter() - t0))
        t0 = time.perf_counter()
        a.ask(t)
        ask.append(1000 * (time.perf_counter() - t0))
        t0 = time.perf_counter()
        qv = a.embedder.encode([t])[0]
        encode.append(1000 * (time.perf_counter() - t0))
        t0 = time.perf_counter()
        a.retriever.search(t, k=10, query_vector=qv)
        retrieve.append(1000 * (time.perf_counter() - t0))
        t0 = time.perf_counter()
        a.index.dense.search(qv, a.settings.candidates)
        dense.append(1000 * (time.perf_counter() - t0))
        t0 = time.perf_counter()
        a.index.lexical.scores(t)
        lexical.append(1000 * (time.perf_counter() - t0))
        t0 = time.perf_counter()
        a.retriever.engine.hybrid(t, qv, None)  # dense + BM25 + top-k + fusion, no hits read
        hybrid.append(1000 * (time.perf_counter() - t0))
    print(json.dumps({"cold_start_s": round(first - spawned, 3),
                      "import_s": round(t_import - spawned, 3),
                      "load_s": round(loaded - t_import, 3),
                      "hybrid_p50_ms": pct(hybrid, 50),
                      "search_p50_ms": pct(search, 50), "search_p95_ms": pct(search, 95),
                      "ask_p50_ms": pct(ask, 50), "ask_p95_ms": pct(ask, 95),
                      "encode_p50_ms": pct(encode, 50), "retrieve_p50_ms": pct(retrieve, 50),
                      "nprobe": a.index.dense.nprobe, "dense_p50_ms": pct(dense, 50),
                      "bm25_scores_p50_ms": pct(lexical, 50),
                      "approximate": a.index.dense.approximate, "rss_after_first_mb": load,
                      "rss_mb": rss_mb(), "queries": len(texts) - 1}))


def serve(index_dir: Path, corpus_dir: Path, queries_file: Path, nprobe: int) -> dict:
    """Run :func:`child` in a fresh interpreter (``RAG_IVF_NPROBE=nprobe``) and return what
    it printed."""
    spawned = time.time()
    out = subprocess.run([sys.executable, "-m", "eval.scale_search", "--child", str(index_dir),
                          str(corpus_dir), str(spawned), str(queries_file)], cwd=ROOT,
                         capture_output=True, text=True, check=True,
                         env={**os.environ, "RAG_IVF_NPROBE": str(nprobe)})
    return json.loads(out.stdout.strip().splitlines()[-1])


def product(n: int, x: np.ndarray, store, data: dict, work: Path,  # noqa: ANN001
            queries: int, nprobe: int) -> dict:
    """A synthetic build of ``n`` chunks with the vectors ``x`` and their approximate
    ``store``, and its exact twin, each served twice by a fresh process."""
    from eval.scale_synth import exact_twin, write_build

    ann_dir, flat_dir, corpus = work / f"ann-{n}", work / f"flat-{n}", work / "corpus"
    t0 = time.perf_counter()
    folder = write_build(ann_dir, corpus, n, x, data["sentences"], data["titles"],
                         data["model"], store)
    write_s = time.perf_counter() - t0
    exact_twin(ann_dir, flat_dir, x)
    qfile = work / "queries.json"
    qfile.write_text(json.dumps(data["query_texts"][:queries + 1]), encoding="utf-8")
    row = {"chunks": n, "write_build_s": round(write_s, 1),
           "files_mb": {p.name: round(p.stat().st_size / 2**20, 1) for p in folder.iterdir()
                        if p.is_file()}}
    for name, d in (("ann", ann_dir), ("exact", flat_dir)):
        first = serve(d, corpus, qfile, nprobe)  # first load after the build: all hashed
        again = serve(d, corpus, qfile, nprobe)  # a restart: files trusted by their stamps
        row[name] = {**again, "first_load_cold_start_s": first["cold_start_s"]}
        print(f"  {name}: {json.dumps(row[name])}", flush=True)
    return row


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m eval.scale_search",
                                description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", default="100000,1000000")
    p.add_argument("--docs", type=int, default=0, help="SciFact documents used (0: all)")
    p.add_argument("--queries", type=int, default=50, help="timed queries per served index")
    p.add_argument("--work", type=Path, default=None, help="folder for the synthetic builds")
    p.add_argument("--out", type=Path, default=EVAL / "results" / "scale_search.json")
    p.add_argument("--from-json", action="store_true")
    p.add_argument("--no-report", action="store_true",
                   help="write only --out: leave eval/RESULTS.md and the plot alone")
    p.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        child(args.child[0], args.child[1], float(args.child[2]), args.child[3])
        return 0
    from eval.report import replace_section
    from eval.scale_report import markdown, plot

    if not args.from_json:
        r = measure([int(s) for s in args.sizes.split(",") if s], args)
        args.out.write_text(json.dumps(r, indent=1), encoding="utf-8")
    r = json.loads(args.out.read_text(encoding="utf-8"))
    if args.no_report:
        return 0
    replace_section(EVAL / "RESULTS.md", SECTION, markdown(r))
    plot(r, EVAL / "plots" / "scale_search.png")
    return 0


def measure(sizes: list[int], args: argparse.Namespace) -> dict:
    from eval.scale_synth import synthetic_vectors
    from rag.index.stores import FaissStore, ivf_lists
    from rag.settings import Settings

    data = real_data(args.docs)
    x, q = data["vectors"], data["queries"]
    r: dict = {"machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} "
               f"cores, 1-min load average {os.getloadavg()[0]:.1f} at the start",
               "date": time.strftime("%Y-%m-%d"),
               "model": data["model"],
               "dense_codes": "4-bit product-quantizer codes (fast scan)",
               "rerank_rows": Settings().ivf_rerank * Settings().candidates,
               "dense_index": "IndexIVFPQFastScan (4-bit product codes, two dimensions each) "
               "re-ranked exactly from "
               "vectors.npy (`ivf_rerank` x k candidates)",
               "real": {"rows": len(x), "seed_chunks":
                                                data["seed_chunks"], "queries": len(q)}}
    print(f"real vectors: {len(x)} rows, {len(q)} queries", flush=True)
    store = FaissStore(x.shape[1], ann_threshold=1)
    store.add(x)
    r["real"]["nlist"] = ivf_lists(len(x))
    r["real"]["ivf"] = ann_rows(store, x, q, NPROBES)
    r["real"]["exact"] = flat_latency(x, q)
    r["sizes"] = []
    for n in sizes:
        print(f"synthetic {n}:", flush=True)
        xs = synthetic_vectors(x, n, seed=1)
        store = FaissStore(xs.shape[1], ann_threshold=1)
        t0 = time.perf_counter()
        store.add(xs)
        store._faiss()  # noqa: SLF001 - train and add now, to time it
        row = {"chunks": n, "nlist": ivf_lists(n), "build_s": round(time.perf_counter() - t0, 1),
               "ivf": ann_rows(store, xs, q, NPROBES), "exact": flat_latency(xs, q)}
        row["nprobe"] = chosen_nprobe(row["ivf"])
        with tempfile.TemporaryDirectory(dir=args.work) as tmp:
            row["product"] = product(n, xs, store, data, Path(tmp), args.queries, row["nprobe"])
        del store, xs
        r["sizes"].append(row)
        args.out.write_text(json.dumps(r, indent=1), encoding="utf-8")  # partial results
    return r


if __name__ == "__main__":
    sys.exit(main())
