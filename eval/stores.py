"""Stores: the same questions through the FAISS engine and the Qdrant engine, in one run.

SciFact (BEIR, read in place) is indexed once with the real MiniLM vectors (eval/cache); the
FAISS engine is the product's default path, the Qdrant engine gets a collection filled from
the very same vectors and texts (qdrant-client's local mode, in memory: no server). Each is
measured with the product's :class:`rag.answer.retrieve.Retriever` (query vectors precomputed, so the
latencies are retrieval only): nDCG@10, top-10 agreement with FAISS, search p50. Local mode
scores sparse vectors in pure Python, one document at a time (~2.5 s a query over SciFact's
5,183 documents on this machine), so its latency says nothing about a Qdrant server, which
keeps an inverted index; it is reported, not compared.

Fusion variants on Qdrant: Qdrant's weighted RRF scores a rank r 1 / (r / w + k - 1), this
project's w / (rrf_k + r); both agree exactly at weight 1 with k = rrf_k + 1, which the
"equal weights" pair checks, while the product's weights (1.0 dense, 1.25 lexical) can only be
approximated (k = rrf_k + 1, the engine's default, or k = rrf_k). Local mode's sparse search
costs seconds a query, so the variants are fused from one pass of the two prefetch lists
(fetched from the collection as the engine's prefetches are) by qdrant-client's own
``reciprocal_rank_fusion``, the function local mode runs for the Query API (k > 0), or by this
project's RRF (k = 0: ``qdrant_fusion="client"``); the engine itself runs the first
``CHECKED`` queries, whose hits must equal the derived default variant's.

The digest question set (eval/data/digest_questions.jsonl) runs through both stores as well:
the product configuration's paper-level figures and ask()'s abstention.

    python -m eval.stores [--scifact PATH] [--skip-digest] [--report-only]

Writes eval/results/stores.json and the section "Stores: FAISS vs Qdrant" of eval/RESULTS.md
(``--report-only`` rewrites the section from the JSON).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from rag.answer.retrieve import Retriever  # noqa: E402
from rag.index.embed import embedder_from_settings  # noqa: E402
from rag.index.engines import RowFacets  # noqa: E402
from rag.index.qdrant import QdrantEngine, fill_collection  # noqa: E402
from rag.settings import Settings  # noqa: E402

from .beir import BeirBench, beir_present, beir_run, load_beir, ndcg10  # noqa: E402
from .embcache import CACHE, CachedEmbedder  # noqa: E402
from .metrics import latency_summary  # noqa: E402
from .report import publish, replace_section  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
CHECKED = 50  # queries also run through the engine itself (local mode: seconds each)
OUT = ROOT / "eval" / "results" / "stores.json"
RESULTS = ROOT / "eval" / "RESULTS.md"
SECTION = "## Stores: FAISS vs Qdrant"


def _measure(retriever: Retriever, bench: BeirBench, faiss_top: dict | None = None,
             queries: dict[str, str] | None = None) -> dict:
    """nDCG@10, search latency and (against ``faiss_top``) top-10 agreement of a retriever
    (over ``queries``, by default all)."""
    run: dict[str, dict[str, float]] = {}
    times: list[float] = []
    queries = queries or bench.queries
    for qid, text in queries.items():
        t0 = time.perf_counter()
        run.update(beir_run(retriever, {qid: text}, 10, bench.qv))
        times.append(time.perf_counter() - t0)
    out = {"ndcg@10": float(np.mean([ndcg10(bench.qrels[q], run.get(q, {}))
                                      for q in queries])),
           "search_latency": latency_summary(times), "run": run}
    if faiss_top is not None:
        same, overlap = [], []
        for q in queries:
            a = sorted(faiss_top[q], key=lambda d: -faiss_top[q][d])
            b = sorted(run[q], key=lambda d: -run[q][d])
            same.append(a == b)
            overlap.append(len(set(a) & set(b)) / max(1, len(a)))
        out["identical_top10"] = float(np.mean(same))
        out["overlap@10"] = float(np.mean(overlap))
    return out


def scifact(path: Path, settings: Settings, emb: CachedEmbedder) -> dict:
    """FAISS vs Qdrant on SciFact (see the module docstring)."""
    from qdrant_client import QdrantClient

    corpus, queries, qrels = load_beir(path)
    bench = BeirBench(corpus, queries, qrels, emb, settings, progress=True)
    index, build = bench.index(True)
    getattr(emb, "save", lambda: None)()  # keep the vectors even if a later step fails
    client = QdrantClient(":memory:")
    t0 = time.perf_counter()
    fill_collection(client, "scifact", index.chunks, index.dense.vectors(), RowFacets.of(index),
                    settings)
    fill_s = time.perf_counter() - t0
    out: dict = {"docs": len(corpus), "queries": len(queries), "faiss_build_s": build,
                 "qdrant_fill_s": fill_s, "configs": {}}

    product = f"product fusion (dense {settings.dense_weight}, lexical " \
              f"{settings.lexical_weight}, rrf_k {settings.rrf_k})"
    faiss = _measure(Retriever(index, emb, settings), bench)
    out["configs"]["product/faiss"] = {"label": f"{product}: FAISS engine", **faiss}
    check = dict(list(bench.queries.items())[:CHECKED])
    engine_runs = {}
    for fusion in ("server", "client"):
        s = settings.model_copy(update={"qdrant_fusion": fusion})
        engine = QdrantEngine(client, "scifact", index, s)
        engine_runs[fusion] = _measure(Retriever(index, emb, s, engine=engine), bench,
                                       faiss["run"], check)
    lists = PrefetchLists(engine, bench)
    out["prefetch_pass_latency"] = latency_summary(lists.seconds)
    variants = [("product", product, {}, (engine.rrf_k, settings.rrf_k, 0)),
                ("equal", "equal weights (1.0 / 1.0)", {"lexical_weight": 1.0}, (engine.rrf_k,)),
                ("dense", "dense only", {"lexical_weight": 0.0}, (engine.rrf_k,))]
    for name, label, over, ks in variants:
        s = settings.model_copy(update=over)
        if name != "product":
            faiss = _measure(Retriever(index, emb, s), bench)
            out["configs"][f"{name}/faiss"] = {"label": f"{label}: FAISS engine", **faiss}
        for k in ks:  # k 0: fused here by the FAISS engine's RRF (qdrant_fusion="client")
            r = _measure(Retriever(index, emb, s, engine=lists.fused(s, k)), bench, faiss["run"])
            how = f"qdrant-client's RRF, k={k}" if k else "this project's RRF (client fusion)"
            out["configs"][f"{name}/qdrant-lists-k{k}"] = {
                "label": f"{label}: Qdrant prefetch lists fused by {how}", **r}
    out["engine_check"] = {}
    for fusion, k in (("server", engine.rrf_k), ("client", 0)):
        derived, run = out["configs"][f"product/qdrant-lists-k{k}"]["run"], engine_runs[fusion]
        out["engine_check"][fusion] = {
            "queries": len(check), "search_latency": run["search_latency"],
            "derived_equals_engine": all(derived[q] == run["run"][q] for q in check)}
    for c in out["configs"].values():
        c.pop("run")
    return out


class PrefetchLists:
    """The dense and sparse prefetch lists of every query, fetched once from the collection
    (same vectors, limits and vector names as :class:`QdrantEngine`'s prefetches)."""

    def __init__(self, engine: QdrantEngine, bench: BeirBench) -> None:
        from qdrant_client import models

        from rag.index.qdrant import DENSE, SPARSE, query_sparse

        self.engine, self.lists, self.seconds = engine, {}, []
        c = min(engine.settings.candidates, len(engine.index.chunks))
        for qid, text in bench.queries.items():
            t0 = time.perf_counter()
            dense = engine.client.query_points(engine.collection, query=bench.qv[qid].tolist(),
                                               using=DENSE, limit=c).points
            ids, values = query_sparse(text)
            sparse = engine.client.query_points(
                engine.collection, query=models.SparseVector(indices=ids, values=values),
                using=SPARSE, limit=c).points if ids else []
            self.lists[text] = (dense, sparse)
            self.seconds.append(time.perf_counter() - t0)

    def fused(self, settings: Settings, k: int) -> object:
        """An engine answering from the lists, fused with weights from ``settings`` by
        Qdrant's RRF with constant ``k``, or (k 0) by this project's RRF."""
        from qdrant_client.hybrid.fusion import reciprocal_rank_fusion

        from rag.index.engines import Candidates, rrf

        lists, vectors = self.lists, self.engine.vectors
        c = min(settings.candidates, len(self.engine.index.chunks))

        class Fused:
            name = "qdrant-lists"

            def hybrid(self, text: str, vector: np.ndarray, where: object) -> Candidates:
                dense, sparse = lists[text]
                sources = [(settings.dense_weight, dense), (settings.lexical_weight, sparse)]
                sources = [(w, pts) for w, pts in sources if w > 0 and pts]
                if not k:
                    fused = rrf(((w, [int(p.id) for p in ps]) for w, ps in sources),
                                settings.rrf_k)
                    order = tuple(sorted(fused, key=lambda i: -fused[i]))
                    return Candidates(order, fused, vectors.at(order, vector), {})
                pts = reciprocal_rank_fusion([[p.model_copy() for p in ps] for _, ps in sources],
                                             limit=len(sources) * c, ranking_constant_k=k,
                                             weights=[w for w, _ in sources])
                order = tuple(int(p.id) for p in pts)
                return Candidates(order, {int(p.id): float(p.score) for p in pts},
                                  vectors.at(order, vector), {})

            def similarities(self, vector: np.ndarray) -> np.ndarray:
                return vectors.similarities(vector)

        return Fused()


def digest(settings: Settings, emb: CachedEmbedder, workdir: Path) -> dict:
    """The digest question set's product configuration and abstention through both stores."""
    from .digest import DigestBench, ladder
    from .gold import digest_questions

    questions = digest_questions()
    out: dict = {"questions": len(questions)}
    for store, fusion in (("faiss", "server"), ("qdrant", "server"), ("qdrant", "client")):
        name = store if store == "faiss" else f"{store}-{fusion}"
        bench = DigestBench(settings.model_copy(update={"store": store, "qdrant_fusion": fusion}),
                            emb, questions, workdir / name)
        bench.warm_queries()
        cfg = ladder(settings)[-1]
        run, times = bench.run(cfg)
        a = bench.assistant(cfg.header, cfg.overrides)
        out[name] = {"config": cfg.name, "metrics": bench.score(run),
                      "search_latency": latency_summary(times),
                      "abstention": bench.abstention(a), "engine": a.retriever.engine.name}
    return out


def stores_markdown(r: dict) -> str:
    """The RESULTS.md section of one run."""
    m = r["meta"]
    lines = [SECTION, "", f"Command: `{m['command'].strip()}` ({m['date'][:10]}, "
             f"{m['cpus']} cores, shared with other jobs: load average "
             f"{m['load_avg_start'][0]:.1f} at the start). "
             f"Qdrant: {m['qdrant_mode']}. JSON: `eval/results/stores.json`.", ""]
    sf = r.get("scifact", {})
    if "configs" in sf:
        c = sf["configs"]
        ks = sorted(int(n.rsplit("-k", 1)[1]) for n in c if n.startswith("product/qdrant"))
        server = max(ks)  # the engine's default k (rrf_k + 1)
        gaps = {k: c[f"product/qdrant-lists-k{k}"]["ndcg@10"] - c["product/faiss"]["ndcg@10"]
                for k in ks}
        lines += [f"SciFact ({sf['docs']} documents, {sf['queries']} queries, real MiniLM "
                  "vectors, the same vectors and texts in both engines), product `search()`; "
                  "search p50 of the fused-list rows is the fusion alone (the lists were "
                  "fetched once):", "",
                  "| engine / fusion | nDCG@10 | top-10 same as FAISS | overlap@10 "
                  "| search p50 ms |",
                  "|---|---|---|---|---|"]
        for name, row in c.items():
            lines.append(f"| {row['label']} | {row['ndcg@10']:.3f} | "
                         f"{row.get('identical_top10', 1.0):.2f} | "
                         f"{row.get('overlap@10', 1.0):.3f} | "
                         f"{row['search_latency']['p50_ms']:.1f} |")
        chk = sf["engine_check"]
        if "queries" in chk:  # a run before both fusions were checked
            chk = {"server": chk}

        def verdict(g: float) -> str:
            return f"{g:+.3f} ({'within' if abs(g) <= 0.01 else 'NOT within'} 0.01)"
        lines += ["", f"**nDCG@10 against the FAISS engine: Qdrant server-side fusion "
                  f"(k={server}) {verdict(gaps[server])}; client fusion "
                  f"(`RAG_QDRANT_FUSION=client`, the default) {verdict(gaps[0])}.** The engine "
                  "itself ran the first queries with each fusion (one Query API call each): "
                  + "; ".join(f"{f} fusion, {c['queries']} queries, search p50 "
                              f"{c['search_latency']['p50_ms']:.0f} ms in local mode, same hits "
                              f"as the fused lists: {c['derived_equals_engine']}"
                              for f, c in chk.items()) + ". Qdrant collection filled in "
                  f"{sf['qdrant_fill_s']:.1f} s; the prefetch pass took "
                  f"{sf['prefetch_pass_latency']['p50_ms']:.0f} ms a query (p50). Local mode "
                  "scores sparse vectors in pure Python one point at a time, so these latencies "
                  "say nothing about a Qdrant server (not measured: no server here).", ""]
    dg = r.get("digest")
    if dg:
        f = dg["faiss"]
        engines = [("FAISS", f)] + [(f"Qdrant, {k[7:]} fusion", dg[k])
                                    for k in ("qdrant-server", "qdrant-client") if k in dg]
        keys = list(f["metrics"])
        lines += [f"Digest question set ({dg['questions']} questions, configuration "
                  f"`{f['config']}`, paper level; abstention through `ask()`):", "",
                  "| engine | " + " | ".join(keys) + " | abstained (unanswerable) | "
                  "wrongly abstained |", "|---" * (len(keys) + 3) + "|"]
        for name, row in engines:
            ab = row["abstention"]
            lines.append(f"| {name} | " + " | ".join(f"{row['metrics'][k]:.3f}" for k in keys) +
                         f" | {ab['abstained']:.3f} | {ab['wrongly_abstained']:.3f} |")
        lines.append("")
        for name, q in engines[1:]:
            same = all(abs(f["metrics"][k] - q["metrics"][k]) < 5e-4 for k in keys) and \
                f["abstention"] == q["abstention"]
            lines.append(f"- {name}: digest figures unchanged: **{same}**.")
        lines.append("")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(prog="python -m eval.stores", description=__doc__.split("\n")[0])
    p.add_argument("--scifact", type=Path, default=ROOT.parent / "shared" / "data" / "scifact")
    p.add_argument("--cache", type=Path, default=CACHE)
    p.add_argument("--skip-digest", action="store_true")
    p.add_argument("--skip-scifact", action="store_true")
    p.add_argument("--report-only", action="store_true",
                   help="rewrite the RESULTS.md section from eval/results/stores.json")
    args = p.parse_args(argv)
    if args.report_only:
        result = json.loads(OUT.read_text(encoding="utf-8"))
        replace_section(RESULTS, SECTION, stores_markdown(result))
        return result
    settings = Settings()
    emb = CachedEmbedder(embedder_from_settings(settings), args.cache)
    result: dict = {"meta": {"date": dt.datetime.now().isoformat(timespec="seconds"),
                             "model": emb.name, "cpus": os.cpu_count(),
                             "load_avg_start": os.getloadavg(),
                             "command": "python -m eval.stores " + " ".join(
                                 argv if argv is not None else sys.argv[1:]),
                             "qdrant_mode": "qdrant-client local mode (in memory / index_dir), "
                             "no server"}}
    skip = "--skip-scifact given" if args.skip_scifact else beir_present(args.scifact)
    result["scifact"] = {"skipped": skip} if skip else scifact(args.scifact, settings, emb)
    if not args.skip_digest:
        with tempfile.TemporaryDirectory(prefix="stores-") as tmp:
            result["digest"] = digest(settings, emb, Path(tmp))
    emb.save()
    result["meta"]["load_avg_end"] = os.getloadavg()
    publish(result, OUT, SECTION, stores_markdown(result))
    print(json.dumps({k: v for k, v in result.items() if k != "meta"}, indent=1))
    return result


if __name__ == "__main__":
    main()
