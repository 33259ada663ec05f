"""Integrity: prove that an index build on disk is the one that was written.

A build's manifest records the SHA-256 of every file in the build folder and a checksum of
itself; :func:`verify_build` re-hashes them at load, so truncation, random bytes or a missing
file anywhere in the index is refused (with the rebuild fix) instead of serving damaged
vectors. :func:`verify_vectors` checks what a checksum cannot: vectors of the manifest's
dimension, all finite. :class:`FileStamps` remembers each corpus file's size, mtime and hash, so
checking whether an unchanged corpus needs a build reads no file twice.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

MANIFEST = "manifest.json"
_BLOCK = 1 << 20


def file_sha256(path: Path) -> str:
    """Hex SHA-256 of a file's bytes, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(_BLOCK):
            h.update(block)
    return h.hexdigest()


def _relative_files(folder: Path) -> dict[str, Path]:
    """relative path -> path of every file under ``folder`` except the manifest, sorted."""
    folder = Path(folder)
    return {p.relative_to(folder).as_posix(): p
            for p in sorted(folder.rglob("*")) if p.is_file() and p.name != MANIFEST}


def folder_checksums(folder: Path) -> dict[str, str]:
    """relative path -> SHA-256 of every file under ``folder`` except the manifest."""
    return {rel: file_sha256(p) for rel, p in _relative_files(folder).items()}


def seal(manifest: dict) -> dict:
    """The manifest with a ``checksum`` of its own content (every other field)."""
    body = {k: v for k, v in manifest.items() if k != "checksum"}
    digest = hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=False).encode())
    return {**body, "checksum": digest.hexdigest()}


def verify_build(folder: Path, manifest: dict,
                 sha: Callable[[Path], str] = file_sha256) -> str | None:
    """None when every file of the build matches its manifest, else what is wrong. ``sha``
    hashes a file (e.g. :meth:`FileStamps.sha`, which trusts a file unchanged since it was
    last hashed)."""
    if manifest.get("checksum") != seal(manifest)["checksum"]:
        return "manifest.json does not match its own checksum"
    files = manifest.get("files")
    if not isinstance(files, dict) or not files:
        return "manifest.json lists no file checksums"
    for rel, expected in files.items():
        path = Path(folder) / rel
        if not path.is_file():
            return f"{rel} is missing"
        if sha(path) != expected:
            return f"{rel} does not match its checksum (changed or damaged since the build)"
    extra = set(_relative_files(folder)) - set(files)
    if extra:
        return f"unexpected files in the build: {', '.join(sorted(extra)[:3])}"
    return None


def verify_vectors(vectors: np.ndarray, dim: int) -> str | None:
    """None when the vectors have dimension ``dim`` and are all finite, else what is wrong."""
    if vectors.ndim != 2 or (len(vectors) and vectors.shape[1] != dim):
        return f"vectors have shape {vectors.shape}, the manifest says dimension {dim}"
    bad = int((~np.isfinite(vectors)).any(axis=1).sum())
    return f"{bad} vectors contain NaN or infinity" if bad else None


class FileStamps:
    """Size, mtime and SHA-256 of corpus files, reusing a previous build's hashes for files
    whose size and mtime are unchanged (so an unchanged corpus is checked by ``stat`` alone).

    As in git's "racily clean" rule, a hash is reused only when it was taken at least
    :attr:`RACY_NS` after the file's mtime: a file rewritten with the same size within the
    filesystem's timestamp granularity is hashed again."""

    RACY_NS = 2_000_000_000

    def __init__(self, previous: dict[str, list] | None = None) -> None:
        self.previous = previous or {}
        self.stamps: dict[str, list] = {}

    def reused(self, path: Path) -> bool:
        """True when :meth:`sha` took ``path``'s hash from the previous stamps."""
        old = self.previous.get(str(path))
        return old is not None and self.stamps.get(str(path)) is old

    def sha(self, path: Path) -> str:
        st = os.stat(path)
        key = str(path)
        old = self.previous.get(key)
        if old and len(old) == 4 and old[0] == st.st_size and old[1] == st.st_mtime_ns and \
                old[3] - st.st_mtime_ns >= self.RACY_NS:
            self.stamps[key] = old
            return str(old[2])
        stamped = time.time_ns()
        sha = file_sha256(path)
        self.stamps[key] = [st.st_size, st.st_mtime_ns, sha, stamped]
        return sha
