"""Core benchmark on the seed digests: retrieval quality, abstention, latency, build cost.

Measures, in one process and one run, what the core issue targets: paper Recall@5 and MRR on
the hand-written question set, abstention on unanswerable questions, warm ``search()`` and
``ask()`` latency, and index build time against the time the same model takes to encode the
same chunk texts alone. Results are plain dicts (JSON-able), BEIR-style.

    python -m eval.core    # writes eval/results/core.json and the "Core pipeline" section of
                           # eval/RESULTS.md (run `python -m eval.calibrate` first to refit
                           # abstention; its leave-one-out figures are quoted)
"""

from __future__ import annotations

import datetime as dt
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from rag import Assistant, Settings
from rag.answer.retrieve import Filters
from rag.corpus.ingest import load_corpus
from rag.extract.papers import extract_papers
from rag.extract.metadata import load_metadata
from rag.index.build import build_index
from rag.index.chunk import chunk_corpus
from rag.index.embed import Embedder, embedder_from_settings, native_bf16
from rag.records import Answer, Hit

from .gold import align, digest_questions, gold_papers, precision_recall
from .metrics import search_ask_times
from .report import replace_section

RESULTS = Path(__file__).resolve().parent / "results"
CORE_SECTION = "## Core pipeline"


def ranked_keys(hits: list[Hit], amap: dict[str, str]) -> list[str]:
    """Gold paper keys in the order the hits first mention them."""
    out: list[str] = []
    for h in hits:
        for p in h.papers:
            key = amap.get(p.id)
            if key and key not in out:
                out.append(key)
    return out


def question_filters(q: dict) -> Filters:
    return Filters.make(since=q.get("since"), until=q.get("until"), digest=q.get("digest"))


def retrieval_quality(a: Assistant, questions: list[dict], amap: dict[str, str]) -> dict:
    """Paper-level Recall@1/5/10 and MRR@10 over answerable questions (grade-2 papers)."""
    r1, r5, r10, mrr = [], [], [], []
    misses = []
    for q in tqdm(questions, desc="retrieval", leave=False):
        if not q["answerable"]:
            continue
        hits = a.retriever.search(q["question"], k=30, filters=question_filters(q))
        keys = ranked_keys(hits, amap)
        rel = {k for k, g in q["relevant"].items() if g >= 2}
        first = next((i for i, k in enumerate(keys) if k in rel), None)
        r1.append(first is not None and first < 1)
        r5.append(first is not None and first < 5)
        r10.append(first is not None and first < 10)
        mrr.append(1 / (first + 1) if first is not None and first < 10 else 0.0)
        if first is None or first >= 5:
            misses.append({"id": q["id"], "question": q["question"], "got": keys[:5]})
    return {"questions": len(r5), "recall@1": float(np.mean(r1)), "recall@5": float(np.mean(r5)),
            "recall@10": float(np.mean(r10)), "mrr@10": float(np.mean(mrr)), "misses": misses}


def abstention(a: Assistant, questions: list[dict], amap: dict[str, str] | None = None
               ) -> dict:
    """Share of unanswerable questions abstained, and of answerable ones wrongly abstained;
    with ``amap`` (paper id -> gold key) also how well ``ask()`` cites (see ``cited``)."""
    un, wrong, wrong_ids, kept_ids = [], [], [], []
    cites: list[dict] = []
    for q in tqdm(questions, desc="abstention", leave=False):
        f = question_filters(q)
        ans = a.ask(q["question"], since=f.since, until=f.until, digest=f.digest)
        if q["answerable"]:
            wrong.append(ans.abstained)
            if amap is not None:
                cites.append(cited(ans, q, amap))
            if ans.abstained:
                wrong_ids.append(q["id"])
        else:
            un.append(ans.abstained)
            if not ans.abstained:
                kept_ids.append(q["id"])
    out = {"unanswerable": len(un), "unanswerable_abstained": float(np.mean(un)),
           "answerable": len(wrong), "answerable_wrongly_abstained": float(np.mean(wrong)),
           "wrongly_abstained_ids": wrong_ids, "answered_unanswerable_ids": kept_ids}
    if cites:
        prec = [c["precision"] for c in cites if c["precision"] is not None]
        out["answers"] = {
            "gold_cited": float(np.mean([c["gold_cited"] for c in cites])),
            "citation_precision": float(np.mean(prec)) if prec else 0.0,
            "citations_per_answer": float(np.mean([c["n"] for c in cites])),
            "without_paper": int(sum(c["without_paper"] for c in cites)),
            "gold_missed_ids": [c["id"] for c in cites if not c["gold_cited"]]}
    return out


def cited(ans: Answer, q: dict, amap: dict[str, str]) -> dict:
    """How an answer to an answerable question cites: is a main gold paper (grade 2, else any
    relevant one) among its citations, and what share of its cited papers are relevant
    (a citation of a digest passage without a paper counts as not relevant)."""
    keys = [amap.get(c.paper.id) if c.paper else None for c in ans.citations]
    main = {k for k, g in q["relevant"].items() if g >= 2} or set(q["relevant"])
    return {"id": q["id"], "gold_cited": bool(main & set(keys)), "n": len(keys),
            "precision": sum(k in q["relevant"] for k in keys) / len(keys) if keys else None,
            "without_paper": sum(c.paper is None for c in ans.citations)}


def percentiles(xs: list[float]) -> dict:
    return {"p50_ms": 1000 * float(np.percentile(xs, 50)),
            "p95_ms": 1000 * float(np.percentile(xs, 95)), "n": len(xs)}


def latency(a: Assistant, questions: list[dict], rounds: int = 1) -> dict:
    """Warm latency of search() and ask() over the question texts (each asked once/round)."""
    s_times, a_times = search_ask_times(a, [q["question"] for q in questions], rounds,
                                        progress=True)
    return {"search": percentiles(s_times), "ask": percentiles(a_times)}


def build_cost(settings: Settings, embedder: Embedder, repeats: int = 11) -> dict:
    """Full index build vs encoding the same chunk texts alone, alternated ``repeats`` times
    in this process after one untimed warm-up of each, plus a second build on the unchanged
    corpus. The target is judged on the median of the per-pair ratios (each build over the
    encode run just before it), which cancels the machine's speed drifting between pairs; the
    ratio of the two medians is reported beside it."""
    docs, _ = load_corpus(settings.corpus_dir)
    meta, _ = load_metadata(settings.metadata_dir)
    chunks = chunk_corpus(docs, extract_papers(docs, meta), settings.context_header,
                          settings.max_chunk_chars)
    texts = [c.embed_text for c in chunks]
    for i in range(0, len(texts), 64):  # warm up: the model, and its kernels for these shapes
        embedder.encode(texts[i:i + 64])
    with tempfile.TemporaryDirectory() as tmp:  # and the build's one-time imports
        build_index(settings.model_copy(update={"index_dir": Path(tmp)}), embedder,
                    progress=False)
    enc, build, embedded_first = [], [], []
    for _ in tqdm(range(repeats), desc="build vs encode", leave=False):
        t0 = time.perf_counter()
        for i in range(0, len(texts), 64):
            embedder.encode(texts[i:i + 64])
        enc.append(time.perf_counter() - t0)
        with tempfile.TemporaryDirectory() as tmp:
            s = settings.model_copy(update={"index_dir": Path(tmp)})
            t0 = time.perf_counter()
            r = build_index(s, embedder, progress=False)
            build.append(time.perf_counter() - t0)
            embedded_first.append(r.embedded)
            again = build_index(s, embedder, progress=False)
    ratio = statistics.median(b / e for b, e in zip(build, enc))
    return {"chunks": len(texts), "encode_only_s": statistics.median(enc),
            "build_s": statistics.median(build), "build_over_encode": ratio,
            "ratio_of_medians": statistics.median(build) / statistics.median(enc),
            "encode_runs_s": enc, "build_runs_s": build, "first_build_embedded": embedded_first[-1],
            "second_build_embedded": again.embedded, "chunks_per_s": len(texts) /
            statistics.median(enc)}


def header_comparison(settings: Settings, embedder: Embedder, questions: list[dict]) -> dict:
    """Retrieval quality with each context-header mode, same model, same run."""
    out = {}
    for mode in ("none", "paper", "paper+digest"):
        with tempfile.TemporaryDirectory() as tmp:
            s = settings.model_copy(update={"index_dir": Path(tmp), "context_header": mode})
            a = Assistant(settings=s, embedder=embedder)
            amap = align(list(a.index.papers.values()), gold_papers())
            q = retrieval_quality(a, questions, amap)
            q.pop("misses")
            out[mode] = q
    return out


VARIANTS = {  # label -> settings changes; the first is the configured default
    "default": {},
    "torch fp32 (queries and batches)": {"backend": "torch", "batch_precision": "fp32"},
    "torch int8": {"backend": "torch", "int8": True},
    "ONNX int8": {"backend": "onnx", "int8": True},
}


def run(settings: Settings | None = None, repeats: int = 11) -> dict:
    """Every core measurement, in one process: the build cost and context headers for the
    configured embedder, then quality, abstention and latency for each embedder variant side
    by side (each with its own index)."""
    settings = settings or Settings()
    questions = digest_questions()
    embedder = embedder_from_settings(settings)
    result: dict = {"model": embedder.name, "questions": len(questions),
                    "default": {k: getattr(settings, k) for k in
                                ("backend", "batch_precision", "int8")},
                    "native_bf16": native_bf16()}
    result["build"] = build_cost(settings, embedder, repeats)
    result["context_header"] = header_comparison(settings, embedder, questions)
    result["variants"] = {}
    for label, changes in tqdm(VARIANTS.items(), desc="embedder variants", leave=False):
        s = settings.model_copy(update=changes)
        emb = embedder if not changes else embedder_from_settings(s)
        with tempfile.TemporaryDirectory() as tmp:
            a = Assistant(settings=s.model_copy(update={"index_dir": Path(tmp)}), embedder=emb)
            amap = align(list(a.index.papers.values()), gold_papers())
            result["variants"][label] = {
                "embedder": emb.name, "settings": {k: getattr(s, k) for k in
                                                   ("backend", "batch_precision", "int8")},
                "retrieval": retrieval_quality(a, questions, amap),
                "abstention": abstention(a, questions, amap),
                "latency": latency(a, questions),
            }
    return result


def extraction(settings: Settings) -> dict:
    """Paper-extraction precision/recall per seed digest against the hand-made gold list."""
    docs, _ = load_corpus(settings.corpus_dir)
    metadata, _ = load_metadata(settings.metadata_dir)
    papers = list(extract_papers(docs, metadata).papers.values())
    golds = gold_papers()
    amap = align(papers, golds)
    out = {}
    for d in docs:
        p, r = precision_recall(papers, amap, golds, d.digest.id)
        out[d.digest.id] = {"title": d.digest.title, "date": str(d.digest.date),
                            "precision": p, "recall": r,
                            "gold": sum(d.digest.id in g["digests"] for g in golds)}
    return out


def _ok(flag: bool) -> str:
    return "✓" if flag else "✗ not met"


def core_markdown(res: dict, calib: dict | None) -> str:
    """The '## Core pipeline' section of eval/RESULTS.md."""
    v = res["variants"]["default"]
    r, ab, la, b = v["retrieval"], v["abstention"], v["latency"], res["build"]
    ex = res["extraction"]
    pmin = min(e["precision"] for e in ex.values())
    rmin = min(e["recall"] for e in ex.values())
    loo = (calib or {}).get("leave_one_out", {})
    out = [CORE_SECTION, "",
           f"Produced by `python -m eval.core` on {res['date']} ({res['cpus']} CPUs; 1-min load "
           f"average {res['load'][0]:.1f} at the start, {res['load'][1]:.1f} at the end), model "
           f"`{res['model']}`, {res['questions']} questions of eval/data/digest_questions.jsonl "
           f"({ab['answerable']} answerable, {ab['unanswerable']} unanswerable). Every figure is "
           "in `eval/results/core.json`. Recall@k = a paper the question asks about is among "
           "the first k distinct papers of `search()`.", "",
           "| target | measured | |", "|---|---|---|",
           f"| paper extraction precision and recall ≥ 0.9 per digest (5 digests, hand-made gold)"
           f" | P ≥ {pmin:.2f}, R ≥ {rmin:.2f} | {_ok(pmin >= .9 and rmin >= .9)} |",
           f"| Recall@5 ≥ 0.95 | {r['recall@5']:.3f} | {_ok(r['recall@5'] >= .95)} |",
           f"| MRR ≥ 0.85 | {r['mrr@10']:.3f} | {_ok(r['mrr@10'] >= .85)} |",
           f"| unanswerable questions abstained ≥ 90 % | {ab['unanswerable_abstained']:.1%}"
           + (f" (leave-one-out over seeds + dev half {loo['unanswerable_abstained']:.1%})"
              if loo else "")
           + f" | {_ok(ab['unanswerable_abstained'] >= .9)} |",
           f"| answerable questions wrongly abstained ≤ 5 % | "
           f"{ab['answerable_wrongly_abstained']:.1%}"
           + (f" (leave-one-out over seeds + dev half {loo['answerable_wrongly_abstained']:.1%})"
              if loo else "")
           + f" | {_ok(ab['answerable_wrongly_abstained'] <= .05)} |",
           f"| warm `search()` p50 ≤ 20 ms | {la['search']['p50_ms']:.1f} ms (p95 "
           f"{la['search']['p95_ms']:.1f}) | {_ok(la['search']['p50_ms'] <= 20)} |",
           f"| warm `ask()` p50 ≤ 150 ms | {la['ask']['p50_ms']:.1f} ms (p95 "
           f"{la['ask']['p95_ms']:.1f}) | {_ok(la['ask']['p50_ms'] <= 150)} |",
           f"| index build ≤ 1.2 × encoding the same {b['chunks']} chunk texts | "
           f"{b['build_over_encode']:.2f}× (median of {len(b['build_runs_s'])} alternated "
           f"build/encode pairs; medians {b['build_s']:.2f} s vs {b['encode_only_s']:.2f} s = "
           f"{b.get('ratio_of_medians', b['build_s'] / b['encode_only_s']):.2f}×; encode "
           f"{min(b['encode_runs_s']):.2f}-{max(b['encode_runs_s']):.2f} s, build "
           f"{min(b['build_runs_s']):.2f}-{max(b['build_runs_s']):.2f} s) | "
           f"{_ok(b['build_over_encode'] <= 1.2)} |",
           f"| second `rag index` on an unchanged corpus embeds 0 chunks | "
           f"{b['second_build_embedded']} | {_ok(b['second_build_embedded'] == 0)} |", "",
           f"The default embedder is `{res['default']}` (backend 'auto': ONNX Runtime encodes "
           "queries, torch encodes batches, in bf16 when the CPU has it natively: "
           f"{'yes' if res.get('native_bf16') else 'no'} here). Embedding variants, same "
           "questions, same run (each builds its own index):", "",
           "| embedder | R@1 | R@5 | R@10 | MRR@10 | unanswerable abstained | wrongly abstained "
           "| search p50 / p95 ms | ask p50 / p95 ms |", "|---|---|---|---|---|---|---|---|---|"]
    for name, w in res["variants"].items():
        q, a, lt = w["retrieval"], w["abstention"], w["latency"]
        out.append(f"| {name} (`{w['embedder']}`) | {q['recall@1']:.3f} | {q['recall@5']:.3f} | "
                   f"{q['recall@10']:.3f} | {q['mrr@10']:.3f} | {a['unanswerable_abstained']:.1%} "
                   f"| {a['answerable_wrongly_abstained']:.1%} | {lt['search']['p50_ms']:.1f} / "
                   f"{lt['search']['p95_ms']:.1f} | {lt['ask']['p50_ms']:.1f} / "
                   f"{lt['ask']['p95_ms']:.1f} |")
    out += ["", "Context header on the embedded and BM25 text (`RAG_CONTEXT_HEADER`), same model; "
            "the default is `paper`, which the benchmark's ladder (\"+ context header\" row of "
            "\"Retrieval benchmark\") shows against no header on nDCG@10 and Recall@5:", "",
            "| header | R@1 | R@5 | MRR@10 |", "|---|---|---|---|"]
    for mode, q in res["context_header"].items():
        out.append(f"| {mode} | {q['recall@1']:.3f} | {q['recall@5']:.3f} | {q['mrr@10']:.3f} |")
    out += ["", "Paper extraction against eval/data/gold_papers.jsonl:", "",
            "| digest | date | gold papers | precision | recall |", "|---|---|---|---|---|"]
    for e in ex.values():
        out.append(f"| {e['title']} | {e['date']} | {e['gold']} | {e['precision']:.2f} | "
                   f"{e['recall']:.2f} |")
    out += ["", "Abstention: `ask()` abstains when a logistic score over three coverage "
            "features (idf share of the question's terms in the best passage; the best "
            "passage's cosine minus the question's mean cosine to all chunks; the idf share of "
            "the question's terms found nowhere in the corpus), all computed from the one "
            "search the question already ran, falls below 0. `python -m eval.calibrate` fits it "
            "on the tuning questions: these 214, the 40 seed list questions and the dev half of "
            "the unseen corpus, each over its own corpus (eval/results/abstention.json); the "
            "leave-one-out figures refit without each of those questions (pooled). A question "
            "that names a retrieved paper's author, institution, short name or title is "
            "answered whatever its score (rag.answer.query.Catalog). Within 2 "
            "log-odds of the cut (`RAG_NEAR_MISS_MARGIN`) the abstention names the nearest "
            "paper. Unanswerable "
            "questions still answered: " + (", ".join(ab["answered_unanswerable_ids"]) or "none")
            + "; answerable questions abstained on: "
            + (", ".join(ab["wrongly_abstained_ids"]) or "none") + ".", ""]
    if "answers" in ab:
        an = ab["answers"]
        out += [f"Answers (`ask()` on the {ab['answerable']} answerable questions, same run): "
                f"the question's main gold paper is cited in {an['gold_cited']:.1%} of them; "
                f"{an['citation_precision']:.1%} of cited papers are relevant to the question "
                f"(mean over answers); {an['citations_per_answer']:.2f} citations per answer; "
                f"{an['without_paper']} citations of a digest passage that names no paper. "
                "Gold paper not cited (abstained or other papers): "
                + (", ".join(an["gold_missed_ids"]) or "none") + ".", ""]
    return "\n".join(out) + "\n"


def main() -> dict:
    """Run everything, write eval/results/core.json and the RESULTS.md section."""
    RESULTS.mkdir(exist_ok=True)
    load0 = os.getloadavg()[0]
    res = run()
    res.update(date=dt.datetime.now().isoformat(timespec="seconds"), cpus=os.cpu_count(),
               load=[load0, os.getloadavg()[0]], extraction=extraction(Settings()))
    (RESULTS / "core.json").write_text(json.dumps(res, indent=1))
    calib_path = RESULTS / "abstention.json"
    calib = json.loads(calib_path.read_text()) if calib_path.is_file() else None
    replace_section(RESULTS.parent / "RESULTS.md", CORE_SECTION, core_markdown(res, calib))
    for name, v in res["variants"].items():
        r, ab, la = v["retrieval"], v["abstention"], v["latency"]
        print(f"{name}: R@5 {r['recall@5']:.3f} MRR {r['mrr@10']:.3f} | abstained "
              f"{ab['unanswerable_abstained']:.3f} wrongly {ab['answerable_wrongly_abstained']:.3f}"
              f" | search p50 {la['search']['p50_ms']:.1f} ms ask p50 {la['ask']['p50_ms']:.1f} ms")
    b = res["build"]
    print(f"build {b['build_s']:.2f}s vs encode {b['encode_only_s']:.2f}s = "
          f"{b['build_over_encode']:.2f}x; second build embedded {b['second_build_embedded']}")
    return res


if __name__ == "__main__":
    main()
