"""The baseline a user would otherwise pick: LangChain's RecursiveCharacterTextSplitter
(chunk_size 1000, chunk_overlap 200, from ``langchain-text-splitters``) over the same texts,
the same embedding model, and plain FAISS inner-product similarity search (``IndexFlatIP`` on
the unit vectors, i.e. cosine - what LangChain's FAISS vector store does with normalised
embeddings). No hybrid, no headers, no grouping, no filters beyond what the caller applies.

Each baseline chunk remembers the document (BEIR) or the digest span (digest set) it came
from, so its hits can be scored on the same relevance judgements as digest-rag's.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from rag.index.embed import Embedder

CHUNK_SIZE, CHUNK_OVERLAP = 1000, 200


def splitter() -> object:
    """The LangChain splitter with the usual defaults (1000 / 200 characters)."""
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    return RecursiveCharacterTextSplitter(chunk_size=CHUNK_SIZE, chunk_overlap=CHUNK_OVERLAP,
                                          add_start_index=True)


def split_docs(docs: dict[str, str]) -> list[tuple[str, int, str]]:
    """(source id, start offset, chunk text) for every chunk of every document."""
    sp = splitter()
    out: list[tuple[str, int, str]] = []
    for sid, text in docs.items():
        docs_ = sp.create_documents([text], metadatas=[{"source": sid}])  # type: ignore[attr-defined]
        for d in docs_:
            out.append((sid, int(d.metadata.get("start_index", 0)), d.page_content))
    return out


@dataclass
class BaselineIndex:
    """FAISS IndexFlatIP over LangChain chunks; ``source[i]`` is chunk i's document id."""

    sources: list[str]
    starts: list[int]
    texts: list[str]
    dim: int
    seconds: dict = field(default_factory=dict)
    _faiss: object = None

    @classmethod
    def build(cls, docs: dict[str, str], embedder: Embedder,
              progress: bool = False) -> BaselineIndex:
        import faiss

        t0 = time.perf_counter()
        parts = split_docs(docs)
        t_split = time.perf_counter() - t0
        texts = [t for _, _, t in parts]
        t1 = time.perf_counter()
        vectors = embedder.encode(texts, progress=progress) if texts else \
            np.zeros((0, embedder.dim), dtype=np.float32)
        t_enc = time.perf_counter() - t1
        t2 = time.perf_counter()
        index = faiss.IndexFlatIP(embedder.dim)
        if len(vectors):
            index.add(np.ascontiguousarray(vectors, dtype=np.float32))
        t_faiss = time.perf_counter() - t2
        return cls([s for s, _, _ in parts], [a for _, a, _ in parts], texts, embedder.dim,
                   {"split_s": t_split, "encode_s": t_enc, "faiss_s": t_faiss,
                    "build_s": time.perf_counter() - t0, "chunks": len(texts)}, index)

    def search(self, query_vector: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(chunk rows, scores) of the k most similar chunks."""
        n = int(self._faiss.ntotal)  # type: ignore[attr-defined]
        if n == 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        q = np.ascontiguousarray(query_vector.reshape(1, -1), dtype=np.float32)
        scores, ids = self._faiss.search(q, min(k, n))  # type: ignore[attr-defined]
        keep = ids[0] >= 0
        return ids[0][keep], scores[0][keep]

    def doc_run(self, query_vector: np.ndarray, k: int = 10,
                chunks: int = 100) -> dict[str, float]:
        """Documents of the best chunks, each at its best chunk's score (top k documents)."""
        out: dict[str, float] = {}
        rows, scores = self.search(query_vector, chunks)
        for r, s in zip(rows, scores):
            out.setdefault(self.sources[int(r)], float(s))
            if len(out) >= k:
                break
        return out
