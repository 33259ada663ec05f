"""The Gradio app: handlers (streaming, follow-ups, filters, errors, papers browser), LLM
answers streamed token by token (LangChain fake chat models) with the extractive answerer still
selectable, --llm fallbacks, the live ``/ask`` API through gradio_client (the README snippet,
the answerer parameter, eight concurrent users)."""

from __future__ import annotations

import contextlib
import io
import json
import logging
import re
import socket
import statistics
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from itertools import pairwise
from pathlib import Path

import gradio as gr
import pytest
from langchain_core.language_models import BaseChatModel
from langchain_core.language_models.fake_chat_models import (
    FakeListChatModel,
    GenericFakeChatModel,
)
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGenerationChunk, ChatResult

import app
import rag.answer.llm_backends
import ui.chats as chats
from rag import Assistant, Settings
from rag.index.embed import HashingEmbedder

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "tests" / "output"
SNIPPET_URL = "http://127.0.0.1:7860/"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fake_assistant_over(corpus: Path, index_dir: Path, auto_build: bool = True) -> Assistant:
    """An assistant with the hashing embedder (fast) over ``corpus``."""
    s = Settings(corpus_dir=corpus, index_dir=index_dir, model="hashing-256")
    return Assistant(settings=s, embedder=HashingEmbedder(256), auto_build=auto_build)


@contextlib.contextmanager
def live_app(assistant: Assistant, **kwargs: object) -> Iterator[str]:
    """Serve the app over ``assistant`` on a free port in this process; yields its URL."""
    port = free_port()
    demo = app.build_app(assistant, **kwargs)
    app.launch(demo, "127.0.0.1", port, block=False, quiet=True)
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        demo.close()


@pytest.fixture(scope="module")
def live_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    from tests.conftest import copy_corpus

    tmp = tmp_path_factory.mktemp("live")
    a = fake_assistant_over(copy_corpus(tmp / "corpus"), tmp / "index")
    a.index  # noqa: B018
    with live_app(a) as url:
        yield url


def run(gen: Iterator[tuple]) -> list[tuple]:
    return list(gen)


class Chat:
    """One browser session's state, passed to ``AssistantApp.respond`` as the UI does."""

    def __init__(self, h: app.AssistantApp) -> None:
        self.h, self.history, self.turns, self.previous = h, [], [], None
        self.store: dict = chats.empty()
        self.panel = ""

    def ask(self, question: str, since: str = "", until: str = "", digest: str | None = None,
            has_code: bool = False, answerer: str = "") -> list[tuple]:
        steps = run(self.h.respond(question, self.history, self.turns, self.previous,
                                   self.store, since, until, digest, has_code, answerer))
        return self.take(steps)

    def take(self, steps: list[tuple]) -> list[tuple]:
        self.history, _, panel, self.turns, self.previous, store, _ = steps[-1]
        if isinstance(panel, str):
            self.panel = panel
        if isinstance(store, dict) and "chats" in store:
            self.store = store
        return steps


def respond(h: app.AssistantApp, question: str, since: str = "", until: str = "",
            digest: str | None = None, has_code: bool = False, answerer: str = "") -> list[tuple]:
    """A question in a new chat: every step the UI would show."""
    return Chat(h).ask(question, since, until, digest, has_code, answerer)


# ---------------------------------------------------------------------- handlers
def test_respond_streams_and_keeps_the_conversation(seed_fake: Assistant) -> None:
    h = app.AssistantApp(seed_fake, stream_delay=0)
    c = Chat(h)
    steps = c.ask("Where is the code for ZACAF?")
    assert len(steps) >= 3, "the answer should arrive in several pieces"
    assert steps[0][0][-1]["content"] == app.SEARCHING
    texts = [s[0][-1]["content"] for s in steps[1:]]
    assert all(len(b) >= len(a) for a, b in zip(texts, texts[1:]))  # grows
    history, box, panel, turns, previous, store, past = steps[-1]
    assert box == "" and len(history) == 2 and len(turns) == 1 and previous.citations
    assert "ZACAF" in history[-1]["content"] and "(#src-1-1)" in history[-1]["content"]
    assert history[-1]["content"].endswith("[Copy answer](#copy-1) · [BibTeX](#bib-1) · "
                                           "[RIS](#ris-1)")
    assert 'id="src-1-1"' in panel and "github.com/UCI-BME-ZACAF/ZACAF" in panel
    assert 'class="export" data-kind="bib">' in panel and 'data-kind="md">' in panel
    assert 'href="#back-1-1"' in panel and 'href="digest/' in panel
    assert store["chats"][0]["title"] == "Where is the code for ZACAF?"
    assert past["choices"][0][1] == store["current"]
    # follow-up: "its" resolves to ZACAF; the chat says what it searched for
    c.ask("and where is its code?")
    assert len(c.history) == 4 and len(c.turns) == 2
    last = c.history[-1]["content"]
    assert "Searching for: Where is ZACAF's code?" in last.replace("\\", "")
    assert "github.com/UCI-BME-ZACAF/ZACAF" in last and "(#src-2-1)" in last
    assert 'id="src-2-1"' in c.panel and "<details" in c.panel  # the first answer folded away


def test_respond_applies_filters_and_reports_errors(seed_fake: Assistant) -> None:
    h = app.AssistantApp(seed_fake, stream_delay=0)
    *_, (history, _, panel, *_r) = respond(h, "knowledge distillation", "2026-05-01", "",
                                           None, True)
    dates = re.findall(r"Quoted from: .*?\((\d{4}-\d\d-\d\d)\)", panel)
    assert dates and all(d >= "2026-05-01" for d in dates)
    *_, (history, _, _, turns, *_r) = respond(h, "anything", "May 1st")
    msg = history[-1]["content"]
    assert msg.startswith("⚠") and "not a date" in msg and "Traceback" not in msg
    assert turns == []

    def chips(*args: object) -> tuple[str, dict]:
        label, *buttons = h.filters_view(*args)  # type: ignore[arg-type]
        return label, {k: b["value"] for k, b in zip(app.FILTER_KEYS, buttons) if b["visible"]}

    label, shown = chips("2026-05-01", "", None, True)
    assert shown == {"since": "since 2026-05-01 ×", "has_code": "has code ×"}
    assert "not a date" in chips("yesterday", "", None, False)[0]
    assert chips("", "", None, False) == ("**Filters:** none", {})
    did = next(iter(seed_fake.index.digests))
    assert seed_fake.index.digests[did].title in chips("", "", did, False)[1]["digest"]


def test_main_binds_localhost_by_default(monkeypatch: pytest.MonkeyPatch, seed_fake) -> None:  # noqa: ANN001
    seen = {}
    monkeypatch.setattr(app, "Assistant", lambda **kw: seed_fake)
    monkeypatch.delenv("RAG_HOST", raising=False)
    monkeypatch.delenv("RAG_PORT", raising=False)
    app.main([], serve=lambda demo, host, port: seen.update(host=host, port=port))
    assert seen == {"host": "127.0.0.1", "port": 7860}
    monkeypatch.setenv("RAG_PORT", "9999")
    app.main(["--host", "0.0.0.0"], serve=lambda demo, host, port: seen.update(host=host,
                                                                            port=port))
    assert seen == {"host": "0.0.0.0", "port": 9999}


# ---------------------------------------------------------------------- LLM answers
MOLRE_Q = "Which papers adapt foundation models to head CT?"
MOLRE_LLM = ("MoLRE was benchmarked on over 70,000 head CT scans with 75 neurological findings "
             "[1]. It specializes <b>foundation</b> models for head CT analysis [1].")


def fake_chat(text: str = MOLRE_LLM) -> GenericFakeChatModel:
    """A chat model that streams ``text`` word by word (once)."""
    return GenericFakeChatModel(messages=iter([AIMessage(text)]))


class BrokenChat(BaseChatModel):
    """Streams a few words, then the connection drops; ``calls`` counts the requests."""

    calls: int = 0

    @property
    def _llm_type(self) -> str:
        return "broken"

    def _generate(self, messages: list[BaseMessage], stop: object = None,
                  run_manager: object = None, **kw: object) -> ChatResult:
        raise AssertionError("the app streams")

    def _stream(self, messages: list[BaseMessage], stop: object = None,
                run_manager: object = None, **kw: object) -> Iterator[ChatGenerationChunk]:
        self.calls += 1
        for word in ("MoLRE ", "was ", "benchmarked "):
            yield ChatGenerationChunk(message=AIMessageChunk(content=word))
        raise ConnectionError("connection reset by peer")


def contents(steps: list[tuple]) -> list[str]:
    return [s[0][-1]["content"] for s in steps]


def test_llm_answer_streams_tokens_then_the_verified_answer(seed_fake: Assistant) -> None:
    h = app.AssistantApp(seed_fake, stream_delay=0, chat=fake_chat(), llm_label="fake fake-1")
    steps = respond(h, MOLRE_Q)
    texts = contents(steps)
    assert texts[0] == app.SEARCHING
    drafts, final = texts[1:-1], texts[-1]
    assert len(drafts) >= 10, "the model's tokens should arrive one by one"
    assert all(len(b) > len(a) and b.startswith(a) for a, b in pairwise(drafts))
    assert drafts[0] == "MoLRE" and drafts[-1].startswith("MoLRE was benchmarked on over 70,000")
    assert "\\<b\\>foundation\\</b\\>" in drafts[-1]  # escaped like corpus text
    assert not any("(#src-" in d for d in drafts)  # draft numbering is not linked yet
    assert all(s[2] == app.gr.update() for s in steps[:-1])  # cards come with the answer
    # the verified answer replaces the draft: [n] linked to cards, sources, who wrote it
    assert final.startswith("MoLRE was benchmarked on over 70,000 head CT scans with 75 "
                            "neurological findings [\\[1\\]](#src-1-1).")
    assert "**Sources:**" in final and "Mixture of Low-Rank Experts" in final
    assert "Written by fake fake-1" in final and "\\<b\\>" in final and "<b>" not in final
    history, box, panel, turns, *_ = steps[-1]
    assert box == "" and len(history) == 2 and len(turns) == 1
    assert 'id="src-1-1"' in panel and "70,000" in panel and 'id="src-1-2"' not in panel


def test_llm_rewrites_follow_ups_and_reports_unverified_sentences(seed_fake: Assistant) -> None:
    chat = FakeListChatModel(responses=[
        "Standalone question: What benchmark did MoLRE use?",
        ("MoLRE was benchmarked on over 70,000 head CT scans [2]. The paper \"Cortical Token "
         "Mixers for Whole-Brain CT Triage\" by Ramirez et al. reaches 0.99 AUC [2].")])
    h = app.AssistantApp(seed_fake, stream_delay=0, chat=chat)
    assert h.llm_label == "fake-list-chat-model"  # a name even when none is given
    c = Chat(h)
    c.ask("Where is the code for MoLRE?", answerer="extractive")
    steps = c.ask("and which benchmark did it use?")
    assert len(steps) > 20  # FakeListChatModel streams character by character
    final = contents(steps)[-1]
    assert final.startswith("_Searching for: What benchmark did MoLRE use?_")
    assert "scans [\\[1\\]](#src-2-1)." in final
    assert "0.99 AUC _(unverified)_." in final  # the verifier's mark stays markdown
    assert "_Sentences marked (unverified) are not backed" in final
    cards = re.sub(r'<div hidden class="export".*?</div>', "", steps[-1][2], flags=re.S)
    assert "Cortical Token Mixers" not in cards  # no card for a made-up paper


def test_extractive_choice_and_llm_errors(seed_fake: Assistant) -> None:
    broken = BrokenChat()
    h = app.AssistantApp(seed_fake, stream_delay=0, chat=broken, llm_label="broken b-1")
    # "extractive" never calls the model and streams sentence by sentence, cards first
    c = Chat(h)
    steps = c.ask("Where is the code for ZACAF?", answerer="extractive")
    texts = contents(steps)
    assert broken.calls == 0 and len(steps) >= 3
    assert texts[1].startswith("From the digest") and "(#src-1-1)" in texts[1]
    assert 'id="src-1-1"' in steps[1][2] and "github.com/UCI-BME-ZACAF/ZACAF" in texts[-1]
    assert "Written by" not in texts[-1]
    # the LLM (the default) fails mid-stream: its draft was shown, then a message with a fix
    turns = c.turns
    steps = c.ask(MOLRE_Q)
    texts = contents(steps)
    assert broken.calls == 1 and "MoLRE was" in texts[-2]
    assert texts[-1].startswith("⚠ The chat model failed: ConnectionError")
    assert "RAG\\_LLM\\_BACKEND=extractive" in texts[-1] and "Traceback" not in texts[-1]
    assert steps[-1][3] == turns and len(steps[-1][0]) == 4  # the failed turn has no cards
    *_, (history, *_r) = respond(h, MOLRE_Q, answerer="gpt-5")
    assert history[-1]["content"].startswith("⚠ No answerer 'gpt-5'")


def test_app_decides_who_answers_not_the_settings(fake_settings: Settings) -> None:
    """An assistant configured for a missing backend still answers extractively in the app."""
    a = Assistant(settings=fake_settings.model_copy(update={"llm_backend": "openai"}),
                  embedder=HashingEmbedder(256))
    h = app.AssistantApp(a, stream_delay=0)
    *_, (history, _, panel, *_r) = respond(h, "What is MoLRE?")
    assert history[-1]["content"].startswith("From the digest") and 'id="src-1-1"' in panel
    res = h.ask("What is MoLRE?", answerer="extractive")
    assert res["answerer"] == "extractive" and res["citations"]
    with pytest.raises(app.gr.Error, match="no --llm"):
        h.ask("What is MoLRE?", answerer="llm")
    assert "answers: <b>extractive</b>" in h.status()


def test_api_answerer_parameter(seed_fake: Assistant) -> None:
    h = app.AssistantApp(seed_fake, chat=FakeListChatModel(responses=[MOLRE_LLM]),
                         llm_label="fake fake-1")
    res = h.ask(MOLRE_Q)
    assert res["answerer"] == "fake fake-1" and res["answer"].startswith("MoLRE was benchmarked")
    assert "**Sources**" in res["answer"] and len(res["citations"]) == 1
    res = h.ask(MOLRE_Q, answerer="extractive")
    assert res["answerer"] == "extractive" and not res["answer"].startswith("MoLRE was")
    assert h.ask(MOLRE_Q, answerer="llm")["answerer"] == "fake fake-1"
    assert "answers: <b>fake fake-1</b>" in h.status()


def test_ui_offers_the_answerer_choice(seed_fake: Assistant) -> None:
    def answerer_radio(demo: object) -> tuple[object, list]:
        radio = next(b for b in demo.blocks.values()  # type: ignore[attr-defined]
                     if getattr(b, "elem_id", None) == "answerer")
        fed = [fn for fn in demo.fns.values()  # type: ignore[attr-defined]
               if getattr(fn.fn, "__name__", "") == "respond"]
        return radio, fed

    radio, fed = answerer_radio(app.build_app(seed_fake, chat=fake_chat(),
                                              llm_label="fake fake-1"))
    assert radio.visible and radio.value == "llm"
    assert [tuple(c) for c in radio.choices] == [("fake fake-1", "llm"),
                                                 ("extractive", "extractive")]
    assert len(fed) == 3 and all(radio in fn.inputs for fn in fed)  # submit, Ask, examples
    radio, _ = answerer_radio(app.build_app(seed_fake))
    assert not radio.visible and radio.value == "extractive"


def test_main_llm_flags_and_fallbacks(monkeypatch: pytest.MonkeyPatch,
                                      seed_fake: Assistant) -> None:
    built: dict = {}
    real_build = app.build_app

    def build(assistant: Assistant, **kw: object) -> object:
        built.clear()
        built.update(kw)
        return real_build(assistant, **kw)

    monkeypatch.setattr(app, "Assistant", lambda **kw: seed_fake)
    monkeypatch.setattr(app, "build_app", build)
    monkeypatch.setitem(sys.modules, "langchain_openai", None)  # as if not installed
    for name in ("RAG_LLM_BACKEND", "RAG_LLM_MODEL", "RAG_LLM_BASE_URL"):
        monkeypatch.delenv(name, raising=False)

    def main(argv: list[str]) -> str:
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            app.main(argv, serve=lambda demo, host, port: None)
        return out.getvalue()

    printed = main(["--llm", "openai"])
    line = next(x for x in printed.splitlines() if x.startswith("warning:"))
    assert "langchain-openai" in line and "digest-rag[openai]" in line and "extractive" in line
    assert built["chat"] is None and "langchain-openai" in str(built["notice"])
    h = app.AssistantApp(seed_fake, notice=str(built["notice"]))
    assert "digest-rag[openai]" in h.status()  # the UI says so too
    monkeypatch.setenv("RAG_LLM_BACKEND", "openai")  # the default comes from the environment
    assert "langchain-openai" in main([]) and built["chat"] is None
    monkeypatch.setenv("RAG_LLM_BACKEND", "gpt")  # invalid: ignored with a warning
    assert "Ignoring RAG_LLM_BACKEND" in main([]) and built["chat"] is None
    assert "warning" not in main(["--llm", "extractive"]) and built["chat"] is None

    seen: list[Settings] = []
    chat = FakeListChatModel(responses=[MOLRE_LLM])

    def chat_from(settings: Settings) -> BaseChatModel:
        seen.append(settings)
        return chat

    monkeypatch.setattr(rag.answer.llm_backends, "chat_model_from_settings", chat_from)
    printed = main(["--llm", "ollama", "--llm-model", "llama3.2:3b"])
    assert seen[-1].llm_backend == "ollama" and seen[-1].llm_model == "llama3.2:3b"
    assert built["chat"] is chat and built["llm_label"] == "ollama llama3.2:3b"
    assert "Answers: ollama llama3.2:3b" in printed and "warning" not in printed


# ---------------------------------------------------------------------- live API
def snippet_lines() -> list[str]:
    """The ```python block of the README's "Use the running app from code" section."""
    text = (ROOT / "README.md").read_text()
    section = text.split("## Use the running app from code", 1)[1].split("\n## ", 1)[0]
    code = re.search(r"```python\n(.*?)```", section, re.S)
    assert code, "README.md's client section needs a ```python block"
    lines = code.group(1).strip().splitlines()
    assert len(lines) == 3
    return lines


@pytest.mark.slow
def test_readme_client_snippet_runs_against_live_app(live_url: str) -> None:
    """Runs exactly the snippet's three lines (with the live app's address)."""
    code = "\n".join(snippet_lines())
    assert SNIPPET_URL in code
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code.replace(SNIPPET_URL, live_url), "README client example", "exec"), {})
    printed = out.getvalue()
    assert "ZACAF" in printed and "github.com/UCI-BME-ZACAF/ZACAF" in printed


def test_api_filters_and_errors(live_url: str) -> None:
    from gradio_client import Client

    client = Client(live_url, verbose=False)
    res = client.predict("knowledge distillation", since="2026-05-01", has_code=True,
                         api_name="/ask")
    assert res["citations"] and all(c["date"] >= "2026-05-01" and c["code_urls"]
                                    for c in res["citations"])
    with pytest.raises(Exception, match="not a date"):
        client.predict("anything", since="May", api_name="/ask")
    res = client.predict("Where is the code for ZACAF?", answerer="extractive", api_name="/ask")
    assert res["answerer"] == "extractive" and "ZACAF" in res["answer"]
    with pytest.raises(Exception, match="No answerer 'llm'"):
        client.predict("Where is the code for ZACAF?", answerer="llm", api_name="/ask")


def test_api_with_an_llm(seed_fake: Assistant) -> None:
    from gradio_client import Client

    chat = FakeListChatModel(responses=[MOLRE_LLM])
    with live_app(seed_fake, chat=chat, llm_label="fake fake-1") as url:
        client = Client(url, verbose=False)
        res = client.predict(MOLRE_Q, api_name="/ask")
        assert res["answerer"] == "fake fake-1" and res["answer"].startswith("MoLRE was")
        assert res["citations"] and "70,000" in res["citations"][0]["passage"]
        res = client.predict(MOLRE_Q, answerer="extractive", api_name="/ask")
        assert res["answerer"] == "extractive" and res["citations"]


CONCURRENT = [
    ("Where is the code for ZACAF?", "ZACAF"),
    ("Where is the code for TimeMAE?", "TimeMAE"),
    ("Which papers adapt foundation models to head CT?", "MoLRE"),
    ("What is MoLRE?", "MoLRE"),
    ("What does ZACAF quantify in zebrafish?", "ZACAF"),
    ("Where is the code for MP-ISMoE?", "MP-ISMoE"),
    ("What is VidPrism?", "VidPrism"),
    ("Where is the TimeMAE code?", "TimeMAE"),
]


@pytest.mark.slow
def test_eight_concurrent_clients(live_url: str) -> None:
    from gradio_client import Client

    clients = [Client(live_url, verbose=False) for _ in CONCURRENT]
    for c in clients:  # a client's first call also opens its event stream (~1 s): warm up
        c.predict("zebrafish", api_name="/ask")
    barrier = threading.Barrier(len(CONCURRENT))

    def one(i: int) -> tuple[float, dict]:
        barrier.wait()
        t = time.perf_counter()
        res = clients[i].predict(CONCURRENT[i][0], api_name="/ask")
        return time.perf_counter() - t, res

    with ThreadPoolExecutor(len(CONCURRENT)) as pool:
        results = list(pool.map(one, range(len(CONCURRENT))))
    for (question, name), (_, res) in zip(CONCURRENT, results):
        assert not res["abstained"], question
        assert res["question"] == question
        assert any(c["short_name"] == name for c in res["citations"]), (question, res)
    lat = sorted(t for t, _ in results)
    p95 = lat[min(len(lat) - 1, int(round(0.95 * (len(lat) - 1))))]
    OUTPUT.mkdir(parents=True, exist_ok=True)
    (OUTPUT / "concurrency.json").write_text(json.dumps({
        "users": len(CONCURRENT), "embedder": "hashing-256",
        "concurrency_limit": app.CONCURRENCY, "clients_warmed_up": True,
        "p95_seconds": round(p95, 3),
        "median_seconds": round(statistics.median(lat), 3), "max_seconds": round(lat[-1], 3),
        "latencies_seconds": [round(x, 3) for x in lat]}, indent=2))


def test_user_errors_reach_the_caller_without_a_server_traceback(
        seed_fake: Assistant, caplog: pytest.LogCaptureFixture) -> None:
    """An expected error (a bad filter) is a message for the caller; the server log gets no
    traceback (Gradio prints one for every gr.Error unless told not to)."""
    h = app.AssistantApp(seed_fake, stream_delay=0)
    with caplog.at_level(logging.ERROR), pytest.raises(gr.Error) as info:
        h.ask("What about EEG?", since="not-a-date")
    assert "not a date" in str(info.value) and info.value.print_exception is False
    assert not [r for r in caplog.records if r.exc_info]
