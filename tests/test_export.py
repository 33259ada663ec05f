"""What leaves the app: the link parser, BibTeX and RIS exports (parsed back with bibtexparser
and rispy), the copied markdown rendered with markdown-it (every reference has a working link),
the API's JSON over a hostile corpus (no raw HTML, only http(s) links, plain-text fields,
validated URLs), and the CLI's --format / --bibtex options."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import bibtexparser
import pytest
import rispy
from markdown_it import MarkdownIt

from rag import Answer, Assistant
from rag.cli import main
from rag.output.export import authors, bibtex, cited_papers, ris
from rag.output.portable import answer_dict, answer_markdown, md_text, plain, turn_markdown
from rag.records import Citation, Digest, Item, Paper, Quote
from rag.urls import clean_url, find_urls, url_spans
from tests.test_app import fake_assistant_over
from ui.render import answer_stream

ROOT = Path(__file__).resolve().parent.parent
HOSTILE_HTML = """<html><head><title>Evil Weekly</title>
<link rel="canonical" href="javascript:alert(9)"></head><body>
<h1>Evil <script>alert(0)</script> Weekly</h1>
<p>Latest 2 papers on transfer learning: Jun. 1, 2026</p>
<h2>The Big Idea</h2>
<p>The EvilNet framework, introduced by Mallory et al. from Evil University in their paper
EvilNet: Scripting &lt;script&gt;alert(1)&lt;/script&gt; for Transfer Learning, proposes
[click me](javascript:alert(1)) and &lt;img src=x onerror=alert(2)&gt; for xss detection. The
code for EvilNet is at <a href='https://github.com/evil/evilnet"onmouseover="alert(3)'>its
repository</a> and at https://github.com/evil/evilnet2"onmouseover="alert(4).</p>
</body></html>
"""
RENDER = MarkdownIt("commonmark")  # html=True: raw HTML would pass through, so escaping counts


# ---------------------------------------------------------------------- the link parser
@pytest.mark.parametrize("text, urls", [
    ("(code: https://github.com/FM-RC-TUM/BuilDyn) built", ["https://github.com/FM-RC-TUM/BuilDyn"]),
    ("at https://www.kaggle.com/datasets/emadeldeenhamdan/wildfire).",
     ["https://www.kaggle.com/datasets/emadeldeenhamdan/wildfire"]),
    ("see https://x.org/a.", ["https://x.org/a"]),
    ("https://x.org/a, https://y.org/b; and https://z.org/c!", ["https://x.org/a",
                                                              "https://y.org/b", "https://z.org/c"]),
    ("(https://en.wikipedia.org/wiki/A_(b)).", ["https://en.wikipedia.org/wiki/A_(b)"]),
    ("“https://x.org/q?a=1&b=2”", ["https://x.org/q?a=1&b=2"]),
    ('x https://github.com/x/y"onmouseover=alert(1)', ["https://github.com/x/y"]),
    ("[repo](https://a.b/c) and <https://d.e/f>", ["https://a.b/c", "https://d.e/f"]),
    ("no link: https:// or ftp://x.org or javascript:alert(1)", []),
])
def test_url_spans_leave_punctuation_and_parentheses_outside(text: str, urls: list[str]) -> None:
    spans = url_spans(text)
    assert [u for _, _, u in spans] == urls
    assert all(text[a:b] == u for a, b, u in spans)
    assert [u for _, u, _ in find_urls(text)] == urls  # the extractor uses the same parser


def test_clean_url_keeps_only_plain_http_links() -> None:
    assert clean_url("https://github.com/x/y") == "https://github.com/x/y"
    for bad in ("javascript:alert(1)", 'https://x.org/"onmouseover=alert(1)', "https://x.org/a b",
                "data:text/html,<b>", "https://", "http://<x>/", "", None):
        assert clean_url(bad) is None, bad


def test_chat_markdown_links_a_url_followed_by_a_parenthesis() -> None:
    d = Digest("d", "D", None, None, "d.txt", "0")
    text = "An open-source package (code: https://github.com/FM-RC-TUM/BuilDyn) built on X."
    p = Paper("p", "BuilDyn: Data", short_name="BuilDyn")
    ans = Answer("q", "From the digest:", (Item(p, p.title, (Quote(text, 1),)),),
                 (Citation(1, p, text, d, (text,)),))
    *_, msg = answer_stream(ans, 1)
    hrefs = re.findall(r'href="([^"]+)"', RENDER.render(msg))
    assert "https://github.com/FM-RC-TUM/BuilDyn" in hrefs
    assert not any(h.endswith(("%5C", "\\", ")")) for h in hrefs), hrefs


# ---------------------------------------------------------------------- BibTeX and RIS
def test_bibtex_and_ris_of_an_answers_papers(seed_fake: Assistant) -> None:
    ans = seed_fake.ask("Which papers adapt foundation models to head CT?")
    papers = cited_papers(ans)
    assert papers and [p.id for p in papers] == list(dict.fromkeys(
        c.paper.id for c in ans.citations if c.paper))
    digests = seed_fake.index.digests
    lib = bibtexparser.parse_string(bibtex(papers, digests))
    assert not lib.failed_blocks and len(lib.entries) == len(papers)
    molre = next(e for e in lib.entries if "MoLRE" in e["title"] or "Low-Rank" in e["title"])
    assert molre["eprint"] == "2603.00675" and molre["archiveprefix"] == "arXiv"
    assert molre["url"] == "https://arxiv.org/abs/2603.00675"
    assert molre["doi"] == "10.48550/arXiv.2603.00675" and molre["year"] == "2026"
    assert " and " in molre["author"] or molre["author"]
    refs = rispy.loads(ris(papers, digests))
    assert len(refs) == len(papers)
    r = next(x for x in refs if x.get("accession_number") == "arXiv:2603.00675")
    assert r["type_of_reference"] == "UNPB" and r["id"] == molre.key
    assert "https://arxiv.org/abs/2603.00675" in r["urls"] and r["doi"].endswith("2603.00675")


def test_bibtex_of_every_paper_escapes_latex_and_keeps_urls(seed_fake: Assistant) -> None:
    papers = seed_fake.papers()
    lib = bibtexparser.parse_string(bibtex(papers, seed_fake.index.digests))
    assert not lib.failed_blocks and len(lib.entries) == len(papers)
    assert len({e.key for e in lib.entries}) == len(papers)  # keys are unique
    for e in lib.entries:
        if "url" in e.fields_dict:
            assert clean_url(e["url"]) == e["url"]
    odd = Paper("x", "Data & {Stuff}: 50% of café_x", authors=("Yoo et al.",),
                code_urls=("https://github.com/a/b_c", "javascript:alert(1)"))
    text = bibtex([odd])
    assert r"Data \& \{Stuff\}: 50\% of caf" in text and "url = {https://github.com/a/b_c}" in text
    assert "javascript" not in text and "author = {Yoo and others}" in text
    assert authors(odd) == ["Yoo", "others"]
    assert rispy.loads(ris([odd]))[0]["urls"] == ["https://github.com/a/b_c"]


# ---------------------------------------------------------------------- copied markdown
def references(html: str) -> list[str]:
    """The <li> of the rendered 'Sources' list."""
    tail = html.split("<strong>Sources</strong>", 1)[1]
    return re.findall(r"<li>(.*?)</li>", tail, re.S)


@pytest.mark.parametrize("question", [
    "Where is the code for BuilDyn?", "Which papers adapt foundation models to head CT?",
    "Which works deal with EEG signals?", "Who wrote the load disaggregation paper?"])
def test_copied_markdown_renders_every_reference_with_a_link(seed_fake: Assistant,
                                                             question: str) -> None:
    ans = seed_fake.ask(question)
    md = answer_markdown(ans, "http://127.0.0.1:7860/")
    html = RENDER.render(md)
    refs = references(html)
    assert len(refs) == len(ans.citations) > 0
    for ref, c in zip(refs, ans.citations):
        hrefs = re.findall(r'<a href="([^"]+)"', ref)
        assert hrefs and all(h.startswith(("https://", "http://")) for h in hrefs), ref
        if c.paper and c.paper.arxiv_id:
            assert f"https://arxiv.org/abs/{c.paper.arxiv_id}" in hrefs
        assert c.digest.title.split(":")[0] in ref  # the digest and its date
        assert (c.digest.date.isoformat() if c.digest.date else "undated") in ref
    body = html.split("<strong>Sources</strong>")[0]
    cited = re.findall(r'<a href="([^"]+)">\[(\d+)\]</a>', body)
    assert cited and {int(n) for _, n in cited} <= {c.n for c in ans.citations}
    assert "\\[" not in re.sub(r"<[^>]+>", "", html)  # no escape left over once rendered
    section = RENDER.render(turn_markdown("Where is <b>it</b>?", md))
    assert section.startswith("<h2>Where is &lt;b&gt;it&lt;/b&gt;?</h2>")


def test_item_names_the_title_once(seed_fake: Assistant) -> None:
    ans = seed_fake.ask("Where is the code for BuilDyn?")
    line = next(x for x in answer_markdown(ans).splitlines() if x.startswith("- "))
    assert line.count("Excitation-Driven Data Generation") == 1, line


# ---------------------------------------------------------------------- API, hostile corpus
@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Assistant:
    tmp = tmp_path_factory.mktemp("hostile")
    corpus = tmp / "corpus"
    corpus.mkdir()
    shutil.copy(sorted((ROOT / "corpus").glob("*.txt"))[0], corpus)
    (corpus / "evil.html").write_text(HOSTILE_HTML)
    a = fake_assistant_over(corpus, tmp / "index")
    a.index  # noqa: B018
    return a


def assert_trustworthy(res: dict) -> None:
    """No raw HTML, only http(s) links (none carrying an attribute), plain-text fields."""
    html = MarkdownIt("commonmark").render(res["answer"])
    assert "<script" not in html and "<img" not in html
    for href in re.findall(r'href="([^"]*)"', html):
        assert href.startswith(("https://", "http://")) and "onmouseover" not in href, href
        assert clean_url(href.replace("&amp;", "&")) is not None, href
    for c in res["citations"]:
        for key in ("title", "passage", "digest"):
            assert "<" not in (c[key] or "") and "javascript:" not in (c[key] or ""), c[key]
        assert all(clean_url(u) == u for u in c["code_urls"] + [c["url"]])
        assert c["digest_url"] is None or clean_url(c["digest_url"]) == c["digest_url"]
    for i in res["items"]:
        assert all(clean_url(u) == u for u in i["code_urls"])
    assert "onmouseover" not in json.dumps([c["code_urls"] for c in res["citations"]])


def test_api_answer_is_safe_over_a_hostile_corpus(hostile: Assistant) -> None:
    import app

    h = app.AssistantApp(hostile, stream_delay=0)
    for q in ("Where is the code for EvilNet?", "What does EvilNet propose for xss detection?"):
        res = h.ask(q)
        assert not res["abstained"] and any("EvilNet" in (c["title"] or "")
                                            for c in res["citations"])
        assert_trustworthy(res)
        assert "\\<script\\>" in res["answer"]  # the digest's text is kept, as text
    res = answer_dict(hostile.ask("Where is the code for EvilNet?"))
    codes = {u for c in res["citations"] for u in c["code_urls"]}
    assert codes == {"https://github.com/evil/evilnet2"}  # the scripted URL is dropped
    assert plain("a <img src=x onerror=alert(2)> b [x](javascript:alert(1)) c < d") == \
        "a  b x c < d"
    assert md_text("x <script>alert(1)</script> _y_ # z") == \
        "x \\<script\\>alert(1)\\</script\\> \\_y\\_ # z"


def test_live_api_over_a_hostile_corpus(hostile: Assistant) -> None:
    from gradio_client import Client

    from tests.test_app import live_app

    with live_app(hostile) as url:
        client = Client(url, verbose=False)
        res = client.predict("Where is the code for EvilNet?", api_name="/ask")
        papers_bib = client.predict("evilnet", api_name="/papers")
        papers_ris = client.predict("", "", False, "ris", api_name="/papers")
        with pytest.raises(Exception, match="No export format 'csv'"):
            client.predict("", format="csv", api_name="/papers")
    assert_trustworthy(res)
    lib = bibtexparser.parse_string(res["bibtex"])  # the cited papers, from the API
    assert [e["title"] for e in lib.entries] == ["EvilNet: Scripting alert(1) for Transfer "
                                                 "Learning"]
    assert "javascript" not in res["bibtex"] and "onmouseover" not in res["bibtex"]
    assert lib.entries[0]["url"] == "https://github.com/evil/evilnet2"
    assert rispy.loads(res["ris"])[0]["urls"] == ["https://github.com/evil/evilnet2"]
    assert len(bibtexparser.parse_string(papers_bib).entries) == 1
    assert len(rispy.loads(papers_ris)) == len(hostile.papers())
    evil = next(c for c in res["citations"] if "EvilNet" in c["title"])
    assert evil["digest_url"].startswith(url) and evil["digest_url"].endswith("/digest/evil")


# ---------------------------------------------------------------------- the CLI
def test_cli_formats(seed_fake: Assistant, capsys: pytest.CaptureFixture[str]) -> None:
    env = ["--corpus", str(seed_fake.settings.corpus_dir),
           "--index", str(seed_fake.settings.index_dir)]
    q = "Where is the code for ZACAF?"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RAG_MODEL", "hashing-256")
        assert main([*env, "ask", q, "--format", "markdown"]) == 0
        md = capsys.readouterr().out
        assert "**Sources**" in md and "](https://" in md
        assert main([*env, "ask", q, "--format", "bibtex"]) == 0
        lib = bibtexparser.parse_string(capsys.readouterr().out)
        assert lib.entries and "ZACAF" in lib.entries[0]["title"] + lib.entries[0].key.upper()
        assert main([*env, "ask", q, "--format", "ris"]) == 0
        assert rispy.loads(capsys.readouterr().out)
        assert main([*env, "ask", q, "--format", "json"]) == 0
        as_json = json.loads(capsys.readouterr().out)
        assert main([*env, "ask", q, "--json"]) == 0  # the old flag still works
        assert json.loads(capsys.readouterr().out)["text"] == as_json["text"]
        assert main([*env, "papers", "--bibtex"]) == 0
        lib = bibtexparser.parse_string(capsys.readouterr().out)
        assert len(lib.entries) == len(seed_fake.papers())
        assert main([*env, "papers", "--ris"]) == 0
        assert len(rispy.loads(capsys.readouterr().out)) == len(seed_fake.papers())
