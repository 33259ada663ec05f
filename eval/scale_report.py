"""The RESULTS.md section and the plot of :mod:`eval.scale_search` (from its JSON)."""

from __future__ import annotations

from pathlib import Path

from rag.settings import Settings

COMMAND = "python -m eval.scale_search"


def _ivf_row(rows: list[dict], nprobe: int) -> dict:
    return next((r for r in rows if r["nprobe"] == nprobe), rows[-1])


def markdown(r: dict) -> str:
    """The "Search at 100 k and 1 M chunks" section."""
    s = Settings()
    real = r["real"]
    lines = [
        "## Search at 100 k and 1 M chunks", "",
        f"`{COMMAND}` ({r['machine']}, {r['date']}; eval/results/scale_search.json, plot "
        "eval/plots/scale_search.png). Dense search is exact (IndexFlatIP) below "
        f"`ann_threshold` = {s.ann_threshold:,} rows and FAISS "
        f"{r.get('dense_index', 'IndexIVFFlat')} above it "
        f"(`ivf_nlist` 0 = the power of two nearest 2 sqrt(rows), `ivf_nprobe` = {s.ivf_nprobe}); "
        f"a filter keeping at most `exact_filter_rows` = {s.exact_filter_rows:,} rows is exact "
        "over them. HNSW was tried first and dropped for its build time: IndexHNSWFlat (M 16) "
        "took 138 s to build over 100 k random unit vectors on this machine, IVF with 1,024 "
        "lists 44 s (a one-off check before this benchmark, not rerun by the command; IVF at "
        "1 M in this run: see 'build s' below).", "",
        f"**Recall on real vectors**: {r['model']} vectors of SciFact's abstracts + the seed "
        f"corpus's {real['seed_chunks']} chunks ({real['rows']:,} rows, IVF with "
        f"{real['nlist']} lists), SciFact's {real['queries']} test queries, recall@10 against "
        "exact search; filters keep a random share of rows.", "",
        "| nprobe | recall@10 | filter 50 % | filter 10 % | filter 1 % | p50 ms |",
        "|---:|---:|---:|---:|---:|---:|"]
    for x in real["ivf"]:
        lines.append(f"| {x['nprobe']} | {x['recall@10']:.4f} | {x['recall@10_filter_0.5']:.4f}"
                     f" | {x['recall@10_filter_0.1']:.4f} | {x['recall@10_filter_0.01']:.4f} | "
                     f"{x['p50_ms']} |")
    lines += ["", f"Exact search over them: p50 {real['exact']['p50_ms']} ms.", "",
              "**Engine at size** (synthetic vectors: each a random mix of two of the real "
              "vectors above plus noise of norm 0.3, eval/scale_synth.py; same real queries):",
              "", "| chunks | lists | build s | nprobe | recall@10 | filter 10 % | filter 1 % "
              "| IVF p50 / p95 ms | exact p50 / p95 ms |", "|---:|---:|---:|---:|---:|---:|---:"
              "|---:|---:|"]
    for row in r["sizes"]:
        for x in row["ivf"]:
            lines.append(f"| {row['chunks']:,} | {row['nlist']} | {row['build_s']} | "
                         f"{x['nprobe']} | {x['recall@10']:.4f} | "
                         f"{x['recall@10_filter_0.1']:.4f} | {x['recall@10_filter_0.01']:.4f} | "
                         f"{x['p50_ms']} / {x['p95_ms']} | {row['exact']['p50_ms']} / "
                         f"{row['exact']['p95_ms']} |")
    lines += ["", "**The product at size**: a synthetic build (eval/scale_synth.py: two real "
              "SciFact sentences per chunk, 500 chunks per digest, one paper per 10 chunks, the "
              "synthetic vectors) served by a fresh process through `rag.Assistant` with the "
              "bundled MiniLM (ONNX query encoder); its exact twin (IndexFlatIP over the same "
              "vectors, every other file shared) is the baseline, measured in the same run. "
              "search() and ask() include encoding the question; cold start is process start "
              "to the first answer, model load included, on a restart (the first load after a "
              "build hashes every file: shown apart). OS page cache warm (files just written).",
              "", "| chunks | engine | nprobe | search p50 / p95 ms | ask p50 / p95 ms | "
              "encode p50 ms | search, vector given, p50 ms | dense p50 ms | BM25 scores p50 ms "
              "| cold start s | first load after build s | RSS peak / current MB (anon + file) |",
              "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for row in r["sizes"]:
        for eng in ("ann", "exact"):
            x = row["product"][eng]
            m = x["rss_mb"]
            peak = m["peak"] if "ru_maxrss" in m else "n/a*"
            lines.append(f"| {row['chunks']:,} | {'IVF' if eng == 'ann' else 'exact (baseline)'}"
                         f" | {x['nprobe'] if eng == 'ann' else '-'} | {x['search_p50_ms']} / "
                         f"{x['search_p95_ms']} | {x['ask_p50_ms']} / {x['ask_p95_ms']} | "
                         f"{x['encode_p50_ms']} | {x['retrieve_p50_ms']} | {x['dense_p50_ms']} | "
                         f"{x['bm25_scores_p50_ms']} | {x['cold_start_s']} (imports "
                         f"{x['import_s']}) | {x['first_load_cold_start_s']} | {peak} / "
                         f"{m['current']} ({m['anon']} + {m['file']}) |")
    if any("ru_maxrss" not in row["product"]["ann"]["rss_mb"] for row in r["sizes"]):
        lines += ["", "\\* peak not measured: that run read ru_maxrss, which Linux carries "
                  "over from the parent benchmark process at fork (fixed: VmHWM since)."]
    lines += reading(r) + targets(r)
    return "\n".join(lines) + "\n\n"


def reading(r: dict) -> list[str]:
    """What the largest size shows, in numbers from the JSON."""
    row = max(r["sizes"], key=lambda x: x["chunks"])
    a, e, files = row["product"]["ann"], row["product"]["exact"], row["product"]["files_mb"]
    rest = a["retrieve_p50_ms"] - a["dense_p50_ms"] - a["bm25_scores_p50_ms"]
    if "hybrid_p50_ms" in a:  # runs since the dense index holds 8-bit codes
        return ["", f"**Reading** ({row['chunks']:,} chunks): IVF makes dense search "
                f"{e['dense_p50_ms'] / a['dense_p50_ms']:.0f}x faster than the exact scan "
                f"({a['dense_p50_ms']} against {e['dense_p50_ms']} ms), search() "
                f"{e['search_p50_ms'] / a['search_p50_ms']:.1f}x and ask() "
                f"{e['ask_p50_ms'] / a['ask_p50_ms']:.1f}x. Of search() with the vector given "
                f"({a['retrieve_p50_ms']} ms): dense search {a['dense_p50_ms']} ms "
                f"({r.get('dense_codes', '8-bit codes')} scanned, "
                f"{r.get('rerank_rows', 200)} candidates re-scored from vectors.npy), BM25 scoring "
                f"{a['bm25_scores_p50_ms']} ms, the whole hybrid step (both, lexical top-k "
                f"among the rows the query's terms occur in, fusion, cosines of lexical-only "
                f"rows) {a['hybrid_p50_ms']} ms, reading the hits the other "
                f"{a['retrieve_p50_ms'] - a['hybrid_p50_ms']:.1f} ms; encoding the question "
                f"takes {a['encode_p50_ms']} ms of search(). Cold start {a['cold_start_s']} s: "
                f"imports {a['import_s']} s, model and index load {a.get('load_s', '?')} s, "
                "the first answer the rest. The query process's anonymous RSS is "
                f"{a['rss_mb']['anon']} MB and {a['rss_mb']['file']} MB file-backed: vectors "
                "and chunk rows are read with pread (nothing of vectors.npy "
                f"({files['vectors.npy']} MB) or chunks.jsonl ({files['chunks.jsonl']} MB) is "
                "mapped: the page cache holds them in large folios, and each mapped row counted "
                f"up to 2 MB of RSS); dense.faiss ({files['dense.faiss']} MB) and the BM25 "
                "arrays are memory-mapped and counted as far as queries touched them."]
    return ["", f"**Reading** ({row['chunks']:,} chunks): IVF makes dense search "
            f"{e['dense_p50_ms'] / a['dense_p50_ms']:.0f}x faster than the exact scan "
            f"({a['dense_p50_ms']} against {e['dense_p50_ms']} ms), search() "
            f"{e['search_p50_ms'] / a['search_p50_ms']:.1f}x and ask() "
            f"{e['ask_p50_ms'] / a['ask_p50_ms']:.1f}x. Of search() with the vector given "
            f"({a['retrieve_p50_ms']} ms), dense search is {a['dense_p50_ms']} ms and BM25 "
            f"scoring {a['bm25_scores_p50_ms']} ms; the other ~{rest:.0f} ms (BM25 top-k over "
            "every chunk's score, fusion, the cosines of lexical-only rows, reading the hits) "
            "were not broken down further. The query process's own memory (anonymous RSS) is "
            f"{a['rss_mb']['anon']} MB; the other {a['rss_mb']['file']} MB of its RSS are clean "
            f"page-cache pages of the memory-mapped files (dense.faiss {files['dense.faiss']} "
            f"MB, vectors.npy {files['vectors.npy']} MB, chunks.jsonl {files['chunks.jsonl']} "
            "MB), which the kernel can drop, but which RSS counts. Next steps (not done): "
            "IVF with 8-bit codes (4x smaller file and scan) re-ranked "
            "exactly from vectors.npy, and a BM25 top-k that does not materialise every "
            "chunk's score."]


def targets(r: dict) -> list[str]:
    """Issue 13's targets at 1 M chunks, met or not, from the largest size measured."""
    row = max(r["sizes"], key=lambda x: x["chunks"])
    x = row["product"]["ann"]
    ivf = next(i for i in row["ivf"] if i["nprobe"] == row["nprobe"])
    peak = x["rss_mb"]["peak"] if "ru_maxrss" in x["rss_mb"] else float("nan")
    checks = [("search() p50 <= 10 ms", x["search_p50_ms"], x["search_p50_ms"] <= 10),
              ("ask() p50 <= 25 ms", x["ask_p50_ms"], x["ask_p50_ms"] <= 25),
              ("ANN recall@10 >= 0.98", ivf["recall@10"], ivf["recall@10"] >= 0.98),
              ("query-process RSS <= 3 GB (peak MB)", peak, peak <= 3072),
              ("cold start to first answer <= 3 s", x["cold_start_s"], x["cold_start_s"] <= 3)]
    out = ["", f"**Targets at {row['chunks']:,} chunks** (this machine, 2 cores; latencies move "
           "with the load of the moment: read them against the exact baseline of the same "
           "run):", ""]
    out += [f"- {name}: {value} - {'met' if ok else 'NOT met'}" for name, value, ok in checks]
    if r.get("other_runs"):  # runs of the same command on other code or at another moment
        out += ["", "Other runs of this command (figures at the largest size): "
                + "; ".join(r["other_runs"]) + "."]
    return out


def plot(r: dict, path: Path) -> None:
    """Latency, memory and start-up against corpus size, IVF beside exact."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = r["sizes"]
    ns = [x["chunks"] for x in rows]
    fig, axes = plt.subplots(1, 3, figsize=(14, 4))
    for eng, style in (("ann", "o-"), ("exact", "s--")):
        label = "IVF" if eng == "ann" else "exact (baseline)"
        p = [x["product"][eng] for x in rows]
        axes[0].plot(ns, [y["search_p50_ms"] for y in p], style, label=f"search p50, {label}")
        axes[0].plot(ns, [y["ask_p50_ms"] for y in p], style, alpha=0.6,
                     label=f"ask p50, {label}")
        axes[1].plot(ns, [y["rss_mb"]["current"] for y in p], style, label=f"RSS, {label}")
        axes[1].plot(ns, [y["rss_mb"]["anon"] for y in p], style, alpha=0.5,
                     label=f"anonymous RSS, {label}")
        axes[2].plot(ns, [y["cold_start_s"] for y in p], style, label=f"restart, {label}")
        axes[2].plot(ns, [y["first_load_cold_start_s"] for y in p], style, alpha=0.5,
                     label=f"first load after build, {label}")
    axes[0].set(ylabel="ms", title="Latency")
    axes[1].set(ylabel="MB", title="Query-process memory (after the queries)")
    axes[2].set(ylabel="s", title="Process start to first answer")
    for ax in axes:
        ax.set_xscale("log")
        ax.set_xlabel("chunks")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
