"""Re-index speed-ups that must not change a result (issue 13): the metadata index stored as
arrays finds the records the in-memory one finds, title forms compare titles as the merge did,
records convert to the same dicts, and a build leaves the garbage collector as it found it.
Offline and fast: the seed corpus only.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import gc
import random
from pathlib import Path

import numpy as np
import pytest

import rag.extract.key_blocks as key_blocks
from rag.corpus.ingest import load_corpus
from rag.extract.key_blocks import KeyBlocks
from rag.extract.metadata import MetadataIndex, load_metadata, match_by_authors, match_metadata
from rag.extract.papers import extract_papers
from rag.extract.title_forms import SIMILAR, same_title
from rag.extract.titles import similar_normalized
from rag.index.build import build_index
from rag.index.embed import HashingEmbedder
from rag.records import Chunk, Digest, Mention, Paper, Query, UrlClaim, to_dict
from rag.settings import Settings
from rag.text import normalize_title

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def seed() -> tuple[list, list[dict], dict[str, Paper]]:
    docs = load_corpus(ROOT / "corpus")[0]
    meta = load_metadata(ROOT / "corpus" / "arxiv")[0]
    return docs, meta, extract_papers(docs, meta).papers


# ---------------------------------------------------------------- key blocks


def test_key_blocks_give_each_keys_records() -> None:
    random.seed(3)
    blocks = {f"k{i}": sorted(random.sample(range(50), random.randint(1, 5))) for i in range(300)}
    kb = KeyBlocks.of(blocks)
    assert all(kb.get(k) == v for k, v in blocks.items())
    assert kb.get("missing") == () and kb.get("missing", [7]) == [7]
    assert KeyBlocks.valid(kb.hashes, kb.starts, kb.members, 50)
    assert not KeyBlocks.valid(kb.hashes, kb.starts, kb.members, 10)  # a record out of range
    assert not KeyBlocks.valid(kb.hashes[::-1].copy(), kb.starts, kb.members, 50)  # unsorted
    assert not KeyBlocks.valid(kb.hashes, kb.starts.astype(np.int32), kb.members, 50)


def test_colliding_keys_share_a_block(monkeypatch: pytest.MonkeyPatch) -> None:
    """A hash collision gives a look-up more records, never fewer."""
    monkeypatch.setattr(key_blocks, "key_hash", lambda key: 5)
    kb = KeyBlocks.of({"a": [3, 1], "b": [2, 3]})
    assert kb.get("a") == kb.get("b") == [1, 2, 3]


# ---------------------------------------------------------------- stored metadata index


def test_stored_metadata_index_finds_what_the_built_one_finds(seed) -> None:
    _, meta, papers = seed
    built = MetadataIndex(meta)
    loaded = MetadataIndex(meta, built.to_arrays())
    assert loaded.rows == built.rows and loaded.author_keys == built.author_keys
    assert loaded.by_author == built.by_author
    titles = {normalize_title(t) for p in papers.values() for t in (p.title, p.short_name or "")}
    titles |= {nt for _, nt, _ in built.rows}
    for t in sorted(titles):
        assert loaded.candidates({t}) == built.candidates({t}), t
    for p in papers.values():
        assert match_metadata(p, meta, loaded) == match_metadata(p, meta, built)
        assert match_by_authors(p, meta, p.title, index=loaded) == \
            match_by_authors(p, meta, p.title, index=built)


@pytest.mark.parametrize("damage", ["short", "dtype", "members", "missing", "utf8"])
def test_a_damaged_stored_index_is_refused(seed, damage: str) -> None:
    meta = seed[1]
    arrays = MetadataIndex(meta).to_arrays()
    if damage == "short":
        last = int(np.flatnonzero(arrays["nt"] == ord("\n"))[-1])
        arrays["nt"] = arrays["nt"][:last]  # a title fewer
    elif damage == "dtype":
        arrays["authors"] = arrays["authors"].astype(np.int64)
    elif damage == "members":
        arrays["members"] = arrays["members"] + len(meta)
    elif damage == "missing":
        del arrays["starts"]
    else:
        arrays["pre"] = np.concatenate([arrays["pre"], np.array([0xFF], np.uint8)])
    with pytest.raises(ValueError):
        MetadataIndex(meta, arrays)


# ---------------------------------------------------------------- title forms


def _same_title_before(a: str, b: str) -> bool:
    """papers._same_title as it was before title forms (the reference)."""
    def headless(t: str) -> str:
        head, colon, rest = t.partition(":")
        return normalize_title(rest if colon and len(head.split()) <= 3 else t)
    na, nb = normalize_title(a), normalize_title(b)
    if na == nb:
        return True
    ha, hb = headless(a), headless(b)
    if ha == hb and len(ha.split()) >= 3:
        return True
    short, long_ = sorted((na, nb), key=len)
    if len(short.split()) >= 3 and long_.startswith(short + " "):
        return True
    return len(short) > 20 and similar_normalized(na, nb, SIMILAR)


def test_same_title_is_the_comparison_it_replaces(seed) -> None:
    titles = [p.title for p in seed[2].values()]
    titles += ["FedX: Handling Label Skew", "Handling Label Skew", "Handling Label Skew in X",
               "A: B", "", ":", "Name: Two Words"]
    random.seed(11)
    for _ in range(4000):
        a, b = random.choice(titles), random.choice(titles)
        if random.random() < 0.5 and b:
            i = random.randrange(len(b))
            b = b[:i] + random.choice(["s", "", " x", ": ", "e"]) + b[i + 1:]
        assert same_title(a, b) == _same_title_before(a, b), (a, b)
        assert same_title(b, a) == _same_title_before(b, a), (b, a)


# ---------------------------------------------------------------- records


def _to_dict_before(record: object) -> dict:
    """rag.records.to_dict as it was before its fast paths (the reference)."""
    def plain(v: object) -> object:
        if v is None or isinstance(v, (str, int, float)):
            return v
        if isinstance(v, dt.date):
            return v.isoformat()
        if isinstance(v, (list, tuple)):
            return [plain(x) for x in v]
        if dataclasses.is_dataclass(v) and not isinstance(v, type):
            return _to_dict_before(v)
        return v
    return {f.name: plain(getattr(record, f.name)) for f in dataclasses.fields(record)}


def test_to_dict_is_the_conversion_it_replaces(seed) -> None:
    records: list = list(seed[2].values())
    records += [Digest("d", "T", dt.date(2026, 3, 1), None, "p", "s", 3),
                Digest("d", "T", None, "topic", "p", "s"),
                Query("q", "q", ("a",), since=dt.date(2026, 1, 1), dates_from_question=True),
                Chunk("d:1:0", "d", 1, "S", "text", "e", ("p", "q"), page=2),
                Paper("p", "T", mentions=(Mention("d", 1, "X et al.", ("U",)),),
                      url_claims=(UrlClaim("https://x.org", "code", "d", 1),))]
    for r in records:
        assert to_dict(r) == _to_dict_before(r)
        assert list(to_dict(r)) == list(_to_dict_before(r))  # same key order


# ---------------------------------------------------------------- garbage collector


@pytest.mark.parametrize("enabled", [True, False])
def test_build_leaves_the_collector_as_it_was(tmp_path: Path, enabled: bool) -> None:
    settings = Settings(corpus_dir=ROOT / "corpus", index_dir=tmp_path / "index",
                        model="hashing-256")
    was = gc.isenabled()
    (gc.enable if enabled else gc.disable)()
    try:
        build_index(settings, HashingEmbedder(256), progress=False)
        assert gc.isenabled() == enabled
    finally:
        (gc.enable if was else gc.disable)()
