"""The app in a real browser (Debian's Chromium through Playwright), over a small index built
with the hashing embedder: ask, read the cited cards, filter, follow up, browse papers, and
check that a malicious digest renders as text. Screenshots go to tests/output/."""

from __future__ import annotations

import json
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import copy_corpus
from tests.test_app import OUTPUT, fake_assistant_over, live_app

CHROMIUM = Path("/usr/bin/chromium")
try:
    from playwright.sync_api import Browser, Page, expect, sync_playwright
except ImportError:  # pragma: no cover - depends on the machine
    sync_playwright = None  # type: ignore[assignment]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(sync_playwright is None, reason="the playwright package is not installed "
                       "(pip install 'digest-rag[test]')"),
    pytest.mark.skipif(not CHROMIUM.exists(), reason="no browser at /usr/bin/chromium "
                       "(apt-get install chromium); browsers are never downloaded"),
]
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
BOT = "#chat [data-testid='bot']"
EVIL = """Evil <script>alert(0)</script> Digest
Latest 2 papers on transfer learning: Jun. 1, 2026
The Big Idea
The EvilNet framework, introduced by Mallory et al. from Evil University in their paper \
EvilNet: Scripting <script>alert(1)</script> for Transfer Learning, proposes \
[click me](javascript:alert(1)) and <img src=x onerror=alert(2)> for xss detection. Code is at \
[repo](javascript:alert(3)).
"""


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        yield b
        b.close()


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("browser")
    a = fake_assistant_over(copy_corpus(tmp / "corpus"), tmp / "index")
    a.index  # noqa: B018
    with live_app(a) as u:
        yield u


def shot(page: Page, name: str) -> None:
    OUTPUT.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(OUTPUT / name), full_page=True)


def open_app(browser: Browser, url: str, viewport: dict) -> Page:
    page = browser.new_page(viewport=viewport)
    page.goto(url)
    expect(page.locator("#status")).to_contain_text("digests", timeout=30_000)
    return page


def ask(page: Page, question: str) -> tuple[float, float]:
    """Ask and wait for the full answer; returns seconds from click to the first assistant
    text on screen and to the first answer sentence."""
    n = page.locator(BOT).count()
    page.locator("#question textarea").fill(question)
    t0 = time.perf_counter()
    page.locator("#ask-btn").click()
    page.locator(BOT).nth(n).wait_for(timeout=20_000)
    first = time.perf_counter() - t0
    expect(page.locator(BOT).nth(n)).to_contain_text(re.compile(r"From the digest|papers? in the digests|⚠|do not|What does"),
                                                     timeout=20_000)
    answer = time.perf_counter() - t0
    expect(page.locator(BOT).nth(n)).not_to_contain_text("Searching the digests")
    page.wait_for_timeout(600)  # let the stream finish
    return first, answer


def test_chat_citations_filters_followup_and_papers(browser: Browser, url: str) -> None:
    page = open_app(browser, url, DESKTOP)
    expect(page.get_by_text("Where is the code for ZACAF?")).to_be_visible()  # examples
    expect(page.locator("#filters-line")).to_contain_text("Filters: none")
    shot(page, "01_first_load_1280.png")

    first, answer = ask(page, "Where is the code for ZACAF?")
    bot = page.locator(BOT).last
    expect(bot).to_contain_text("ZACAF")
    cite = bot.locator('a[href$="#src-1-1"]').first
    expect(cite).to_have_text("[1]")
    card = page.locator("#src-1-1")
    expect(card).to_contain_text("ZACAF")
    expect(card).to_contain_text("Authors (arXiv)")
    expect(card.locator("mark").first).to_be_visible()
    expect(card.locator('a[href="https://github.com/UCI-BME-ZACAF/ZACAF"]')).to_be_visible()
    cite.click()
    expect(card).to_have_class(re.compile("src-flash"))
    expect(card).to_be_in_viewport()
    shot(page, "02_answer_1280.png")

    # follow-up: "its" is ZACAF
    ask(page, "and where is its code?")
    expect(page.locator(BOT).last).to_contain_text("Searching for: Where is ZACAF")
    expect(page.locator(BOT).last).to_contain_text("github.com/UCI-BME-ZACAF/ZACAF")
    expect(page.locator("#src-2-1")).to_contain_text("ZACAF")

    # a date filter, shown and respected
    page.get_by_text("Filters (apply to the next question)").click()
    page.locator("#since textarea, #since input").first.fill("2026-05-01")
    page.locator("#has-code input").check()
    expect(page.locator("#filters-line")).to_contain_text("since 2026-05-01 · has code")
    ask(page, "Which papers use knowledge distillation?")
    latest = page.locator("#sources .src-turn").first
    dates = re.findall(r"Quoted from: .*?\((\d{4}-\d\d-\d\d)\)", latest.inner_text())
    assert dates and all(d >= "2026-05-01" for d in dates), dates
    shot(page, "03_filtered_1280.png")

    # papers browser
    page.get_by_role("tab", name="Papers").click()
    rows = page.locator("#papers-table .virtual-row")
    expect(rows.first).to_be_visible()
    assert rows.count() >= 20
    page.locator("#p-query textarea, #p-query input").first.fill("zacaf")
    expect(rows).to_have_count(1, timeout=10_000)
    rows.first.get_by_role("gridcell").nth(1).click()
    expect(page.locator("#paper-card")).to_contain_text("Zebrafish", timeout=10_000)
    expect(page.locator("#paper-card")).to_contain_text("Transfer Learning Unleashed")
    page.locator("#p-query textarea, #p-query input").first.fill("")
    expect(rows.nth(5)).to_be_visible(timeout=10_000)
    shot(page, "04_papers_1280.png")
    page.close()

    OUTPUT.mkdir(parents=True, exist_ok=True)
    (OUTPUT / "ui_timing.json").write_text(json.dumps({
        "embedder": "hashing-256", "viewport": "1280x900",
        "click_to_first_assistant_text_seconds": round(first, 3),
        "click_to_first_answer_sentence_seconds": round(answer, 3)}, indent=2))


def test_phone_layout(browser: Browser, url: str) -> None:
    page = open_app(browser, url, PHONE)
    shot(page, "05_first_load_390.png")
    ask(page, "Which papers adapt foundation models to head CT?")
    expect(page.locator("#src-1-1")).to_be_visible()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"] + 1, f"page scrolls sideways ({width}px)"
    page.locator(BOT).last.locator('a[href$="#src-1-1"]').first.click()
    expect(page.locator("#src-1-1")).to_be_in_viewport()
    shot(page, "06_answer_390.png")
    page.get_by_role("tab", name="Papers").click()
    expect(page.locator("#papers-table .virtual-row").first).to_be_visible()
    shot(page, "07_papers_390.png")
    page.close()


def test_malicious_digest_renders_as_text(browser: Browser, tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    src = Path(__file__).resolve().parent.parent / "corpus"
    shutil.copy(sorted(src.glob("*.txt"))[0], corpus)
    (corpus / "evil.txt").write_text(EVIL)
    a = fake_assistant_over(corpus, tmp_path / "index")
    a.index  # noqa: B018
    with live_app(a) as u:
        page = open_app(browser, u, DESKTOP)
        dialogs: list[str] = []
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        ask(page, "What does EvilNet propose for xss detection?")
        bot, card = page.locator(BOT).last, page.locator("#src-1-1")
        expect(bot).to_contain_text("<script>alert(1)</script>")
        expect(bot).to_contain_text("[click me](javascript:alert(1))")
        expect(card).to_contain_text("<img src=x onerror=alert(2)>")
        expect(card).to_contain_text("Evil <script>alert(0)</script> Digest")
        for where in ("#chat", "#sources"):
            assert page.locator(f"{where} a[href^='javascript' i]").count() == 0
            assert page.locator(f"{where} img[src='x']").count() == 0
            assert "alert(" not in " ".join(page.locator(f"{where} script").all_inner_texts())
        page.get_by_role("tab", name="Papers").click()
        page.locator("#p-query textarea, #p-query input").first.fill("evilnet")
        page.locator("#papers-table .virtual-row").first.get_by_role("gridcell").nth(1).click()
        expect(page.locator("#paper-card")).to_contain_text("<script>alert(1)</script>")
        page.wait_for_timeout(300)
        assert dialogs == []
        shot(page, "08_malicious_digest_1280.png")
        page.close()


def test_missing_index_offers_build_button(browser: Browser, tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    a = fake_assistant_over(corpus, tmp_path / "index", auto_build=False)
    with live_app(a) as u:
        page = browser.new_page(viewport=DESKTOP)
        page.goto(u)
        expect(page.locator("#status")).to_contain_text("index is missing", timeout=30_000)
        button = page.locator("#build-btn")
        expect(button).to_be_visible()
        button.click()  # the corpus is empty: a message, not a traceback
        expect(page.locator("#status")).to_contain_text("holds no digests", timeout=30_000)
        expect(page.locator("#status")).not_to_contain_text("Traceback")
        src = Path(__file__).resolve().parent.parent / "corpus"
        shutil.copy(sorted(src.glob("*.txt"))[0], corpus)
        button.click()
        expect(page.locator("#status")).to_contain_text("1 digests", timeout=30_000)
        expect(button).to_be_hidden()
        shot(page, "09_built_index_1280.png")
        page.close()
