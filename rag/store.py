"""Stores: the dense (FAISS) and lexical (BM25) indexes behind narrow interfaces.

:class:`VectorStore` is the seam a distributed vector store would implement later:
``add``, ``search``, ``save``, ``load``. Both stores write plain arrays and JSON (FAISS's own
binary format, ``numpy.save`` without pickle, bm25s's JSON + npy files); nothing is pickled.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import logging

import numpy as np

from .text import tokenize


class VectorStore(Protocol):
    """Inner-product search over unit vectors, addressed by row number."""

    def add(self, vectors: np.ndarray) -> None: ...
    def search(self, query: np.ndarray, k: int,
               allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]: ...
    def vectors(self) -> np.ndarray: ...
    def vectors_at(self, rows: Sequence[int]) -> np.ndarray: ...
    def save(self, folder: Path) -> None: ...


class FaissStore:
    """Exact inner-product search (IndexFlatIP); fine up to a few hundred thousand chunks."""

    FILE = "dense.faiss"

    def __init__(self, dim: int) -> None:
        import faiss

        self.dim = dim
        self._index = faiss.IndexFlatIP(dim)

    def __len__(self) -> int:
        return int(self._index.ntotal)

    def add(self, vectors: np.ndarray) -> None:
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape[1] != self.dim:
            raise ValueError(f"expected vectors of dimension {self.dim}, got {vectors.shape}")
        self._index.add(vectors)

    def search(self, query: np.ndarray, k: int,
               allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(row ids, scores) of the k best rows, optionally only among ``allowed`` rows."""
        import faiss

        n = len(self)
        if n == 0 or k <= 0 or (allowed is not None and len(allowed) == 0):
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        q = np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32)
        params = None
        if allowed is not None:
            params = faiss.SearchParameters(sel=faiss.IDSelectorBatch(
                np.asarray(allowed, dtype=np.int64)))
            k = min(k, len(allowed))
        scores, ids = self._index.search(q, min(k, n), params=params)
        keep = ids[0] >= 0
        return ids[0][keep].astype(np.int64), scores[0][keep]

    def vectors_at(self, rows: Sequence[int]) -> np.ndarray:
        """The stored vectors of some rows."""
        return np.vstack([self._index.reconstruct(int(i)) for i in rows]) if len(rows) else \
            np.zeros((0, self.dim), dtype=np.float32)

    def vectors(self) -> np.ndarray:
        return self._index.reconstruct_n(0, len(self)) if len(self) else \
            np.zeros((0, self.dim), dtype=np.float32)

    def save(self, folder: Path) -> None:
        import faiss

        faiss.write_index(self._index, str(Path(folder) / self.FILE))

    @classmethod
    def load(cls, folder: Path) -> FaissStore:
        import faiss

        index = faiss.read_index(str(Path(folder) / cls.FILE))
        store = cls(index.d)
        store._index = index
        return store


class LexicalIndex:
    """BM25 (bm25s) over the project's own tokens (stopwords out, light stemming)."""

    FOLDER = "lexical"

    def __init__(self, k1: float = 1.2, b: float = 0.75) -> None:
        import bm25s

        # bm25s sets its own logger to DEBUG when first imported ("Building index from
        # tokens" on every build); quiet it here, after that import, not in global config
        logging.getLogger("bm25s").setLevel(logging.WARNING)
        self._bm25 = bm25s.BM25(k1=k1, b=b)
        self.size = 0

    def build(self, texts: list[str]) -> None:
        docs = [tokenize(t) or ["∅"] for t in texts]  # bm25s needs one token per document
        self._bm25.index(docs, show_progress=False)
        self.size = len(texts)

    def scores(self, query: str, mask: np.ndarray | None = None) -> np.ndarray:
        """BM25 score of every document for ``query`` (0 where ``mask`` is 0)."""
        if self.size == 0:
            return np.zeros(0, dtype=np.float32)
        tokens = [t for t in tokenize(query) if t in self._bm25.vocab_dict]
        if not tokens:
            return np.zeros(self.size, dtype=np.float32)
        s = np.asarray(self._bm25.get_scores(tokens), dtype=np.float32)
        return s * mask if mask is not None else s

    def save(self, folder: Path, name: str | None = None) -> None:
        self._bm25.save(str(Path(folder) / (name or self.FOLDER)))

    @classmethod
    def load(cls, folder: Path, size: int, name: str | None = None) -> LexicalIndex:
        import bm25s

        lex = cls()
        lex._bm25 = bm25s.BM25.load(str(Path(folder) / (name or cls.FOLDER)))
        lex.size = size
        return lex
