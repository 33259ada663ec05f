"""Digests the project was never tuned on: the second evaluation corpus, with a sealed half.

    python -m eval.unseen            # seeds, dev and test (what tuning may look at)
    python -m eval.unseen --final    # also the sealed test7 half and the mixed corpus

``eval/data/unseen/{dev,test,test2,...,test7}/`` hold digests written by hand for evaluation
(other topics: federated learning, diffusion, domain adaptation, graph learning, RL for robotics,
speech, forecasting, proteins, efficient inference, recommenders, weather, theorem proving,
driving perception, code generation, materials, documents, tabular learning; .txt, .md and
.html), their gold paper lists and questions. ``test`` was the sealed half until its figures
were read (2026-12-02); since then it is tuning data beside ``dev``; ``test2`` (written later, by
someone who did not tune the system) was the sealed half until it was read (2026-12-07) and is
tuning data since, as are ``test3`` to ``test6`` (written the same way, each read once
2026-12-07); ``test7`` (written after test6 was read, by a helper that did not read the system's
code; topics: agriculture and remote sensing, education, single-cell biology, cybersecurity) is
the sealed half, read only with ``--final`` (not read yet). Each
corpus is indexed on its own and mixed (every part together: each part's questions asked over
the mixed index).

Per corpus and question set (plain dicts, BEIR style):

* paper extraction against the gold list: precision, recall, exact titles;
* single-paper questions: the gold paper in the first 5 papers ``ask()`` retrieves, and cited;
* list questions: set recall (grade-2 papers cited) and set precision (cited papers relevant);
* time questions: answered, and only from the digests in the asked range;
* abstention: unanswerable abstained, answerable wrongly abstained.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import tempfile
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np  # noqa: E402
from tqdm.auto import tqdm  # noqa: E402

from rag import Answer, Assistant, Settings  # noqa: E402
from rag.index.embed import Embedder, embedder_from_settings  # noqa: E402
from rag.text import normalize_title  # noqa: E402

from .core import ranked_keys  # noqa: E402
from .embcache import CachedEmbedder  # noqa: E402
from .gold import DATA, align, gold_papers, load_jsonl  # noqa: E402
from .report import replace_section  # noqa: E402

ROOT = DATA.parent.parent
UNSEEN = DATA / "unseen"
OUT = Path(__file__).resolve().parent / "results" / "unseen.json"
SINGLE = ("topic", "numeric", "code", "author", "dataset")
TUNING = ("seed", "dev", "test", "test2", "test3", "test4", "test5", "test6")  # tuning reads
#              these (test read once 2026-12-02; test2 to test6 once each on 2026-12-07)
SEALED = "test7"  # read only by --final


def corpus_parts(name: str) -> tuple[list[Path], list[Path], list[dict], list[dict]]:
    """(digest files, metadata files, gold papers, questions) of 'seed' or a half under
    ``eval/data/unseen`` ('dev', 'test', 'test2', ... 'test6').
    Gold keys and question ids are prefixed with the part so that mixed corpora stay apart."""
    if name == "seed":
        digests = sorted(p for p in (ROOT / "corpus").iterdir() if p.is_file())
        meta = sorted((ROOT / "corpus" / "arxiv").glob("*.jsonl"))
        golds, questions = gold_papers(), load_jsonl(DATA / "digest_questions.jsonl")
        questions += load_jsonl(DATA / "seed_list_questions.jsonl")
    else:
        folder = UNSEEN / name
        digests = sorted((folder / "digests").iterdir())
        meta = sorted((folder / "arxiv").glob("*.jsonl"))
        golds, questions = load_jsonl(folder / "gold_papers.jsonl"), \
            load_jsonl(folder / "questions.jsonl")
    for g in golds:
        g["key"] = f"{name}:{g['key']}"
    for q in questions:
        q["id"] = f"{name}:{q['id']}"
        q["relevant"] = {f"{name}:{k}": v for k, v in q["relevant"].items()}
        q["part"] = name
    return digests, meta, golds, questions


def make_corpus(parts: list[str], dest: Path) -> tuple[list[dict], list[dict]]:
    """A corpus folder holding the digests and metadata of ``parts``; (golds, questions)."""
    (dest / "arxiv").mkdir(parents=True, exist_ok=True)
    golds: list[dict] = []
    questions: list[dict] = []
    for name in parts:
        digests, meta, g, q = corpus_parts(name)
        for f in digests:
            shutil.copy(f, dest / f.name)
        for f in meta:
            shutil.copy(f, dest / "arxiv" / f"{name}-{f.name}")
        golds += g
        questions += q
    return golds, questions


def time_question(q: dict) -> bool:
    return q["kind"] == "time" or (q["answerable"] and bool(q.get("since") or q.get("until")))


def extraction(a: Assistant, golds: list[dict], amap: dict[str, str]) -> dict:
    """Precision, recall and exact titles of the extracted papers against the gold list."""
    papers = list(a.index.papers.values())
    by_key = {g["key"]: g for g in golds}
    matched = [p for p in papers if p.id in amap]
    exact = [normalize_title(p.title) == normalize_title(by_key[amap[p.id]]["title"])
             for p in matched]
    return {"extracted": len(papers), "gold": len(golds), "matched": len(matched),
            "precision": len(matched) / max(1, len(papers)),
            "recall": len(set(amap.values())) / max(1, len(golds)),
            "exact_titles": float(np.mean(exact)) if exact else 0.0}


def judge(a: Assistant, q: dict, amap: dict[str, str]) -> dict:
    """One question through ``ask()`` (and its retrieval), scored by its kind."""
    query = a.read(q["question"], digest=q.get("digest"))
    r = a.retrieve(query)
    ans: Answer = a.answer(r)
    cited = [amap.get(c.paper.id) if c.paper else None for c in ans.citations]
    out: dict = {"id": q["id"], "kind": q["kind"], "answerable": q["answerable"],
                 "abstained": ans.abstained, "intent": query.intent}
    if not q["answerable"]:
        # in a mixed corpus another part's digests may cover it: note whose papers it cites
        own = f"{q['part']}:"
        out["cites_other_part_only"] = bool(cited) and all(
            k is not None and not k.startswith(own) for k in cited)
        return out
    main = {k for k, g in q["relevant"].items() if g >= 2} or set(q["relevant"])
    keys = ranked_keys(r.hits, amap)
    out["recall@5"] = bool(main & set(keys[:5]))
    out["gold_cited"] = bool(main & set(cited))
    if q["kind"] == "list":
        got = {k for k in cited if k}
        out["set_recall"] = len(got & main) / len(main)
        out["set_precision"] = (sum(k in q["relevant"] for k in cited) / len(cited)
                                if cited else 0.0)
        out["missed"] = sorted(main - got)
        out["extra"] = sorted(k or "(no paper)" for k in cited if k not in q["relevant"])
    if time_question(q):
        want = set(q.get("expect_digests") or [])
        if not want and (q.get("since") or q.get("until")):
            lo, hi = q.get("since") or "0000", q.get("until") or "9999"
            want = {d.id for d in a.index.digests.values()
                    if d.date and lo <= d.date.isoformat() <= hi}
        used = {c.digest.id for c in ans.citations}
        out["right_digests"] = bool(used) and not ans.abstained and used <= want
    return out


def summarise(rows: list[dict]) -> dict:
    """Figures over judged questions."""
    def mean(key: str, keep=lambda r: True) -> float | None:  # noqa: ANN001
        xs = [r[key] for r in rows if key in r and keep(r)]
        return float(np.mean(xs)) if xs else None

    single = lambda r: r["kind"] in SINGLE  # noqa: E731
    return {
        "questions": len(rows),
        "paper_recall@5": mean("recall@5", single),
        "gold_cited": mean("gold_cited", single),
        "list_questions": sum(r["kind"] == "list" for r in rows),
        "list_set_recall": mean("set_recall"), "list_set_precision": mean("set_precision"),
        "time_questions": sum("right_digests" in r for r in rows),
        "time_right_digests": mean("right_digests"),
        "unanswerable_abstained": mean("abstained", lambda r: not r["answerable"]),
        "unanswerable_answered_from_another_part": sum(
            bool(r.get("cites_other_part_only")) for r in rows if not r["answerable"]),
        "answerable_wrongly_abstained": mean("abstained", lambda r: r["answerable"]),
        "misses": [r["id"] for r in rows if r.get("recall@5") is False
                   or r.get("gold_cited") is False or r.get("set_recall", 1) < 1
                   or r.get("right_digests") is False
                   or (not r["answerable"] and not r["abstained"])],
    }


def evaluate(parts: list[str], embedder: Embedder, settings: Settings, workdir: Path,
             progress: bool = True) -> dict:
    """Index the corpus of ``parts`` and score each part's questions on it."""
    name = "+".join(parts)
    corpus = workdir / f"corpus-{name}"
    golds, questions = make_corpus(parts, corpus)
    a = Assistant(settings=settings.model_copy(update={
        "corpus_dir": corpus, "index_dir": workdir / f"index-{name}"}), embedder=embedder)
    a.index  # noqa: B018 - build now
    amap = align(list(a.index.papers.values()), golds)
    out: dict = {"digests": len(a.index.digests), "papers": len(a.index.papers),
                 "chunks": len(a.index.chunks), "extraction": {}, "questions": {}}
    for part in parts:
        part_golds = [g for g in golds if g["key"].startswith(f"{part}:")]
        out["extraction"][part] = extraction(a, part_golds, {
            p: k for p, k in amap.items() if k.startswith(f"{part}:")}) \
            if len(parts) == 1 else None
        rows = [judge(a, q, amap) for q in tqdm(
            [q for q in questions if q["part"] == part], desc=f"{name}: {part}",
            leave=False, disable=not progress)]
        out["questions"][part] = {**summarise(rows), "rows": rows}
    return out


def run(final: bool = False, settings: Settings | None = None,
        embedder: Embedder | None = None) -> dict:
    """The tuning parts alone; with ``final`` also the sealed half alone and every part mixed."""
    settings = settings or Settings()
    embedder = embedder or CachedEmbedder(embedder_from_settings(settings))
    with tempfile.TemporaryDirectory(prefix="unseen-") as tmp:
        work = Path(tmp)
        res = {part: evaluate([part], embedder, settings, work) for part in TUNING}
        if final:
            res[SEALED] = evaluate([SEALED], embedder, settings, work)
            res["mixed"] = evaluate([*TUNING, SEALED], embedder, settings, work)
    if isinstance(embedder, CachedEmbedder):
        embedder.save()
    return res


SECTION = "## Digests the project was never tuned on"
ROWS = [("paper_recall@5", "paper Recall@5 (single-paper questions)", 0.95, ">="),
        ("gold_cited", "gold paper cited", 0.95, ">="),
        ("list_set_recall", "list questions: set recall", 0.85, ">="),
        ("list_set_precision", "list questions: set precision", 0.80, ">="),
        ("time_right_digests", "time questions answered from the right digests", 0.9, ">="),
        ("unanswerable_abstained", "unanswerable abstained", 0.9, ">="),
        ("answerable_wrongly_abstained", "answerable wrongly abstained", 0.05, "<=")]


def _cell(v: float | None, target: float, op: str) -> str:
    if v is None:
        return "–"
    ok = v >= target if op == ">=" else v <= target
    return f"{v:.3f}{'' if ok else ' ✗'}"


def unseen_markdown(res: dict, meta: str) -> str:
    """The RESULTS.md section: every figure per corpus, alone and mixed, with the targets."""
    cols = [("seed", "seed", "seed digests (in-sample)"), ("dev", "dev", "dev half (tuned on)"),
            ("test", "test", "old test half (read 12-02, tuned on since)"),
            ("test2", "test2", "test2 (read 12-07, tuned on since)"),
            ("test3", "test3", "test3 (read 12-07, tuned on since)"),
            ("test4", "test4", "test4 (read 12-07, tuned on since)"),
            ("test5", "test5", "test5 (read 12-07, tuned on since)"),
            ("test6", "test6", "test6 (read 12-07, tuned on since)"),
            ("test7", "test7", "**test7 (sealed, held out)**"),
            ("mixed", "seed", "seeds, in the mix"), ("mixed", "dev", "dev, in the mix"),
            ("mixed", "test", "old test, in the mix"), ("mixed", "test2", "test2, in the mix"),
            ("mixed", "test3", "test3, in the mix"), ("mixed", "test4", "test4, in the mix"),
            ("mixed", "test5", "test5, in the mix"), ("mixed", "test6", "test6, in the mix"),
            ("mixed", "test7", "test7, in the mix")]
    cols = [c for c in cols if c[0] in res]
    out = [SECTION, "", meta, "",
           "| figure | target | " + " | ".join(c[2] for c in cols) + " |",
           "|---|---|" + "---|" * len(cols)]
    for key, label, target, op in ROWS:
        cells = [_cell(res[c]["questions"][p].get(key), target, op)
                 for c, p, _ in cols]
        out.append(f"| {label} | {op} {target} | " + " | ".join(cells) + " |")
    counts = [str(res[c]["questions"][p]["questions"]) for c, p, _ in cols]
    out.append("| questions | | " + " | ".join(counts) + " |")
    other = [str(res[c]["questions"][p].get("unanswerable_answered_from_another_part", 0))
             for c, p, _ in cols]
    out.append("| unanswerable answered citing only another corpus's papers | | "
               + " | ".join(other) + " |")
    out += ["", "Paper extraction against each corpus's gold list (corpus indexed alone):", "",
            "| corpus | gold papers | extracted | precision | recall | exact titles |",
            "|---|---|---|---|---|---|"]
    for c in (*TUNING, SEALED):
        if c in res and res[c]["extraction"].get(c):
            e = res[c]["extraction"][c]
            out.append(f"| {c} | {e['gold']} | {e['extracted']} | {e['precision']:.3f} | "
                       f"{e['recall']:.3f} | {e['exact_titles']:.3f} |")
    out += ["", NOTES]
    return "\n".join(out) + "\n"


NOTES = """\
How to read it. The seed, dev, old test, test2, test3, test4 and test5 columns are in-sample: the
list cut, the abstention model (`python -m eval.calibrate`), the question reader and the
extraction fixes were tuned on them (each of test, test2, test3, test4 and test5 was the sealed
half until its figures were read, on 2026-12-02 and 2026-12-07; their failures were fixed since).
test6 was written after test5 was read, by a helper that did not read the system's code, and is
read only by `--final`: its column is the held-out figure. The question labels were written per
corpus, so in the mix an "unanswerable" question of one part can be answered correctly from
another part's digests (last row), and time phrases that depend on the corpus ("last week's
digest", "the February digests") then span digests of the other parts that its expected list
does not name: the mixed time and abstention figures partly measure that, not only the product.
List answers are limited by the paper ranking itself (R-precision about 0.7 on the tuning list
questions with MiniLM); the cut was set for set precision >= 0.8 there (`RAG_LIST_MARGIN`).

Rounds of 2026-12-07, each sealed half read once, its misses fixed afterwards with tests in our
own words. test4 (held out: extraction 0.920 / 0.945 / 0.783, Recall@5 0.932, gold cited 0.913,
time 0.625) -> tests/test_test4_forms.py: coined names heading bullet titles, topic words before
labels, authors after dashes or joined by "&", "Guided by X" in titles, titles holding "x86-64",
"2,000" or "1.3B", question and "From ...:" titles, "the X et al. suite", "Work from X"; and the
question reader: "since the start of April", "in April and May", quarters, "code-generation" as a
topic, and a time question naming digests without a topic listing those digests' papers. test5
(held out: extraction 0.802 / 0.920 / 0.638, Recall@5 0.893, gold cited 0.796, time 0.938) ->
titles set in bold or italics keep exactly their words (the readers keep emphasis), arXiv link
texts with "Hospital" in them, an emphasised question title as one paper. A refit of the
abstention model on six tuning parts (eval/results/abstention_refit_all_tuning.json) abstained on
0.576 of their 125 unanswerable questions against 0.544 for the shipped fit, but raised the seed
set's answerable wrongly abstained from 0.033 to 0.049 (`python -m eval core`): not adopted.

test6 (sealed, written after test5 was read; read once on 2026-12-07 by this run) is the held-out
figure. Time questions meet their target (0.938); nothing else does: Recall@5 0.825, gold cited
0.816, list recall 0.359 at precision 0.501, unanswerable abstained 0.308 with answerable wrongly
abstained 0.051, extraction precision 0.786, recall 0.868, exact titles 0.833. Its extraction
misses, by class (read after the run, for the next round): a title and the next line's author
run together ("... for Ride-Hailing Ji-won Baek"); "Work by A and B" standing for a paper whose
title is a heading or the line before; a comma in a title's head ("Minutes, Not Seconds: ...");
"(Yet)" inside a title; titles opening with a symbol or in lowercase ("#NearMe: ...", "q-DP:
..."); lowercase tails cut ("... under 200 MB", "... at Scale"); a navigation bar, section
headings ("Background", "Classics") and a classic ("Card and Krueger", "Learning to Rank for
Information Retrieval") taken for papers. The answer-side gaps are the same on every half: list
recall (0.36-0.66 in-sample too) and abstention on near misses (0.31-0.65)."""


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(prog="python -m eval.unseen", description=__doc__.split("\n")[0])
    p.add_argument("--final", action="store_true",
                   help="also read the sealed test7 half (final figures only)")
    p.add_argument("--from-json", action="store_true",
                   help="write the RESULTS.md section again from eval/results/unseen.json")
    args = p.parse_args(argv)
    if args.from_json:
        res = json.loads(OUT.read_text(encoding="utf-8"))
        replace_section(Path(__file__).resolve().parent / "RESULTS.md", SECTION,
                        unseen_markdown(res, res["_meta"]))
        return res
    res = run(final=args.final)
    for corpus, r in res.items():
        for part, f in r["questions"].items():
            brief = {k: (round(v, 3) if isinstance(v, float) else v) for k, v in f.items()
                     if k not in ("rows", "misses")}
            print(corpus, part, json.dumps(brief), "extraction", r["extraction"].get(part))
    if args.final:
        OUT.parent.mkdir(parents=True, exist_ok=True)
        meta = (f"Produced by `python -m eval.unseen --final` on "
                f"{dt.datetime.now():%Y-%m-%dT%H:%M:%S} ({os.cpu_count()} CPUs), model "
                f"`{Settings().model}`; every figure and each question's outcome is in "
                "`eval/results/unseen.json`. ✗ marks a figure short of its target.")
        OUT.write_text(json.dumps({**res, "_meta": meta}, indent=1), encoding="utf-8")
        replace_section(Path(__file__).resolve().parent / "RESULTS.md", SECTION,
                        unseen_markdown(res, meta))
    return res


if __name__ == "__main__":
    main()
