"""Readers: turn one file's text into blocks (digests) or records (JSON lines).

A digest reader turns a file into a flat list of blocks (heading / paragraph / bullet, with
links): plain text line by line (hard-wrapped lines re-joined), Markdown, HTML (BeautifulSoup)
and PDF (pypdf's text layer). :func:`jsonl_records` reads JSON lines for the abstract and
metadata files. Every reader is linear in its input: no regular expression here can backtrack
over a whole line, a paragraph is joined once, and a block longer than ``max_passage_chars``
(a file without line breaks) is split at sentence or word boundaries, never kept whole.
Readers raise :class:`~rag.errors.DocumentError` for a file they cannot use; the process
that runs them (:mod:`rag.corpus.parse_pool`) bounds their time.
"""

from __future__ import annotations

import io
import json
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from rag.corpus.safe_read import truncate_warning
from rag.errors import DocumentError
from rag.lexicon import looks_like_title
from rag.records import Link

if TYPE_CHECKING:
    from bs4 import BeautifulSoup

MAX_PASSAGE_CHARS = 5000  # the default of Settings.max_passage_chars
MAX_HTML_DEPTH = 256  # the default of Settings.max_html_depth


@dataclass
class Block:
    """A reader's output unit, before the digest structure is known."""

    kind: str  # "heading" | "paragraph" | "bullet" | "meta-date" | "meta-url"
    text: str
    depth: int = 0
    links: list[Link] = field(default_factory=list)
    emphasis: list[str] = field(default_factory=list)  # bold / italic spans, as in ``text``


_WS = re.compile(r"\s+")


def clean_text(text: str) -> str:
    """NFC-normalise, drop control characters and collapse all whitespace (newlines inside
    one HTML element or one re-joined paragraph included) to single spaces."""
    text = unicodedata.normalize("NFC", text)
    quick = _WS.sub(" ", text).strip()
    if quick.isprintable():  # no control or format characters: the common case, fast
        return quick
    text = "".join(ch for ch in text if ch.isspace() or unicodedata.category(ch)[0] != "C")
    return _WS.sub(" ", text).strip()


def split_long(text: str, max_chars: int) -> list[str]:
    """``text`` in pieces of at most ``max_chars``, cut after a sentence end where one falls in
    the second half of a piece, else at a space, else mid-word. Linear in ``len(text)``."""
    if len(text) <= max_chars:
        return [text] if text.strip() else []
    out: list[str] = []
    start, half = 0, max(1, max_chars // 2)
    while len(text) - start > max_chars:
        window = text[start:start + max_chars]
        cut = max(window.rfind(". "), window.rfind("? "), window.rfind("! ")) + 1
        if cut <= half:
            cut = window.rfind(" ")
            if cut <= half:
                cut = max_chars
        piece = text[start:start + cut].strip()
        if piece:
            out.append(piece)
        start += cut
    if text[start:].strip():
        out.append(text[start:].strip())
    return out


def _bounded(blocks: list[Block], max_chars: int) -> list[Block]:
    """Blocks longer than ``max_chars`` split into several of the same kind."""
    out: list[Block] = []
    for b in blocks:
        if len(b.text) <= max_chars:
            out.append(b)
            continue
        for i, piece in enumerate(split_long(b.text, max_chars)):
            out.append(Block(b.kind if i == 0 or b.kind != "heading" else "paragraph", piece,
                             b.depth, b.links if i == 0 else []))
    return out


# ---------------------------------------------------------------- digests -> blocks

_BULLET_RE = re.compile(r"(\s*)(?:[-*•·–▪◦]|\d+[.)])\s+")
_ENDS_SENTENCE = re.compile(r"[.!?:\"”’)]$")
_CONTINUES = re.compile(r"[a-z0-9(]")
# a line opening with a full date ("21 March 2026 - ...", "2026-03-21 ...") is a dateline, not
# the wrapped end of the line before it (a headline followed by its date)
_DATELINE = re.compile(r"(?:\d{1,2}(?:st|nd|rd|th)?\s+[A-Za-z]{3,9}\.?,?\s+\d{4}"
                       r"|\d{4}-\d{1,2}-\d{1,2})\b")


def blocks_from_text(text: str, max_chars: int = MAX_PASSAGE_CHARS) -> list[Block]:
    """Plain text: one line is one block; hard-wrapped lines are re-joined."""
    blocks: list[Block] = []
    parts: list[list[str]] = []  # raw pieces of each block, cleaned once at the end
    tail = ""  # the cleaned last piece of the last block
    prev_blank = True
    for raw in text.splitlines():
        line = raw.rstrip()
        if not line.strip():
            prev_blank = True
            continue
        m = _BULLET_RE.match(line)
        if m:
            indent = len(m.group(1).expandtabs(4))
            blocks.append(Block("bullet", "", depth=indent // 2))
            parts.append([line[m.end():]])
            tail = clean_text(line[m.end():])
        elif (blocks and not prev_blank
              and ((blocks[-1].kind == "bullet" and line[:1] in " \t")  # indented: continues
                   or (not _ENDS_SENTENCE.search(tail)
                       and _CONTINUES.match(line.strip())
                       and not _DATELINE.match(line.strip())))):
            parts[-1].append(line)
            tail = clean_text(line) or tail
        else:
            blocks.append(Block("paragraph", ""))
            parts.append([line])
            tail = clean_text(line)
        prev_blank = False
    for block, pieces in zip(blocks, parts):
        first = clean_text(pieces[0])
        if block.kind == "bullet" and len(pieces) > 1 and len(first.split()) >= 4 and \
                not _ENDS_SENTENCE.search(first) and looks_like_title(first) and \
                clean_text(pieces[1])[:1].isupper():
            # a title on a line of its own ("* Title" then "  Authors (Inst)"): set apart
            block.emphasis = [first]
            pieces = [f"{pieces[0]} ·", *pieces[1:]]
        block.text = clean_text(" ".join(pieces))
    return _bounded([b for b in blocks if b.text], max_chars)


# [text](url "title"): the text holds no brackets, the url no spaces and at most one level of
# parentheses, so a line full of "[" or "](" is scanned once, not once per bracket.
_MD_LINK = re.compile(r"\[([^\[\]]+)\]\(((?:[^\s()]|\([^\s()]*\))+)(?:\s+\"[^\"]*\")?\)")
_MD_HEADING = re.compile(r"^(#{1,6})\s+(.*)$", re.M)
_MD_BOLD = re.compile(r"\*\*(\S.*?)\*\*|__(\S.*?)__")
_MD_ITALIC = re.compile(r"(?<![\w*])[*_](\S[^*_]*?)[*_](?![\w*])")


def blocks_from_markdown(text: str, max_chars: int = MAX_PASSAGE_CHARS) -> list[Block]:
    """Markdown: '#' headings, '-'/'*' bullets, [text](url) links kept as Link records."""
    out: list[Block] = []
    for block in blocks_from_text(_MD_HEADING.sub(r"\n\1 \2\n", text), max_chars):
        links = [Link(clean_text(t), u) for t, u in _MD_LINK.findall(block.text)]
        body = _MD_LINK.sub(r"\1", block.text)
        strong = [a or b for a, b in _MD_BOLD.findall(body)]
        body = re.sub(r"(\*\*|__|`)", "", body)
        emphasis = [clean_text(x) for x in strong + _MD_ITALIC.findall(body) if x.strip()]
        body = _MD_ITALIC.sub(r"\1", body)  # *italics*
        body = re.sub(r"^>\s*", "", body)  # a blockquote's marker
        h = re.match(r"^(#{1,6})\s+(.*)$", body)
        if h:
            out.append(Block("heading", clean_text(h.group(2)), depth=len(h.group(1)), links=links))
        else:
            out.append(Block(block.kind, clean_text(body), block.depth, links,
                             [e for e in emphasis if "*" not in e and "`" not in e]))
    return out


@dataclass
class _Tree:
    """One pass over a parsed page: each element's nesting, list depth, nearest <li>."""

    deepest: int = 0
    lists: dict[int, int] = field(default_factory=dict)  # id -> <ul>/<ol> ancestors
    li_of: dict[int, int | None] = field(default_factory=dict)  # id -> nearest <li> ancestor
    anchors: dict[int | None, list] = field(default_factory=dict)  # li id -> its <a href>s


def _walk(soup: BeautifulSoup) -> _Tree:
    tree = _Tree()
    depth: dict[int, int] = {}
    for tag in soup.find_all(True):  # document order
        up, key = tag.parent, id(tag)
        assert up is not None  # a found tag sits inside the soup at least
        d = depth[key] = depth.get(id(up), 0) + 1
        tree.deepest = max(tree.deepest, d)
        tree.lists[key] = tree.lists.get(id(up), 0) + (up.name in ("ul", "ol"))
        tree.li_of[key] = id(up) if up.name == "li" else tree.li_of.get(id(up))
        if tag.name == "a" and tag.has_attr("href"):
            tree.anchors.setdefault(tree.li_of[key], []).append(tag)
    return tree


def blocks_from_html(text: str, max_chars: int = MAX_PASSAGE_CHARS,
                     max_depth: int = MAX_HTML_DEPTH, path: Path | None = None) -> list[Block]:
    """HTML: h1-h4 headings, p paragraphs, li bullets (nesting kept), <a href> links kept.
    A page nested deeper than ``max_depth`` elements is refused (DocumentError): reading it
    costs its size times its depth."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(text, "html.parser")
    for tag in soup(["script", "style", "noscript", "nav", "footer", "form", "aside", "svg"]):
        tag.decompose()
    out: list[Block] = []
    title = soup.find("title")
    when = soup.find("time", attrs={"datetime": True})
    published = soup.find("meta", attrs={"property": re.compile(r"published_time$", re.I)}) or \
        soup.find("meta", attrs={"name": re.compile(r"^(date|pubdate|publish[-_]?date|dc\.date)$",
                                                    re.I)})
    byline = soup.find(class_=re.compile(r"date|byline|entry-meta|post-meta|posted", re.I))
    stamp = (when.get("datetime") if when else None) or (
        published.get("content") if published else None) or (
        byline.get_text(" ") if byline else None)
    canonical = soup.find("link", rel="canonical", href=True) or soup.find(
        "meta", attrs={"property": "og:url", "content": True})
    if stamp:
        out.append(Block("meta-date", str(stamp)))
    if canonical:
        out.append(Block("meta-url", str(canonical.get("href") or canonical.get("content"))))
    tree = _walk(soup)
    if tree.deepest > max_depth:
        raise DocumentError(path or Path("HTML"), f"its HTML nests {tree.deepest} elements "
                            f"deep, more than the {max_depth} allowed (RAG_MAX_HTML_DEPTH)",
                            "check that it is a web page, or raise RAG_MAX_HTML_DEPTH")
    for el in soup.find_all(["h1", "h2", "h3", "h4", "p", "li"]):
        if el.name == "p" and tree.li_of.get(id(el)) is not None:
            continue  # the li carries it
        if el.name == "li":
            parts = []
            for child in el.children:
                if getattr(child, "name", None) in ("ul", "ol"):
                    continue
                parts.append(child.get_text(" ") if hasattr(child, "get_text") else str(child))
            txt = clean_text(" ".join(parts))
            anchors = tree.anchors.get(id(el), [])
            depth = max(0, tree.lists.get(id(el), 0) - 1)
            kind = "bullet"
        else:
            txt = clean_text(el.get_text(" "))
            anchors = el.find_all("a", href=True)
            depth = int(el.name[1]) if el.name.startswith("h") else 0
            kind = "heading" if el.name.startswith("h") else "paragraph"
        txt = re.sub(r"\s+([,.;:!?)])", r"\1", txt)
        if not txt:
            continue
        links = [Link(clean_text(a.get_text(" ")), str(a["href"]).strip()) for a in anchors]
        emphasis = [re.sub(r"\s+([,.;:!?)])", r"\1", clean_text(x.get_text(" ")))
                    for x in el.find_all(["b", "strong", "em", "i", "cite"])]
        out.append(Block(kind, txt, depth, links, [e for e in emphasis if e]))
    if title and not any(b.kind == "heading" and b.depth == 1 for b in out):
        name = re.split(r"\s+[|–—-]\s+[^|–—-]+$", clean_text(title.get_text(" ")))[0]
        if name:
            out.insert(0, Block("heading", name, depth=1))
    return _bounded(out, max_chars)


def pdf_pages(path: Path, data: bytes | None = None, max_chars: int | None = None,
              ) -> tuple[list[str], str | None, list[str]]:
    """(page texts, the PDF's /Title or None, warnings) of a PDF's text layer, read from
    ``data`` (else the file). Pages stop once ``max_chars`` characters are read.
    DocumentError for an encrypted, broken or text-less PDF."""
    from pypdf import PdfReader
    from pypdf.errors import DependencyError, FileNotDecryptedError

    path = Path(path)
    warnings: list[str] = []
    pages: list[str] = []
    try:
        reader = PdfReader(io.BytesIO(data) if data is not None else str(path))
        total = 0
        for page in reader.pages:
            text = page.extract_text() or ""
            pages.append(text)
            total += len(text)
            if max_chars is not None and total > max_chars:
                pages[-1] = text[:max(0, len(text) - (total - max_chars))]
                warnings.append(truncate_warning(path, max_chars))
                break
        meta = reader.metadata
        title = meta.get("/Title") if meta else None
    except DependencyError as err:
        raise DocumentError(path, "is encrypted (AES), which needs the optional 'cryptography' "
                            "package to read", "pip install cryptography, or save an "
                            "unencrypted copy of the PDF") from err
    except FileNotDecryptedError as err:
        raise DocumentError(path, "is password-protected", "save an unencrypted copy of the "
                            "PDF") from err
    except Exception as err:  # pypdf raises many kinds on broken files; all mean "unreadable"
        raise DocumentError(path, f"not a readable PDF ({err.__class__.__name__}: "
                            f"{str(err)[:200]})",
                            "re-export or re-download the PDF, or save it as .txt/.html"
                            ) from err
    if not "".join(pages).strip():
        raise DocumentError(path, "PDF has no text layer", "run OCR on it (e.g. ocrmypdf) or "
                            "use the .html/.txt")
    return pages, (str(title).strip() or None) if title else None, warnings


def blocks_from_pdf(path: Path, data: bytes | None = None, max_text: int | None = None,
                    max_chars: int = MAX_PASSAGE_CHARS) -> tuple[list[Block], list[str]]:
    """PDF (text layer via pypdf): pages joined, then read like plain text; (blocks,
    warnings)."""
    pages, _, warnings = pdf_pages(path, data, max_text)
    return blocks_from_text("\n".join(pages), max_chars), warnings


# ---------------------------------------------------------------- JSON lines


def jsonl_records(text: str, name: str, required: tuple[str, ...]) -> tuple[list[dict], list[str]]:
    """The JSON objects of a JSON-lines text whose ``required`` fields are non-empty strings;
    blank lines are skipped and bad lines become warnings naming the file (``name``) and line.
    """
    numbered, warnings = jsonl_lines(text, name, required)
    return [rec for _, rec in numbered], warnings


def jsonl_lines(text: str, name: str, required: tuple[str, ...]
                ) -> tuple[list[tuple[int, dict]], list[str]]:
    """Like :func:`jsonl_records`, with each record's line number: [(line, record)]."""
    records: list[tuple[int, dict]] = []
    warnings: list[str] = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as err:
            warnings.append(f"{name} line {n}: not JSON ({err.msg}); line skipped. Fix: make "
                            "each line one JSON object.")
            continue
        except RecursionError:
            warnings.append(f"{name} line {n}: JSON nested too deeply to read; line skipped. "
                            "Fix: make each line one flat JSON object.")
            continue
        if not isinstance(rec, dict) or not all(rec.get(f) for f in required):
            warnings.append(f"{name} line {n}: needs "
                            + " and ".join(f"'{f}'" for f in required) + "; skipped. Fix: add "
                            "them to the line's JSON object.")
            continue
        wrong = [f for f in required if not isinstance(rec[f], str)]
        if wrong:
            warnings.append(f"{name} line {n}: " + " and ".join(f"'{f}'" for f in wrong)
                            + " must be text (a JSON string); skipped. Fix: quote the value.")
            continue
        records.append((n, rec))
    return records, warnings


def optional_text(rec: dict, key: str, name: str, line: str, warnings: list[str]) -> str | None:
    """``rec[key]`` when it is a non-empty string; anything else (a number, a list) is dropped
    with a warning naming the file and record."""
    value = rec.get(key)
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return value
    warnings.append(f"{name} {line}: '{key}' must be text, not {type(value).__name__}; "
                    "ignored. Fix: quote the value.")
    return None


def name_list(rec: dict, key: str, name: str, line: str, warnings: list[str]
              ) -> tuple[str, ...]:
    """``rec[key]`` as a tuple of names: a list of strings, or one string of names joined by
    ' and '. Anything else (a number, nested lists) is dropped with a warning."""
    value = rec.get(key)
    if value is None or value == "" or value == []:
        return ()
    if isinstance(value, str):
        return tuple(a.strip() for a in value.split(" and ") if a.strip())
    if isinstance(value, list) and all(isinstance(a, str) for a in value):
        return tuple(a.strip() for a in value if a.strip())
    warnings.append(f"{name} {line}: '{key}' must be a list of names, not "
                    f"{type(value).__name__}; ignored. Fix: write it as [\"First Last\", ...].")
    return ()
