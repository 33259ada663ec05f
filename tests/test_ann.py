"""FaissStore: exact below ann_threshold, IVF above it, memory-mapped vectors, filters."""

from __future__ import annotations

from pathlib import Path

import faiss
import numpy as np
import pytest

from rag.answer.retrieve import Retriever
from rag.index.build import build_index
from rag.index.embed import HashingEmbedder
from rag.index.load import load_index
from rag.index.stores import FaissStore, ivf_lists
from rag.settings import Settings

DIM = 32


def clustered(n: int, seed: int = 0) -> np.ndarray:
    """Unit vectors around 40 centres (neighbourhoods like real embeddings have)."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((40, DIM))
    x = centres[rng.integers(0, 40, n)] + 0.6 * rng.standard_normal((n, DIM))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x.astype(np.float32)


def exact_top(x: np.ndarray, q: np.ndarray, k: int, rows: np.ndarray | None = None
              ) -> np.ndarray:
    rows = np.arange(len(x)) if rows is None else rows
    sims = x[rows] @ q
    return rows[np.lexsort((rows, -sims))[:k]]


def test_below_the_threshold_search_is_the_flat_index(tmp_path: Path) -> None:
    x = clustered(2000)
    store = FaissStore(DIM, ann_threshold=5000)
    store.add(x)
    assert not store.approximate
    flat = faiss.IndexFlatIP(DIM)
    flat.add(x)
    for q in x[:20] + 0.01:
        ids, scores = store.search(q, 10)
        want_s, want_i = flat.search(q.reshape(1, -1), 10)
        assert ids.tolist() == want_i[0].tolist()
        assert np.allclose(scores, want_s[0])
    store.save(tmp_path)
    loaded = FaissStore.load(tmp_path)
    assert not loaded.approximate and isinstance(loaded.vectors(), np.memmap)
    assert loaded.search(x[3], 10)[0].tolist() == store.search(x[3], 10)[0].tolist()


def test_above_the_threshold_search_is_ivf_with_high_recall(tmp_path: Path) -> None:
    x = clustered(6000)
    # an eighth of the 128 lists; isotropic noise around 40 centres is the hard case for
    # 4-bit product codes: 10 x k candidates re-scored (real embeddings reach it at 5)
    store = FaissStore(DIM, ann_threshold=1000, nprobe=16, rerank=10)
    store.add(x)
    assert store.approximate
    queries = clustered(50, seed=1)
    recall = np.mean([len(set(store.search(q, 10)[0]) & set(exact_top(x, q, 10))) / 10
                      for q in queries])
    assert recall >= 0.9
    store.save(tmp_path)
    loaded = FaissStore.load(tmp_path, Settings(ivf_nprobe=16, ivf_rerank=10))
    assert loaded.approximate and loaded.nlist == ivf_lists(6000)
    for q in queries[:5]:
        assert loaded.search(q, 10)[0].tolist() == store.search(q, 10)[0].tolist()
    # every list probed and enough candidates re-scored: the IVF index is exact
    full = FaissStore.load(tmp_path, Settings(ivf_nprobe=loaded.nlist, ivf_rerank=100))
    for q in queries[:5]:
        assert full.search(q, 10)[0].tolist() == exact_top(x, q, 10).tolist()
    assert np.array_equal(loaded.vectors_at([5, 1, 5]), x[[5, 1, 5]])


def test_filtered_search_stays_inside_the_filter_and_is_exact_when_narrow() -> None:
    x = clustered(6000)
    store = FaissStore(DIM, ann_threshold=1000, nprobe=8, exact_rows=500)
    store.add(x)
    rng = np.random.default_rng(2)
    narrow = np.sort(rng.choice(6000, 300, replace=False))
    wide = np.sort(rng.choice(6000, 3000, replace=False))
    for q in clustered(20, seed=3):
        ids, scores = store.search(q, 10, narrow)
        assert ids.tolist() == exact_top(x, q, 10, narrow).tolist()  # exact over 300 rows
        assert np.allclose(scores, x[ids] @ q, atol=1e-5)
        ids, _ = store.search(q, 10, wide)
        assert set(ids) <= set(wide.tolist()) and len(ids) == 10
    assert len(store.search(x[0], 10, np.array([7]))[0]) == 1
    assert len(store.search(x[0], 10, np.array([], dtype=np.int64))[0]) == 0


def test_an_index_past_the_threshold_is_built_loaded_and_searched(
        fake_settings: Settings) -> None:
    emb = HashingEmbedder(256)
    exact = fake_settings.model_copy(update={"index_dir": fake_settings.index_dir.parent / "x"})
    build_index(exact, emb, progress=False)
    ann = fake_settings.model_copy(update={"ann_threshold": 50, "ivf_nprobe": 10_000})
    build_index(ann, emb, progress=False)
    a, b = load_index(exact, emb.name), load_index(ann, emb.name)
    assert not a.dense.approximate and b.dense.approximate
    assert np.array_equal(np.asarray(a.dense.vectors()), np.asarray(b.dense.vectors()))
    ra, rb = Retriever(a, emb, exact), Retriever(b, emb, ann)
    for question in ("speech recognition model", "protein structure", "robot learning"):
        # every list probed: the approximate index finds what the exact one finds
        assert [h.chunk.id for h in ra.search(question, k=5)] == \
            [h.chunk.id for h in rb.search(question, k=5)]


@pytest.mark.parametrize("n", [1, 100, 10_000, 1_000_000])
def test_ivf_lists_grow_as_the_square_root(n: int) -> None:
    assert ivf_lists(n) >= 16 and ivf_lists(n) & (ivf_lists(n) - 1) == 0
    if n >= 1000:
        assert 1 <= ivf_lists(n) / n ** 0.5 <= 3  # the power of two nearest 2 sqrt(n)


def test_the_ivf_index_holds_4_bit_product_codes_and_returns_exact_cosines(tmp_path: Path
                                                                            ) -> None:
    x = clustered(6000)
    store = FaissStore(DIM, ann_threshold=1000, nprobe=8, rerank=3)
    store.add(x)
    store.save(tmp_path)
    index = faiss.downcast_index(faiss.read_index(str(tmp_path / FaissStore.FILE)))
    assert isinstance(index, faiss.IndexIVFPQFastScan) and index.code_size == DIM // 4
    # half a byte per two dimensions: a sixteenth of IndexIVFFlat's floats (plus the lists)
    assert (tmp_path / FaissStore.FILE).stat().st_size < 0.2 * x.nbytes
    loaded = FaissStore.load(tmp_path, Settings(ivf_nprobe=8, ivf_rerank=3))
    assert loaded.rerank == 3
    for q in clustered(10, seed=4):
        ids, scores = loaded.search(q, 10)
        assert np.allclose(scores, x[ids] @ q, rtol=0, atol=1e-6)  # re-scored exactly
        assert list(scores) == sorted(scores, reverse=True)
        # the re-ranked k are the exact best of the candidates the codes chose
        assert loaded.rescored(10) == min(len(x), max(30, FaissStore.MIN_RESCORED))
        _, many = loaded._index.search(q.reshape(1, -1), loaded.rescored(10),  # noqa: SLF001
                                       params=faiss.SearchParametersIVF(nprobe=8))
        assert ids.tolist() == exact_top(x, q, 10, np.sort(many[0][many[0] >= 0])).tolist()


def test_vectors_are_read_by_row_without_mapping_the_file(tmp_path: Path) -> None:
    x = clustered(300)
    store = FaissStore(DIM)
    store.add(x)
    store.save(tmp_path)
    loaded = FaissStore.load(tmp_path)
    assert loaded._file is not None  # noqa: SLF001 - rows come by pread
    rows = [5, 1, 5, -1, 299]
    assert np.array_equal(loaded.vectors_at(rows), x[rows])
    with pytest.raises(IndexError):
        loaded.vectors_at([300])
    loaded.PREAD_ROWS = 2  # more rows than that: through the memory map, same values
    assert np.array_equal(loaded.vectors_at(rows), x[rows])
    assert np.array_equal(loaded.vectors(), x)


def test_an_index_of_the_previous_format_is_refused_with_the_rebuild_fix(
        fake_settings: Settings) -> None:
    import json

    from rag.errors import IndexStateError
    from rag.index.load import current_folder

    emb = HashingEmbedder(256)
    build_index(fake_settings, emb, progress=False)
    manifest = current_folder(fake_settings.index_dir) / "manifest.json"
    data = json.loads(manifest.read_text(encoding="utf-8"))
    data["format_version"] = 6  # IndexIVFFlat dense files
    manifest.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(IndexStateError, match="format 6") as err:
        load_index(fake_settings, emb.name)
    assert "--rebuild" in (err.value.fix or "")
