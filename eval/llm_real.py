"""A real local LLM on the digest question set: SmolLM2-135M-Instruct (or any GGUF) through
xllamacpp, against the extractive answer on the same questions, in the same run.

Every question of eval/data/digest_questions.jsonl (answerable and unanswerable; ``--questions
N`` takes an even sample) is asked twice on one index of the seed corpus with the product's
default embedder: extractively (``llm=False``) and with the model (``llm=`` an in-process
:class:`rag.answer.local_llm.XLlamaChat`, small-model mode, temperature 0). Measured:

* support: each sentence of the model's raw draft (before verification) and of its verified
  text (after) is judged against the passages it cites by :func:`judge`, a check independent of
  :mod:`rag.answer.verify`: the sentence's content words that are not in the question (the words that
  carry an answer) must be in the cited passages (at least :data:`JUDGE_SHARE` of them, by idf
  weight of none, stemmed). A sentence that only restates the question has no such words and is
  counted apart;
* citations outside the source list, unsupported sentences marked, fallbacks to the extractive
  answer, the gold paper cited (model's own verified answers, final answers, extractive);
* abstention on unanswerable questions (with and without a model call);
* time to first token (from the ``ask_stream`` call to the model's first token, retrieval and
  prompt sizing included), generation tokens/s and prompt tokens/s (llama.cpp's own timings),
  total latency of the LLM answer (verification included) and of the extractive answer.

    python -m eval.llm_real                         # bundled SmolLM2-135M (make llm)
    python -m eval.llm_real --gguf /path/model.gguf # any larger GGUF, reported beside it
    # writes eval/results/llm_real.json (one entry per model) and its eval/RESULTS.md section
    python -m eval.llm_real --report                # after labelling new sentences in
                                                    # eval/data/llm_real_audit.jsonl: recount

Held out: ``--corpus unseen-dev``, ``unseen-test``, ``unseen-test2`` or ``unseen-test3`` asks the
questions of a corpus the verification rules were not designed on (eval/data/unseen/..., indexed
alone as :mod:`eval.unseen` does, filtered only by the digest a question names, as there); it
writes eval/results/llm_real_unseen.json (one entry per corpus), hand labels are read from
eval/data/llm_real_audit_unseen.jsonl (dev, test: their failures shaped the current rules),
eval/data/llm_real_audit_test2.jsonl (test2: held out once, 2026-12-07; its two failures shaped
the year and authorship rules since) and eval/data/llm_real_audit_test3.jsonl (test3, sealed: run
once with the final rules), and the held-out columns join the same section.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from langchain_core.messages import AIMessageChunk
from langchain_core.outputs import ChatGenerationChunk
from pydantic import PrivateAttr
from tqdm.auto import tqdm

from rag import Assistant, Settings
from rag.answer.claims import MARKER_GROUP, UNSUPPORTED_MARK, parse_numbers, strip_markers
from rag.answer.draft import clean_draft, says_no_answer
from rag.answer.llm import FALLBACK_NOTE, paper_header, plan_prompt
from rag.answer.local_llm import XLlamaChat, resolve_gguf
from rag.records import Answer, Hit
from rag.text import split_sentences, tokenize

from .core import cited, question_filters
from .gold import align, digest_questions, gold_papers
from .llm_real_report import SECTION, audit_for, hand_audit, held_out_columns, markdown, summarise
from .report import replace_section
from .unseen import make_corpus

RESULTS = Path(__file__).resolve().parent / "results"
# corpora the verification rules were not designed on (dev, test and test2 found the failures
# the rules now answer; test3 is sealed: run once, for the held-out figure)
HELD_OUT = ("unseen-dev", "unseen-test", "unseen-test2", "unseen-test3")
OUT, OUT_UNSEEN = RESULTS / "llm_real.json", RESULTS / "llm_real_unseen.json"
JUDGE_SHARE = 0.8
# words that report rather than claim ("the paper proposes ..."), ignored by the judge
_GENERIC = frozenset(tokenize(
    "answer question passage passages paper papers work works study studies author authors "
    "approach method methods model models propose proposes proposed present presents show "
    "shows use uses used using also new novel et al digest digests mention mentions yes "
    "contain contains include includes available",
    stem=True))


class TimedChat(XLlamaChat):
    """XLlamaChat that records, per call, when it started, its first token and llama.cpp's
    timings (prompt and generation speed)."""

    _calls: list[dict] = PrivateAttr(default_factory=list)

    def _stream(self, messages: Any, stop: Any = None, run_manager: Any = None,
                **kwargs: Any) -> Any:
        rec: dict[str, Any] = {"start": time.perf_counter(), "first": None, "timings": None,
                               "max_tokens": kwargs.get("max_tokens")}
        self._calls.append(rec)
        for chunk in super()._stream(messages, stop, run_manager, **kwargs):
            if chunk.message.content and rec["first"] is None:
                rec["first"] = time.perf_counter()
            if chunk.message.response_metadata.get("timings"):
                rec["timings"] = chunk.message.response_metadata["timings"]
            yield chunk


class ReplayChat(TimedChat):
    """TimedChat that streams a draft recorded by an earlier run instead of generating: the
    same model's answers (temperature 0) re-verified by the current rules. The model is loaded
    for its tokenizer (prompt sizing) only."""

    _draft: str | None = PrivateAttr(default=None)

    def _stream(self, messages: Any, stop: Any = None, run_manager: Any = None,
                **kwargs: Any) -> Any:
        self._calls.append({"start": time.perf_counter(), "first": time.perf_counter(),
                            "timings": None, "max_tokens": kwargs.get("max_tokens"),
                            "replayed": self._draft is not None})
        yield ChatGenerationChunk(message=AIMessageChunk(content=self._draft or ""))


# what a replayed record keeps from the run that generated its draft (the model's timings)
_TIMED = ("ttft_s", "model_ttft_s", "llm_s", "prompt_n", "cache_n", "predicted_n", "gen_tps",
          "prompt_tps")


def judge(sentence: str, passages: list[str], question: str) -> bool | None:
    """Whether ``passages`` back ``sentence``: its content words not in the question are (at
    least JUDGE_SHARE of them) in the passages. None: nothing beyond the question's words."""
    asked = set(tokenize(question))
    words = [w for w in dict.fromkeys(tokenize(sentence)) if w not in asked and w not in _GENERIC]
    if not words:
        return None
    have = set(tokenize(" ".join(passages)))
    return sum(w in have for w in words) / len(words) >= JUDGE_SHARE


def claims(text: str) -> list[tuple[str, list[int]]]:
    """(sentence without markers, cited numbers) for each claim-like sentence of ``text``."""
    out = []
    for line in text.split("\n"):
        for a, b in split_sentences(line):
            raw = line[a:b]
            plain = strip_markers(raw.replace(UNSUPPORTED_MARK.strip(), ""))
            if len(tokenize(plain)) < 3 or says_no_answer(plain) or plain.endswith(":"):
                continue
            nums = [n for m in MARKER_GROUP.finditer(raw) for n in parse_numbers(m.group(0))]
            out.append((plain, nums))
    return out


def _source(h: Hit) -> str:
    return "\n".join(x for x in (paper_header(h), h.chunk.text) if x)


def score_question(q: dict, draft: str, ans: Answer, passages: tuple[Hit, ...]) -> dict:
    """Support before and after verification, markers outside the source list, marking."""
    r: dict[str, Any] = {"before": {"claims": 0, "cited": 0, "supported": 0, "restating": 0},
                         "after": {"claims": 0, "cited": 0, "supported": 0, "restating": 0,
                                   "marked": 0}, "outside_list": 0}
    for text, nums in claims(clean_draft(draft)):
        b = r["before"]
        b["claims"] += 1
        valid = [n for n in nums if 1 <= n <= len(passages)]
        if valid:
            b["cited"] += 1
            verdict = judge(text, [_source(passages[n - 1]) for n in valid], q["question"])
            b["supported"] += bool(verdict)
            b["restating"] += verdict is None
    fallback = FALLBACK_NOTE in ans.notes
    body = ans.text.split("**Sources**")[0]
    r["outside_list"] = sum(n > len(ans.citations) or n < 1 for m in MARKER_GROUP.finditer(body)
                            for n in parse_numbers(m.group(0)))
    if ans.body and not fallback:
        by_id = {h.chunk.id: h for h in passages}
        for line in ans.body.split("\n"):
            for a, b_ in split_sentences(line):
                r["after"]["marked"] += UNSUPPORTED_MARK.strip() in line[a:b_]
        for text, nums in claims(ans.body):
            af = r["after"]
            af["claims"] += 1
            srcs = [_source(by_id[c.chunk_ids[0]]) for n in nums if 1 <= n <= len(ans.citations)
                    for c in [ans.citations[n - 1]] if c.chunk_ids and c.chunk_ids[0] in by_id]
            if srcs:
                af["cited"] += 1
                r.setdefault("after_sentences", []).append(text)
                r.setdefault("after_sources", []).append(srcs)  # what the hand audit reads
                verdict = judge(text, srcs, q["question"])
                af["supported"] += bool(verdict)
                af["restating"] += verdict is None
    return r


def run(gguf: str | None = None, n_questions: int | None = None, threads: int = 0,
        settings: Settings | None = None, corpus: str = "seed",
        replay: list[dict] | None = None) -> dict:
    """Ask every (sampled) question of ``corpus`` ('seed', or one of HELD_OUT) extractively and
    with the model; the figures and each question's record. ``replay``: the records of an
    earlier run whose drafts are re-verified instead of generated (:class:`ReplayChat`)."""
    path = resolve_gguf(gguf)
    with tempfile.TemporaryDirectory() as tmp:
        base = settings or Settings()
        s = base.model_copy(update={"index_dir": Path(tmp) / "index", "llm_small": True})
        if corpus == "seed":
            qs, golds = digest_questions(), gold_papers()
        else:  # the held-out corpus alone, as eval.unseen indexes it
            golds, qs = make_corpus([corpus.removeprefix("unseen-")], Path(tmp) / "corpus")
            s = s.model_copy(update={"corpus_dir": Path(tmp) / "corpus"})
        return _run(path, _sample(qs, n_questions), golds, s, threads, corpus, replay)


def _sample(qs: list[dict], n_questions: int | None) -> list[dict]:
    """An even sample of ``n_questions`` of ``qs`` keeping the unanswerable share (all: None)."""
    if n_questions and n_questions < len(qs):
        ans_q = [q for q in qs if q["answerable"]]
        un_q = [q for q in qs if not q["answerable"]]
        k = max(1, round(n_questions * len(un_q) / len(qs)))
        pick = lambda xs, n: xs[:: max(1, len(xs) // n)][:n]  # noqa: E731
        qs = pick(ans_q, n_questions - k) + pick(un_q, k)
    return qs


def _run(path: Path, qs: list[dict], golds: list[dict], s: Settings, threads: int,
         corpus: str, replay: list[dict] | None = None) -> dict:
    held_out = corpus != "seed"
    a = Assistant(settings=s)
    amap = align(list(a.index.papers.values()), golds)
    chat = (ReplayChat if replay is not None else TimedChat)(
        model_path=str(path), temperature=0.0, n_ctx=s.llm_context, threads=threads,
        max_tokens=s.llm_max_tokens)
    old = {r["id"]: r for r in replay or []}
    t0 = time.perf_counter()
    chat.server()
    load_s = time.perf_counter() - t0
    for warm in ("Which papers use transfer learning for medical imaging?",
                 "What does MoLRE do?"):  # warm the model, prompt cache and embedder
        list(a.ask_stream(warm, llm=chat))
        a.ask(warm, llm=False)
    records = [_ask(a, chat, q, amap, held_out, old.get(q["id"]) if replay is not None else None)
               for q in tqdm(qs, desc=f"llm {path.name}")]
    return summarise(records, {
        "model": path.name, "gguf": str(path), "gguf_mb": round(path.stat().st_size / 2**20),
        "threads": chat.server().threads, "n_ctx": s.llm_context,
        "prompt_tokens_budget": s.llm_prompt_tokens, "max_tokens_cap": s.llm_max_tokens,
        "load_seconds": round(load_s, 2), "embedder": a.embedder.name,
        "strict_verification": s.llm_small, "corpus": corpus,
        "replayed": replay is not None}, audit_for(corpus))


def _ask(a: Assistant, chat: TimedChat, q: dict, amap: dict[str, str],
         held_out: bool = False, old: dict | None = None) -> dict:
    f = question_filters(q)
    # held-out questions name only a digest, as eval.unseen asks them (their dates are read
    # from the question text; since/until there are the expected range, not a filter)
    kw = {"since": None, "until": None, "digest": f.digest} if held_out else \
        {"since": f.since, "until": f.until, "digest": f.digest}
    t0 = time.perf_counter()
    ext = a.ask(q["question"], llm=False, **kw)
    ext_s = time.perf_counter() - t0
    chat._calls.clear()
    if isinstance(chat, ReplayChat):
        chat._draft = (old or {}).get("draft")
    deltas: list[str] = []
    t0 = time.perf_counter()
    ans: Any = None
    for x in a.ask_stream(q["question"], llm=chat, **kw):
        if isinstance(x, str):
            deltas.append(x)
        else:
            ans = x
    total = time.perf_counter() - t0
    call = chat._calls[0] if chat._calls else None
    rec: dict[str, Any] = {
        "id": q["id"], "question": q["question"], "kind": q.get("kind"),
        "answerable": q["answerable"], "model_called": call is not None,
        "extractive_s": ext_s, "llm_s": total, "abstained": ans.abstained,
        "extractive_abstained": ext.abstained, "fallback": FALLBACK_NOTE in ans.notes,
        "model_said_no_answer": call is not None and says_no_answer("".join(deltas)),
        "citations": len(ans.citations), "unsupported": len(ans.unsupported)}
    if call:
        rec["ttft_s"] = (call["first"] - t0) if call["first"] else None
        rec["model_ttft_s"] = (call["first"] - call["start"]) if call["first"] else None
        tm = call["timings"] or {}
        rec.update(prompt_n=tm.get("prompt_n"), cache_n=tm.get("cache_n"),
                   predicted_n=tm.get("predicted_n"), gen_tps=tm.get("predicted_per_second"),
                   prompt_tps=tm.get("prompt_per_second"), max_tokens=call["max_tokens"])
        r = a.retrieve(a.read(q["question"], **kw))
        plan = plan_prompt(chat, r.query, r.hits, a.settings)
        rec["passages"] = len(plan.passages)
        rec["prompt_tokens"] = plan.prompt_tokens
        rec.update(score_question(q, "".join(deltas), ans, plan.passages))
        rec["draft"] = "".join(deltas)[:700]
        rec["final"] = (ans.body or ans.text)[:700]
        if isinstance(chat, ReplayChat):  # the timings are those of the generating run
            rec.update({k: (old or {}).get(k) for k in _TIMED}, replayed=call["replayed"])
    if q["answerable"]:
        rec["gold_cited"] = cited(ans, q, amap)["gold_cited"] if not ans.abstained else False
        rec["extractive_gold_cited"] = cited(ext, q, amap)["gold_cited"] \
            if not ext.abstained else False
    return rec


def write_section() -> None:
    """Rewrite the RESULTS.md section from llm_real.json and llm_real_unseen.json."""
    res = json.loads(OUT.read_text())
    unseen = json.loads(OUT_UNSEEN.read_text()) if OUT_UNSEEN.is_file() else {}
    replace_section(RESULTS.parent / "RESULTS.md", SECTION,
                    markdown(res, held_out_columns(unseen), unseen))


def recount() -> None:
    """Recount the hand audits of both result files (after labelling) and rewrite the
    section."""
    for out in (OUT, OUT_UNSEEN):
        if out.is_file():
            res = json.loads(out.read_text())
            for c, r in res["runs"].items():
                r["support"].update(hand_audit(r["records"], audit_for(c)))
            out.write_text(json.dumps(res, indent=1, ensure_ascii=False))
    write_section()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--gguf", help="a GGUF file (default: the bundled SmolLM2-135M)")
    ap.add_argument("--corpus", choices=("seed", *HELD_OUT), default="seed",
                    help="the seed digest questions (default; the verification rules were "
                    "designed on them) or a held-out corpus's questions")
    ap.add_argument("--questions", type=int, help="an even sample of N questions (default all)")
    ap.add_argument("--threads", type=int, default=0, help="CPU threads (default all)")
    ap.add_argument("--replay", action="store_true", help="re-verify the drafts recorded by the "
                    "last run on --corpus with the current rules instead of generating them "
                    "again (same model at temperature 0; timings kept from that run)")
    ap.add_argument("--no-write", action="store_true", help="print, write nothing")
    ap.add_argument("--report", action="store_true", help="only recount the hand audits and "
                    "rewrite the RESULTS.md section from eval/results/llm_real*.json")
    args = ap.parse_args()
    if args.report:  # after labelling new sentences in the audit files
        recount()
        return
    held_out = args.corpus != "seed"
    out = OUT_UNSEEN if held_out else OUT
    replay = None
    if args.replay:
        key = args.corpus if held_out else resolve_gguf(args.gguf).name
        replay = json.loads(out.read_text())["runs"][key]["records"]
    load0 = os.getloadavg()[0]
    r = run(args.gguf, args.questions, args.threads, corpus=args.corpus, replay=replay)
    date = dt.datetime.now().isoformat(timespec="seconds")
    load = [load0, os.getloadavg()[0]]
    summary = {k: v for k, v in r.items() if k != "records"}
    print(json.dumps(summary, indent=1))
    if args.no_write:
        return
    res = json.loads(out.read_text()) if out.is_file() else {"runs": {}}
    if held_out:  # one entry per corpus, each with its own date and load
        res["runs"][args.corpus] = {**r, "date": date, "load": load}
    else:
        res["runs"][r["model"]] = r
        res["date"], res["load"] = date, load
    RESULTS.mkdir(exist_ok=True)
    out.write_text(json.dumps(res, indent=1, ensure_ascii=False))
    write_section()


if __name__ == "__main__":
    main()
