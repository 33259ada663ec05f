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
