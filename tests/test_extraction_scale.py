"""Linear, incremental paper extraction (issue 13, item 2): blocking finds the same papers as
comparing every mention with every paper, the extraction cache reads again only the digests
that changed, and the comparisons per mention stay bounded as the corpus grows (counted, not
timed). Offline and fast: no model, no network.
"""

from __future__ import annotations

import json
import random
import re
import shutil
from pathlib import Path

import pytest

import rag.extract.cache as extract_cache
from eval.scale_corpus import distinct_corpus
from rag.corpus.ingest import load_corpus
from rag.extract.cache import CACHE_FILE, ExtractCache
from rag.extract.paper_links import _whole_name
from rag.extract.papers import PaperSet, extract_papers
from rag.extract.metadata import load_metadata
from rag.extract.titles import similar_normalized, similar_title_keys
from rag.index.build import build_index
from rag.index.embed import HashingEmbedder
from rag.settings import Settings
from rag.text import normalize_title, title_similarity

pytestmark = pytest.mark.slow  # synthetic corpora: left out by `make test-fast`

ROOT = Path(__file__).resolve().parents[1]
DEV = ROOT / "eval" / "data" / "unseen" / "dev"
CORPORA = {"seed": (ROOT / "corpus", ROOT / "corpus" / "arxiv"),
           "dev": (DEV / "digests", DEV / "arxiv")}
NEW_PAPER = ("\nIn a follow-up study, Ana Quillfeather et al. (University of Lisbon) present "
             "“Zephyrine Probes for Edited Digest Benchmarks”, which re-reads one digest.\n")


def same(a: PaperSet, b: PaperSet) -> bool:
    return a.papers == b.papers and a.spans == b.spans


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """25 distinct digests: the 5 seed digests and 4 renamed copies."""
    return distinct_corpus(25, tmp_path_factory.mktemp("scale") / "corpus")


# ---------------------------------------------------------------- blocking = all pairs


@pytest.mark.parametrize("name", sorted(CORPORA))
@pytest.mark.parametrize("with_metadata", [False, True])
def test_blocking_finds_the_same_papers_as_all_pairs(name: str, with_metadata: bool) -> None:
    corpus, arxiv = CORPORA[name]
    docs = load_corpus(corpus)[0]
    meta = load_metadata(arxiv)[0] if with_metadata else None
    blocked = extract_papers(docs, meta)
    all_pairs = extract_papers(docs, meta, exhaustive=True)
    assert same(blocked, all_pairs)
    assert blocked.stats["comparisons"] < all_pairs.stats["comparisons"] / 10


def test_blocking_on_distinct_copies(synthetic: Path) -> None:
    """Five renamed copies: the same papers as all pairs, 78 per copy, none merged across."""
    docs = load_corpus(synthetic)[0]
    meta = load_metadata(synthetic / "arxiv")[0]
    blocked = extract_papers(docs, meta)
    assert same(blocked, extract_papers(docs, meta, exhaustive=True))
    assert len(blocked.papers) == 5 * 78
    assert all(len({m.digest_id.split("-")[0] for m in p.mentions}) == 1
               for p in blocked.papers.values())
    assert sum(bool(p.arxiv_id) for p in blocked.papers.values()) >= 5 * 72


def test_comparisons_per_mention_stay_bounded(synthetic: Path, tmp_path: Path) -> None:
    """Counted, not timed: 10x the digests, at most ~2x the comparisons per mention (all
    pairs: ~100x, each mention compared with every paper so far)."""
    small = extract_papers(load_corpus(distinct_corpus(5, tmp_path / "c5"))[0])
    large = extract_papers(load_corpus(distinct_corpus(50, tmp_path / "c50"))[0])
    per = [ps.stats["comparisons"] / ps.stats["mentions"] for ps in (small, large)]
    assert large.stats["mentions"] == 10 * small.stats["mentions"]
    assert per[1] <= 2 * per[0] + 0.5 and per[1] < 1.5, per
    all_pairs = extract_papers(load_corpus(synthetic)[0], exhaustive=True)
    assert all_pairs.stats["comparisons"] / all_pairs.stats["mentions"] > 20 * per[1]


def test_whole_name_matches_the_pattern_it_replaces() -> None:
    random.seed(13)
    for _ in range(5000):
        name = random.choice(["MoLRE", "T-PaiNN", "ab_c", "X1"])
        text = "".join(random.choice([name, " ", "-", "/", "_", "’s", "é", "a", ".", "9"])
                       for _ in range(random.randint(0, 12)))
        want = [(m.start(), m.end()) for m in
                re.finditer(rf"(?<![\w/-]){re.escape(name)}(?![\w-])", text)]
        assert _whole_name(name, text) == want, (name, text)


def test_similar_normalized_is_title_similarity() -> None:
    docs = load_corpus(ROOT / "corpus")[0]
    titles = [normalize_title(p.title) for p in extract_papers(docs).papers.values()]
    random.seed(7)
    for _ in range(3000):
        a, b = random.choice(titles), random.choice(titles)
        if random.random() < 0.6:  # a near-identical writing
            i = random.randrange(len(b))
            b = normalize_title(b[:i] + random.choice(["s", "", " x", "e"]) + b[i + 1:])
        for at_least in (0.92, 0.93):
            assert similar_normalized(a, b, at_least) == \
                (title_similarity(a, b, at_least=at_least) >= at_least), (a, b)


@pytest.mark.parametrize("a, b", [
    ("Robust Federated Learning under Participation Drift",
     "Robust Federated Learning under Participation Drifts"),  # a word changed
    ("Spectral Graph Sparsification for Faster Message Passing",
     "Spectral Graph Sparsification for Much Faster Message Passing"),  # a word added
    ("A Unified View of Masked Autoencoders for Time Series",
     "Unified View of Masked Autoencoders for Time Series"),  # a connector dropped
    ("Hierarchical Vision Transformers at Scale", "Hierarchical Vision Transformer at Scale"),
])
def test_near_identical_titles_share_a_blocking_key(a: str, b: str) -> None:
    na, nb = normalize_title(a), normalize_title(b)
    assert title_similarity(a, b) >= 0.92
    for at_least in (0.92, 0.93):
        assert set(similar_title_keys(na, at_least)) & \
            set(similar_title_keys(nb, at_least, band=True))


# ---------------------------------------------------------------- the extraction cache


def count_reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Digest ids read by rag.extract.mentions.digest_finds through the cache."""
    read: list[str] = []
    real = extract_cache.digest_finds

    def counted(doc):
        read.append(doc.digest.id)
        return real(doc)

    monkeypatch.setattr(extract_cache, "digest_finds", counted)
    return read


def test_an_edited_digest_is_the_only_one_read_again(corpus: Path, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    read = count_reads(monkeypatch)
    path = tmp_path / CACHE_FILE
    cache = ExtractCache.load(path)
    extract_papers(load_corpus(corpus)[0], cache=cache)
    cache.save()
    assert len(read) == 5
    edited = sorted(corpus.glob("*.txt"))[2]
    edited.write_text(edited.read_text(encoding="utf-8") + NEW_PAPER, encoding="utf-8")
    read.clear()
    docs = load_corpus(corpus)[0]
    again = extract_papers(docs, cache=ExtractCache.load(path))
    assert read == [edited.stem]
    assert same(again, extract_papers(docs))  # merged anew: as if nothing were cached
    assert any("Zephyrine" in p.title for p in again.papers.values())


def test_identical_files_share_an_entry_under_their_own_ids(tmp_path: Path) -> None:
    src = sorted((ROOT / "corpus").glob("*.txt"))[0]
    (tmp_path / "c").mkdir()
    for name in ("a.txt", "b.txt"):
        shutil.copy(src, tmp_path / "c" / name)
    cache = ExtractCache()
    ps = extract_papers(load_corpus(tmp_path / "c")[0], cache=cache)
    assert (cache.misses, cache.hits, len(cache.used)) == (1, 1, 1)
    assert all({m.digest_id for m in p.mentions} == {"a", "b"} for p in ps.papers.values()
               if len(p.mentions) > 1)


@pytest.mark.parametrize("content", ["{not json", json.dumps({"code": "other", "digests": {}}),
                                     json.dumps([1, 2])])
def test_a_bad_or_outdated_cache_is_empty(tmp_path: Path, content: str) -> None:
    path = tmp_path / CACHE_FILE
    path.write_text(content, encoding="utf-8")
    cache = ExtractCache.load(path)
    docs = load_corpus(ROOT / "corpus")[0]
    assert same(extract_papers(docs, cache=cache), extract_papers(docs))
    assert cache.misses == 5
    cache.save()
    assert json.loads(path.read_text(encoding="utf-8"))["code"] == extract_cache.code_version()


def test_a_damaged_entry_is_read_again(tmp_path: Path) -> None:
    docs = load_corpus(ROOT / "corpus")[0]
    cache = ExtractCache(tmp_path / CACHE_FILE)
    extract_papers(docs, cache=cache)
    cache.save()
    data = json.loads((tmp_path / CACHE_FILE).read_text(encoding="utf-8"))
    key = docs[0].digest.sha256
    data["digests"][key]["mentions"] = [["not", "a", "mention"]]
    (tmp_path / CACHE_FILE).write_text(json.dumps(data), encoding="utf-8")
    again = ExtractCache.load(tmp_path / CACHE_FILE)
    assert same(extract_papers(docs, cache=again), extract_papers(docs))
    assert (again.misses, again.hits) == (1, 4)


def test_build_index_keeps_the_cache_and_reads_one_edited_digest(
        fake_settings: Settings, corpus: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    read = count_reads(monkeypatch)
    emb = HashingEmbedder(256)
    build_index(fake_settings, emb, progress=False)
    assert len(read) == 5 and (Path(fake_settings.index_dir) / CACHE_FILE).is_file()
    edited = sorted(corpus.glob("*.txt"))[0]
    edited.write_text(edited.read_text(encoding="utf-8") + NEW_PAPER, encoding="utf-8")
    read.clear()
    report = build_index(fake_settings, emb, progress=False)
    assert read == [edited.stem] and report.embedded >= 1
    read.clear()
    build_index(fake_settings, emb, progress=False, rebuild=True)
    assert len(read) == 5  # --rebuild reads every digest again
    off = fake_settings.model_copy(update={"extract_cache": False})
    (Path(fake_settings.index_dir) / CACHE_FILE).unlink()
    read.clear()
    edited.write_text(edited.read_text(encoding="utf-8") + "\nOne more line.\n",
                      encoding="utf-8")
    build_index(off, emb, progress=False)
    assert not (Path(fake_settings.index_dir) / CACHE_FILE).exists()
