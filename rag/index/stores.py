"""Stores: the dense (FAISS) and lexical (BM25) indexes behind narrow interfaces.

:class:`VectorStore` is the seam a distributed vector store would implement later:
``add``, ``search``, ``save``, ``load``. Both stores write plain arrays and JSON (FAISS's own
binary format, ``numpy.save`` without pickle, bm25s's JSON + npy files); nothing is pickled.
"""

from __future__ import annotations

import json
import logging
import os
import weakref
from collections import Counter
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
    rows, an inverted file of 4-bit product-quantizer codes scanned with SIMD look-up tables
    (IndexIVFPQFastScan, two dimensions per sub-quantizer: 96 bytes a 384-d row, 384 as 8-bit,
    ``nlist`` lists, ``nprobe`` probed) at or above it, whose best ``rerank`` x k rows are
    re-scored exactly from ``vectors.npy`` (so the scores returned are always exact cosines).
    At 1 M rows (a one-off check) the fast scan took ~0.6 ms where 8-bit scalar codes
    (IndexIVFScalarQuantizer, the index before) took ~5.5 ms at the same probes.

    The vectors themselves are also written as ``vectors.npy`` and read back memory-mapped
    (copy-on-write), so :meth:`vectors_at`, :meth:`vectors` and filtered exact search read rows
    from the page cache instead of copying them out of FAISS; the FAISS file is memory-mapped
    too. A filtered search keeping at most ``exact_rows`` rows is exact over those rows;
    a wider one runs the ANN index with a bitmap selector and ``nprobe`` scaled by how much the
    filter removes (choices measured by ``python -m eval.scale_search``, eval/RESULTS.md)."""

    FILE = "dense.faiss"
    VECTORS = "vectors.npy"
    PREAD_ROWS = 4096  # reads of more rows than this go through the memory map
    MIN_RESCORED = 256  # the approximate index returns at least this many rows to re-score

    def __init__(self, dim: int, ann_threshold: int | None = None, nlist: int | None = None,
                 nprobe: int | None = None, exact_rows: int | None = None,
                 rerank: int | None = None) -> None:
        self.dim = dim
        self.ann_threshold = _default("ann_threshold", ann_threshold)
        self.nlist = _default("ivf_nlist", nlist)  # 0: about 2 sqrt(rows), a power of two
        self.nprobe = _default("ivf_nprobe", nprobe)
        self.exact_rows = _default("exact_filter_rows", exact_rows)
        self.rerank = _default("ivf_rerank", rerank)
        self._vectors = np.zeros((0, dim), dtype=np.float32)
        self._index: Any = None  # made on first search or save
        self._file: tuple[int, int] | None = None  # (descriptor, data offset) of vectors.npy

    @classmethod
    def for_settings(cls, dim: int, settings: Settings) -> FaissStore:
        """A store with the ANN choices of ``settings``."""
        return cls(dim, settings.ann_threshold, settings.ivf_nlist, settings.ivf_nprobe,
                   settings.exact_filter_rows, settings.ivf_rerank)

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
        self._file = None

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
                index = faiss.IndexIVFPQFastScan(faiss.IndexFlatIP(self.dim), self.dim, nlist,
                                                 pq_subquantizers(self.dim), 4,
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
        fetch = self.rescored(k) if self.approximate else min(k, n)
        if allowed is None:
            if self.approximate:
                ivf = faiss.SearchParametersIVF()
                ivf.nprobe = min(self.nprobe, index.nlist)
                scores, ids = index.search(q, fetch, params=ivf)
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
            k, fetch = min(k, len(allowed)), min(fetch, len(allowed))
            if self.approximate:  # probe more lists when the filter removes most rows
                probe = int(self.nprobe * min(8.0, n / len(allowed)))
                ivf = faiss.SearchParametersIVF()
                ivf.nprobe = min(probe, index.nlist)
                params: faiss.SearchParameters = ivf
            else:
                params = faiss.SearchParameters()
            params.sel = sel
            scores, ids = index.search(q, fetch if self.approximate else min(k, n),
                                       params=params)
            del packed  # the selector reads it during the search only
        keep = ids[0] >= 0
        if self.approximate:  # the codes rank the candidates; exact cosines pick the k
            return self._exact_among(q[0], ids[0][keep].astype(np.int64), k)
        return ids[0][keep].astype(np.int64), scores[0][keep]

    def rescored(self, k: int) -> int:
        """Rows the approximate index returns for a k-best search, to be re-scored exactly:
        ``rerank`` x k, at least MIN_RESCORED (4-bit codes order close rows coarsely: on 1 M
        synthetic rows, 50 candidates for the best 10 reached recall@10 0.91, 100 0.98 and
        260 0.996, each read by pread in ~1-2 us)."""
        return min(len(self), max(k * max(1, self.rerank), self.MIN_RESCORED))

    def _exact_among(self, q: np.ndarray, rows: np.ndarray, k: int
                     ) -> tuple[np.ndarray, np.ndarray]:
        """Exact k best of ``rows`` (matrix product over their vectors; ties by row)."""
        rows = np.sort(rows)
        sims = self._rows(rows) @ q
        order = np.lexsort((rows, -sims))[:k]
        return rows[order], sims[order].astype(np.float32)

    def vectors_at(self, rows: Sequence[int]) -> np.ndarray:
        """The stored vectors of some rows."""
        if not len(rows):
            return np.zeros((0, self.dim), dtype=np.float32)
        return self._rows(np.asarray(rows, dtype=np.int64))

    def _rows(self, rows: np.ndarray) -> np.ndarray:
        """The vectors of ``rows``: a few read from ``vectors.npy`` with pread (no page of
        it mapped into this process: the page cache keeps files in large folios, and one
        mapped row counted up to 2 MB of resident memory), many read through the memory map."""
        if self._file is None or len(rows) > self.PREAD_ROWS:
            return np.asarray(self._vectors[rows])
        (fd, start), n, size = self._file, len(self), 4 * self.dim
        rows = np.where(rows < 0, rows + n, rows)
        if len(rows) and (int(rows.min()) < 0 or int(rows.max()) >= n):
            raise IndexError(f"vector rows out of range ({n} rows)")
        data = b"".join([os.pread(fd, size, start + r * size) for r in rows.tolist()])
        if len(data) != size * len(rows):
            raise ValueError(f"{self.VECTORS} is shorter than its header says")
        return np.frombuffer(data, dtype=np.float32).reshape(len(rows), self.dim).copy()

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
        if hasattr(os, "pread") and isinstance(vectors, np.memmap):
            fd = os.open(folder / cls.VECTORS, os.O_RDONLY)
            weakref.finalize(store, os.close, fd)
            store._file = (fd, int(vectors.offset))
        if hasattr(index, "nlist"):
            store.nlist = index.nlist
        store._index = index
        return store


def ivf_lists(n: int) -> int:
    """Inverted lists for ``n`` rows: the power of two nearest 2 sqrt(n), at least 16 (2,048
    at 1 M rows: 64 of them probed reached recall@10 0.988 scanning 3 % of the codes, where
    1,024 lists needed 96 probed, 9 %, for 0.986)."""
    return max(16, 1 << round(np.log2(max(n, 1)) / 2 + 1))


def pq_subquantizers(dim: int) -> int:
    """Sub-quantizers of the approximate index's product codes: one per two dimensions (one
    per dimension for an odd ``dim``), 4 bits each."""
    return dim // 2 if dim % 2 == 0 else dim


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
    per_doc = np.array([len(t) for t, _ in docs], dtype=np.int64)
    rows = np.repeat(np.arange(n_docs, dtype=np.int32), per_doc)
    terms = np.concatenate([t for t, _ in docs]) if docs else np.zeros(0, np.int64)
    counts = np.concatenate([c for _, c in docs]) if docs else np.zeros(0, np.int64)
    tf = counts.astype(np.float32)
    # each document's length (its term counts summed), exactly: integer sums well below 2**53
    lengths = np.bincount(rows, weights=counts, minlength=n_docs).astype(np.int64)
    # vocabulary by first appearance: each used term's first position (what np.unique(terms,
    # return_index=True) gives, without sorting every term), then the terms in that order
    first = np.full(len(vocab), len(terms), dtype=np.int64)
    np.minimum.at(first, terms, np.arange(len(terms)))
    used = np.flatnonzero(first < len(terms))
    order = used[np.argsort(first[used], kind="stable")]
    remap = np.zeros(len(vocab) + 1, dtype=np.int64)
    remap[order] = np.arange(len(order))
    cols = remap[terms]
    df = np.bincount(cols, minlength=len(order))
    idf = np.array([math.log(1 + (n_docs - d + 0.5) / (d + 0.5)) for d in df.tolist()],
                   dtype=np.float32)
    avg = lengths.mean() if n_docs else np.float64(0.0)
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
        s = self._scores(self._tokens(query))
        return s * mask if mask is not None else s

    def postings(self, query: str) -> tuple[np.ndarray, list[tuple[np.ndarray, np.ndarray]]]:
        """(BM25 score of every document for ``query``, (documents, weights) of each of its
        distinct terms): the documents scoring above 0 are those listed, each once in a list,
        and a document's score is the sum of its weights over the lists (a term the query
        repeats weighs as many times: to float rounding)."""
        tokens = self._tokens(query)
        m, lists = self._bm25.scores, []
        for c, n in sorted(Counter(self._bm25.vocab_dict[t] for t in tokens).items()):
            if c < len(m["indptr"]) - 1:
                a, b = m["indptr"][c], m["indptr"][c + 1]
                lists.append((m["indices"][a:b], m["data"][a:b] * np.float32(n) if n > 1
                              else m["data"][a:b]))
        return self._scores(tokens), lists

    def _tokens(self, query: str) -> list[str]:
        """The query's terms the index knows (repeats kept: BM25 counts them)."""
        if self.size == 0:
            return []
        return [t for t in tokenize(query) if t in self._bm25.vocab_dict]

    def _scores(self, tokens: list[str]) -> np.ndarray:
        if not tokens:
            return np.zeros(self.size, dtype=np.float32)
        return np.asarray(self._bm25.get_scores(tokens), dtype=np.float32)

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
        """The index saved in ``folder``, read as plain arrays (:class:`SavedBm25`): query
        time does not import bm25s (nor numba, which it imports: ~0.6 s of start-up)."""
        lex = cls.__new__(cls)
        lex._bm25 = SavedBm25(Path(folder) / (name or cls.FOLDER))
        lex.size = size
        return lex


class SavedBm25:
    """A bm25s index as bm25s saves it (params.index.json, vocab.index.json, the CSC score
    matrix as three .npy files), scored as bm25s scores it: the weights of the query's terms
    added into a float32 array with ``np.add.at``, term by term, so the scores are bm25s's to
    the bit. Only the "lucene" method (the one :class:`LexicalIndex` builds) is read. The
    arrays are memory-mapped (a query reads its terms' columns)."""

    def __init__(self, folder: Path) -> None:
        params = json.loads((folder / "params.index.json").read_text(encoding="utf-8"))
        if params.get("method") != "lucene":
            raise ValueError(f"BM25 method {params.get('method')!r} in {folder}; expected "
                             "'lucene'")
        self.k1, self.b = float(params["k1"]), float(params["b"])
        self.dtype = np.dtype(params.get("dtype", "float32"))
        self.int_dtype = np.dtype(params.get("int_dtype", "int32"))
        self.vocab_dict: dict[str, int] = json.loads(
            (folder / "vocab.index.json").read_text(encoding="utf-8"))
        # memory-mapped: a query reads its terms' columns only, and loading reads nothing;
        # held as plain arrays over the maps (np.memmap's subclass hooks ran on every slice
        # and every result: ~0.2 ms of a 1 M-chunk query's BM25)
        self.scores: dict[str, Any] = {
            part: np.asarray(np.load(folder / f"{part}.csc.index.npy", mmap_mode="r",
                                     allow_pickle=False))
            for part in ("data", "indices", "indptr")}
        self.scores["num_docs"] = int(params["num_docs"])

    def get_scores(self, tokens: list[str]) -> np.ndarray:
        ids = np.asarray([self.vocab_dict[t] for t in tokens if t in self.vocab_dict],
                         dtype=self.int_dtype)
        data, indices, indptr = (self.scores[p] for p in ("data", "indices", "indptr"))
        if int(ids.max(initial=0)) >= len(indptr) - 1:  # as bm25s: a term without a column
            raise ValueError("the query has a term the BM25 matrix has no column for")
        out = np.zeros(self.scores["num_docs"], dtype=self.dtype)
        for start, end in zip(indptr[ids].tolist(), indptr[ids + 1].tolist()):
            np.add.at(out, indices[start:end], data[start:end])
        return out
