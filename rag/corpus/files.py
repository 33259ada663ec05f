"""Corpus files: which files of a corpus folder a build reads, listed without reading them.

The listing alone (no parser, no worker pool) so that checking whether an index is up to date
(:mod:`rag.index.state`) stays cheap at start-up: :mod:`rag.corpus.ingest` and
:mod:`rag.corpus.paper_texts` read the files listed here.
"""

from __future__ import annotations

from pathlib import Path

from rag.corpus.safe_read import inside
from rag.errors import CorpusError

SUPPORTED = (".txt", ".md", ".markdown", ".html", ".htm", ".pdf")  # digest file suffixes
PAPERS_DIR = "papers"  # the corpus sub-folder of the papers' own texts
PAPER_SUFFIXES = (".pdf", ".jsonl", ".bib")


def candidates(corpus_dir: Path) -> list[Path]:
    """Digest-like files at the top of ``corpus_dir`` (symlinks not yet checked), by name."""
    return sorted(p for p in Path(corpus_dir).iterdir()
                  if p.is_file() and p.suffix.lower() in SUPPORTED and not p.name.startswith("."))


def corpus_files(corpus_dir: Path) -> list[Path]:
    """The digest files of a corpus folder (top level only), sorted by name; a symlink to a
    file outside the folder is left out (:func:`rag.corpus.ingest.load_corpus` warns about it)."""
    corpus_dir = Path(corpus_dir)
    if not corpus_dir.is_dir():
        raise CorpusError(f"Corpus folder {corpus_dir} does not exist.",
                          "create it and put digest files (.txt .md .html .pdf) in it, "
                          "or set RAG_CORPUS_DIR")
    return [p for p in candidates(corpus_dir) if inside(p, corpus_dir)]


def paper_candidates(corpus_dir: Path) -> list[Path]:
    """Paper-text files under ``corpus_dir/papers`` (symlinks not yet checked), by name."""
    folder = Path(corpus_dir) / PAPERS_DIR
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir()
                  if p.suffix.lower() in PAPER_SUFFIXES and p.is_file())


def paper_files(corpus_dir: Path) -> list[Path]:
    """The files :func:`rag.corpus.paper_texts.load_paper_texts` reads (for the corpus
    fingerprint): links to files outside the corpus are left out."""
    return [p for p in paper_candidates(corpus_dir) if inside(p, Path(corpus_dir))]
