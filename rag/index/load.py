"""Index: load the searchable index of a corpus (the query side; building is rag.index.build).

A build folder (written by :func:`rag.index.build.build_index`) holds ``manifest.json`` (format
version, model, dimension, corpus fingerprint, a checksum of every file), ``digests.json``,
``papers.jsonl`` + ``papers-index.json`` (:mod:`rag.index.paper_table`), ``chunks.jsonl``
with its row columns ``rows.npz`` + ``rows.json``
(:mod:`rag.index.table`), ``dense.faiss`` + ``vectors.npy`` (:class:`rag.index.stores.FaissStore`)
and ``lexical/``; no pickle anywhere. The one-line ``CURRENT`` file names the live build.
:func:`load_index` verifies the checksums (:mod:`rag.index.integrity`; a file unchanged since a load
verified it is trusted by its size and mtime, unless ``reverify_index``) and the vectors, and
refuses a damaged index with the rebuild fix. A loaded index holds arrays and memory maps, not one
object per chunk: chunks are read lazily, vectors and the FAISS index are memory-mapped. Query-time
code imports this module only: nothing here parses or extracts.
"""

from __future__ import annotations

import contextlib
import json
import os
import uuid
from pathlib import Path

from rag.errors import IndexStateError
from rag.index.integrity import FileStamps, verify_build, verify_vectors
from rag.index.loaded import Index
from rag.index.paper_table import read_papers
from rag.index.stores import FaissStore, LexicalIndex
from rag.index.table import ChunkTable
from rag.records import Digest
from rag.settings import INDEX_FORMAT_VERSION, Settings

__all__ = ["CURRENT", "PROFILES", "Index", "current_folder", "load_index", "read_manifest"]

CURRENT = "CURRENT"
VERIFIED = ".verified.json"  # stamps of the index files a load last verified (FileStamps)
PROFILES = "lexical-papers"  # folder of the paper-profile BM25 index


def current_folder(index_dir: Path) -> Path | None:
    """The live build folder named by ``CURRENT``, or None when there is no index."""
    pointer = Path(index_dir) / CURRENT
    if not pointer.is_file():
        return None
    folder = Path(index_dir) / pointer.read_text(encoding="utf-8").strip()
    return folder if folder.is_dir() else None


def read_manifest(index_dir: Path) -> dict | None:
    folder = current_folder(index_dir)
    if folder is None:
        return None
    try:
        return json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):  # ValueError: bad JSON or UTF-8
        return None


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:6]}")
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def load_index(settings: Settings, model_name: str | None = None) -> Index:
    """Load the live index; refuses one built for another model or format, saying how to fix."""
    folder = current_folder(settings.index_dir)
    fix = "run `rag index --rebuild` (or `make run`, which rebuilds when needed)"
    if folder is None:
        raise IndexStateError(f"No index in {settings.index_dir}.", "run `rag index`")
    try:
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:  # ValueError: bad JSON or UTF-8
        raise IndexStateError(f"Index manifest in {folder} is unreadable ({err}).", fix) from err
    if manifest.get("format_version") != INDEX_FORMAT_VERSION:
        raise IndexStateError(f"Index in {folder} has format {manifest.get('format_version')}; "
                              f"this version reads format {INDEX_FORMAT_VERSION}.", fix)
    if model_name and manifest.get("model") != model_name:
        raise IndexStateError(f"Index in {folder} was built with {manifest.get('model')!r}; "
                              f"settings ask for {model_name!r}.", fix)
    stamps = FileStamps(None if settings.reverify_index else _verified(settings.index_dir))
    problem = verify_build(folder, manifest, stamps.sha)
    if problem:
        raise IndexStateError(f"Index in {folder} is damaged: {problem}.", fix)
    try:
        digests = {k: Digest.from_dict(v) for k, v in
                   json.loads((folder / "digests.json").read_text(encoding="utf-8")).items()}
        papers = read_papers(folder)  # lazy: a paper is read when asked for
        chunks = ChunkTable(folder)
        dense = FaissStore.load(folder, settings)
        lexical = LexicalIndex.load(folder, len(chunks))
        profile_ids = json.loads((folder / "profiles.json").read_text(encoding="utf-8"))
        paper_lexical = LexicalIndex.load(folder, len(profile_ids), PROFILES)
    except (OSError, RuntimeError, KeyError, TypeError, ValueError) as err:
        raise IndexStateError(f"Index in {folder} is damaged ({err.__class__.__name__}: {err}).",
                              fix) from err
    # finite vectors: checked whenever vectors.npy was hashed again (not trusted by its stamp)
    problem = None if stamps.reused(folder / FaissStore.VECTORS) else \
        verify_vectors(dense.vectors(), int(manifest.get("dim", -1)))
    problem = problem or (
        None if len(dense) == len(chunks) else f"{len(dense)} vectors for {len(chunks)} chunks")
    if problem:
        raise IndexStateError(f"Index in {folder} is damaged: {problem}.", fix)
    with contextlib.suppress(OSError):  # only a cache: a read-only index folder still loads
        _write_atomic(Path(settings.index_dir) / VERIFIED, json.dumps(stamps.stamps))
    return Index(folder, manifest, digests, papers, chunks, chunks.keys(), dense, lexical,
                 paper_lexical, profile_ids)


def _verified(index_dir: Path) -> dict[str, list] | None:
    """Size, mtime and hash of the index files the last successful load verified."""
    try:
        data = json.loads((Path(index_dir) / VERIFIED).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None
