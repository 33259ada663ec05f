"""Fuzz inputs: Hypothesis strategies for the files every reader of the corpus reads.

For each reader (plain-text, Markdown, HTML and PDF digests; paper PDFs, JSONL and BibTeX
abstract files; arXiv metadata JSONL): digest-like lines built from the tokens the parsers
look for, long repetitions of them (the inputs that make a backtracking parser quadratic),
element trees closed or not, random bytes, byte-level mutations of real digests and of a PDF,
and JSON nested deeply or typed wrongly. :data:`READERS` maps a reader to its file name, parser
function, folder kind and strategy; :func:`job` builds the parser call as the loaders make it.
Used by ``tests/test_fuzz.py`` and ``python -m eval.robustness``.
"""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import strategies as st

from rag.corpus.ingest import parse_digest
from rag.corpus.paper_texts import parse_paper_file
from rag.corpus.safe_read import Limits
from rag.extract.metadata import parse_metadata_file
from tests.test_ingest import make_pdf

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "corpus"

PIECES = [
    "Latest 3 papers on graphs: March 7, 2026", "Latest 99999999999999999999 papers on x: ",
    "Latest 1 papers on : : : ", "- ", "* ", "1. ", "  - ", "    * ", "# ", "## ", "###### ",
    "Source: https://x.example/a", "Share this content", "Loading Now", "**Bold:** ", "Models:",
    "[link](https://arxiv.org/abs/2601.00001)", "[", "]", "](", "(", ")", "*", "_", "`", "> ",
    "Published 9 May 2026 · Blog", "Smith et al.", "e.g.", "J. Z. Kolter", ". ", "? ", ":",
    "\t", "\u200b", "\ufeff", "\x00", "\x0c", "é", "\r", "https://", "arXiv:2601.00001", "·",
    "|", "Home · Archive · Subscribe", "2026-02-30", "Mar. 7, 2026", "The Big Idea(s)",
    "Under the Hood:", "code at https://github.com/x/y.", "ZACAF", "(ZACAF)", "“", "”", "’",
]
HTML_TAGS = [
    "<h1>", "</h1>", "<h2>", "<h4>", "<p>", "</p>", "<li>", "</li>", "<ul>", "</ul>", "<ol>",
    "</ol>", "<a href='https://arxiv.org/abs/2601.00001'>", "<a href>", "</a>", "<script>",
    "</script>", "<style>", "<title>", "</title>", "<time datetime='2026-01-01'>",
    "<meta property='article:published_time' content='2026-02-03'>",
    "<meta name='date' content='x'>", "<link rel='canonical' href='u'>",
    "<div class='byline'>", "<span class='posted'>", "</div>", "<!--", "-->", "<![CDATA[",
    "]]>", "&amp;", "&#0;", "&#x110000;", "<", ">", "<nav>", "<svg>", "<br/>", "<!DOCTYPE",
    "<?xml", "</", "<p/>", "<li><p>", "<a href='javascript:x'>",
]
BIB_PIECES = [
    "@article{", "@misc{", "@string{", "@comment{", "key,", "k2,", "title", "abstract",
    "author", "eprint", "journal", " = ", "=", "{", "}", '"', ",", "\n", "@", "#", " and ",
    "arXiv:2601.00001", "\\\"", "{\\\"o}",
]
FIELDS = ["title", "abstract", "authors", "arxiv_id", "x", ""]

piece = st.one_of(st.sampled_from(PIECES), st.text(max_size=30))
long_run = st.tuples(st.sampled_from(PIECES + HTML_TAGS + BIB_PIECES + ["a", " ", "a. "]),
                     st.integers(100, 20_000)).map(lambda t: t[0] * t[1])


def _join(parts: st.SearchStrategy, sep: str, size: int) -> st.SearchStrategy[str]:
    return st.lists(parts, max_size=size).map(sep.join)


line = _join(st.one_of(piece, piece, piece, piece, piece, long_run), "", 8)
text_doc = _join(line, "\n", 30)
ATTRS = ["", "", " href='https://arxiv.org/abs/2601.00001'", " href", " class='byline'",
         " datetime='2026-01-01'", " rel='canonical' href='https://x.example/p'", " class=\"a"]
ELEMENTS = ["p", "p", "li", "li", "ul", "ol", "h1", "h2", "h4", "div", "a", "a", "span", "em",
            "script", "nav", "time", "title", "table", "td"]


def _element(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """One element around some children, closed or (as sloppy pages do) not."""
    return st.tuples(st.sampled_from(ELEMENTS), st.sampled_from(ATTRS),
                     st.lists(children, max_size=5), st.booleans()).map(
        lambda t: f"<{t[0]}{t[1]}>" + "".join(t[2]) + (f"</{t[0]}>" if t[3] else ""))


html_tree = st.recursive(st.one_of(piece, piece, piece, long_run), _element, max_leaves=40)
html_doc = st.one_of(
    html_tree, html_tree.map(lambda s: "<html><head><title>T | Blog</title></head><h1>Week</h1>"
                             f"<p>Three papers this week on graphs.</p>{s}<p>Last words.</p>"),
    _join(st.one_of(*[st.sampled_from(HTML_TAGS)] * 3, piece, piece, long_run), "", 60))
bib_doc = _join(st.one_of(*[st.sampled_from(BIB_PIECES)] * 3, st.text(max_size=20), long_run),
                "", 60)
json_value = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.sampled_from(FIELDS) | st.text(max_size=8), inner, max_size=4), max_leaves=12)
record = st.dictionaries(st.sampled_from(FIELDS), json_value | st.text(max_size=40),
                         max_size=5)
deep = st.tuples(st.sampled_from(["[", "{\"a\":", "[{\"b\":"]), st.integers(10, 200_000)).map(
    lambda t: t[0] * t[1])
json_line = st.one_of(record.map(json.dumps), record.map(json.dumps), deep, line)
jsonl_doc = _join(json_line, "\n", 12)


def _mutate(args: tuple[bytes, list[tuple[int, bytes, int]]]) -> bytes:
    """Splice: at each (position, insert, delete-count), replace bytes of ``data``."""
    data, edits = args
    buf = bytearray(data)
    for pos, insert, cut in edits:
        p = pos % (len(buf) + 1)
        buf[p:p + cut] = insert
    return bytes(buf)


edits = st.lists(st.tuples(st.integers(0, 10**7), st.binary(max_size=8), st.integers(0, 16)),
                 min_size=1, max_size=6)
UNSEEN = ROOT / "eval" / "data" / "unseen"
seed_texts = {ext: [p.read_bytes() for p in sorted([*CORPUS.glob(f"*.{ext}"),
                                                     *UNSEEN.glob(f"*/digests/*.{ext}")])]
              for ext in ("txt", "md", "html")}


def encoded(text: st.SearchStrategy[str]) -> st.SearchStrategy[bytes]:
    """Text as bytes: mostly UTF-8, sometimes UTF-16 or Windows-1252."""
    return st.tuples(text, st.sampled_from(["utf-8"] * 6 + ["utf-16", "cp1252"])).map(
        lambda t: t[0].encode(t[1], errors="replace"))


def mutated(base: st.SearchStrategy[bytes]) -> st.SearchStrategy[bytes]:
    return st.tuples(base, edits).map(_mutate)


def pdf_of(lines: list[str]) -> bytes:
    """A one-page PDF whose text layer holds ``lines`` (characters outside Latin-1 as '?')."""
    return make_pdf([ln.encode("latin-1", "replace").decode("latin-1") for ln in lines])


pdf_doc = st.one_of(
    st.lists(line.map(lambda s: s[:300]), max_size=20).map(pdf_of),
    mutated(st.lists(line.map(lambda s: s[:300]), max_size=10).map(pdf_of)),
    mutated(st.just(pdf_of(["Title", "Abstract", "words " * 60, "1 Introduction"]))),
)


def digest_bytes(text: st.SearchStrategy[str], ext: str) -> st.SearchStrategy[bytes]:
    """Generated text, byte mutations of real digests of the format, or random bytes."""
    return st.one_of(encoded(text), encoded(text), mutated(st.sampled_from(seed_texts[ext])),
                     st.binary(max_size=3000))


# reader name -> (file name, parser function, how its job is built, its inputs)
READERS = {
    "txt": ("fuzz.txt", parse_digest, "digest", digest_bytes(text_doc, "txt")),
    "md": ("fuzz.md", parse_digest, "digest", digest_bytes(text_doc, "md")),
    "html": ("fuzz.html", parse_digest, "digest", digest_bytes(html_doc, "html")),
    "pdf": ("fuzz.pdf", parse_digest, "digest", st.one_of(pdf_doc, st.binary(max_size=2000))),
    "paper-pdf": ("paper.pdf", parse_paper_file, "paper", pdf_doc),
    "abstracts-jsonl": ("abstracts.jsonl", parse_paper_file, "paper",
                        st.one_of(encoded(jsonl_doc), st.binary(max_size=2000))),
    "bib": ("refs.bib", parse_paper_file, "paper", st.one_of(encoded(bib_doc),
                                                             st.binary(max_size=2000))),
    "metadata-jsonl": ("meta.jsonl", parse_metadata_file, "meta",
                       st.one_of(encoded(jsonl_doc), st.binary(max_size=2000))),
}


def job(reader: str, data: bytes, limits: Limits) -> tuple:
    """The parser call of one input, as the loaders make it."""
    name, _, kind, _ = READERS[reader]
    return (Path(name), data) if kind == "meta" else (Path(name), data, limits)
