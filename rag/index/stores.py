"""Stores: the dense (FAISS) and lexical (BM25) indexes behind narrow interfaces.

:class:`VectorStore` is the seam a distributed vector store would implement later:
``add``, ``search``, ``save``, ``load``. Both stores write plain arrays and JSON (FAISS's own
binary format, ``numpy.save`` without pickle, bm25s's JSON + npy files); nothing is pickled.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from rag.index.lexical_cache import TokenCache
from rag.settings import Settings
from rag.text import tokenize


class VectorStore(Protocol):
    """Inner-product search over unit vectors, addressed by row number."""

    def add(self, vectors: np.ndarray) -> None: ...
    def search(self, query: np.ndarray, k: int,
               allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]: ...
    def vectors(self) -> np.ndarray: ...
    def vectors_at(self, rows: Sequence[int]) -> np.ndarray: ...
    def save(self, folder: Path) -> None: ...


class FaissStore:
    """Inner-product search over unit vectors: exact (IndexFlatIP) below ``ann_threshold``
    rows, an inverted file (IndexIVFFlat, ``nlist`` lists, ``nprobe`` probed) at or above it.

    The vectors themselves are also written as ``vectors.npy`` and read back memory-mapped
    (copy-on-write), so :meth:`vectors_at`, :meth:`vectors` and filtered exact search read rows
    from the page cache instead of copying them out of FAISS; the FAISS file is memory-mapped
    too. A filtered search keeping at most ``exact_rows`` rows is exact over those rows;
    a wider one runs the ANN index with a bitmap selector and ``nprobe`` scaled by how much the
    filter removes (choices measured by ``python -m eval.scale_search``, eval/RESULTS.md)."""

    FILE = "dense.faiss"
    VECTORS = "vectors.npy"

    def __init__(self, dim: int, ann_threshold: int | None = None, nlist: int | None = None,
                 nprobe: int | None = None, exact_rows: int | None = None) -> None:
        self.dim = dim
        self.ann_threshold = _default("ann_threshold", ann_threshold)
        self.nlist = _default("ivf_nlist", nlist)  # 0: about sqrt(rows), a power of two
        self.nprobe = _default("ivf_nprobe", nprobe)
        self.exact_rows = _default("exact_filter_rows", exact_rows)
        self._vectors = np.zeros((0, dim), dtype=np.float32)
        self._index: Any = None  # made on first search or save

    @classmethod
    def for_settings(cls, dim: int, settings: Settings) -> FaissStore:
        """A store with the ANN choices of ``settings``."""
        return cls(dim, settings.ann_threshold, settings.ivf_nlist, settings.ivf_nprobe,
                   settings.exact_filter_rows)

    def __len__(self) -> int:
        return len(self._vectors)

    @property
    def approximate(self) -> bool:
        """True when searches run the IVF index: a loaded IVF index, or at least
        ``ann_threshold`` rows (0: never)."""
        if self._index is not None:
            return hasattr(self._index, "nprobe")
        return len(self) >= self.ann_threshold > 0

    def add(self, vectors: np.ndarray) -> None:
        vectors = np.array(vectors, dtype=np.float32, copy=True, order="C")
        if vectors.ndim != 2 or vectors.shape[1] != self.dim:
            raise ValueError(f"expected vectors of dimension {self.dim}, got {vectors.shape}")
        self._vectors = np.concatenate([self._vectors, vectors]) if len(self) else vectors
        self._index = None

    def _faiss(self) -> Any:
        """The FAISS index over every row, made (IVF: trained) on first use."""
        if self._index is None:
            import faiss

            n = len(self)
            index: faiss.Index
            if not self.approximate:
                index = faiss.IndexFlatIP(self.dim)
            else:
                nlist = self.nlist or ivf_lists(n)
                index = faiss.IndexIVFFlat(faiss.IndexFlatIP(self.dim), self.dim, nlist,
                                           faiss.METRIC_INNER_PRODUCT)
                sample = np.random.default_rng(0).choice(n, min(n, 40 * nlist), replace=False)
                index.train(np.ascontiguousarray(self._vectors[np.sort(sample)]))
            if n:
                index.add(np.ascontiguousarray(self._vectors))
            self._index = index
        return self._index

    def search(self, query: np.ndarray, k: int,
               allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(row ids, scores) of the k best rows, optionally only among ``allowed`` rows."""
        import faiss

        n = len(self)
        if n == 0 or k <= 0 or (allowed is not None and len(allowed) == 0):
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        q = np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32)
        index = self._faiss()
        if allowed is None:
            if self.approximate:
                ivf = faiss.SearchParametersIVF()
                ivf.nprobe = min(self.nprobe, index.nlist)
                scores, ids = index.search(q, min(k, n), params=ivf)
            else:
                scores, ids = index.search(q, min(k, n))
        elif self.approximate and len(allowed) <= self.exact_rows:
            return self._exact_among(q[0], np.asarray(allowed, dtype=np.int64), k)
        else:
            allowed = np.asarray(allowed, dtype=np.int64)
            bits = np.zeros(n, dtype=bool)
            bits[allowed] = True
            packed = np.packbits(bits, bitorder="little")
            sel = faiss.IDSelectorBitmap(n, faiss.swig_ptr(packed))
            k = min(k, len(allowed))
            if self.approximate:  # probe more lists when the filter removes most rows
                probe = int(self.nprobe * min(8.0, n / len(allowed)))
                ivf = faiss.SearchParametersIVF()
                ivf.nprobe = min(probe, index.nlist)
                params: faiss.SearchParameters = ivf
            else:
                params = faiss.SearchParameters()
            params.sel = sel
            scores, ids = index.search(q, min(k, n), params=params)
            del packed  # the selector reads it during the search only
        keep = ids[0] >= 0
        return ids[0][keep].astype(np.int64), scores[0][keep]

    def _exact_among(self, q: np.ndarray, rows: np.ndarray, k: int
                     ) -> tuple[np.ndarray, np.ndarray]:
        """Exact k best of ``rows`` (matrix product over their vectors; ties by row)."""
        rows = np.sort(rows)
        sims = self._vectors[rows] @ q
        order = np.lexsort((rows, -sims))[:k]
        return rows[order], sims[order].astype(np.float32)

    def vectors_at(self, rows: Sequence[int]) -> np.ndarray:
        """The stored vectors of some rows."""
        if not len(rows):
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.asarray(self._vectors[np.asarray(rows, dtype=np.int64)])

    def vectors(self) -> np.ndarray:
        """Every stored vector (memory-mapped after :meth:`load`: read, not copied)."""
        return self._vectors

    def save(self, folder: Path) -> None:
        """Write ``dense.faiss`` and ``vectors.npy`` (each to a temporary name, then renamed,
        so a process reading the old files through memory maps keeps its copy)."""
        import faiss

        folder = Path(folder)
        tmp = folder / f".{self.FILE}.tmp"
        faiss.write_index(self._faiss(), str(tmp))
        os.replace(tmp, folder / self.FILE)
        with open(folder / f".{self.VECTORS}.tmp", "wb") as fh:
            np.save(fh, np.ascontiguousarray(self._vectors), allow_pickle=False)
        os.replace(folder / f".{self.VECTORS}.tmp", folder / self.VECTORS)

    @classmethod
    def load(cls, folder: Path, settings: Settings | None = None) -> FaissStore:
        """The store saved in ``folder``, both files memory-mapped (``settings``: search
        choices such as ``ivf_nprobe``; the index kind is the one the build chose)."""
        import faiss

        folder = Path(folder)
        index = faiss.read_index(str(folder / cls.FILE), faiss.IO_FLAG_MMAP_IFC
                                 if _is_flat(folder / cls.FILE) else faiss.IO_FLAG_MMAP)
        store = cls.for_settings(index.d, settings) if settings else cls(index.d)
        vectors = np.load(folder / cls.VECTORS, mmap_mode="c", allow_pickle=False)
        if vectors.ndim != 2 or vectors.dtype != np.float32 or len(vectors) != index.ntotal:
            raise ValueError(f"{cls.VECTORS} holds {vectors.shape} {vectors.dtype}, "
                             f"{cls.FILE} {index.ntotal} vectors")
        store._vectors = vectors
        if hasattr(index, "nlist"):
            store.nlist = index.nlist
        store._index = index
        return store


def ivf_lists(n: int) -> int:
    """Inverted lists for ``n`` rows: the power of two nearest sqrt(n), at least 16."""
    return max(16, 1 << round(np.log2(max(n, 1)) / 2))


def _is_flat(path: Path) -> bool:
    """True when the FAISS file holds an IndexFlatIP (its 4-byte type tag is 'IxFI')."""
    with open(path, "rb") as fh:
        return fh.read(4) == b"IxFI"


def _default(name: str, value: int | None) -> int:
    """``value``, or the default of the Settings field ``name``."""
    return int(Settings.model_fields[name].default if value is None else value)


def bm25_matrix(docs: list[tuple[np.ndarray, np.ndarray]], vocab: list[str], k1: float,
                b: float) -> tuple[dict, dict[str, int]]:
    """bm25s's "lucene" weights (its default) of documents given as (term ids into ``vocab``,
    counts): the CSC score matrix bm25s stores, and its vocabulary (terms in order of first
    appearance, then bm25s's empty token). The arithmetic and dtypes are bm25s's own (idf in
    float64 stored as float32, term weights in float64, products stored as float32), so the
    weights are the same numbers."""
    import math

    import scipy.sparse as sp

    n_docs = len(docs)
    lengths = np.array([int(c.sum()) for _, c in docs], dtype=np.int64)
    terms = np.concatenate([t for t, _ in docs]) if docs else np.zeros(0, np.int64)
    tf = np.concatenate([c for _, c in docs]).astype(np.float32) if docs else \
        np.zeros(0, np.float32)
    used, first = np.unique(terms, return_index=True)
    order = used[np.argsort(first, kind="stable")]  # vocabulary by first appearance
    remap = np.zeros(len(vocab) + 1, dtype=np.int64)
    remap[order] = np.arange(len(order))
    cols = remap[terms]
    df = np.bincount(cols, minlength=len(order))
    idf = np.array([math.log(1 + (n_docs - d + 0.5) / (d + 0.5)) for d in df.tolist()],
                   dtype=np.float32)
    avg = lengths.mean() if n_docs else np.float64(0.0)
    per_doc = np.array([len(t) for t, _ in docs], dtype=np.int64)
    rows = np.repeat(np.arange(n_docs, dtype=np.int32), per_doc)
    norm = k1 * ((1 - b) + b * lengths.astype(np.float64) / avg)  # bm25s: per document
    tfc = tf / (norm[rows] + tf)
    weights = (idf[cols] * tfc).astype(np.float32)
    m = sp.csc_matrix((weights, (rows, cols.astype(np.int32))), shape=(n_docs, len(order)),
                      dtype=np.float32)
    vocab_dict = {vocab[t]: i for i, t in enumerate(order.tolist())}
    vocab_dict.setdefault("", len(vocab_dict))
    return {"data": m.data, "indices": m.indices, "indptr": m.indptr,
            "num_docs": n_docs}, vocab_dict


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

    def build(self, texts: list[str], cache: TokenCache | None = None) -> None:
        """Index ``texts``: each one's term counts from ``cache`` (tokenised only when it is
        not there), then bm25s's weights computed from the counts in a few numpy passes. The
        result is the one ``bm25s.BM25.index`` makes from the same tokens (same weights, same
        scores); only the vocabulary's numbering may differ."""
        cache = cache if cache is not None else TokenCache()
        self._bm25.scores, self._bm25.vocab_dict = bm25_matrix(
            [cache.counts(t) for t in texts], cache.vocab, self._bm25.k1, self._bm25.b)
        self._bm25.nonoccurrence_array = None
        self._bm25.unique_token_ids_set = set(self._bm25.vocab_dict.values())
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

    def document_frequencies(self) -> dict[str, int]:
        """term -> documents holding it (the same counts as tokenising every document again),
        read from the index's own term columns."""
        if self.size == 0:
            return {}
        counts = np.diff(np.asarray(self._bm25.scores["indptr"]))
        return {t: int(counts[i]) for t, i in self._bm25.vocab_dict.items()
                if i < len(counts) and counts[i] and t != "∅"}

    def save(self, folder: Path, name: str | None = None) -> None:
        self._bm25.save(str(Path(folder) / (name or self.FOLDER)))

    @classmethod
    def load(cls, folder: Path, size: int, name: str | None = None) -> LexicalIndex:
        import bm25s

        lex = cls()
        lex._bm25 = bm25s.BM25.load(str(Path(folder) / (name or cls.FOLDER)))
        lex.size = size
        return lex
