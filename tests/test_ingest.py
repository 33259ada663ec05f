"""Ingestion tests: the five seed digests, small digests written here in every supported format
(.txt .md .html .pdf), date forms, and bad input (missing/empty folders, empty, corrupt,
text-less, unreadable and non-UTF-8 files). Offline and fast: no model, no network.
"""

from __future__ import annotations

import datetime as dt
import os
import random
from pathlib import Path

import pytest
from pypdf import PdfWriter

from rag.corpus.ingest import load_corpus, parse_date, read_digest
from rag.errors import CorpusError
from rag.records import Link

CORPUS = Path(__file__).resolve().parents[1] / "corpus"
SEED = {  # stem prefix: (date, "Latest N papers", bullets kept as passages)
    "000": (dt.date(2026, 3, 7), 27, 7),
    "001": (dt.date(2026, 3, 28), 31, 10),
    "002": (dt.date(2026, 5, 30), 19, 17),
    "003": (dt.date(2026, 3, 14), 22, 13),
    "004": (dt.date(2026, 5, 9), 24, 9),
}
BIG, HOOD, IMPACT = ("The Big Idea(s) & Core Innovations",
                     "Under the Hood: Models, Datasets, & Benchmarks", "Impact & The Road Ahead")
FURNITURE = ["loading now", "share this content", "post comment", "mailbox@", "hi there",
             "get a roundup", "spread the love"]


def make_pdf(lines: list[str]) -> bytes:
    """A minimal one-page PDF whose text layer holds ``lines`` (one Tj per line)."""
    esc = [ln.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)") for ln in lines]
    stream = "\n".join(["BT /F1 11 Tf 14 TL 50 780 Td", *(f"({t}) Tj T*" for t in esc), "ET"])
    data = stream.encode("latin-1")
    objs = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
            b"/Resources << /Font << /F1 5 0 R >> >> >>",
            b"<< /Length %d >>\nstream\n" % len(data) + data + b"\nendstream",
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for i, obj in enumerate(objs, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + obj + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, xref)
    return bytes(out)


GOOD_TXT = ("Tiny Test Digest\nLatest 1 papers on testing: 2026-01-02\nThe Big Idea(s)\n"
            "Smith et al. show that tests catch bugs early and cheaply.\n")


@pytest.fixture(scope="module")
def seed():
    docs, warnings = load_corpus(CORPUS)
    return {d.digest.id[:3]: d for d in docs}, warnings


# ---------------------------------------------------------------- the seed digests


def test_seed_corpus_loads_all_five_without_warnings(seed):
    docs, warnings = seed
    assert sorted(docs) == sorted(SEED) and warnings == []


@pytest.mark.parametrize("key", sorted(SEED))
def test_seed_digest_metadata(seed, key):
    doc = seed[0][key]
    date, count, n_bullets = SEED[key]
    first_line = next(ln for ln in (CORPUS / Path(doc.digest.path).name).read_text(
        encoding="utf-8").splitlines() if ln.strip() and ln.strip() != "Loading Now")
    assert doc.digest.title == first_line.strip() and doc.digest.title.startswith("Transfer")
    assert doc.digest.topic == "transfer learning"
    assert doc.digest.date == date
    assert doc.digest.paper_count == count
    assert sum(p.kind == "bullet" for p in doc.passages) == n_bullets


@pytest.mark.parametrize("key", sorted(SEED))
def test_seed_digest_sections(seed, key):
    passages = seed[0][key].passages
    assert [p.index for p in passages] == list(range(len(passages)))
    tops = [p.section.split(" › ")[0] for p in passages]
    assert list(dict.fromkeys(tops)) == ["", BIG, HOOD, IMPACT]  # intro first, in this order
    for p in passages:
        top = p.section.split(" › ")[0]
        if top in ("", BIG, IMPACT):
            assert p.kind == "paragraph", p.text[:60]
        assert p.text not in (BIG, HOOD, IMPACT)  # headings are not passages
    assert sum(p.kind == "paragraph" for p in passages if p.section == HOOD) == 1  # its intro


@pytest.mark.parametrize("key", sorted(SEED))
def test_seed_furniture_and_repeated_headline_dropped(seed, key):
    doc = seed[0][key]
    raw = Path(doc.digest.path).read_text(encoding="utf-8")
    if key == "004":  # the file has all the furniture ...
        assert all(f in raw.lower() for f in FURNITURE)
    if key == "001":  # ... and 001 repeats its headline
        assert raw.count(doc.digest.title) == 2
    for p in doc.passages:  # ... the passages have none of it
        assert not any(p.text.lower().startswith(f) for f in FURNITURE), p.text[:60]
        assert p.text != doc.digest.title


def test_furniture_between_paragraphs_is_dropped(tmp_path):
    body = [f"Paragraph {i} says something long enough to be a real passage of text." for i in
            range(5)]
    lines = ["Furniture Digest", "Latest 1 papers on chrome: 2026-03-07", "The Big Idea(s)",
             body[0], "Share this content:", body[1], "Spread the love", body[2], "Hi there 👋",
             body[3], "Get a roundup of the latest AI paper digests in a quick, clean weekly "
             "email.", "Post Comment", "Loading Now", "mailbox@3x Furniture Digest", body[4]]
    (tmp_path / "f.txt").write_text("\n\n".join(lines), encoding="utf-8")
    (doc,), _ = load_corpus(tmp_path)
    assert [(p.section, p.text) for p in doc.passages] == [("The Big Idea(s)", b) for b in body]


def test_seed_groups_and_labels(seed):
    docs = seed[0]
    hood4 = [p for p in docs["004"].passages if p.kind == "bullet"]
    assert {p.section.split(" › ")[1] for p in hood4} == {
        "Scientific Machine Learning", "Reinforcement Learning", "Efficient Transfer Learning"}
    code = [p for p in hood4 if p.label == "Code"]
    assert [p.text for p in code] == ["Code: https://github.com/ryqherry/Cheby-PINNs.",
                                      "Code: https://github.com/Zhang-VKk/MP-ISMoE.git."]
    molre = docs["000"].passages[6]
    assert molre.kind == "bullet" and molre.label == "MoLRE Framework for Medical Imaging"


# ---------------------------------------------------------------- every format, written here


def test_markdown_digest(tmp_path):
    (tmp_path / "md1.md").write_text(
        "# Graphs Everywhere: A Test Digest\n\nLatest 3 papers on graph learning: March 7, 2026\n\n"
        "## The Big Idea(s) & Core Innovations\n\n"
        "In [Graph Things for Everyone](https://arxiv.org/abs/2603.00675), **Smith et al.** "
        "show that graphs help.\n\n## Under the Hood: Models\n\n"
        "- **GraphNet**: a model with [code](https://github.com/x/graphnet).\n"
        "  - nested detail about GraphNet training.\n\n## Impact & The Road Ahead\n\n"
        "Graphs will matter.\n\nShare this content:\n", encoding="utf-8")
    docs, warnings = load_corpus(tmp_path)
    (doc,) = docs
    assert warnings == []
    assert doc.digest.title == "Graphs Everywhere: A Test Digest"
    assert (doc.digest.topic, doc.digest.date, doc.digest.paper_count) == (
        "graph learning", dt.date(2026, 3, 7), 3)
    p0, b1, b2, p3 = doc.passages
    assert p0.text == "In Graph Things for Everyone, Smith et al. show that graphs help."
    assert p0.links == (Link("Graph Things for Everyone", "https://arxiv.org/abs/2603.00675"),)
    assert p0.section == "The Big Idea(s) & Core Innovations" and p0.kind == "paragraph"
    assert (b1.kind, b1.label, b1.depth, b1.section) == ("bullet", "GraphNet", 0,
                                                         "Under the Hood: Models")
    assert b1.text == "GraphNet: a model with code."
    assert b1.links == (Link("code", "https://github.com/x/graphnet"),)
    assert (b2.kind, b2.depth) == ("bullet", 1)
    assert (p3.section, p3.text) == ("Impact & The Road Ahead", "Graphs will matter.")


HTML = """<!doctype html><html><head><title>Site | Graphs</title>
<script>var tracking = "Share this content:";</script><style>p {color: red}</style></head>
<body><nav><ul><li><a href="/">Home</a></li><li>About the blog.</li></ul></nav>
<h1>Graphs Everywhere: An HTML Digest</h1>
<p>Latest 2 papers on graph learning: 2026-03-07</p>
<h2>The Big Idea(s) &amp; Core Innovations</h2>
<p>Yoo et al. from MIT, in
 <a href="https://arxiv.org/abs/2603.00675">Specializing Foundation Models via Mixture of Low-Rank
 Experts for Comprehensive Head CT Analysis</a>, show that experts help.</p>
<h2>Under the Hood: Models, Datasets, &amp; Benchmarks</h2>
<ul><li><strong>GraphNet</strong>: a model. <a href="https://github.com/x/graphnet">Code</a>
  <ul><li>Trained on ten graphs.</li></ul></li></ul>
<p>Share this content:</p><p>Post Comment</p>
<div class="newsletter"><p>mailbox@3x Graphs Everywhere: An HTML Digest</p><p>Hi there 👋</p>
<p>Get a roundup of the latest AI paper digests in a quick, clean weekly email.</p></div>
<p>Spread the love</p>
<footer><p>Copyright 2026, all rights reserved.</p></footer></body></html>"""


def test_html_digest(tmp_path):
    (tmp_path / "h1.html").write_text(HTML, encoding="utf-8")
    (doc,), warnings = load_corpus(tmp_path)
    assert warnings == []
    assert doc.digest.title == "Graphs Everywhere: An HTML Digest"
    assert (doc.digest.date, doc.digest.paper_count) == (dt.date(2026, 3, 7), 2)
    texts = [p.text for p in doc.passages]
    para, li, sub = doc.passages  # one paragraph, one bullet, one nested bullet
    assert para.text == ("Yoo et al. from MIT, in Specializing Foundation Models via Mixture of "
                         "Low-Rank Experts for Comprehensive Head CT Analysis, show that experts "
                         "help.")
    assert para.links == (Link("Specializing Foundation Models via Mixture of Low-Rank Experts "
                               "for Comprehensive Head CT Analysis",
                               "https://arxiv.org/abs/2603.00675"),)
    assert (li.kind, li.label, li.depth, li.text) == ("bullet", "GraphNet", 0,
                                                      "GraphNet: a model. Code")
    assert li.links == (Link("Code", "https://github.com/x/graphnet"),)
    assert (sub.kind, sub.depth, sub.text) == ("bullet", 1, "Trained on ten graphs.")
    joined = " ".join(texts).lower()
    for gone in ("tracking", "home", "about the blog", "copyright", "color", *FURNITURE):
        assert gone not in joined


def test_html_title_tag_used_when_no_h1(tmp_path):
    (tmp_path / "t.html").write_text("<title>Only A Title Tag</title><p>Body text here.</p>")
    (doc,), _ = load_corpus(tmp_path)
    assert (doc.digest.title, doc.passages[0].text) == ("Only A Title Tag", "Body text here.")


def test_pdf_digest_with_text_layer(tmp_path):
    (tmp_path / "p1.pdf").write_bytes(make_pdf([
        "A PDF Test Digest", "Latest 2 papers on graph learning: Mar. 7, 2026",
        "The Big Idea(s) & Core Innovations",
        "Smith et al. from MIT, in their paper Graph Things for Everyone, show that",
        "graphs are useful in practice.", "- GraphNet: a model for graphs."]))
    (doc,), warnings = load_corpus(tmp_path)
    assert warnings == []
    assert (doc.digest.title, doc.digest.date, doc.digest.paper_count) == (
        "A PDF Test Digest", dt.date(2026, 3, 7), 2)
    para, bullet = doc.passages
    assert para.text == ("Smith et al. from MIT, in their paper Graph Things for Everyone, show "
                         "that graphs are useful in practice.")
    assert para.section == "The Big Idea(s) & Core Innovations"
    assert (bullet.kind, bullet.label) == ("bullet", "GraphNet")


def test_hard_wrapped_text_is_rejoined(tmp_path):
    (tmp_path / "w.txt").write_text(
        "Wrapped Digest Title\nLatest 4 papers on wrapping: 7 March 2026\n\n"
        "The Big Idea(s) & Core Innovations\n\n"
        "Transfer learning keeps growing, and this paragraph\nwas hard-wrapped at a fixed\n"
        "width by an old editor.\n\nA second paragraph follows\nafter a blank line.\n",
        encoding="utf-8")
    (doc,), _ = load_corpus(tmp_path)
    assert doc.digest.date == dt.date(2026, 3, 7)
    assert [p.text for p in doc.passages] == [
        "Transfer learning keeps growing, and this paragraph was hard-wrapped at a fixed width "
        "by an old editor.", "A second paragraph follows after a blank line."]


@pytest.mark.parametrize("text", ["Mar. 7, 2026", "March 7, 2026", "2026-03-07", "7 March 2026",
                                  "Mar 7 2026", "Smarch 7, 2026", "2026-02-30", "no date"])
def test_date_forms(tmp_path, text):
    want = None if text in ("Smarch 7, 2026", "2026-02-30", "no date") else dt.date(2026, 3, 7)
    assert parse_date(text) == want
    (tmp_path / "d.txt").write_text(f"Title Here\nLatest 5 papers on dates: {text}\n"
                                    "Some body text that is a paragraph.\n", encoding="utf-8")
    doc, _ = read_digest(tmp_path / "d.txt")
    assert (doc.digest.date, doc.digest.paper_count, doc.digest.topic) == (want, 5, "dates")


@pytest.mark.parametrize("line", ["12 June 2026 \u2014 Latest 9 papers on sensor fusion",
                                  "2026-06-12 | Latest 9 papers on sensor fusion",
                                  "12th June, 2026 - Latest 9 papers on sensor fusion."])
def test_dateline_before_the_latest_line_under_the_headline(tmp_path, line):
    """A headline followed by a line that opens with its date: the date line is not read as
    the headline's wrapped end, and the date, count and topic come from it."""
    (tmp_path / "d.txt").write_text(f"Notes From The Lab\n{line}\n\n"
                                    "Body text of the week, a plain paragraph.\n", encoding="utf-8")
    doc, _ = read_digest(tmp_path / "d.txt")
    assert doc.digest.title == "Notes From The Lab"
    assert (doc.digest.date, doc.digest.paper_count, doc.digest.topic) == \
        (dt.date(2026, 6, 12), 9, "sensor fusion")
    assert [p.text for p in doc.passages] == ["Body text of the week, a plain paragraph."]


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize("missing", [True, False])
def test_missing_or_empty_folder(tmp_path, missing):
    (tmp_path / "notes.docx").write_bytes(b"not a digest format")  # not a supported format
    folder = tmp_path / "nope" if missing else tmp_path
    with pytest.raises(CorpusError) as err:
        load_corpus(folder)
    assert str(folder) in str(err.value) and "Fix:" in str(err.value)
    assert ("create it" if missing else "add .txt") in err.value.fix


def test_bad_files_are_skipped_with_warnings(tmp_path):
    (tmp_path / "good.txt").write_text(GOOD_TXT, encoding="utf-8")
    (tmp_path / "blank.txt").write_bytes(b"  \n")
    (tmp_path / "corrupt.pdf").write_bytes(random.Random(7).randbytes(300))
    blank = PdfWriter()
    blank.add_blank_page(width=200, height=200)
    with open(tmp_path / "scan.pdf", "wb") as fh:
        blank.write(fh)
    docs, warnings = load_corpus(tmp_path)
    assert [d.digest.id for d in docs] == ["good"]
    assert docs[0].digest.title == "Tiny Test Digest"
    for name, why in [("blank.txt", "is empty"), ("corrupt.pdf", "PDF"),
                      ("scan.pdf", "text layer")]:
        hit = [w for w in warnings if name in w]
        assert len(hit) == 1 and why in hit[0] and "Fix:" in hit[0], warnings
    assert len(warnings) == 3


def test_nothing_readable_is_a_corpus_error(tmp_path):
    (tmp_path / "empty.md").write_text("", encoding="utf-8")
    with pytest.raises(CorpusError) as err:
        load_corpus(tmp_path)
    assert "empty.md" in str(err.value) and str(tmp_path) in str(err.value)


@pytest.mark.parametrize("how", ["chmod", "oserror"])
def test_unreadable_file_is_skipped(tmp_path, monkeypatch, how):
    (tmp_path / "good.txt").write_text(GOOD_TXT, encoding="utf-8")
    locked = tmp_path / "locked.txt"
    locked.write_text(GOOD_TXT, encoding="utf-8")
    if how == "chmod":
        locked.chmod(0)
        if os.access(locked, os.R_OK):
            locked.chmod(0o644)
            pytest.skip("running as root: chmod 000 does not make the file unreadable")
    else:  # the same failure, forced so that it is also checked when running as root
        real = Path.read_bytes

        def read_bytes(self):
            if self == locked:
                raise PermissionError(13, "Permission denied", str(self))
            return real(self)
        monkeypatch.setattr(Path, "read_bytes", read_bytes)
    try:
        docs, warnings = load_corpus(tmp_path)
    finally:
        locked.chmod(0o644)
    assert [d.digest.id for d in docs] == ["good"]
    (warning,) = warnings
    assert "locked.txt" in warning and "permission denied" in warning.lower()
    assert "Fix:" in warning


def test_non_utf8_text_is_decoded_with_a_warning(tmp_path):
    (tmp_path / "good.txt").write_text(GOOD_TXT, encoding="utf-8")
    (tmp_path / "legacy.txt").write_bytes(
        b"Caf\xe9 Digest\nLatest 1 papers on caf\xe9s: 2026-03-07\n"
        b"The \x93caf\xe9\x94 paper shows na\xefve baselines are strong.\n")
    docs, warnings = load_corpus(tmp_path)
    legacy = next(d for d in docs if d.digest.id == "legacy")
    assert len(docs) == 2
    assert legacy.digest.title == "Café Digest" and legacy.digest.topic == "cafés"
    assert legacy.passages[0].text == "The “café” paper shows naïve baselines are strong."
    (warning,) = warnings
    assert "legacy.txt" in warning and "UTF-8" in warning


def test_utf8_bom_and_same_stem_files(tmp_path):
    (tmp_path / "x.txt").write_bytes("\ufeff".encode() + GOOD_TXT.encode())
    (tmp_path / "x.md").write_text(GOOD_TXT, encoding="utf-8")
    docs, warnings = load_corpus(tmp_path)  # both kept, told apart, BOM gone from the title
    assert warnings == [] and [d.digest.title for d in docs] == ["Tiny Test Digest"] * 2
    assert len({d.digest.id for d in docs}) == 2


def test_blog_dates_bylines_and_addresses_are_read(tmp_path: Path) -> None:
    """Posts from other publishers: a nav bar before the headline, the date in an italic byline,
    an HTML <time> or a "Posted on" line, the post's address from a canonical link or a
    "Source:" line. Bylines are metadata, not passages."""
    md = tmp_path / "a.md"
    md.write_text("[Home](https://x.example/) · [Topics](https://x.example/t) · [Join](https://x."
                  "example/j)\n\n# Sparse Experts, Dense Results\n\n*Published 9 May 2026 · The "
                  "Gradient Gazette · 6 min read*\n\nThree routing papers this week, all about "
                  "load balance.\n\nSource: https://gazette.example/2026/05/09/experts\n",
                  encoding="utf-8")
    doc, _ = read_digest(md)
    assert doc.digest.title == "Sparse Experts, Dense Results"
    assert doc.digest.date == dt.date(2026, 5, 9)
    assert doc.digest.url == "https://gazette.example/2026/05/09/experts"
    assert [p.text for p in doc.passages] == [
        "Three routing papers this week, all about load balance."]
    html = tmp_path / "b.html"
    html.write_text(
        '<html><head><title>Graph Week | Some Blog</title><link rel="canonical" '
        'href="https://blog.example/graph-week/"></head><body><nav><a href="/">Home</a></nav>'
        '<h1>Graph Week</h1><div class="entry-meta">Posted on April 2, 2026 by the editors</div>'
        "<p>Message passing had a busy week, with four papers on oversmoothing.</p></body></html>",
        encoding="utf-8")
    doc, _ = read_digest(html)
    assert (doc.digest.title, doc.digest.date, doc.digest.url) == (
        "Graph Week", dt.date(2026, 4, 2), "https://blog.example/graph-week/")
    timed = tmp_path / "c.html"
    timed.write_text('<h1>Diffusion Notes</h1><p>By <time datetime="2026-01-31">Jan 31</time></p>'
                     "<p>Samplers keep getting faster; here are the ones worth reading.</p>",
                     encoding="utf-8")
    assert read_digest(timed)[0].digest.date == dt.date(2026, 1, 31)
    assert parse_date("Issue 12, 2026, out on March 3, 2026") == dt.date(2026, 3, 3)


def test_a_wrapped_markdown_bullet_stays_one_passage(tmp_path: Path) -> None:
    md = tmp_path / "w.md"
    md.write_text("# Week\n\n- **Routing:** two papers this week; see\n  [Sparse Routers at Scale]"
                  "(https://arxiv.org/abs/2605.00001) and\n  *a follow-up* on load balance.\n"
                  "- **Other:** nothing else.\n", encoding="utf-8")
    doc, _ = read_digest(md)
    assert len(doc.passages) == 2 and "Sparse Routers at Scale" in doc.passages[0].text
    assert doc.passages[0].links[0].url == "https://arxiv.org/abs/2605.00001"
