"""The app in a real browser (Debian's Chromium through Playwright), over a small index built
with the hashing embedder: ask, read the cited cards (preview, back to the answer, the digest
file), copy and export answers and the papers list, removable filters, chats kept across
reloads, phone layout, dark colour scheme, axe-core accessibility checks, and a malicious
digest rendered as text. Screenshots go to tests/output/."""

from __future__ import annotations

import json
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import bibtexparser
import pytest
import rispy
from markdown_it import MarkdownIt

from tests.conftest import copy_corpus
from tests.test_app import OUTPUT, fake_assistant_over, live_app

CHROMIUM = Path("/usr/bin/chromium")
try:
    from playwright.sync_api import Browser, Page, expect, sync_playwright
except ImportError:  # pragma: no cover - depends on the machine
    sync_playwright = None  # type: ignore[assignment]
try:
    from axe_playwright_python.sync_playwright import Axe
except ImportError:  # pragma: no cover - depends on the machine
    Axe = None  # type: ignore[assignment,misc]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(sync_playwright is None, reason="the playwright package is not installed "
                       "(pip install 'digest-rag[test]')"),
    pytest.mark.skipif(not CHROMIUM.exists(), reason="no browser at /usr/bin/chromium "
                       "(apt-get install chromium); browsers are never downloaded"),
]
SIZES = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}
BOT = "#chat [data-testid='bot']"
USER = "#chat [data-testid='user']"
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


def shot(page: Page, name: str, full: bool = True) -> None:
    OUTPUT.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(OUTPUT / name), full_page=full)


def open_app(browser: Browser, url: str, size: str = "desktop", scheme: str = "light",
             width: int | None = None) -> Page:
    """A fresh page (its own storage) at ``size``; phones get touch and no hover."""
    phone = size == "phone"
    viewport = dict(SIZES[size], **({"width": width} if width else {}))
    ctx = browser.new_context(viewport=viewport, color_scheme=scheme, is_mobile=phone,
                              has_touch=phone, accept_downloads=True)
    ctx.grant_permissions(["clipboard-read", "clipboard-write"], origin=url.rstrip("/"))
    page = ctx.new_page()
    page.goto(url)
    expect(page.locator("#status")).to_contain_text("digests", timeout=30_000)
    return page


def close(page: Page) -> None:
    page.context.close()


def ask(page: Page, question: str) -> tuple[float, float]:
    """Ask and wait for the full answer; returns seconds from click to the first assistant
    text on screen and to the first answer sentence."""
    n = page.locator(BOT).count()
    page.locator("#question textarea").fill(question)
    t0 = time.perf_counter()
    page.locator("#ask-btn").click()
    page.locator(BOT).nth(n).wait_for(timeout=20_000)
    first = time.perf_counter() - t0
    expect(page.locator(BOT).nth(n)).to_contain_text(
        re.compile(r"From the digest|papers? in the digests|⚠|do not|What does|Searching for"),
        timeout=20_000)
    answer = time.perf_counter() - t0
    expect(page.locator(BOT).nth(n)).not_to_contain_text("Searching the digests")
    page.wait_for_timeout(600)  # let the stream finish
    return first, answer


def clipboard(page: Page) -> str:
    return page.evaluate("navigator.clipboard.readText()")


def download(page: Page, link: object) -> str:
    with page.expect_download() as dl:
        link.click()  # type: ignore[attr-defined]
    return Path(dl.value.path()).read_text(encoding="utf-8")


def contrast(fg: str, bg: str) -> float:
    """WCAG contrast ratio of two CSS rgb() colours."""
    def lum(css: str) -> float:
        r, g, b = (int(x) / 255 for x in re.findall(r"\d+", css)[:3])
        lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in (r, g, b)]
        return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]
    hi, lo = sorted((lum(fg), lum(bg)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def test_answer_citations_preview_back_copy_and_export(browser: Browser, url: str) -> None:
    page = open_app(browser, url)
    expect(page.get_by_text("Where is the code for ZACAF?")).to_be_visible()  # examples
    expect(page.locator("#filters-line")).to_contain_text("Filters: none")
    shot(page, "01_first_load_1280.png")

    first, answer = ask(page, "Where is the code for ZACAF?")
    bot = page.locator(BOT).last
    expect(bot).to_contain_text("ZACAF")
    cite = bot.locator('a[href$="#src-1-1"]').first
    expect(cite).to_have_text("[1]")
    style = cite.evaluate("a => [getComputedStyle(a).color, getComputedStyle(a).textDecoration,"
                          " getComputedStyle(a.parentElement).color]")
    assert style[0] != style[2] and "underline" in style[1], style  # looks like a link
    card = page.locator("#src-1-1")
    expect(card).to_contain_text("ZACAF")
    expect(card).to_contain_text("Authors (arXiv)")
    expect(card.locator("mark").first).to_be_visible()
    expect(card.locator('a[href="https://github.com/UCI-BME-ZACAF/ZACAF"]')).to_be_visible()
    # hover: a preview of the cited sentence and its paper
    cite.hover()
    tip = page.locator("#cite-preview")
    expect(tip).to_be_visible()
    expect(tip).to_contain_text(card.locator(".src-title").inner_text().split("] ", 1)[1][:30])
    expect(tip).to_contain_text(card.locator("mark").first.inner_text()[:40])
    shot(page, "02_cite_preview_1280.png", full=False)
    # click: the card; "Back to the answer": the [n] again
    cite.click()
    expect(card).to_have_class(re.compile("src-flash"))
    expect(card).to_be_in_viewport()
    card.locator(".src-back").click()
    expect(cite).to_be_in_viewport()
    assert page.evaluate("document.activeElement.getAttribute('href')").endswith("#src-1-1")
    # the card links to the digest (its post, else the app's copy of the file)
    href = card.locator("a.src-digest").get_attribute("href")
    assert href.startswith("digest/")
    resp = page.request.get(url + href)
    assert resp.ok and resp.headers["content-type"].startswith("text/plain")
    shot(page, "02_answer_1280.png")

    # Copy answer: clean markdown whose references all link somewhere real
    bot.locator('a[href$="#copy-1"]').click()
    expect(page.locator("#rag-live")).to_contain_text("Copied")
    md = clipboard(page)
    assert md == page.evaluate("window.ragLastCopy") and "(#src-" not in md
    html = MarkdownIt("commonmark").render(md)
    refs = re.findall(r"<li>(.*?)</li>", html.split("<strong>Sources</strong>")[1], re.S)
    assert len(refs) == page.locator("#sources .src-turn").first.locator(".src-card").count()
    for ref in refs:
        assert re.search(r'<a href="https?://[^"]+">', ref), ref
    assert 'href="https://github.com/UCI-BME-ZACAF/ZACAF"' in html
    # BibTeX and RIS of the cited papers
    lib = bibtexparser.parse_string(download(page, bot.locator('a[href$="#bib-1"]')))
    assert not lib.failed_blocks and lib.entries and "ZACAF" in lib.entries[0]["title"]
    assert lib.entries[0]["url"].startswith("https://")
    refs = rispy.loads(download(page, bot.locator('a[href$="#ris-1"]')))
    assert refs and "ZACAF" in refs[0]["title"]

    # follow-up: "its" is ZACAF; Copy conversation holds both questions and answers
    ask(page, "and where is its code?")
    expect(page.locator(BOT).last).to_contain_text("Searching for: Where is ZACAF")
    expect(page.locator(BOT).last).to_contain_text("github.com/UCI-BME-ZACAF/ZACAF")
    expect(page.locator("#src-2-1")).to_contain_text("ZACAF")
    page.locator("#copy-conv").click()
    conv = clipboard(page)
    assert conv.startswith("## Where is the code for ZACAF?") and \
        "## and where is its code?" in conv and conv.count("**Sources**") == 2
    close(page)

    OUTPUT.mkdir(parents=True, exist_ok=True)
    (OUTPUT / "ui_timing.json").write_text(json.dumps({
        "embedder": "hashing-256", "viewport": "1280x900",
        "click_to_first_assistant_text_seconds": round(first, 3),
        "click_to_first_answer_sentence_seconds": round(answer, 3)}, indent=2))


def test_filters_are_shown_and_removable(browser: Browser, url: str) -> None:
    page = open_app(browser, url)
    page.get_by_text("Filters (apply to the next question)").click()
    page.locator("#since textarea, #since input").first.fill("2026-05-01")
    page.locator("#has-code input").check()
    expect(page.locator("#chip-since")).to_have_text("since 2026-05-01 ×")
    expect(page.locator("#chip-has_code")).to_have_text("has code ×")
    ask(page, "Which papers use knowledge distillation?")
    latest = page.locator("#sources .src-turn").first
    dates = re.findall(r"Quoted from: .*?\((\d{4}-\d\d-\d\d)\)", latest.inner_text())
    assert dates and all(d >= "2026-05-01" for d in dates), dates
    shot(page, "03_filtered_1280.png")
    page.locator("#chip-since").click()  # × removes it, from the filter controls too
    expect(page.locator("#chip-since")).to_be_hidden()
    expect(page.locator("#since textarea, #since input").first).to_have_value("")
    page.locator("#chip-has_code").click()
    expect(page.locator("#has-code input")).not_to_be_checked()
    expect(page.locator("#filters-line")).to_contain_text("Filters: none")
    # dates read from the question are shown too, and removing them asks again without them
    ask(page, "Which papers on knowledge distillation were published in May 2026?")
    chip = page.locator("#chip-q_dates")
    expect(chip).to_contain_text("2026-05-01 to 2026-05-31")
    expect(chip).to_contain_text("May 2026")
    shot(page, "03b_question_dates_1280.png")
    n = page.locator(BOT).count()
    chip.click()
    expect(page.locator(BOT)).to_have_count(n + 1, timeout=20_000)
    expect(page.locator(BOT).last).to_contain_text("Searching for: Which papers on knowledge")
    expect(chip).to_be_hidden()
    close(page)


def test_chats_survive_a_reload(browser: Browser, url: str) -> None:
    page = open_app(browser, url)
    ask(page, "Where is the code for ZACAF?")
    page.reload()
    expect(page.locator(USER).first).to_have_text("Where is the code for ZACAF?",
                                                  timeout=30_000)
    expect(page.locator(BOT).first).to_contain_text("github.com/UCI-BME-ZACAF/ZACAF")
    expect(page.locator("#src-1-1")).to_contain_text("ZACAF")
    ask(page, "and where is its code?")  # the follow-up still knows what "its" is
    expect(page.locator(BOT).last).to_contain_text("Searching for: Where is ZACAF")
    shot(page, "10_restored_chat_1280.png")
    page.locator("#new-chat").click()
    expect(page.locator(USER)).to_have_count(0)
    expect(page.locator("#sources")).to_contain_text("Sources appear here")
    ask(page, "Did they release code?")  # nothing to refer to in a new chat
    expect(page.locator(BOT).last).to_contain_text("What does it refer to?")
    page.locator("#past-chats input").click()
    page.get_by_role("option", name=re.compile("Where is the code for ZACAF")).click()
    expect(page.locator(USER)).to_have_count(2)
    expect(page.locator("#src-2-1")).to_be_attached()
    page.locator("#chat button[aria-label='Clear'], #chat button[title='Clear']").first.click()
    expect(page.locator(USER)).to_have_count(0)
    expect(page.locator("#sources .src-card")).to_have_count(0)  # the trash clears sources
    page.reload()
    expect(page.locator("#status")).to_contain_text("digests", timeout=30_000)
    page.wait_for_timeout(500)
    assert page.locator(USER).count() == 0
    close(page)


def test_question_is_shown_as_plain_text(browser: Browser, url: str) -> None:
    page = open_app(browser, url)
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    q = "<img src=x onerror=alert(1)> <script>alert(2)</script> **What** is ZACAF?"
    ask(page, q)
    expect(page.locator(USER).last).to_have_text(q)
    assert page.locator("#chat img[src='x']").count() == 0
    assert not [r for r in requests if r.rstrip("/").endswith("/x")] and dialogs == []
    close(page)


def test_phone_layout(browser: Browser, url: str) -> None:
    page = open_app(browser, url, "phone")
    assert page.evaluate("matchMedia('(hover: none)').matches")
    shot(page, "05_first_load_390.png")
    ask(page, "Which papers adapt foundation models to head CT?")
    bot = page.locator(BOT).last
    expect(page.locator("#src-1-1")).to_be_attached()
    # no inner scrollbar, the answer's first line on screen, nothing wider than the phone
    inner = page.evaluate("""() => { const b = document.querySelector('#chat .bubble-wrap');
      return [b.scrollHeight, b.clientHeight, getComputedStyle(b).overflowY]; }""")
    assert inner[0] <= inner[1] + 1 or inner[2] == "visible", inner
    top = bot.evaluate("e => e.getBoundingClientRect().top")
    assert 0 <= top < SIZES["phone"]["height"] - 40, top
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= SIZES["phone"]["width"] + 1, f"page scrolls sideways ({width}px)"
    # the chat's icons never cover a message
    icons = page.locator("#chat .top-panel").bounding_box()
    for box in page.locator("#chat .message-row").evaluate_all(
            "rows => rows.map(r => r.getBoundingClientRect().toJSON())"):
        assert icons is None or box["y"] >= icons["y"] + icons["height"] - 1 or \
            box["y"] + box["height"] <= icons["y"], (icons, box)
    shot(page, "06_answer_390.png")
    # tap: the first tap previews the cited sentence, the second opens the card
    cite = bot.locator('a[href$="#src-1-1"]').first
    cite.tap()
    expect(page.locator("#cite-preview")).to_be_visible()
    expect(page.locator("#cite-preview")).to_contain_text("Tap again")
    shot(page, "06b_tap_preview_390.png", full=False)
    cite.tap()
    expect(page.locator("#src-1-1")).to_be_in_viewport()
    page.locator("#src-1-1 .src-back").tap()
    expect(cite).to_be_in_viewport()
    # the papers list: full width, no sideways scrolling, rows link to arXiv and code
    page.get_by_role("tab", name="Papers").tap()
    rows = page.locator("#papers-list .paper-row")
    expect(rows.first).to_be_visible()
    assert rows.first.bounding_box()["width"] >= 300
    assert page.evaluate("document.documentElement.scrollWidth") <= SIZES["phone"]["width"] + 1
    expect(page.locator("#papers-list .p-links a[href^='https://arxiv.org/abs/']").first) \
        .to_be_visible()
    expect(page.locator("#papers-list .p-links a[href^='https://github.com/']").first) \
        .to_be_attached()
    shot(page, "07_papers_390.png")
    close(page)


def test_papers_tab_full_width_filter_card_and_export(browser: Browser, url: str) -> None:
    page = open_app(browser, url, width=1440)
    page.get_by_role("tab", name="Papers").click()
    rows = page.locator("#papers-list .paper-row")
    expect(rows.first).to_be_visible()
    assert rows.count() >= 20
    full = page.locator(".gradio-container").bounding_box()["width"]
    assert page.locator("#papers-list").bounding_box()["width"] >= 0.9 * full - 40
    shot(page, "04_papers_1440.png")
    page.locator("#p-query textarea, #p-query input").first.fill("zacaf")
    expect(rows).to_have_count(1, timeout=10_000)
    links = rows.first.locator(".p-links")
    expect(links.locator("a[href='https://github.com/UCI-BME-ZACAF/ZACAF']")).to_be_visible()
    expect(links.locator("a[href^='https://arxiv.org/abs/']")).to_be_visible()
    rows.first.locator("summary").click()
    expect(rows.first.locator(".paper-card")).to_contain_text("Zebrafish")
    expect(rows.first.locator(".paper-card")).to_contain_text("Transfer Learning Unleashed")
    lib = bibtexparser.parse_string(download(page, page.locator("a[href='#papers-bib']")))
    assert len(lib.entries) == 1 and "ZACAF" in lib.entries[0]["title"]
    assert len(rispy.loads(download(page, page.locator("a[href='#papers-ris']")))) == 1
    page.locator("#p-query textarea, #p-query input").first.fill("")
    expect(rows.nth(5)).to_be_visible(timeout=10_000)
    page.set_viewport_size(SIZES["phone"])  # resized to a phone's width: no sideways scroll
    page.wait_for_timeout(300)
    assert page.evaluate("document.documentElement.scrollWidth") <= SIZES["phone"]["width"] + 1
    close(page)


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_cited_sentences_are_readable(browser: Browser, url: str, scheme: str) -> None:
    page = open_app(browser, url, scheme=scheme)
    assert page.evaluate("document.body.classList.contains('dark')") == (scheme == "dark")
    ask(page, "Where is the code for ZACAF?")
    mark = page.locator("#src-1-1 mark").first
    fg, bg = mark.evaluate("m => [getComputedStyle(m).color, getComputedStyle(m).backgroundColor]")
    assert contrast(fg, bg) >= 4.5, (scheme, fg, bg, contrast(fg, bg))
    shot(page, f"11_highlight_{scheme}_1280.png")
    close(page)


@pytest.mark.skipif(Axe is None, reason="axe-playwright-python is not installed "
                    "(pip install 'digest-rag[test]')")
@pytest.mark.parametrize("size", ["desktop", "phone"])
@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_accessibility_axe(browser: Browser, url: str, scheme: str, size: str) -> None:
    """axe-core finds no serious or critical violation on either tab."""
    page = open_app(browser, url, size, scheme)
    ask(page, "Where is the code for ZACAF?")
    found = {}
    for tab in ("Ask", "Papers"):
        if tab == "Papers":
            page.get_by_role("tab", name="Papers").click()
            page.locator("#papers-list .paper-row summary").first.click()
        result = Axe().run(page).response
        found[tab] = [(v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3])
                      for v in result["violations"] if v["impact"] in ("serious", "critical")]
        shot(page, f"axe_{tab.lower()}_{size}_{scheme}.png")
    assert found == {"Ask": [], "Papers": []}, found
    close(page)


def test_malicious_digest_renders_as_text(browser: Browser, tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    src = Path(__file__).resolve().parent.parent / "corpus"
    shutil.copy(sorted(src.glob("*.txt"))[0], corpus)
    (corpus / "evil.txt").write_text(EVIL)
    a = fake_assistant_over(corpus, tmp_path / "index")
    a.index  # noqa: B018
    with live_app(a) as u:
        page = open_app(browser, u)
        dialogs: list[str] = []
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        ask(page, "What does EvilNet propose for xss detection?")
        bot, card = page.locator(BOT).last, page.locator("#src-1-1")
        expect(bot).to_contain_text("<script>alert(1)</script>")
        expect(bot).to_contain_text("[click me](javascript:alert(1))")
        expect(card).to_contain_text("<img src=x onerror=alert(2)>")
        expect(card).to_contain_text("Evil <script>alert(0)</script> Digest")
        bot.locator('a[href$="#src-1-1"]').first.hover()
        expect(page.locator("#cite-preview")).to_contain_text("<script>alert(1)</script>")
        for where in ("#chat", "#sources", "#cite-preview"):
            assert page.locator(f"{where} a[href^='javascript' i]").count() == 0
            assert page.locator(f"{where} img[src='x']").count() == 0
            assert "alert(" not in " ".join(page.locator(f"{where} script").all_inner_texts())
        bot.locator('a[href$="#copy-1"]').click()
        html = MarkdownIt("commonmark").render(clipboard(page))
        assert "<script" not in html and "<img" not in html and "javascript:" not in \
            " ".join(re.findall(r'href="([^"]*)"', html))
        page.get_by_role("tab", name="Papers").click()
        page.locator("#p-query textarea, #p-query input").first.fill("evilnet")
        row = page.locator("#papers-list .paper-row").first
        row.locator("summary").click()
        expect(row).to_contain_text("<script>alert(1)</script>")
        assert page.locator("#papers-list a[href^='javascript' i]").count() == 0
        page.wait_for_timeout(300)
        assert dialogs == []
        shot(page, "08_malicious_digest_1280.png")
        close(page)


def test_missing_index_says_how_to_build_it(browser: Browser, tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    a = fake_assistant_over(corpus, tmp_path / "index", auto_build=False)
    with live_app(a) as u:
        page = browser.new_page(viewport=SIZES["desktop"])
        page.goto(u)
        expect(page.locator("#status")).to_contain_text("index is missing", timeout=30_000)
        expect(page.locator("#status")).to_contain_text("rag index")
        assert page.locator("#build-btn").count() == 0  # no button that builds from a page
        src = Path(__file__).resolve().parent.parent / "corpus"
        shutil.copy(sorted(src.glob("*.txt"))[0], corpus)
        fake_assistant_over(corpus, tmp_path / "index").build()  # what `rag index` does
        page.reload()
        expect(page.locator("#status")).to_contain_text("1 digests", timeout=30_000)
        ask(page, "Where is the code for Bayesgrid?")
        expect(page.locator(BOT).last).to_contain_text("github.com/HenriqueCaetano1/bayesgrid")
        shot(page, "09_built_index_1280.png")
        page.close()
