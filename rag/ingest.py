"""Ingest: read a folder of digests (.txt .md .html .pdf) into Digest records and passages.

Each reader turns a file into a flat list of blocks (heading / paragraph / bullet, with links);
one builder then finds the headline, the "Latest N papers on TOPIC: DATE" line and the
sections, drops page furniture ("Share this content", the newsletter box ...) and numbers the
passages. A file that cannot be read is skipped with a warning naming it; the rest load.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from .dates import parse_date
from .errors import CorpusError, DocumentError
from .records import Digest, Link, Passage

log = logging.getLogger(__name__)

SUPPORTED = (".txt", ".md", ".markdown", ".html", ".htm", ".pdf")

# Lines that are page chrome, not digest content (matched on the whole, stripped line).
FURNITURE = [
    r"loading now",
    r"share this content:?",
    r"post comment",
    r"spread the love",
    r"hi there\W*",
    r"get a roundup of the latest ai paper digests.*",
    r"mailbox@\S*.*",
    r"subscribe( now)?",
    r"(leave a )?reply|cancel reply|related posts?:?",
]
_FURNITURE_RE = re.compile(r"^(?:%s)$" % "|".join(FURNITURE), re.IGNORECASE)
_LATEST_RE = re.compile(
    r"^Latest\s+(\d+)\s+papers?\s+on\s+(.+?)\s*:\s*(.+?)\s*$", re.IGNORECASE
)
_BULLET_RE = re.compile(r"^(\s*)(?:[-*•·–▪◦]|\d+[.)])\s+(.*)$")


@dataclass
class Block:
    """A reader's output unit, before the digest structure is known."""

    kind: str  # "heading" | "paragraph" | "bullet"
    text: str
    depth: int = 0
    links: list[Link] = field(default_factory=list)


@dataclass(frozen=True)
class LoadedDigest:
    """A parsed digest: its record plus its passages in reading order."""

    digest: Digest
    passages: tuple[Passage, ...]


def clean_text(text: str) -> str:
    """NFC-normalise, drop control characters and collapse all whitespace (newlines inside
    one HTML element or one re-joined paragraph included) to single spaces."""
    text = unicodedata.normalize("NFC", text)
    text = "".join(ch for ch in text if ch.isspace() or unicodedata.category(ch)[0] != "C")
    return re.sub(r"\s+", " ", text).strip()


def decode(data: bytes, path: Path) -> tuple[str, str | None]:
    """Decode file bytes as UTF-8, else Windows-1252; return (text, warning or None)."""
    try:
        return data.decode("utf-8-sig"), None
    except UnicodeDecodeError as err:
        warning = (f"{path.name}: not valid UTF-8 (byte {err.start}); read as Windows-1252. "
                   "Fix: re-save the file as UTF-8 if characters look wrong.")
        return data.decode("cp1252", errors="replace"), warning


# ---------------------------------------------------------------- readers -> blocks


def jsonl_records(text: str, name: str, required: tuple[str, ...]) -> tuple[list[dict], list[str]]:
    """The JSON objects of a JSON-lines text that have every ``required`` field; blank lines
    are skipped and bad lines become warnings naming the file (``name``) and line."""
    records: list[dict] = []
    warnings: list[str] = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as err:
            warnings.append(f"{name} line {n}: not JSON ({err.msg}); line skipped.")
            continue
        if not isinstance(rec, dict) or not all(rec.get(f) for f in required):
            warnings.append(f"{name} line {n}: needs "
                            + " and ".join(f"'{f}'" for f in required) + "; skipped.")
            continue
        records.append(rec)
    return records, warnings


def blocks_from_text(text: str) -> list[Block]:
    """Plain text: one line is one block; hard-wrapped lines are re-joined."""
    blocks: list[Block] = []
    prev_blank = True
    for raw in text.splitlines():
        line = raw.rstrip()
        if not line.strip():
            prev_blank = True
            continue
        m = _BULLET_RE.match(line)
        if m:
            indent = len(m.group(1).expandtabs(4))
            blocks.append(Block("bullet", clean_text(m.group(2)), depth=indent // 2))
        elif (blocks and blocks[-1].kind != "heading" and not prev_blank
              and ((blocks[-1].kind == "bullet" and line[:1] in " \t")  # indented: continues
                   or (not re.search(r"[.!?:\"”’)]$", blocks[-1].text)
                       and re.match(r"[a-z0-9(]", line.strip())))):
            blocks[-1].text = clean_text(blocks[-1].text + " " + line)
        else:
            blocks.append(Block("paragraph", clean_text(line)))
        prev_blank = False
    return blocks


_MD_LINK = re.compile(r"\[([^\]]+)\]\((\S+?)(?:\s+\"[^\"]*\")?\)")


def blocks_from_markdown(text: str) -> list[Block]:
    """Markdown: '#' headings, '-'/'*' bullets, [text](url) links kept as Link records."""
    out: list[Block] = []
    for block in blocks_from_text(re.sub(r"^(#{1,6})\s+(.*)$", r"\n\1 \2\n", text, flags=re.M)):
        links = [Link(clean_text(t), u) for t, u in _MD_LINK.findall(block.text)]
        body = _MD_LINK.sub(r"\1", block.text)
        body = re.sub(r"(\*\*|__|`)", "", body)
        body = re.sub(r"(?<![\w*])[*_](\S[^*_]*?)[*_](?![\w*])", r"\1", body)  # *italics*
        body = re.sub(r"^>\s*", "", body)  # a blockquote's marker
        h = re.match(r"^(#{1,6})\s+(.*)$", body)
        if h:
            out.append(Block("heading", clean_text(h.group(2)), depth=len(h.group(1)), links=links))
        else:
            out.append(Block(block.kind, clean_text(body), block.depth, links))
    return out


def blocks_from_html(text: str) -> list[Block]:
    """HTML: h1-h4 headings, p paragraphs, li bullets (nesting kept), <a href> links kept."""
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
    for el in soup.find_all(["h1", "h2", "h3", "h4", "p", "li"]):
        if el.name == "p" and el.find_parent("li"):
            continue  # the li carries it
        if el.name == "li":
            parts = []
            for child in el.children:
                if getattr(child, "name", None) in ("ul", "ol"):
                    continue
                parts.append(child.get_text(" ") if hasattr(child, "get_text") else str(child))
            txt = clean_text(" ".join(parts))
            anchors = [a for a in el.find_all("a", href=True) if a.find_parent("li") is el]
            depth = max(0, len(el.find_parents(["ul", "ol"])) - 1)
            kind = "bullet"
        else:
            txt = clean_text(el.get_text(" "))
            anchors = el.find_all("a", href=True)
            depth = int(el.name[1]) if el.name.startswith("h") else 0
            kind = "heading" if el.name.startswith("h") else "paragraph"
        txt = re.sub(r"\s+([,.;:!?)])", r"\1", txt)
        if not txt:
            continue
        links = [Link(clean_text(a.get_text(" ")), a["href"].strip()) for a in anchors]
        out.append(Block(kind, txt, depth, links))
    if title and not any(b.kind == "heading" and b.depth == 1 for b in out):
        name = re.split(r"\s+[|–—-]\s+[^|–—-]+$", clean_text(title.get_text(" ")))[0]
        out.insert(0, Block("heading", name, depth=1))
    return out


def blocks_from_pdf(path: Path) -> list[Block]:
    """PDF (text layer via pypdf): pages joined, then read like plain text."""
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(str(path))
        pages = [page.extract_text() or "" for page in reader.pages]
    except (PdfReadError, OSError, ValueError, KeyError, TypeError) as err:
        raise DocumentError(path, f"not a readable PDF ({err.__class__.__name__}: {err})",
                            "re-export the PDF or save the digest as .txt/.html") from err
    text = "\n".join(pages)
    if not text.strip():
        raise DocumentError(path, "PDF has no text layer", "run OCR on it or use the .html/.txt")
    return blocks_from_text(text)


# ---------------------------------------------------------------- blocks -> digest


def _is_heading(block: Block, nxt: Block | None) -> bool:
    if block.kind == "heading":
        return True
    if block.kind != "paragraph":
        return False
    t = block.text
    words = t.split()
    return (len(words) <= 12 and len(t) <= 90 and not re.search(r"[.!?,;]$", t)
            and t[0].isupper() and (nxt is None or len(nxt.text) > len(t)))


_NAV_SEP = re.compile(r"\s*[·|•»]\s*")
_SOURCE_RE = re.compile(r"^(?:source|original(?: post)?|read (?:it )?online|canonical)\s*:\s*"
                        r"(https?://\S+)$", re.I)


def _is_nav(block: Block) -> bool:
    """A navigation bar ("Home · Archive · Subscribe"): three or more short link texts."""
    parts = [p for p in _NAV_SEP.split(block.text) if p]
    return len(parts) >= 3 and all(len(p.split()) <= 4 for p in parts) and \
        not re.search(r"[.!?]$", block.text) and parse_date(block.text) is None


def build_digest(blocks: list[Block], path: Path, data: bytes) -> LoadedDigest:
    """Turn a reader's blocks into a Digest and its passages.

    The headline is the first top-level heading near the start (else the first block); the
    date and topic come from a "Latest N papers on TOPIC: DATE" line, else the page's own
    date (an HTML <time> or published meta tag), else a short byline near the top that holds
    a date ("Published 14 February 2026 · ...", "Posted on March 14, 2026 by ..."), which is
    then dropped. The post's address comes from an HTML canonical link or a "Source: URL"
    line. Navigation bars and page furniture are dropped."""
    meta_date = next((parse_date(b.text) for b in blocks if b.kind == "meta-date"), None)
    url = next((b.text for b in blocks if b.kind == "meta-url"), None)
    blocks = [b for b in blocks if b.text and not b.kind.startswith("meta-")
              and not _FURNITURE_RE.match(b.text.strip())]
    blocks = [b for i, b in enumerate(blocks) if i >= 4 or not _is_nav(b)]
    for b in list(blocks):
        m = _SOURCE_RE.match(b.text.strip())
        if m:
            url = url or m.group(1)
            blocks.remove(b)
    title, topic, date, count = None, None, None, None
    for i, b in enumerate(blocks[:6]):
        m = _LATEST_RE.match(b.text)
        if m:
            count, topic, date = int(m.group(1)), m.group(2).strip(), parse_date(m.group(3))
            blocks.pop(i)
            break
    if blocks:
        top = next((i for i, b in enumerate(blocks[:4]) if b.kind == "heading" and b.depth == 1),
                   0)
        title = blocks.pop(top).text
    date = date or meta_date
    for i, b in enumerate(blocks[:5]):
        if len(b.text.split()) <= 30 and (found := parse_date(b.text)) and b.kind != "heading":
            date = date or found
            if found == date:  # a byline: not a passage
                blocks.pop(i)
            break
    digest_id = path.stem
    passages: list[Passage] = []
    section, group = "", None
    for i, b in enumerate(blocks):
        if b.text == title or (b.kind != "bullet" and b.text.lower() == (title or "").lower()):
            continue  # the headline repeated (page title, newsletter box)
        nxt = blocks[i + 1] if i + 1 < len(blocks) else None
        if _is_heading(b, nxt) and b.kind != "bullet":
            section, group = b.text, None
            continue
        label = None
        text = b.text
        if b.kind == "bullet":
            m = re.match(r"^([^:]{2,90}?):\s*(.*)$", text)
            if m and not m.group(2):
                group = m.group(1).strip()  # a bare "Models:" groups the bullets below it
                continue
            if m and len(m.group(1).split()) <= 14 and not re.search(r"https?$", m.group(1)):
                label = m.group(1).strip()
        sec = f"{section} › {group}" if group and b.kind == "bullet" else section
        passages.append(Passage(digest_id, len(passages), sec, b.kind, text,
                                tuple(b.links), label, b.depth))
    if not passages:
        raise DocumentError(path, "no text passages found", "check that it is a digest post")
    digest = Digest(
        id=digest_id, title=title or path.stem, date=date, topic=topic, path=str(path),
        sha256=hashlib.sha256(data).hexdigest(), paper_count=count, url=url,
    )
    return LoadedDigest(digest, tuple(passages))


def read_digest(path: Path) -> tuple[LoadedDigest, list[str]]:
    """Read and parse one digest file; raises DocumentError when it cannot be used."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as err:
        raise DocumentError(path, f"cannot be read ({err.strerror or err})",
                            "check the file's permissions") from err
    if not data.strip():
        raise DocumentError(path, "is empty", "remove it or put the digest text in it")
    warnings: list[str] = []
    suffix = path.suffix.lower()
    if suffix == ".pdf":
        blocks = blocks_from_pdf(path)
    else:
        text, warning = decode(data, path)
        if warning:
            warnings.append(warning)
        if suffix in (".html", ".htm"):
            blocks = blocks_from_html(text)
        elif suffix in (".md", ".markdown"):
            blocks = blocks_from_markdown(text)
        else:
            blocks = blocks_from_text(text)
    return build_digest(blocks, path, data), warnings


def corpus_files(corpus_dir: Path) -> list[Path]:
    """The digest files of a corpus folder (top level only), sorted by name."""
    corpus_dir = Path(corpus_dir)
    if not corpus_dir.is_dir():
        raise CorpusError(f"Corpus folder {corpus_dir} does not exist.",
                          "create it and put digest files (.txt .md .html .pdf) in it, "
                          "or set RAG_CORPUS_DIR")
    return sorted(p for p in corpus_dir.iterdir()
                  if p.is_file() and p.suffix.lower() in SUPPORTED and not p.name.startswith("."))


def load_corpus(corpus_dir: Path) -> tuple[list[LoadedDigest], list[str]]:
    """Read every digest in a folder. Returns (digests, warnings); bad files become warnings.

    Raises CorpusError when the folder is missing or nothing in it could be read.
    """
    files = corpus_files(corpus_dir)
    if not files:
        raise CorpusError(f"Corpus folder {corpus_dir} holds no digests.",
                          f"add .txt, .md, .html or .pdf digests to {corpus_dir}")
    loaded: list[LoadedDigest] = []
    warnings: list[str] = []
    seen: set[str] = set()
    for path in files:
        try:
            doc, warns = read_digest(path)
        except DocumentError as err:
            warnings.append(f"skipped {err}")
            log.warning("skipped %s", err)
            continue
        warnings.extend(warns)
        if doc.digest.id in seen:  # a.txt and a.html: keep both, tell them apart
            doc = _rename(doc, path.name)
        seen.add(doc.digest.id)
        loaded.append(doc)
    if not loaded:
        raise CorpusError(f"No digest in {corpus_dir} could be read: " + "; ".join(warnings),
                          "fix or replace the files named above")
    return loaded, warnings


def _rename(doc: LoadedDigest, new_id: str) -> LoadedDigest:
    from dataclasses import replace

    return LoadedDigest(replace(doc.digest, id=new_id),
                        tuple(replace(p, digest_id=new_id) for p in doc.passages))
