"""Index state: whether the index on disk is missing, stale or incompatible, without building.

:func:`corpus_fingerprint` hashes everything a build reads (the files
:mod:`rag.corpus.files` lists, the metadata snapshot, the settings baked into an index);
:func:`index_state` compares it with the live build's manifest. Only files are listed and
hashed (their hashes reused by size and mtime): nothing is parsed, so an app starting on a
built index checks it without importing the build side.
"""

from __future__ import annotations

import contextlib
import hashlib
from pathlib import Path

from rag.corpus.files import corpus_files, paper_files
from rag.index.integrity import FileStamps
from rag.index.load import read_manifest
from rag.settings import INDEX_FORMAT_VERSION, Settings


def corpus_fingerprint(settings: Settings, stamps: FileStamps | None = None) -> str:
    """Hash of everything a build reads: digest, metadata and paper files, chunking and BM25
    settings (BM25's k1/b are baked into the saved lexical index). ``stamps`` reuses the
    hashes of files whose size and mtime did not change."""
    stamps = stamps or FileStamps()
    h = hashlib.sha256(f"v{INDEX_FORMAT_VERSION}|{settings.context_header}|"
                       f"{settings.max_chunk_chars}|{settings.bm25_k1}|{settings.bm25_b}|"
                       f"{settings.max_file_mb}|{settings.max_text_chars}|"
                       f"{settings.max_passage_chars}|{settings.max_html_depth}".encode())
    files = corpus_files(settings.corpus_dir) if Path(settings.corpus_dir).is_dir() else []
    meta = sorted(Path(settings.metadata_dir).glob("*.jsonl")) if \
        Path(settings.metadata_dir).is_dir() else []
    for path in [*files, *meta, *paper_files(settings.corpus_dir)]:
        h.update(path.name.encode())
        with contextlib.suppress(OSError):
            h.update(stamps.sha(path).encode())
    return h.hexdigest()[:32]


def index_state(settings: Settings, model_name: str) -> tuple[str, str]:
    """('ok' | 'missing' | 'stale' | 'incompatible', reason) of the index for these settings."""
    manifest = read_manifest(settings.index_dir)
    if manifest is None:
        return "missing", f"no index in {settings.index_dir}"
    if manifest.get("format_version") != INDEX_FORMAT_VERSION:
        return "incompatible", (f"index format {manifest.get('format_version')} but this "
                                f"version of digest-rag reads format {INDEX_FORMAT_VERSION}")
    if manifest.get("model") != model_name:
        return "incompatible", (f"index built with model {manifest.get('model')!r}, settings "
                                f"ask for {model_name!r}")
    stamps = FileStamps(manifest.get("corpus_stamps"))
    if manifest.get("fingerprint") != corpus_fingerprint(settings, stamps):
        return "stale", "the corpus or the index settings changed since the index was built"
    return "ok", "up to date"
