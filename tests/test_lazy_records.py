"""A loaded index reads its chunks lazily and its per-row columns from the build, giving the
same answers as the per-chunk loops they replace."""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from rag.answer.compose import catalog_of
from rag.answer.query import Catalog
from rag.errors import IndexStateError
from rag.index.build import build_index
from rag.index.embed import HashingEmbedder
from rag.index.load import current_folder, load_index
from rag.index.table import ChunkTable
from rag.records import Chunk
from rag.settings import Settings
from rag.text import tokenize

EMB = HashingEmbedder(256)


@pytest.fixture
def loaded(fake_settings: Settings):  # noqa: ANN201
    build_index(fake_settings, EMB, progress=False)
    return load_index(fake_settings, EMB.name)


def eager_chunks(folder: Path) -> list[Chunk]:
    rows = [json.loads(x) for x in (folder / "chunks.jsonl").read_text().splitlines() if x]
    return [Chunk.from_dict({k: v for k, v in r.items() if k != "key"}) for r in rows]


def test_chunks_are_a_lazy_table_equal_to_the_records(loaded) -> None:  # noqa: ANN001
    chunks = eager_chunks(loaded.folder)
    assert isinstance(loaded.chunks, ChunkTable) and len(loaded.chunks) == len(chunks) > 50
    assert list(loaded.chunks) == chunks
    assert loaded.chunks[-1] == chunks[-1] and loaded.chunks[2:5] == chunks[2:5]
    with pytest.raises(IndexError):
        loaded.chunks[len(chunks)]
    assert all(loaded.chunk_row[c.id] == i for i, c in enumerate(chunks))
    assert loaded.chunk_row.get("no-such:0:0") is None and "no-such:0:0" not in loaded.chunk_row
    papers: dict[str, list[int]] = {}
    for row, c in enumerate(chunks):
        for pid in c.paper_ids:
            papers.setdefault(pid, []).append(row)
    assert dict(loaded.paper_rows) == papers
    keys = [json.loads(x)["key"] for x in
            (loaded.folder / "chunks.jsonl").read_text().splitlines() if x]
    assert list(loaded.keys) == keys


def test_row_columns_match_the_per_chunk_loops(loaded) -> None:  # noqa: ANN001
    chunks, digests, papers = list(loaded.chunks), loaded.digests, loaded.papers
    dates, digest_ids, has_code = loaded.row_facets()
    assert dates.tolist() == [digests[c.digest_id].date.toordinal()
                              if digests[c.digest_id].date else -1 for c in chunks]
    assert digest_ids.tolist() == [c.digest_id for c in chunks]
    want = [any(papers[p].code_urls for p in c.paper_ids if p in papers) for c in chunks]
    assert has_code.tolist() == want and any(want) and not all(want)
    col = {pid: j for j, pid in enumerate(loaded.profile_ids)}
    pairs = [(r, col[p]) for r, c in enumerate(chunks) for p in c.paper_ids
             if p in col and p in papers]
    rows, cols = loaded.paper_pairs(loaded.profile_ids)
    assert list(zip(rows.tolist(), cols.tolist())) == pairs
    own: dict[str, list[int]] = {}
    for r, c in enumerate(chunks):
        if c.source != "digest":
            for p in c.paper_ids:
                own.setdefault(p, []).append(r)
    assert loaded.own_text_rows() == own
    assert np.array_equal(loaded.centroid(), np.asarray(loaded.dense.vectors()).mean(0))


def test_document_frequencies_come_from_bm25_without_tokenising_chunks(loaded) -> None:  # noqa: ANN001
    terms = [frozenset(tokenize(c.embed_text)) for c in loaded.chunks]
    want = Catalog.build(loaded.digests.values(), loaded.papers, terms)
    got = catalog_of(loaded)
    assert dict(got.df) == dict(want.df) and got.n_chunks == want.n_chunks == len(terms)
    assert got.generic == want.generic


def test_a_verified_index_loads_again_without_hashing_and_changes_are_caught(
        fake_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    build_index(fake_settings, EMB, progress=False)
    folder = current_folder(fake_settings.index_dir)
    old = os.stat(folder / "manifest.json").st_mtime - 60
    for p in folder.rglob("*"):
        if p.is_file():
            os.utime(p, (old, old))  # written a minute ago: past the racily-clean window
    load_index(fake_settings, EMB.name)  # hashes every file, remembers the stamps
    import rag.index.integrity

    def no_hash(path: Path) -> str:
        raise AssertionError(f"{path} hashed again")

    monkeypatch.setattr(rag.index.integrity, "file_sha256", no_hash)
    load_index(fake_settings, EMB.name)  # every file unchanged: trusted by its stamp
    monkeypatch.undo()
    path = folder / "vectors.npy"
    data = bytearray(path.read_bytes())
    data[-8:] = bytes(b ^ 0xFF for b in data[-8:])
    path.write_bytes(bytes(data))  # changed: new mtime, hashed again, refused
    with pytest.raises(IndexStateError, match="vectors.npy does not match"):
        load_index(fake_settings, EMB.name)
    strict = fake_settings.model_copy(update={"reverify_index": True})
    with pytest.raises(IndexStateError, match="vectors.npy does not match"):
        load_index(strict, EMB.name)
    assert Counter(p.name for p in folder.iterdir())["rows.npz"] == 1


def test_bm25_is_read_without_bm25s_and_scores_as_bm25s_does(loaded) -> None:  # noqa: ANN001
    import subprocess
    import sys

    import bm25s

    ref = bm25s.BM25.load(str(loaded.folder / "lexical"))
    for question in ("speech recognition model", "protein structure robot", "zzzz", ""):
        tokens = [t for t in tokenize(question) if t in ref.vocab_dict]
        got = loaded.lexical.scores(question)
        want = ref.get_scores(tokens) if tokens else np.zeros(len(loaded.chunks), np.float32)
        assert got.dtype == np.float32 and np.array_equal(got, want)  # to the bit
    code = ("import sys; from rag.index.stores import LexicalIndex; "
            f"LexicalIndex.load({str(loaded.folder)!r}, {len(loaded.chunks)}).scores('model'); "
            "print('bm25s' in sys.modules, 'numba' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.split() == ["False", "False"]


def test_hybrid_takes_the_lexical_top_k_of_every_row_and_filter(loaded, fake_settings  # noqa: ANN001
                                                                 ) -> None:
    from rag.index.engines import FaissEngine, RowFilter, rrf, top_k

    s = fake_settings.model_copy(update={"candidates": 7})
    engine = FaissEngine(loaded, s)
    digests = sorted(loaded.digests)
    for where in (None, RowFilter(digest_ids=frozenset(digests[:2])),
                  RowFilter(has_code=True), RowFilter(digest_ids=frozenset(["none"]))):
        for question in ("speech recognition model", "protein structure", "qqqq"):
            v = EMB.encode([question])[0]
            got = engine.hybrid(question, v, where)
            # what hybrid computed before: top_k over every row's (masked) score
            mask = engine.facets.mask(where)
            if mask is not None and not mask.any():
                assert got.order == ()
                continue
            lex = loaded.lexical.scores(question)
            lex = lex * mask.astype(np.float32) if mask is not None else lex
            l_ids = top_k(lex, 7)
            l_ids = l_ids[lex[l_ids] > 0]
            allowed = np.flatnonzero(mask) if mask is not None else None
            d_ids, _ = loaded.dense.search(v, 7, allowed)
            fused = rrf(((s.dense_weight, d_ids), (s.lexical_weight, l_ids)), s.rrf_k)
            assert got.fused == fused
            assert got.order == tuple(sorted(fused, key=lambda i: -fused[i]))
            assert got.lexical == {i: float(lex[i]) for i in got.order}
            # every candidate's cosine, lexical-only rows' read when asked for; no other row
            assert set(got.dense) == set(got.order)
            for i in got.order:
                assert got.dense[i] == pytest.approx(float(loaded.dense.vectors()[i] @ v),
                                                     abs=1e-5)
            assert got.dense.get(len(loaded.chunks) + 5) is None


def test_chunk_rows_are_read_without_mapping_the_file(loaded) -> None:  # noqa: ANN001
    table = loaded.chunks
    assert table._map == b""  # noqa: SLF001 - read with pread
    rows = eager_chunks(loaded.folder)
    assert [table[i] for i in (0, len(rows) - 1, -1)] == [rows[0], rows[-1], rows[-1]]
    path = Path(os.path.realpath(f"/proc/self/fd/{table._file.fileno()}"))  # noqa: SLF001
    if Path("/proc/self/maps").exists():
        assert str(path) not in Path("/proc/self/maps").read_text()


def test_row_facets_from_chunks_equal_the_loaded_index_columns(seed_fake) -> None:  # noqa: ANN001
    """Filters see the same dates, digests and has-code flags whether the facets come from a
    loaded index's row columns or from the chunk records (the Qdrant build's payloads)."""
    from rag.index.engines import RowFacets

    index = seed_fake.index
    loaded = RowFacets.of(index)
    built = RowFacets(list(index.chunks), index.digests, index.papers)
    assert loaded.has_code.any() and (loaded.dates > 0).any()
    for a, b in ((loaded.dates, built.dates), (loaded.digest_ids, built.digest_ids),
                 (loaded.has_code, built.has_code)):
        assert np.array_equal(a, b)
