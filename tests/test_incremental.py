"""Incremental re-index (issue 13, item 2): a build after one digest changed tokenises, parses
and matches only what changed, and gives exactly what a from-scratch build gives; identical
digests under several file names are one digest's papers. Offline, hashing embedder.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import bm25s
import numpy as np
import pytest

import rag.index.lexical_cache as lexical_cache
from eval.scale_corpus import distinct_corpus
from rag.corpus.ingest import load_corpus
from rag.corpus.parse_cache import ParseCache
from rag.corpus.safe_read import Limits
from rag.extract.cache import ExtractCache
from rag.extract.papers import extract_papers
from rag.extract.metadata import load_metadata
from rag.index.build import build_index
from rag.index.embed import HashingEmbedder
from rag.index.lexical_cache import TokenCache
from rag.index.load import current_folder, load_index
from rag.index.stores import LexicalIndex
from rag.settings import Settings
from rag.text import tokenize

TEXTS = [
    "Sparse probes find drift in tidal sensor networks; the probes are sparse.",
    "Tidal sensor networks drift. Drift is measured with probes, probes and more probes.",
    "Low-rank adapters for kelp-forest imagery: low-rank, LOW-RANK and rank-one variants.",
    "",  # no tokens at all
    "the of and with",  # stopwords only
    "Kelp forests, tidal pools and sensor buoys share one benthic camera network.",
    "Sparse probes find drift in tidal sensor networks; the probes are sparse.",  # repeated
]
QUERIES = ["sparse probes", "tidal drift", "low-rank kelp", "benthic camera", "rank",
           "nothing matches this"]


def reference(texts: list[str], k1: float = 1.2, b: float = 0.75) -> bm25s.BM25:
    """bm25s indexing the project's tokens itself: the from-scratch build."""
    ref = bm25s.BM25(k1=k1, b=b)
    ref.index([tokenize(t) or ["∅"] for t in texts], show_progress=False)
    return ref


def assert_same_scores(lex: LexicalIndex, ref: bm25s.BM25) -> None:
    for q in QUERIES:
        tokens = [t for t in tokenize(q) if t in ref.vocab_dict]
        want = np.asarray(ref.get_scores(tokens), dtype=np.float32) if tokens else \
            np.zeros(lex.size, dtype=np.float32)
        assert np.array_equal(lex.scores(q), want), q


# ---------------------------------------------------------------- lexical index from counts


@pytest.mark.parametrize("k1,b", [(1.2, 0.75), (0.9, 0.4)])
def test_bm25_from_counts_equals_bm25s_from_tokens(k1: float, b: float) -> None:
    lex = LexicalIndex(k1, b)
    lex.build(TEXTS)
    ref = reference(TEXTS, k1, b)
    assert_same_scores(lex, ref)
    assert lex._bm25.scores["data"].dtype == ref.scores["data"].dtype
    assert sorted(lex._bm25.vocab_dict) == sorted(ref.vocab_dict)


def test_cached_counts_tokenise_only_new_texts(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / lexical_cache.CACHE_FILE
    cache = TokenCache.load(path)
    LexicalIndex().build(TEXTS, cache)
    cache.save()
    seen: list[str] = []
    real = lexical_cache.tokenize
    monkeypatch.setattr(lexical_cache, "tokenize", lambda t: seen.append(t) or real(t))
    edited = TEXTS[:2] + ["Benthic cameras count kelp fronds at dawn."] + TEXTS[3:]
    again = TokenCache.load(path)
    lex = LexicalIndex()
    lex.build(edited, again)
    assert seen == ["Benthic cameras count kelp fronds at dawn."]
    assert_same_scores(lex, reference(edited))
    lex.save(tmp_path / "saved")  # and it survives bm25s's own save and load
    assert_same_scores(LexicalIndex.load(tmp_path / "saved", len(edited)), reference(edited))


def test_damaged_token_cache_is_empty(tmp_path: Path) -> None:
    path = tmp_path / lexical_cache.CACHE_FILE
    cache = TokenCache.load(path)
    LexicalIndex().build(TEXTS, cache)
    cache.save()
    path.write_bytes(path.read_bytes()[:200])
    again = TokenCache.load(path)
    assert again.entries == {}
    lex = LexicalIndex()
    lex.build(TEXTS, again)
    assert_same_scores(lex, reference(TEXTS))


# ---------------------------------------------------------------- parse cache


def test_parse_cache_parses_only_changed_files(tmp_path: Path) -> None:
    corpus = distinct_corpus(6, tmp_path / "c")
    shas = {}

    def sha_of(p: Path) -> str:
        import hashlib

        return shas.setdefault(p, hashlib.sha256(p.read_bytes()).hexdigest())

    path = tmp_path / "parse.json"
    first = ParseCache.load(path, Limits(), sha_of)
    docs, _ = load_corpus(corpus, Limits(), cache=first)
    first.save()
    assert (first.hits, first.misses) == (0, 6)
    target = sorted(corpus.glob("*.txt"))[3]
    target.write_text(target.read_text(encoding="utf-8") + "\nA new closing line.\n",
                      encoding="utf-8")
    shas.clear()
    again = ParseCache.load(path, Limits(), sha_of)
    cached, _ = load_corpus(corpus, Limits(), cache=again)
    assert (again.hits, again.misses) == (5, 1)
    assert cached == load_corpus(corpus, Limits())[0]  # what parsing every file gives
    other = ParseCache.load(path, Limits(max_passage_chars=300), sha_of)
    assert other.entries == {}  # other limits: nothing reused


# ---------------------------------------------------------------- one edited digest


def test_edited_extraction_equals_from_scratch(tmp_path: Path) -> None:
    corpus = distinct_corpus(10, tmp_path / "c")
    meta = load_metadata(corpus / "arxiv")[0]
    path = tmp_path / "extract.json"
    cache = ExtractCache.load(path)
    extract_papers(load_corpus(corpus)[0], meta, cache=cache)
    cache.save()
    target = sorted(corpus.glob("*.txt"))[4]
    target.write_text(target.read_text(encoding="utf-8") + "\nIn new work, Ana Quillfeather "
                      "et al. (University of Lisbon) present “Zephyrine Probes for Edited "
                      "Digest Benchmarks”.\n", encoding="utf-8")
    docs = load_corpus(corpus)[0]
    again = ExtractCache.load(path)
    incremental = extract_papers(docs, meta, cache=again)
    scratch = extract_papers(docs, meta)
    assert list(incremental.papers) == list(scratch.papers)  # same ids in the same order
    assert incremental.papers == scratch.papers and incremental.spans == scratch.spans
    assert again.misses == 1 and again.memo is not None and again.memo.hits > 0
    kept = tmp_path / "metadata-index.npz"  # the snapshot's index, kept for the next builds
    assert kept.is_file()
    with open(kept, "wb") as fh:  # damaged: built again, same result
        np.savez(fh, version=np.array(again.memo.version), nt=np.array([1]))
    damaged = extract_papers(docs, meta, cache=ExtractCache.load(path))
    assert damaged.papers == scratch.papers and damaged.spans == scratch.spans


def _state(settings: Settings) -> dict:
    folder = current_folder(settings.index_dir)
    assert folder is not None
    index = load_index(settings)
    return {"papers": (folder / "papers.jsonl").read_text(encoding="utf-8"),
            "paper_index": (folder / "papers-index.json").read_text(encoding="utf-8"),
            "digests": json.loads((folder / "digests.json").read_text(encoding="utf-8")),
            "chunks": (folder / "chunks.jsonl").read_text(encoding="utf-8"),
            "scores": [index.lexical.scores(q).tolist() for q in QUERIES + ["zephyrine"]],
            "profiles": [index.paper_lexical.scores(q).tolist() for q in QUERIES]}


def test_edited_build_equals_rebuild(tmp_path: Path) -> None:
    corpus = distinct_corpus(10, tmp_path / "c")
    emb = HashingEmbedder(256)
    live = Settings(corpus_dir=corpus, index_dir=tmp_path / "live", model="hashing-256")
    build_index(live, emb, progress=False)
    for name in ("parse-cache.json", "extract-cache.json", lexical_cache.CACHE_FILE):
        assert (tmp_path / "live" / name).is_file()
    target = sorted(corpus.glob("*.txt"))[7]
    target.write_text(target.read_text(encoding="utf-8") + "\nIn new work, Ana Quillfeather "
                      "et al. (University of Lisbon) present “Zephyrine Probes for Edited "
                      "Digest Benchmarks”.\n", encoding="utf-8")
    report = build_index(live, emb, progress=False)
    assert report.embedded >= 1 and not report.up_to_date
    scratch = Settings(corpus_dir=corpus, index_dir=tmp_path / "scratch", model="hashing-256",
                       extract_cache=False)
    build_index(scratch, emb, progress=False, rebuild=True)
    a, b = _state(live), _state(scratch)
    for d in (a["digests"], b["digests"]):
        for v in d.values():
            v.pop("path", None)
    assert a == b


# ---------------------------------------------------------------- identical digests

DIGEST = """Latest 3 papers on Coastal Sensing: March 3, 2026

Coastal sensing roundup

Work by Ana Lopez and Bo Chen (University of Lisbon) on sparse probes and sensor drift.

They show that sparse probes catch sensor drift in tidal buoy networks within days.

In “Kelp Canopy Mapping from Drone Imagery”, Rui Sousa et al. (University of Porto) map kelp
canopies along the Atlantic coast.

- BuoyNet: Marta Reis and Joao Dias (University of Aveiro) release a benchmark of buoy sensor
  streams.
"""
RECORDS = [
    {"arxiv_id": "2603.01001", "title": "Sparse Probes Catch Sensor Drift in Tidal Buoy Networks",
     "authors": ["Ana Lopez", "Bo Chen"]},
    {"arxiv_id": "2603.01002", "title": "Kelp Canopy Mapping from Drone Imagery",
     "authors": ["Rui Sousa", "Ines Costa"]},
]


def _papers(folder: Path, copies: int) -> dict:
    folder.mkdir()
    (folder / "arxiv").mkdir()
    (folder / "arxiv" / "meta.jsonl").write_text(
        "\n".join(json.dumps(r) for r in RECORDS) + "\n", encoding="utf-8")
    for k in range(copies):
        (folder / f"coastal-{k}.txt").write_text(DIGEST, encoding="utf-8")
    docs = load_corpus(folder)[0]
    ps = extract_papers(docs, load_metadata(folder / "arxiv")[0])
    return {pid: (p.title, p.arxiv_id, p.short_name, p.authors,
                  sorted({m.digest_id for m in p.mentions})) for pid, p in ps.papers.items()}


def test_identical_copies_give_one_copys_papers(tmp_path: Path) -> None:
    one = _papers(tmp_path / "one", 1)
    assert any(title.startswith("Work by Ana Lopez") and arxiv == "2603.01001"
               for title, arxiv, *_ in one.values())  # the intro's placeholder, matched
    many = _papers(tmp_path / "many", 4)
    assert list(many) == list(one)  # same papers, same ids, same order
    for pid, (title, arxiv, short, authors, digests) in many.items():
        assert (title, arxiv, short, authors) == one[pid][:4]
        assert digests == [f"coastal-{k}" for k in range(4)]  # named by every copy


def test_copies_in_a_larger_corpus_add_no_papers(tmp_path: Path) -> None:
    base = distinct_corpus(5, tmp_path / "base")
    twice = tmp_path / "twice"
    shutil.copytree(base, twice)
    for f in sorted(base.glob("*.txt")):
        shutil.copy(f, twice / f"copy-{f.name}")
    meta = load_metadata(base / "arxiv")[0]
    a = extract_papers(load_corpus(base)[0], meta).papers
    b = extract_papers(load_corpus(twice)[0], meta).papers
    assert list(a) == list(b)
    assert [p.arxiv_id for p in a.values()] == [p.arxiv_id for p in b.values()]
