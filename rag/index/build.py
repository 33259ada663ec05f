"""Build: turn a corpus folder into a build folder of the index (the write side of rag.index.load).

``build_index`` runs ingest -> papers -> chunk -> embed and writes one build folder (the
files :mod:`rag.index.load` describes and loads). Writes are atomic: a build is written to a
temporary folder, renamed into place, and only then does the one-line ``CURRENT`` file
(replaced atomically) point at it; a crash at any moment leaves the previous index intact.
Embeddings are reused by content hash (model + text), so editing one digest re-embeds only
the chunks whose text changed, identical texts are embedded once, and damaged vectors are never
reused. An unchanged corpus (checked by file size, mtime and hash) is not even parsed again:
the build reports the index up to date. After an edit, caches beside ``CURRENT`` limit the work
to what changed: files are parsed again only when their hash changed
(:mod:`rag.corpus.parse_cache`), digests read for papers only when their text changed
(:mod:`rag.extract.cache`, which also keeps the metadata matches), and texts tokenised for BM25 only
when new (:mod:`rag.index.lexical_cache`); papers, BM25 weights and FAISS are still computed over
the whole corpus, so the result is the one a from-scratch build gives.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import gc
import json
import os
import re
import shutil
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rag.corpus.ingest import load_corpus
from rag.corpus.paper_texts import load_paper_texts
from rag.corpus.parse_cache import CACHE_FILE as PARSE_CACHE
from rag.corpus.parse_cache import ParseCache
from rag.corpus.safe_read import limits_of
from rag.extract.cache import CACHE_FILE, ExtractCache
from rag.extract.metadata import attach_paper_texts, load_metadata
from rag.extract.papers import extract_papers
from rag.index.chunk import PAPERS_DIGEST, chunk_corpus, paper_chunks, paper_profiles, papers_digest
from rag.index.embed import Embedder, content_key
from rag.index.integrity import FileStamps, folder_checksums, seal, verify_build, verify_vectors
from rag.index.lexical_cache import CACHE_FILE as TOKEN_CACHE
from rag.index.lexical_cache import TokenCache
from rag.index.load import CURRENT, PROFILES, _write_atomic, current_folder, read_manifest
from rag.index.paper_table import write_papers
from rag.index.state import corpus_fingerprint
from rag.index.stores import FaissStore, LexicalIndex
from rag.index.table import write_table
from rag.records import to_dict
from rag.settings import INDEX_FORMAT_VERSION, Settings


@dataclass(frozen=True)
class BuildReport:
    """What a build did, for the CLI, the app's status line and the benchmark."""

    folder: Path
    digests: int
    papers: int
    chunks: int
    embedded: int  # chunks embedded in this build
    reused: int  # chunks whose vectors came from the previous build
    seconds: float
    encode_seconds: float
    warnings: tuple[str, ...] = ()
    up_to_date: bool = False  # nothing changed: the live build was kept as it is


@contextlib.contextmanager
def _lock(index_dir: Path) -> Iterator[None]:
    Path(index_dir).mkdir(parents=True, exist_ok=True)
    with open(Path(index_dir) / ".lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _reusable(index_dir: Path, model_name: str, dim: int) -> tuple[dict | None, str | None]:
    """(manifest of the live build, None) when its vectors may be reused by a build with this
    model, else (None, why not); a damaged build is never reused."""
    manifest = read_manifest(index_dir)
    folder = current_folder(index_dir)
    if not manifest or folder is None or manifest.get("model") != model_name or \
            manifest.get("dim") != dim or manifest.get("format_version") != INDEX_FORMAT_VERSION:
        return None, None
    problem = verify_build(folder, manifest)
    if not problem:
        try:
            problem = verify_vectors(FaissStore.load(folder).vectors(), dim)
        except RuntimeError as err:  # FAISS cannot read the file
            problem = str(err).splitlines()[0]
    if problem:
        return None, f"the previous index in {folder} is damaged ({problem}); every chunk is " \
                     "embedded again"
    return manifest, None


def _previous_vectors(index_dir: Path, dim: int) -> tuple[dict[str, np.ndarray], str | None]:
    """(content key -> vector of the live build, warning): empty when its vectors are
    unreadable, of another dimension or not finite."""
    folder = current_folder(index_dir)
    if folder is None:
        return {}, None
    try:
        keys = _chunk_keys((folder / "chunks.jsonl").read_text(encoding="utf-8"))
        vectors = FaissStore.load(folder).vectors()
    except (OSError, RuntimeError, KeyError, json.JSONDecodeError):
        return {}, f"the previous index in {folder} is unreadable; every chunk is embedded again"
    problem = verify_vectors(vectors, dim) or (
        None if len(keys) == len(vectors) else f"{len(vectors)} vectors for {len(keys)} chunks")
    if problem:
        return {}, f"the previous index in {folder} is damaged ({problem}); every chunk is " \
                   "embedded again"
    return dict(zip(keys, vectors)), None


def _chunk_keys(text: str) -> list[str]:
    """The content key of every record of a build's ``chunks.jsonl``: the end of its line,
    where :func:`rag.index.table.write_table` puts it (no need to parse 30,000 records), else
    read from the parsed record (KeyError or JSONDecodeError when it has none)."""
    keys = []
    for line in text.splitlines():
        if not line:
            continue
        key = line[-34:-2]
        if line[-44:-34] == ', "key": "' and line[-2:] == '"}' and _HEX_KEY.fullmatch(key):
            keys.append(key)
        else:
            keys.append(json.loads(line)["key"])
    return keys


_HEX_KEY = re.compile(r"[0-9a-f]{32}")  # rag.index.embed.content_key


def _encode(embedder: Embedder, texts: list[str], progress: bool) -> np.ndarray:
    """All new texts in one call, so sentence-transformers sorts them all by length and pads
    each batch to its own longest text (64-text slices were 1.4x slower); its progress bar
    reports the batches."""
    if not texts:
        return np.zeros((0, embedder.dim), dtype=np.float32)
    return embedder.encode(texts, progress=progress)


def _prepare(embedder: Embedder) -> None:
    """Load the batch model before the timed encode (the auto backend loads torch lazily)."""
    prepare = getattr(embedder, "prepare", None)
    if callable(prepare):
        prepare()


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector: a build allocates millions of small objects
    (passages, mentions, chunks, records) that live until it returns, and the collector
    traversed them again and again (~a third of a re-index of 1,000 digests) to free almost
    nothing (about a thousand objects in cycles). Reference counting frees the rest as ever."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


@_gc_paused()
def build_index(settings: Settings, embedder: Embedder, progress: bool = True,
                rebuild: bool = False) -> BuildReport:
    """Build (or refresh) the index of ``settings.corpus_dir`` into ``settings.index_dir``."""
    t0 = time.perf_counter()
    index_dir = Path(settings.index_dir)
    with _lock(index_dir):
        live, damaged = (None, None) if rebuild else _reusable(index_dir, embedder.name,
                                                                 embedder.dim)
        stamps = FileStamps(live.get("corpus_stamps") if live else None)
        fingerprint = corpus_fingerprint(settings, stamps)
        if live and live.get("fingerprint") == fingerprint:
            folder = current_folder(index_dir)
            assert folder is not None
            n = live["counts"]
            if settings.store == "qdrant":  # e.g. built before with RAG_STORE=faiss
                from rag.index.qdrant import ensure_published
                ensure_published(settings, folder)
            return BuildReport(folder, n["digests"], n["papers"], n["chunks"], 0, n["chunks"],
                               time.perf_counter() - t0, 0.0, tuple(live.get("warnings", ())),
                               up_to_date=True)
        parses = ParseCache.load(index_dir / PARSE_CACHE, limits_of(settings),  # by file hash
                                 lambda p: (stamps.stamps.get(str(p)) or [0, 0, stamps.sha(p)])[2],
                                 fresh=rebuild or not settings.extract_cache)
        docs, warnings = load_corpus(settings.corpus_dir, settings, cache=parses)
        if damaged:
            warnings.append(damaged)
        metadata, meta_warnings = load_metadata(settings.metadata_dir, settings, cache=parses)
        if settings.extract_cache:
            parses.save()
        warnings += meta_warnings
        cache = ExtractCache.load(index_dir / CACHE_FILE,  # what each digest names, by hash
                                  fresh=rebuild or not settings.extract_cache)
        paperset = extract_papers(docs, metadata, cache=cache)
        if settings.extract_cache:
            cache.save()
        chunks = chunk_corpus(docs, paperset, settings.context_header, settings.max_chunk_chars)
        texts, text_warnings = load_paper_texts(settings.corpus_dir, settings)
        warnings += text_warnings
        paperset.papers, owners = attach_paper_texts(paperset.papers, texts)
        digest_records = {d.digest.id: d.digest for d in docs}
        extra = paper_chunks(paperset.papers, texts, owners, digest_records,
                             settings.context_header, settings.max_chunk_chars)
        if any(c.digest_id == PAPERS_DIGEST for c in extra):
            digest_records[PAPERS_DIGEST] = papers_digest(str(settings.corpus_dir))
        chunks += extra
        keys = [content_key(embedder.name, c.embed_text) for c in chunks]
        old: dict[str, np.ndarray] = {}
        if live:
            old, unreadable = _previous_vectors(index_dir, embedder.dim)
            if unreadable:
                warnings.append(unreadable)
        todo: dict[str, int] = {}  # each distinct text not in the previous build, embedded once
        for i, k in enumerate(keys):
            if k not in old and k not in todo:
                todo[k] = i
        if todo:
            _prepare(embedder)
        t_enc = time.perf_counter()
        fresh = _encode(embedder, [chunks[i].embed_text for i in todo.values()], progress)
        encode_seconds = time.perf_counter() - t_enc
        found = {**old, **dict(zip(todo, fresh))}
        vectors = np.zeros((len(chunks), embedder.dim), dtype=np.float32)
        for i, k in enumerate(keys):
            vectors[i] = found[k]

        tmp = index_dir / f".tmp-{uuid.uuid4().hex[:8]}"
        tmp.mkdir(parents=True)
        try:
            dense = FaissStore.for_settings(embedder.dim, settings)
            dense.add(vectors)
            dense.save(tmp)
            tokens = TokenCache.load(index_dir / TOKEN_CACHE,  # term counts, by text hash
                                     fresh=rebuild or not settings.extract_cache)
            lexical = LexicalIndex(settings.bm25_k1, settings.bm25_b)
            lexical.build([c.embed_text for c in chunks], tokens)
            lexical.save(tmp)
            profile_ids, profiles = paper_profiles(paperset.papers, chunks)
            paper_lexical = LexicalIndex(settings.bm25_k1, settings.bm25_b)
            paper_lexical.build(profiles, tokens)
            paper_lexical.save(tmp, PROFILES)
            if settings.extract_cache:
                tokens.save()
            _write_json(tmp / "profiles.json", profile_ids)
            digests = {k: to_dict(d) for k, d in digest_records.items()}
            _write_json(tmp / "digests.json", digests)
            write_papers(tmp, paperset.papers)  # papers.jsonl + index (rag.index.paper_table)
            write_table(tmp, chunks, keys, vectors)  # chunks.jsonl + row columns (rag.index.table)
            seconds = time.perf_counter() - t0
            reused = sum(k in old for k in keys)
            manifest = {
                "format_version": INDEX_FORMAT_VERSION, "model": embedder.name,
                "dim": embedder.dim, "fingerprint": fingerprint,
                "built_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                "counts": {"digests": len(docs), "papers": len(paperset.papers),
                           "chunks": len(chunks)},
                "embedded": len(todo), "reused": reused,
                "seconds": round(seconds, 3), "encode_seconds": round(encode_seconds, 3),
                "settings": {"context_header": settings.context_header,
                             "max_chunk_chars": settings.max_chunk_chars},
                "warnings": warnings,
                "corpus_stamps": stamps.stamps,
                "files": folder_checksums(tmp),
            }
            _write_json(tmp / "manifest.json", seal(manifest), 1)  # last: marks a whole build
            final = index_dir / f"build-{dt.datetime.now():%Y%m%d-%H%M%S}-{uuid.uuid4().hex[:6]}"
            os.replace(tmp, final)
            if settings.store == "qdrant":  # its collection is ready before CURRENT names it
                from rag.index.qdrant import publish
                publish(settings, final.name, chunks, vectors, digest_records, paperset.papers)
            _write_atomic(index_dir / CURRENT, final.name)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        _clean_old_builds(index_dir, keep=final.name)
        if settings.store == "qdrant":
            from rag.index.qdrant import drop_stale
            drop_stale(settings, keep=final.name)
    return BuildReport(final, len(docs), len(paperset.papers), len(chunks), len(todo),
                       reused, time.perf_counter() - t0, encode_seconds, tuple(warnings))


def _write_json(path: Path, data: object, indent: int | None = None) -> None:
    """Compact unless ``indent``: json's C encoder runs only without indentation (papers.json
    of 15,600 papers: ~4x faster)."""
    text = json.dumps(data, ensure_ascii=False, indent=indent) if indent else \
        json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    path.write_text(text, encoding="utf-8")


def _clean_old_builds(index_dir: Path, keep: str) -> None:
    for p in index_dir.iterdir():
        if p.is_dir() and p.name != keep and (p.name.startswith("build-") or
                                               p.name.startswith(".tmp-")):
            shutil.rmtree(p, ignore_errors=True)
