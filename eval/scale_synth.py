"""Synthetic corpora for the search-at-scale benchmark (:mod:`eval.scale_search`).

* :func:`synthetic_vectors`: N unit vectors in MiniLM space, each a random mix of two real
  MiniLM vectors plus a little Gaussian noise: ``normalise(a r_i + (1 - a) r_j + s g)``, with
  ``a ~ U(0, 1)``, ``r_i, r_j`` real passage vectors (SciFact + the seed corpus) and noise of
  norm ~``noise``. Neighbourhoods are continuous between real documents instead of N random
  points (which no embedding model produces) or copies of a few thousand.
* :func:`write_build`: a complete build folder of N chunks through the product's own writers
  (FaissStore, LexicalIndex, :func:`rag.index.table.write_table`, manifest with checksums) so that
  :func:`rag.index.load.load_index` and :class:`rag.Assistant` load it as they load a real one.
  Each chunk's text is two real SciFact sentences; N/500 digests (dated over two years), one
  paper per 10 chunks (every other chunk names one; 30 % of papers have a code link). The
  BM25 index is built from pre-tokenised sentences (the project's tokenizer, run once per
  sentence instead of once per chunk). The vectors are :func:`synthetic_vectors`, not the
  texts' embeddings: latency, memory and start-up depend on sizes, not on what matches.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

import numpy as np

from rag.index.integrity import folder_checksums, seal
from rag.index.load import CURRENT
from rag.index.paper_table import write_papers
from rag.index.state import corpus_fingerprint
from rag.index.stores import FaissStore, LexicalIndex
from rag.index.table import write_table
from rag.records import Chunk, Digest, Paper, to_dict
from rag.settings import INDEX_FORMAT_VERSION, Settings
from rag.text import tokenize

CHUNKS_PER_DIGEST = 500
CHUNKS_PER_PAPER = 10


def synthetic_vectors(base: np.ndarray, n: int, seed: int = 0, noise: float = 0.3,
                      block: int = 100_000) -> np.ndarray:
    """``n`` unit vectors mixed from pairs of the ``base`` rows (see the module doc)."""
    rng = np.random.default_rng(seed)
    out = np.empty((n, base.shape[1]), dtype=np.float32)
    for lo in range(0, n, block):
        m = min(block, n - lo)
        a = rng.random((m, 1), dtype=np.float32)
        i, j = rng.integers(0, len(base), m), rng.integers(0, len(base), m)
        v = a * base[i] + (1 - a) * base[j]
        v += rng.standard_normal(v.shape, dtype=np.float32) * (noise / np.sqrt(base.shape[1]))
        out[lo:lo + m] = v / np.linalg.norm(v, axis=1, keepdims=True)
    return out


def _records(n: int, sentences: list[str], titles: list[str], seed: int
             ) -> tuple[list[Chunk], dict[str, Digest], dict[str, Paper], np.ndarray]:
    rng = np.random.default_rng(seed)
    n_digests = max(1, n // CHUNKS_PER_DIGEST)
    start = dt.date(2024, 1, 1)
    digests = {f"d{d:05d}": Digest(id=f"d{d:05d}", title=f"Research digest {d}",
                                   date=start + dt.timedelta(days=int(d * 730 / n_digests)),
                                   topic=None, path="", sha256="") for d in range(n_digests)}
    n_papers = max(1, n // CHUNKS_PER_PAPER)
    papers = {f"p{p:06d}": Paper(f"p{p:06d}", titles[p % len(titles)],
                                 code_urls=(f"https://github.com/x/p{p}",) if p % 10 < 3 else ())
              for p in range(n_papers)}
    pairs = rng.integers(0, len(sentences), (n, 2))
    chunks = []
    for i in range(n):
        did = f"d{min(i // CHUNKS_PER_DIGEST, n_digests - 1):05d}"
        text = f"{sentences[pairs[i, 0]]} {sentences[pairs[i, 1]]}"
        pid = (f"p{(i // 2) % n_papers:06d}",) if i % 2 == 0 else ()
        chunks.append(Chunk(id=f"{did}:{i % CHUNKS_PER_DIGEST}:0", digest_id=did,
                            passage_index=i % CHUNKS_PER_DIGEST, section="", text=text,
                            embed_text=text, paper_ids=pid))
    return chunks, digests, papers, pairs


def write_build(index_dir: Path, corpus_dir: Path, n: int, vectors: np.ndarray,
                sentences: list[str], titles: list[str], model: str, store: FaissStore,
                seed: int = 0) -> Path:
    """A build folder of ``n`` synthetic chunks under ``index_dir`` (named by CURRENT), whose
    manifest matches ``corpus_dir`` (an empty folder) so the index counts as up to date."""
    chunks, digests, papers, pairs = _records(n, sentences, titles, seed)
    index_dir.mkdir(parents=True, exist_ok=True)
    corpus_dir.mkdir(parents=True, exist_ok=True)
    folder = index_dir / "build-synthetic"
    folder.mkdir()
    store.save(folder)
    toks = [tokenize(s) for s in sentences]
    lexical = LexicalIndex()
    lexical._bm25.index([toks[a] + toks[b] or ["∅"] for a, b in pairs], show_progress=False)
    lexical.size = n
    lexical.save(folder)
    profiles = LexicalIndex()
    profiles.build([p.title for p in papers.values()])
    profiles.save(folder, "lexical-papers")
    (folder / "profiles.json").write_text(json.dumps(list(papers)), encoding="utf-8")
    (folder / "digests.json").write_text(json.dumps({k: to_dict(d) for k, d in
                                                     digests.items()}), encoding="utf-8")
    write_papers(folder, papers)
    write_table(folder, chunks, [f"k{i}" for i in range(n)], vectors)
    settings = Settings(corpus_dir=corpus_dir, index_dir=index_dir)
    manifest = {"format_version": INDEX_FORMAT_VERSION, "model": model,
                "dim": int(vectors.shape[1]), "fingerprint": corpus_fingerprint(settings),
                "counts": {"digests": len(digests), "papers": len(papers), "chunks": n},
                "warnings": [], "corpus_stamps": {}, "synthetic": True,
                "files": folder_checksums(folder)}
    (folder / "manifest.json").write_text(json.dumps(seal(manifest)), encoding="utf-8")
    (index_dir / CURRENT).write_text(folder.name, encoding="utf-8")
    return folder


def exact_twin(index_dir: Path, twin_dir: Path, vectors: np.ndarray) -> None:
    """The same build with an exact (IndexFlatIP) dense index: every other file hard-linked,
    the manifest's checksums updated: the baseline of the same size."""
    src = index_dir / "build-synthetic"
    dst = twin_dir / "build-synthetic"
    for p in src.rglob("*"):
        if p.is_file() and p.name not in ("manifest.json", FaissStore.FILE,
                                          FaissStore.VECTORS):
            (dst / p.relative_to(src)).parent.mkdir(parents=True, exist_ok=True)
            os.link(p, dst / p.relative_to(src))
    flat = FaissStore(vectors.shape[1], ann_threshold=0)
    flat.add(vectors)
    flat.save(dst)
    os.replace(dst / FaissStore.VECTORS, dst / ".ann-vectors")  # share the ANN build's copy
    os.link(src / FaissStore.VECTORS, dst / FaissStore.VECTORS)
    (dst / ".ann-vectors").unlink()
    manifest = json.loads((src / "manifest.json").read_text(encoding="utf-8"))
    settings = Settings(corpus_dir=twin_dir.parent / "corpus", index_dir=twin_dir)
    manifest["fingerprint"] = corpus_fingerprint(settings)
    manifest["files"] = folder_checksums(dst)
    (dst / "manifest.json").write_text(json.dumps(seal(manifest)), encoding="utf-8")
    (twin_dir / CURRENT).write_text(dst.name, encoding="utf-8")
