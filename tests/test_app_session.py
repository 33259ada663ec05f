"""The app's session and views, through its handlers and a live server: chats kept in the
browser (saved, restored after a reload, reopened, deleted; nothing the browser sends back is
trusted), questions shown as typed, follow-ups with nothing to refer to, filters read from the
question shown and removable, a status line that names the index being served (and says how
to build a missing one), the papers browser, and what the server exposes (no uploads, no build
event, the digest route, no share hint)."""

from __future__ import annotations

import contextlib
import io
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

import app
import ui.chats as chats
from rag import Assistant
from tests.test_app import ROOT, Chat, fake_assistant_over, free_port, live_app, respond, run


@pytest.fixture(scope="module")
def live_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    from tests.conftest import copy_corpus

    tmp = tmp_path_factory.mktemp("live-session")
    a = fake_assistant_over(copy_corpus(tmp / "corpus"), tmp / "index")
    a.index  # noqa: B018
    with live_app(a) as url:
        yield url


def test_questions_are_shown_as_typed(seed_fake: Assistant) -> None:
    c = Chat(app.AssistantApp(seed_fake, stream_delay=0))
    q = "<img src=x onerror=alert(1)> <script>alert(2)</script> **what** is [ZACAF](x)?"
    c.ask(q)
    shown = c.history[0]["content"]
    assert "<" not in shown.replace("\\<", "") and "\\*\\*what" in shown
    assert re.sub(r"\\(.)", r"\1", shown) == q  # every character escaped, none lost

def test_follow_up_with_nothing_to_refer_to_asks_what_it_means(seed_fake: Assistant) -> None:
    h = app.AssistantApp(seed_fake, stream_delay=0)
    for q in ("Did they release code?", "Where is its code?"):
        c = Chat(h)
        c.ask(q)
        assert c.history[-1]["content"].startswith("What does it refer to?"), q
        assert c.turns == []
    c = Chat(h)
    c.ask("Where is the code for ZACAF?")
    c.store, c.history, c.turns, c.previous = h.new_chat(c.store)[4], [], [], None
    c.ask("Did they release code?")
    assert c.history[-1]["content"].startswith("What does it refer to?")

def test_filters_read_from_the_question_are_shown_and_removable(seed_fake: Assistant) -> None:
    h = app.AssistantApp(seed_fake, stream_delay=0)
    c = Chat(h)
    c.ask("Which papers on knowledge distillation were published in May 2026?")
    q = c.previous.query
    assert q.dates_from_question and str(q.since) == "2026-05-01"
    label, *buttons = h.filters_view("", "", None, False, c.previous)
    shown = {k: b["value"] for k, b in zip(app.FILTER_KEYS, buttons) if b["visible"]}
    assert list(shown) == ["q_dates"] and "2026-05-01 to 2026-05-31" in shown["q_dates"]
    assert "May 2026" in shown["q_dates"] and "removes one" in label
    # removing it asks the same question again without the dates its words implied
    c.take(run(h.reask("dates", c.history, c.turns, c.previous, c.store, "", "", None,
                       False)))
    assert len(c.turns) == 2 and c.history[-2]["content"] == c.history[0]["content"]
    assert c.history[-1]["content"].startswith("_Searching for: Which papers on knowledge")
    assert not c.previous.query.since and not c.previous.query.dates_from_question
    _, *buttons = h.filters_view("", "", None, False, c.previous)
    assert not any(b["visible"] for b in buttons)

def test_chats_are_saved_restored_and_deleted(seed_fake: Assistant) -> None:
    h = app.AssistantApp(seed_fake, stream_delay=0)
    c = Chat(h)
    c.ask("Where is the code for ZACAF?")
    first = c.store["current"]
    saved = json.loads(json.dumps(c.store))  # what the browser keeps
    assert "cards" not in json.dumps(saved) and "<div" not in json.dumps(saved)
    # a reload: the chat, its cards and exports come back, rendered again on the server
    history, panel, turns, previous, store, past = h.restore(saved)
    assert history == c.history and previous is None and past["value"] == first
    assert 'id="src-1-1"' in panel and turns[0]["bib"].startswith("@misc{")
    r = Chat(h)
    r.history, r.turns, r.store = history, turns, store
    r.ask("and where is its code?")  # the follow-up still knows what "its" is
    assert "Searching for: Where is ZACAF's code?" in r.history[-1]["content"].replace("\\", "")
    # New chat keeps the old one in the list; opening it brings it back
    history, panel, turns, _, store, past = h.new_chat(r.store)
    assert history == [] and turns == [] and store["current"] != first
    assert [i for _, i in past["choices"]] == [first] and "Sources appear here" in panel
    history, panel, turns, _, store, past = h.open_chat(first, store)
    assert len(history) == 4 and len(turns) == 2 and store["current"] == first
    # the trash icon forgets the chat and its sources
    history, panel, turns, _, store, past = h.delete_chat(store)
    assert history == [] and turns == [] and past["choices"] == [] and "src-card" not in panel
    # Gradio sends messages back as lists of parts: their text is kept
    parts = [{"role": "user", "content": [{"type": "text", "text": "hi"}]}, {"role": "x"}]
    assert chats.save(store, "c1", parts, turns or r.turns)["chats"][0]["history"] == [
        {"role": "user", "content": "hi"}]
    # whatever the browser sends back, nothing malformed or marked-up is trusted
    assert chats.load("garbage") ["chats"] == [] and chats.load({"chats": [1, {}]})["chats"] == []
    evil = json.loads(json.dumps(saved))
    evil["chats"][0]["turns"][0]["cards"] = "<script>alert(1)</script>"
    evil["chats"][0]["turns"][0]["cites"][0]["text"] = "<img src=x onerror=alert(1)>"
    _, panel, *_ = h.restore(evil)
    assert "<script>" not in panel and "<img" not in panel and "&lt;img" in panel

def test_status_names_the_index_being_served(tmp_path: Path) -> None:
    """The status line is read on every question and page load: after `rag index` publishes
    a new build, it names the new one."""
    from tests.conftest import copy_corpus

    corpus = copy_corpus(tmp_path / "corpus")
    a = fake_assistant_over(corpus, tmp_path / "ix")
    h = app.AssistantApp(a, stream_delay=0)
    before = re.search(r"index <code>([^<]+)</code>", h.status()).group(1)
    assert before == a.status()["build"]
    (corpus / sorted(p.name for p in corpus.glob("*.txt"))[0]).unlink()
    fake_assistant_over(corpus, tmp_path / "ix").build()  # as `rag index` would
    after = re.search(r"index <code>([^<]+)</code>", h.status()).group(1)
    assert after != before and "<b>4</b> digests" in h.status()

def test_no_uploads_no_build_event_and_the_digest_route(live_url: str, seed_fake: Assistant
                                                        ) -> None:
    import httpx

    demo = app.build_app(seed_fake)
    kinds = {b.get_block_name() for b in demo.blocks.values()}
    assert not kinds & {"file", "image", "audio", "video", "uploadbutton", "multimodaltextbox",
                        "model3d", "gallery", "dataframe"}, kinds  # nothing takes a file
    names = {getattr(fn.fn, "__name__", "") for fn in demo.fns.values()}
    assert "build" not in names and not any("build" in n for n in names)
    with httpx.Client(base_url=live_url, timeout=10) as http:
        r = http.post("gradio_api/upload", files={"files": ("x.txt", b"hello", "text/plain")})
        assert r.status_code == 413, (r.status_code, r.text)
        config = http.get("config").json()
        assert not any(d.get("api_name") in ("build", "build_index")
                       for d in config.get("dependencies", []))
        digest = http.get("digest/000_0535b448ae7ff890")
        assert digest.status_code == 200 and digest.text.startswith("Transfer Learning Unleashed")
        assert digest.headers["content-type"].startswith("text/plain")
        assert "sandbox" in digest.headers["content-security-policy"]
        for bad in ("digest/nope", "digest/..%2F..%2Fetc%2Fpasswd", "digest/%2Fetc%2Fpasswd"):
            assert http.get(bad).status_code == 404, bad

def test_start_up_prints_no_share_hint(seed_fake: Assistant) -> None:
    out = io.StringIO()
    demo = app.build_app(seed_fake)
    with contextlib.redirect_stdout(out):
        app.launch(demo, "127.0.0.1", free_port(), block=False)
    try:
        printed = out.getvalue()
        assert "share=True" not in printed and "digest-rag is serving on http://127.0.0.1:" \
            in printed
    finally:
        demo.close()


def test_empty_corpus_and_missing_index_are_messages(tmp_path: Path) -> None:
    (tmp_path / "corpus").mkdir()
    a = fake_assistant_over(tmp_path / "corpus", tmp_path / "ix", auto_build=False)
    h = app.AssistantApp(a, stream_delay=0)
    line = h.status()
    assert "⚠" in line and "missing" in line and "rag index" in line
    *_, (history, *_rest) = respond(h, "hello?")
    assert history[-1]["content"].startswith("⚠")
    assert "⚠" in h.papers_view() and h.digest_choices() == []
    assert h.restore(chats.empty())[0] == []
    assert app.build_app(a) is not None  # the app still builds
    # `rag index` builds it (another process, here another Assistant): the app serves it
    src = ROOT / "corpus"
    first = sorted(src.glob("*.txt"))[0]
    (tmp_path / "corpus" / first.name).write_bytes(first.read_bytes())
    fake_assistant_over(tmp_path / "corpus", tmp_path / "ix").build()
    line = h.status()
    assert "Index:" in line and "1</b> digests" in line and "⚠" not in line

def test_papers_browser(seed_fake: Assistant) -> None:
    h = app.AssistantApp(seed_fake)

    def rows(html: str) -> list[str]:
        return re.findall(r'<li class="paper-row" id="paper-([^"]+)">', html)

    html = h.papers_view()
    assert len(rows(html)) == len(seed_fake.papers())
    dates = re.findall(r'<span class="p-date">([^<]+)</span>', html)
    assert dates == sorted(dates, reverse=True)
    dates = re.findall(r'<span class="p-date">([^<]+)</span>', h.papers_view(sort="Oldest first"))
    assert dates == sorted(dates)
    html = h.papers_view("zacaf")
    assert len(rows(html)) == 1 and "ZACAF" in html and "src-text" in html
    assert 'href="https://github.com/UCI-BME-ZACAF/ZACAF"' in html
    assert 'href="https://arxiv.org/abs/' in html and "<b>1</b> of" in html
    assert 'data-kind="bib">@misc{' in html and 'href="#papers-ris"' in html
    ids = rows(h.papers_view(has_code=True))
    assert ids and all(seed_fake.index.papers[i].code_urls for i in ids)
    inst = "Stanford University"
    assert inst in h.institutions()
    ids = rows(h.papers_view(institution=inst))
    assert ids and all(inst in seed_fake.index.papers[i].institutions for i in ids)
    assert "No paper matches" in h.papers_view("no such paper anywhere")
