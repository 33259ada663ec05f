"""Sources of the papers' own text, beside the digests: PDFs and abstract files.

``corpus/papers/*.pdf`` (pypdf): title, abstract and body, page by page, with page numbers kept
for citations. ``corpus/papers/*.jsonl`` (one ``{"title", "abstract", "arxiv_id"?, "authors"?}``
per line) and ``corpus/papers/*.bib`` (BibTeX entries with ``title`` and ``abstract``) hold
abstracts a user supplies. arXiv abstracts arrive through the metadata cache
(:mod:`rag.arxiv`). A PDF without a text layer or a broken file is reported by name and
skipped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from .errors import DocumentError
from .ingest import clean_text, decode, jsonl_records

PAPERS_DIR = "papers"


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


def read_pdf_paper(path: Path) -> PaperText:
    """A paper PDF: title (metadata or first line), abstract, and page texts."""
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(str(path))
        pages = [(i + 1, clean_text(p.extract_text() or "")) for i, p in enumerate(reader.pages)]
        meta_title = (reader.metadata or {}).get("/Title") if reader.metadata else None
    except (PdfReadError, OSError, ValueError, KeyError, TypeError) as err:
        raise DocumentError(path, f"not a readable PDF ({err.__class__.__name__})",
                            "re-download the paper or remove the file") from err
    pages = [(n, t) for n, t in pages if t.strip()]
    if not pages:
        raise DocumentError(path, "PDF has no text layer", "run OCR on it (e.g. ocrmypdf)")
    raw_first = (reader.pages[0].extract_text() or "").strip().splitlines()
    title = str(meta_title).strip() if meta_title and str(meta_title).strip() else (
        raw_first[0].strip() if raw_first else path.stem)
    first = pages[0][1]
    abstract = None
    m = re.search(r"\bAbstract\b[\s.:—-]*(.+?)(?=\b(?:1\.?\s+Introduction|Introduction|"
                  r"Keywords|Index Terms)\b|$)", first, re.IGNORECASE | re.DOTALL)
    if m and len(m.group(1).split()) >= 20:
        abstract = clean_text(m.group(1))
    aid = _ARXIV_IN_TEXT.search(first)
    return PaperText(title=clean_text(title), source="pdf", origin=path.name, abstract=abstract,
                     pages=tuple(pages), arxiv_id=aid.group(1) if aid else None)


def read_jsonl_abstracts(path: Path) -> tuple[list[PaperText], list[str]]:
    """User abstracts, one JSON object per line with at least "title" and "abstract"."""
    text, warning = decode(path.read_bytes(), path)
    recs, bad = jsonl_records(text, path.name, ("title", "abstract"))
    out, warnings = [], ([warning] if warning else []) + bad
    for rec in recs:
        out.append(PaperText(title=clean_text(str(rec["title"])), source="file",
                             origin=path.name, abstract=clean_text(str(rec["abstract"])),
                             arxiv_id=rec.get("arxiv_id") or None,
                             authors=tuple(str(a) for a in rec.get("authors") or ())))
    return out, warnings


def _bib_fields(body: str) -> dict[str, str]:
    fields: dict[str, str] = {}
    i = 0
    while True:
        m = re.compile(r"\s*,?\s*(\w+)\s*=\s*").match(body, i)
        if not m:
            break
        key, i = m.group(1).lower(), m.end()
        if i < len(body) and body[i] == "{":
            depth, j = 0, i
            while j < len(body):
                depth += {"{": 1, "}": -1}.get(body[j], 0)
                if depth == 0:
                    break
                j += 1
            value, i = body[i + 1:j], j + 1
        elif i < len(body) and body[i] == '"':
            j = body.find('"', i + 1)
            value, i = body[i + 1:j], j + 1
        else:
            m2 = re.compile(r"[^,}]+").match(body, i)
            value, i = (m2.group(0), m2.end()) if m2 else ("", i)
        fields[key] = clean_text(re.sub(r"[{}]", "", value))
    return fields


def read_bibtex_abstracts(path: Path) -> tuple[list[PaperText], list[str]]:
    """User abstracts from BibTeX entries with title and abstract (eprint = arXiv id)."""
    text, warning = decode(path.read_bytes(), path)
    out, warnings = [], [warning] if warning else []
    for m in re.finditer(r"@(\w+)\s*\{\s*([^,\s]+)\s*,", text):
        start, depth, j = m.end(), 1, m.end()
        while j < len(text) and depth:
            depth += {"{": 1, "}": -1}.get(text[j], 0)
            j += 1
        f = _bib_fields(text[start:j - 1])
        if not f.get("title") or not f.get("abstract"):
            warnings.append(f"{path.name} entry {m.group(2)}: needs title and abstract; skipped.")
            continue
        aid = f.get("eprint") or (_ARXIV_IN_TEXT.search(f.get("journal", "")) or [None, None])[1]
        out.append(PaperText(title=f["title"], source="file", origin=path.name,
                             abstract=f["abstract"], arxiv_id=aid or None,
                             authors=tuple(a.strip() for a in f.get("author", "").split(" and ")
                                           if a.strip())))
    return out, warnings


def load_paper_texts(corpus_dir: Path) -> tuple[list[PaperText], list[str]]:
    """Every paper text under ``corpus_dir/papers``; unreadable files become warnings."""
    folder = Path(corpus_dir) / PAPERS_DIR
    texts: list[PaperText] = []
    warnings: list[str] = []
    if not folder.is_dir():
        return texts, warnings
    for path in sorted(folder.iterdir()):
        suffix = path.suffix.lower()
        try:
            if suffix == ".pdf":
                texts.append(read_pdf_paper(path))
            elif suffix == ".jsonl":
                got, warns = read_jsonl_abstracts(path)
                texts += got
                warnings += warns
            elif suffix == ".bib":
                got, warns = read_bibtex_abstracts(path)
                texts += got
                warnings += warns
        except DocumentError as err:
            warnings.append(f"skipped {err}")
        except OSError as err:
            warnings.append(f"skipped {path.name}: cannot be read ({err})")
    return texts, warnings


def paper_files(corpus_dir: Path) -> list[Path]:
    """The files ``load_paper_texts`` reads (for the corpus fingerprint)."""
    folder = Path(corpus_dir) / PAPERS_DIR
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in (".pdf", ".jsonl", ".bib"))
