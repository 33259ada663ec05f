"""Sources of the papers' own text, beside the digests: PDFs and abstract files.

``corpus/papers/*.pdf`` (pypdf): title, abstract and body, page by page, with page numbers kept
for citations. ``corpus/papers/*.jsonl`` (one ``{"title", "abstract", "arxiv_id"?, "authors"?}``
per line) and ``corpus/papers/*.bib`` (BibTeX entries with ``title`` and ``abstract``) hold
abstracts a user supplies. arXiv abstracts arrive through the metadata cache
(:mod:`rag.corpus.arxiv`). Files are read like digests (:mod:`rag.corpus.safe_read`: inside the
corpus, size-bounded, text or refused) and parsed in worker processes under a time limit
(:mod:`rag.corpus.parse_pool`). A PDF without a text layer, an encrypted or broken file, or one that
fails or times out is reported by name and skipped; a bad line or BibTeX entry is reported by file
and line or entry, and the rest of the file loads. The BibTeX reader is one forward pass (an
unclosed quote or brace ends its entry with a warning, it never rescans).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from rag.corpus import safe_read
from rag.corpus.files import PAPER_SUFFIXES, PAPERS_DIR, paper_candidates, paper_files  # noqa: F401
from rag.corpus.ingest import parse_files
from rag.corpus.readers import clean_text, jsonl_lines, name_list, optional_text, pdf_pages
from rag.corpus.safe_read import DEFAULT_LIMITS, Limits, decode, read_bounded
from rag.errors import DocumentError

if TYPE_CHECKING:
    from rag.settings import Settings


@dataclass(frozen=True)
class PaperText:
    """The text of one paper from one source."""

    title: str
    source: str  # "pdf" | "file"
    origin: str  # file name
    abstract: str | None = None
    pages: tuple[tuple[int, str], ...] = ()  # (page number, text) of the body
    arxiv_id: str | None = None
    authors: tuple[str, ...] = ()


_ARXIV_IN_TEXT = re.compile(r"arXiv:\s?(\d{4}\.\d{4,5})", re.IGNORECASE)
_ABSTRACT = re.compile(r"\bAbstract\b[\s.:—-]*", re.IGNORECASE)
_ABSTRACT_END = re.compile(r"\b(?:1\.?\s+Introduction|Introduction|Keywords|Index Terms)\b",
                           re.IGNORECASE)


def read_pdf_paper(path: Path, data: bytes | None = None, limits: Limits = DEFAULT_LIMITS
                   ) -> PaperText:
    """A paper PDF: title (metadata or first line), abstract, and page texts; read from
    ``data`` (else the file). Warnings (text over the limit) are dropped; see
    :func:`parse_paper_file`."""
    return _pdf_paper(path, data, limits)[0]


def _pdf_paper(path: Path, data: bytes | None, limits: Limits) -> tuple[PaperText, list[str]]:
    path = Path(path)
    raw, meta_title, warnings = pdf_pages(path, data, limits.max_text_chars)
    pages = [(n, t) for n, t in ((i + 1, clean_text(r)) for i, r in enumerate(raw)) if t]
    if not pages:
        raise DocumentError(path, "PDF has no text layer", "run OCR on it (e.g. ocrmypdf)")
    raw_first = raw[0].strip().splitlines()
    title = meta_title or (raw_first[0].strip() if raw_first else "") or path.stem
    first = pages[0][1]
    abstract = None
    m = _ABSTRACT.search(first)
    if m:  # up to the introduction (or the page's end): one search each, no backtracking
        end = _ABSTRACT_END.search(first, m.end())
        body = first[m.end():end.start() if end else len(first)]
        if len(body.split()) >= 20:
            abstract = clean_text(body)
    aid = _ARXIV_IN_TEXT.search(first)
    return PaperText(title=clean_text(title)[:500] or path.stem, source="pdf", origin=path.name,
                     abstract=abstract, pages=tuple(pages),
                     arxiv_id=aid.group(1) if aid else None), warnings


def read_jsonl_abstracts(path: Path, data: bytes | None = None, limits: Limits = DEFAULT_LIMITS
                         ) -> tuple[list[PaperText], list[str]]:
    """User abstracts, one JSON object per line with at least "title" and "abstract" (text);
    optional "arxiv_id" (text) and "authors" (a list of names). A bad line or field is a
    warning naming the file and line; the other lines load."""
    path = Path(path)
    text, warnings = decode(read_bounded(path, limits) if data is None else data, path,
                            limits.max_text_chars)
    out: list[PaperText] = []
    recs, bad = jsonl_lines(text, path.name, ("title", "abstract"))
    warnings += bad
    for n, rec in recs:
        line = f"line {n}"
        out.append(PaperText(
            title=clean_text(rec["title"]), source="file", origin=path.name,
            abstract=clean_text(rec["abstract"]),
            arxiv_id=optional_text(rec, "arxiv_id", path.name, line, warnings),
            authors=name_list(rec, "authors", path.name, line, warnings)))
    return out, warnings


_BIB_ENTRY = re.compile(r"@(\w+)\s*\{\s*([^,\s{}]+)\s*,")
_BIB_KEY = re.compile(r"[\s,]*([\w-]+)\s*=\s*")
_BIB_BARE = re.compile(r"[^,}]*")
_BRACES = re.compile(r"[{}]")
_BRACES_QUOTE = re.compile(r'[{}"]')


def _closing_brace(text: str, start: int) -> int:
    """Index of the brace that closes the one open before ``start`` (depth 1 at ``start``), or
    -1 when it never closes. One pass."""
    depth = 1
    for m in _BRACES.finditer(text, start):
        depth += 1 if m.group() == "{" else -1
        if depth == 0:
            return m.start()
    return -1


def _closing_quote(text: str, start: int) -> int:
    """Index of the '"' that ends a quoted BibTeX value begun before ``start`` (quotes inside
    braces do not count), or -1 when it never ends. One pass."""
    depth = 0
    for m in _BRACES_QUOTE.finditer(text, start):
        ch = m.group()
        if ch == '"' and depth == 0:
            return m.start()
        depth = depth + 1 if ch == "{" else max(0, depth - 1) if ch == "}" else depth
    return -1


def _bib_fields(body: str) -> tuple[dict[str, str], list[str]]:
    """(fields, problems) of one entry's body (after "@type{key,"). Linear: every step moves
    forward, and an unterminated {value} or "value" ends the entry with a problem."""
    fields: dict[str, str] = {}
    problems: list[str] = []
    i = 0
    while (m := _BIB_KEY.match(body, i)) and m.end() > i:
        key, i = m.group(1).lower(), m.end()
        if i < len(body) and body[i] in "{\"":
            end = (_closing_brace if body[i] == "{" else _closing_quote)(body, i + 1)
            if end < 0:
                problems.append(f"field '{key}' is never closed (a missing "
                                + ("'}'" if body[i] == "{" else "'\"'") + ")")
                end = len(body)
            value, i = body[i + 1:end], end + 1
        else:
            m2 = _BIB_BARE.match(body, i)
            assert m2 is not None  # [^,}]* matches anywhere, if only the empty string
            value, i = m2.group(0), max(m2.end(), i + 1)
        fields[key] = clean_text(_BRACES.sub("", value))
    return fields, problems


def read_bibtex_abstracts(path: Path, data: bytes | None = None, limits: Limits = DEFAULT_LIMITS
                          ) -> tuple[list[PaperText], list[str]]:
    """User abstracts from BibTeX entries with title and abstract (eprint = arXiv id). An
    entry with a missing field or an unclosed brace or quote is a warning naming the file and
    entry; the other entries load."""
    path = Path(path)
    text, warnings = decode(read_bounded(path, limits) if data is None else data, path,
                            limits.max_text_chars)
    out: list[PaperText] = []
    pos = 0
    if not _BIB_ENTRY.search(text):
        warnings.append(f"{path.name}: no BibTeX entries (@type{{key, ...}}) found; nothing "
                        "read. Fix: check that it is a .bib file.")
    while m := _BIB_ENTRY.search(text, pos):
        end = _closing_brace(text, m.end())
        body = text[m.end():end if end >= 0 else len(text)]
        pos = end + 1 if end >= 0 else len(text)  # the next entry starts after this one
        f, problems = _bib_fields(body)
        if end < 0:
            problems.append("the entry's '}' is missing")
        where = f"{path.name} entry {m.group(2)[:80]}"
        if problems:
            warnings.append(f"{where}: " + "; ".join(problems) + "; entry skipped. Fix: close "
                            "it.")
            continue
        if not f.get("title") or not f.get("abstract"):
            warnings.append(f"{where}: needs title and abstract; skipped. Fix: add them.")
            continue
        aid = f.get("eprint") or (_ARXIV_IN_TEXT.search(f.get("journal", "")) or [None, None])[1]
        out.append(PaperText(title=f["title"], source="file", origin=path.name,
                             abstract=f["abstract"], arxiv_id=aid or None,
                             authors=tuple(a.strip() for a in f.get("author", "").split(" and ")
                                           if a.strip())))
    return out, warnings


def parse_paper_file(path: Path, data: bytes, limits: Limits = DEFAULT_LIMITS
                     ) -> tuple[list[PaperText], list[str]]:
    """Parse one file of the papers folder from its bytes; (paper texts, warnings). Raises
    DocumentError when the file cannot be used. Runs in a parser process."""
    path = safe_read.require_content(path, data, "the paper text")
    suffix = path.suffix.lower()
    if suffix == ".pdf":
        text, warnings = _pdf_paper(path, data, limits)
        return [text], warnings
    if suffix == ".jsonl":
        return read_jsonl_abstracts(path, data, limits)
    return read_bibtex_abstracts(path, data, limits)


def load_paper_texts(corpus_dir: Path, settings: Settings | Limits | None = None
                     ) -> tuple[list[PaperText], list[str]]:
    """Every paper text under ``corpus_dir/papers``; unreadable, refused, failing or timed-out
    files become warnings naming them (:mod:`rag.corpus.parse_pool` runs each under
    ``parse_timeout_s``). ``settings``: a :class:`rag.Settings` or
    :class:`~rag.corpus.safe_read.Limits` (None: from the environment)."""
    limits = safe_read.limits_of(settings)
    texts: list[PaperText] = []
    warnings: list[str] = []
    files = []
    for path in paper_candidates(corpus_dir):
        if safe_read.inside(path, Path(corpus_dir)):
            files.append(path)
        else:
            warnings.append(safe_read.outside_warning(path, Path(corpus_dir)))
    parsed, notes = parse_files(parse_paper_file, files, limits, limits)
    warnings += notes
    for _path, (got, warns) in parsed:
        texts += got
        warnings += warns
    return texts, warnings
