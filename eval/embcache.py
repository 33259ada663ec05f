"""Embedding cache for the benchmark: vectors stored by content hash under ``eval/cache/``.

:class:`CachedEmbedder` wraps any :class:`rag.index.embed.Embedder` and keeps every vector it
computes in ``<cache>/<model>/vectors.npy`` (float32 rows) plus ``keys.json`` (the
:func:`rag.index.embed.content_key` of each row, same order) - plain numpy and JSON, no pickle. A
text seen before (same model, same text) is never encoded again, so a rerun of the SciFact
benchmark takes seconds. The wrapper has the embedder's own ``name`` and ``dim``, so indexes
built through it are indistinguishable from ones built with the bare model.
"""

from __future__ import annotations

import json
import os
import re
import time
import uuid
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from rag.index.embed import Embedder, content_key

CACHE = Path(__file__).resolve().parent / "cache"


class CachedEmbedder:
    """An Embedder that looks vectors up by content hash before encoding (and saves them)."""

    def __init__(self, inner: Embedder, folder: Path | None = None, batch: int = 256) -> None:
        self.inner = inner
        self.name = inner.name
        self.dim = inner.dim
        self.batch = batch
        slug = re.sub(r"[^A-Za-z0-9._+-]+", "_", inner.name)
        self.folder = Path(folder or CACHE) / slug
        self._rows: dict[str, int] = {}
        self._vectors = np.zeros((0, self.dim), dtype=np.float32)
        self._pending: list[tuple[str, np.ndarray]] = []
        self.encoded = 0  # texts actually encoded by the model in this process
        self.encode_seconds = 0.0  # time spent in the model in this process
        self.hits = 0
        self._load()

    @property
    def size(self) -> int:
        """Vectors in the cache (on disk and pending)."""
        return len(self._rows) + len(self._pending)

    # ------------------------------------------------------------------ storage
    def _load(self) -> None:
        keys_file, vec_file = self.folder / "keys.json", self.folder / "vectors.npy"
        if not keys_file.is_file() or not vec_file.is_file():
            return
        try:
            keys = json.loads(keys_file.read_text(encoding="utf-8"))
            vectors = np.load(vec_file, allow_pickle=False)
        except (OSError, ValueError):
            return  # unreadable cache: start again
        if vectors.ndim != 2 or vectors.shape != (len(keys), self.dim):
            return
        self._vectors = vectors.astype(np.float32, copy=False)
        self._rows = {k: i for i, k in enumerate(keys)}

    def save(self) -> None:
        """Write pending vectors (atomically: temporary files, then rename)."""
        if not self._pending:
            return
        keys = list(self._rows)
        new = np.vstack([v for _, v in self._pending]).astype(np.float32)
        for k, _ in self._pending:
            self._rows[k] = len(keys)
            keys.append(k)
        self._vectors = np.vstack([self._vectors, new])
        self._pending = []
        self.folder.mkdir(parents=True, exist_ok=True)
        tag = uuid.uuid4().hex[:6]
        tmp_v, tmp_k = self.folder / f".vectors.{tag}.npy", self.folder / f".keys.{tag}.json"
        np.save(tmp_v, self._vectors, allow_pickle=False)
        tmp_k.write_text(json.dumps(keys), encoding="utf-8")
        os.replace(tmp_v, self.folder / "vectors.npy")
        os.replace(tmp_k, self.folder / "keys.json")

    def __len__(self) -> int:
        return len(self._rows) + len(self._pending)

    # ------------------------------------------------------------------ Embedder
    def encode(self, texts: Sequence[str], progress: bool = False) -> np.ndarray:
        keys = [content_key(self.name, t) for t in texts]
        known = {k for k, _ in self._pending}
        missing = list(dict.fromkeys(k for k in keys if k not in self._rows and k not in known))
        if missing:
            from tqdm.auto import tqdm

            by_key = dict(zip(keys, texts))
            missing.sort(key=lambda k: len(by_key[k]))  # similar lengths batch with less padding
            with tqdm(total=len(missing), desc=f"encoding ({self.name})", unit="text",
                      disable=not progress or len(missing) < self.batch, leave=False) as bar:
                for i in range(0, len(missing), self.batch):
                    part = missing[i:i + self.batch]
                    t0 = time.perf_counter()
                    vecs = self.inner.encode([by_key[k] for k in part])
                    self.encode_seconds += time.perf_counter() - t0
                    self.encoded += len(part)
                    self._pending.extend(zip(part, vecs))
                    if len(self._pending) >= 4 * self.batch:
                        self.save()  # a long first run keeps what it has done if stopped
                    bar.update(len(part))
            if len(missing) >= self.batch:
                self.save()
        self.hits += len(keys) - len(missing)
        pending = dict(self._pending)
        rows = np.zeros((len(keys), self.dim), dtype=np.float32)
        for i, k in enumerate(keys):
            rows[i] = pending[k] if k in pending else self._vectors[self._rows[k]]
        return rows
