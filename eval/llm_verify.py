"""Citation verification of LLM answers, measured on scripted misbehaving models.

No LLM weights are available offline, so this measures the part of the LLM path that does not
depend on the model: given an answer a model *could* write, how well does verification repair
its citations? For answerable questions of eval/data/digest_questions.jsonl, it retrieves the
passages the prompt would show, writes a correct cited answer from them (each claim a quote,
window or word-dropped paraphrase of one passage sentence, so which passages support it is
known), corrupts it the way models do, and runs it through ``Assistant.ask(llm=...)`` with a
LangChain fake chat model that streams the corrupted text. Corruptions:

``clean`` (control), ``off_by_one`` (every [n] -> [n+1]), ``out_of_range`` (first marker ->
[9]), ``no_citations``, ``made_up_title`` (an extra sentence about an invented paper, citing
[1]), ``swapped`` (numbers reversed), ``after_period`` ("claim. [n]") and ``co_cited`` (each
marker gains a wrong second number).

Reported: citation precision (remaining citations whose passage supports their sentence; target
>= 0.95), citations outside the source list (target 0), claim recall (supported claims left with
a correct citation), invented-title sentences flagged, and supported claims wrongly flagged.

    python -m eval.llm_verify [--embedder hashing|bundled|both] [--questions N]
    # writes eval/results/llm_verify.json
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage

from rag import Assistant, Settings
from rag.index.embed import HashingEmbedder, embedder_from_settings
from rag.records import Answer, Hit
from rag.text import sentences, split_sentences

from .gold import digest_questions
from .report import replace_section

RESULTS = Path(__file__).resolve().parent / "results"
CORRUPTIONS = ("clean", "off_by_one", "out_of_range", "no_citations", "made_up_title",
               "swapped", "after_period", "co_cited")
INVENTED = (
    'The paper "Quantum Gradient Folding for Sparse Protein Docking" by Nakamura et al. reports '
    "a 40% accuracy gain.",
    "In **Hyperbolic Diffusion Priors for Satellite Wildfire Mapping**, Okafor et al. release a "
    "benchmark of two million images.",
    'The study "Contrastive Tokenizers for Low-Resource Speech Recognition" by Lindqvist and '
    "Moreau shows the same effect.",
)


@dataclass
class Claim:
    text: str  # without markers, ending in "."
    cite: int | None  # the correct prompt number (None: invented, nothing supports it)
    gold: frozenset[int]  # prompt numbers of every passage that supports it


@dataclass
class Case:
    question: str
    passages: list[Hit]
    claims: list[Claim]
    style: str  # "prose" | "bullets"


def _norm(text: str) -> str:
    return " ".join(re.sub(r"[^\w%.,-]+", " ", text.lower()).split())


def make_case(a: Assistant, question: str, i: int) -> Case | None:
    """A correct cited answer to ``question`` from the passages the prompt would show."""
    r = a.retrieve(question)
    q, hits = r.query.text, r.hits
    passages = list({h.chunk.id: h for h in hits}.values())[: a.settings.llm_passages]
    claims: list[Claim] = []
    for n, h in enumerate(passages, 1):
        cands = [s for s in sentences(h.chunk.text) if 12 <= len(s.split()) <= 60]
        if not cands or len(claims) >= 3:
            continue
        words = cands[0].rstrip(".").split()
        style = (i + n) % 3
        if style == 0:  # a window of the sentence
            body = words[2:2 + 14]
        elif style == 1:  # every third word dropped, unless it is part of a name
            body = [w for k, w in enumerate(words) if k % 3 != 2 or w[:1].isupper()]
        else:  # verbatim
            body = words
        name = (h.paper.short_name or "") if h.paper else ""
        text = (f"{name}: " if name and style != 2 else "") + " ".join(body).rstrip(",;:") + "."
        text = text[0].upper() + text[1:]
        key = _norm(" ".join(body[:6]))
        gold = frozenset(m for m, p in enumerate(passages, 1) if key in _norm(p.chunk.text))
        claims.append(Claim(text, n, gold or frozenset({n})))
    if len(claims) < 2:
        return None
    return Case(q, passages, claims, "bullets" if i % 2 else "prose")


def render(case: Case, kind: str, i: int) -> str:
    """The case's answer with corruption ``kind`` applied, as a model would write it."""
    n_p = len(case.passages)
    claims = list(case.claims)
    if kind == "made_up_title":
        claims.insert(1, Claim(INVENTED[i % len(INVENTED)], 1, frozenset()))
    out = []
    for k, c in enumerate(claims):
        n = c.cite or 1
        marks = [n]
        if kind == "off_by_one":
            marks = [n + 1]
        elif kind == "out_of_range" and k == 0:
            marks = [9]
        elif kind == "swapped":
            marks = [n_p + 1 - n]
        elif kind == "co_cited":
            marks = [n, n % n_p + 1]
        m = "".join(f"[{x}]" for x in marks)
        body = c.text.rstrip(".")
        if kind == "no_citations":
            s = f"{body}."
        elif kind == "after_period":
            s = f"{body}. {m}"
        else:
            s = f"{body} {m}."
        out.append(("- " if case.style == "bullets" else "") + s)
    intro = "Here is what the digests say:"
    return intro + ("\n" if case.style == "bullets" else " ") + \
        ("\n" if case.style == "bullets" else " ").join(out)


def score(answer: Answer, case: Case, kind: str, i: int) -> dict:
    """Count correct, wrong and out-of-list citations of a verified answer."""
    body = answer.text.split("**Sources**")[0]
    body = re.sub(r"([.!?])((?:\s*\[\d+\])+)", r"\2\1", body)  # "claim. [2]" -> "claim [2]."
    cited = {c.n: c.chunk_ids[0] for c in answer.citations}
    by_chunk = {h.chunk.id: n for n, h in enumerate(case.passages, 1)}
    markers = [int(x) for x in re.findall(r"\[(\d+)\]", body)]
    r = {"citations": 0, "correct": 0, "outside_list": sum(m not in cited for m in markers),
         "uncited_sources": len(set(cited) - set(markers)), "claims": 0, "claims_cited_ok": 0,
         "invented": 0, "invented_flagged": 0, "false_unsupported": 0}
    claims = list(case.claims)
    if kind == "made_up_title":
        claims.insert(1, Claim(INVENTED[i % len(INVENTED)], None, frozenset()))
    sents = [line[a:b] for line in body.split("\n") for a, b in split_sentences(line)]
    for c in claims:
        key = _norm(c.text)[:40]
        mine = next((s for s in sents if key in _norm(re.sub(r"\s*\[\d+\]", "", s))), None)
        if mine is None:
            raise AssertionError(f"claim lost in verification: {c.text!r} in {body!r}")
        nums = [int(x) for x in re.findall(r"\[(\d+)\]", mine)]
        ok = [n in cited and by_chunk.get(cited[n]) in c.gold for n in nums]
        r["citations"] += len(nums)
        r["correct"] += sum(ok)
        flagged = any(key in _norm(u) for u in answer.unsupported)
        if c.gold:
            r["claims"] += 1
            r["claims_cited_ok"] += any(ok)
            r["false_unsupported"] += flagged
        else:
            r["invented"] += 1
            r["invented_flagged"] += flagged and not nums
    return r


def run(embedder_name: str = "hashing", n_questions: int = 40,
        assistant: Assistant | None = None) -> dict:
    """Verification figures for every corruption, over ``n_questions`` answerable questions
    (on ``assistant`` when given, else on a fresh index of the seed corpus)."""
    if assistant is not None:
        return _run(assistant, n_questions)
    emb = HashingEmbedder(256) if embedder_name == "hashing" else embedder_from_settings(
        Settings())  # the product's default embedder
    with tempfile.TemporaryDirectory() as tmp:
        model = emb.name if embedder_name == "hashing" else "bundled:all-MiniLM-L6-v2"
        return _run(Assistant(settings=Settings(index_dir=Path(tmp), model=model),
                              embedder=emb), n_questions)


def _run(a: Assistant, n_questions: int) -> dict:
    qs = [q for q in digest_questions() if q["answerable"]]
    qs = qs[:: max(1, len(qs) // n_questions)][:n_questions]
    cases = [c for i, q in enumerate(qs) if (c := make_case(a, q["question"], i))]
    totals: dict[str, dict] = {}
    abstained = 0
    t0 = time.perf_counter()
    for kind in CORRUPTIONS:
        agg: dict[str, int] = {}
        for i, case in enumerate(cases):
            fake = GenericFakeChatModel(messages=iter([AIMessage(render(case, kind, i))]))
            ans = a.ask(case.question, llm=fake)
            if ans.abstained:
                abstained += 1
                continue
            for k, v in score(ans, case, kind, i).items():
                agg[k] = agg.get(k, 0) + v
        totals[kind] = summarise(agg)
    elapsed = time.perf_counter() - t0
    overall: dict[str, int] = {}
    for v in totals.values():
        for k, x in v["counts"].items():
            overall[k] = overall.get(k, 0) + x
    return {"embedder": a.embedder.name, "cases": len(cases),
            "answers": len(cases) * len(CORRUPTIONS),
            "abstained_before_llm": abstained, "overall": summarise(overall),
            "by_corruption": totals,
            "ms_per_answer": 1000 * elapsed / max(1, len(cases) * len(CORRUPTIONS))}


def summarise(c: dict[str, int]) -> dict:
    def ratio(a: str, b: str) -> float | None:
        return round(c.get(a, 0) / c[b], 4) if c.get(b) else None

    return {"citation_precision": ratio("correct", "citations"),
            "outside_source_list": c.get("outside_list", 0),
            "claim_recall": ratio("claims_cited_ok", "claims"),
            "invented_flagged": ratio("invented_flagged", "invented"),
            "false_unsupported_rate": ratio("false_unsupported", "claims"), "counts": c}


LLM_SECTION = "## LLM answers"


def llm_markdown(res: dict) -> str:
    """The '## LLM answers' section of eval/RESULTS.md."""
    out = [LLM_SECTION, "",
           f"Produced by `python -m eval.llm_verify` on {res['date']} (1-min load average "
           f"{res['load'][0]:.1f} at the start, {res['load'][1]:.1f} at the end); every figure is "
           "in `eval/results/llm_verify.json`. **No real model was measured**: no instruct "
           "model's weights can be reached from this machine (the registries carry none, the "
           "model hubs are blocked), so the real-model figures the LLM issue asks for (share of "
           "supported sentences, abstention, time to first token) are still to be measured; "
           "`tests/test_llm.py` runs a real model when `RAG_TEST_GGUF` or "
           "`RAG_TEST_OLLAMA_MODEL` names one. What is measured: answers a model could write "
           "from the retrieved passages, corrupted the way small models err, streamed by "
           "LangChain fake chat models through `Assistant.ask(llm=...)`, then verified.", "",
           "| embedder | answers | citation precision after verification (target ≥ 0.95) "
           "| citations outside the source list (target 0) | supported claims still cited "
           "| invented-paper sentences flagged | supported claims wrongly flagged |",
           "|---|---|---|---|---|---|---|"]
    for r in res["runs"]:
        o = r["overall"]
        out.append(f"| `{r['embedder']}` | {r['answers']} | {o['citation_precision']:.3f} | "
                   f"{o['outside_source_list']} | {o['claim_recall']:.3f} | "
                   f"{o['invented_flagged']:.3f} | {o['false_unsupported_rate']:.3f} |")
    out += ["", "Per corruption (" + ", ".join(f"`{r['embedder']}`" for r in res["runs"])
            + "; citation precision / supported claims still cited):", "",
            "| corruption | " + " | ".join(r["embedder"] for r in res["runs"]) + " |",
            "|---|" + "---|" * len(res["runs"])]
    for kind in res["runs"][0]["by_corruption"]:
        cells = []
        for r in res["runs"]:
            v = r["by_corruption"][kind]
            prec = "-" if v["citation_precision"] is None else f"{v['citation_precision']:.3f}"
            rec = "-" if v["claim_recall"] is None else f"{v['claim_recall']:.3f}"
            cells.append(f"{prec} / {rec}")
        out.append(f"| {kind} | " + " | ".join(cells) + " |")
    return "\n".join(out) + "\n\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--embedder", choices=("hashing", "bundled", "both"), default="both")
    ap.add_argument("--questions", type=int, default=40)
    args = ap.parse_args()
    names = ("hashing", "bundled") if args.embedder == "both" else (args.embedder,)
    load0 = os.getloadavg()[0]
    res = {"note": "Scripted fake chat models only: no LLM weights are available offline, so "
           "real-model citation accuracy is not measured here.",
           "runs": [run(n, args.questions) for n in names],
           "date": dt.datetime.now().isoformat(timespec="seconds")}
    res["load"] = [load0, os.getloadavg()[0]]
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "llm_verify.json").write_text(json.dumps(res, indent=1))
    replace_section(RESULTS.parent / "RESULTS.md", LLM_SECTION, llm_markdown(res))
    for r in res["runs"]:
        o = r["overall"]
        print(f"{r['embedder']}: {r['cases']} cases x {len(CORRUPTIONS)} corruptions | citation "
              f"precision {o['citation_precision']:.3f} | outside list {o['outside_source_list']}"
              f" | claim recall {o['claim_recall']:.3f} | invented flagged "
              f"{o['invented_flagged']:.3f} | false unsupported {o['false_unsupported_rate']:.3f}"
              f" | {r['ms_per_answer']:.1f} ms/answer")
        for k, v in r["by_corruption"].items():
            print(f"  {k:14s} precision {v['citation_precision']} recall {v['claim_recall']} "
                  f"false-unsupported {v['false_unsupported_rate']} outside "
                  f"{v['outside_source_list']}")


if __name__ == "__main__":
    main()
