"""Re-index speed-ups that must not change a result (issue 13): the metadata index stored as
arrays finds the records the in-memory one finds, title forms compare titles as the merge did,
records convert to the same dicts, short names, bullet labels and URLs link what they linked,
the previous build's content keys read as its records say, metadata files parse from the cache
as they parsed, the BM25 vocabulary keeps its order, and a build leaves the garbage collector as
it found it. Offline and fast: the seed corpus and a 10-digest synthetic one.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import gc
import hashlib
import json
import random
import re
import shutil
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest

import rag.extract.key_blocks as key_blocks
import rag.extract.metadata as metadata_module
import rag.extract.paper_links as paper_links
import rag.extract.papers as papers_module
import rag.urls as urls
from eval.scale_corpus import distinct_corpus
from rag.corpus.ingest import load_corpus
from rag.corpus.parse_cache import ParseCache
from rag.corpus.safe_read import DEFAULT_LIMITS
from rag.extract.key_blocks import KeyBlocks
from rag.extract.metadata import MetadataIndex, load_metadata, match_by_authors, match_metadata
from rag.extract.papers import extract_papers
from rag.extract.title_forms import SIMILAR, same_title
from rag.extract.titles import similar_normalized
from rag.index.build import _chunk_keys, build_index
from rag.index.embed import HashingEmbedder
from rag.index.stores import bm25_matrix
from rag.lexicon import CONNECTORS, is_name_like
from rag.records import Chunk, Digest, Link, Mention, Paper, Passage, Query, UrlClaim, to_dict
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
                Passage("d", 2, "S", "bullet", "t", (Link("x", "https://x.org"),), "L", 1),
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


# ---------------------------------------------------------------- links and URLs


def _link_names_before(docs: list, papers: dict[str, Paper], spans: dict) -> None:
    """paper_links.link_names as it was before whole runs (the reference)."""
    by_word: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for pid, paper in papers.items():
        name = paper.short_name
        if name and len(name) >= 3 and is_name_like(name):
            by_word[re.search(r"\w+", name).group()].append((name, pid))  # type: ignore[union-attr]
    for doc in docs:
        for p in doc.passages:
            for word in set(re.findall(r"\w+", p.text)) & by_word.keys():
                for name, pid in by_word[word]:
                    for a, b in paper_links._whole_name(name, p.text):
                        spans[(p.digest_id, p.index)].append((a, b, pid))
                        paper_links._add_mention(papers, pid, p.digest_id, p.index)


def test_link_names_links_what_it_linked(tmp_path: Path, seed) -> None:
    docs = seed[0] + load_corpus(distinct_corpus(10, tmp_path / "c"))[0]
    found = extract_papers(docs).papers
    papers = {pid: dataclasses.replace(p, mentions=p.mentions[:1]) for pid, p in found.items()}
    # names that are not one run of word characters and hyphens take the other path
    for i, (pid, p) in enumerate(list(papers.items())[:40]):
        papers[pid] = dataclasses.replace(p, short_name=random.Random(i).choice(
            ["T-PaiNN’s", "Q.Net", "MoLRE+", p.short_name or "ZACAF", "X"]))
    got, want = dict(papers), dict(papers)
    spans_got: dict = defaultdict(list)
    spans_want: dict = defaultdict(list)
    paper_links.link_names(docs, got, spans_got)
    _link_names_before(docs, want, spans_want)
    assert got == want and list(got) == list(want)
    assert {k: sorted(v) for k, v in spans_got.items()} == \
        {k: sorted(v) for k, v in spans_want.items()}
    assert list(spans_got) == list(spans_want)


def _passage_urls_before(p: Passage) -> list:
    """urls.passage_urls without its quick test (the reference): a passage with a link takes
    the full path, and a link that is not http(s) is passed over there."""
    return urls.passage_urls(dataclasses.replace(p, links=(*p.links, Link("", "mailto:x"))))


def test_passage_urls_skips_only_passages_without_urls(seed) -> None:
    passages = [p for d in seed[0] for p in d.passages]
    random.seed(5)
    for text in ["see https://github.com/o/r.", "HTTP://X.ORG/a", "ArXiv: 2603.01234 here",
                 "arxiv:2603.01234v2", "ARXIV:2603.01234", "no link at all", "nav: home",
                 "(arXiv:2603.04567)", "v: 1"]:
        passages.append(Passage("d", 0, "", "paragraph", random.choice(["A ", ""]) + text))
    for p in passages:
        assert urls.passage_urls(p) == _passage_urls_before(p), p.text


def test_chunk_keys_read_as_the_records_say(tmp_path: Path) -> None:
    settings = Settings(corpus_dir=ROOT / "corpus", index_dir=tmp_path / "index",
                        model="hashing-256")
    report = build_index(settings, HashingEmbedder(256), progress=False)
    text = (report.folder / "chunks.jsonl").read_text(encoding="utf-8")
    want = [json.loads(line)["key"] for line in text.splitlines() if line]
    assert _chunk_keys(text) == want and len(want) == report.chunks
    assert _chunk_keys('{"key": "abc", "id": "x"}\n') == ["abc"]  # another layout: parsed
    lookalike = json.dumps({"text": 'x", "key": "' + "0" * 32})  # a text ending like a key
    with pytest.raises(KeyError):
        _chunk_keys(lookalike)


# ---------------------------------------------------------------- bullet labels


def _described_before(label: str, drafts: list) -> object:
    """papers._described as it was before spaced titles (the reference)."""
    words = [w for w in re.findall(r"[A-Za-z0-9]+", label)
             if w.lower() not in papers_module._PLAIN and w.lower() not in CONNECTORS]
    if len(words) < 2 or not re.search(r"[\s-][a-z]", label):
        return None
    hits = []
    for d in drafts:
        title = normalize_title(d.title).split()
        initials = "".join(w[0] for w in title)
        found = sum(1 for w in words if (len(w) >= 3 and any(t.startswith(w.lower())
                                                             for t in title))
                    or (w.isupper() and len(w) >= 2 and w.lower() in initials))
        if found >= 2 and found >= len(words) - 1:
            hits.append(d)
    return hits[0] if len(hits) == 1 else None


def _about_another_before(label: str, text: str, drafts: list) -> bool:
    """papers._about_another as it was before whole runs (the reference)."""
    if len(label.split()) != 1 or is_name_like(label):
        return False
    body = text[len(label):]
    return any(re.search(rf"(?<![\w-]){re.escape(n)}(?![\w-])", body)
               for d in drafts for n in d.short_names if n != label and is_name_like(n))


def test_bullet_label_tests_are_the_ones_they_replace(seed) -> None:
    found = list(seed[2].values())
    rng = random.Random(17)
    for _ in range(300):
        drafts = [papers_module._Draft(p.title, "title", short_names=[
            rng.choice([p.short_name or "ZACAF", "T-PaiNN’s", "Q.Net", "X-Ray9"])])
                  for p in rng.sample(found, 6)]
        words = [w for d in drafts for w in d.title.split()] + ["NR", "SM", "study", "the"]
        label = " ".join(rng.choice(words) for _ in range(rng.randint(1, 4)))
        label = rng.choice([label, label.lower(), label.capitalize(), "Ablations"])
        text = label + ": " + " ".join(rng.choice(words + [n for d in drafts
                                                          for n in d.short_names] + ["-", "/"])
                                       for _ in range(12))
        assert papers_module._described(label, drafts) is _described_before(label, drafts)
        assert papers_module._about_another(label, text, drafts) == \
            _about_another_before(label, text, drafts), (label, text)


# ---------------------------------------------------------------- metadata parses


def test_metadata_parses_are_kept_by_content(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                             ) -> None:
    folder = tmp_path / "arxiv"
    shutil.copytree(ROOT / "corpus" / "arxiv", folder)
    first = sorted(folder.glob("*.jsonl"))[0]
    lines = first.read_text(encoding="utf-8").splitlines(keepends=True)
    first.write_text("".join(lines[::2]) + "{not json\n", encoding="utf-8")
    (folder / "zz-more.jsonl").write_text("".join(lines[1::2]), encoding="utf-8")
    parsed: list[str] = []
    real = metadata_module.parse_files

    def counted(func, files, *args):
        parsed.extend(p.name for p in files)
        return real(func, files, *args)

    monkeypatch.setattr(metadata_module, "parse_files", counted)
    want = load_metadata(folder)
    assert want[1] and parsed  # a warning for the bad line

    def sha_of(path: Path) -> str:
        return hashlib.sha256(path.read_bytes()).hexdigest()

    path = tmp_path / "parse-cache.json"
    cache = ParseCache.load(path, DEFAULT_LIMITS, sha_of)
    assert load_metadata(folder, cache=cache) == want
    cache.save()
    parsed.clear()
    assert load_metadata(folder, cache=ParseCache.load(path, DEFAULT_LIMITS, sha_of)) == want
    assert parsed == []  # every file from the cache
    last = sorted(folder.glob("*.jsonl"))[-1]
    last.write_text(last.read_text(encoding="utf-8").replace("a", "b", 3), encoding="utf-8")
    again = load_metadata(folder, cache=ParseCache.load(path, DEFAULT_LIMITS, sha_of))
    assert parsed == [last.name] and again == load_metadata(folder)


# ---------------------------------------------------------------- BM25 vocabulary


def test_bm25_vocabulary_is_in_order_of_first_appearance() -> None:
    rng = np.random.default_rng(3)
    vocab = [f"t{i}" for i in range(500)]
    docs = []
    for _ in range(200):
        ids = rng.choice(500, size=rng.integers(1, 30), replace=False)
        docs.append((ids.astype(rng.choice([np.int32, np.int64])), rng.integers(1, 5, len(ids))))
    scores, vocab_dict = bm25_matrix(docs, vocab, 1.2, 0.75)
    seen = dict.fromkeys(t for ids, _ in docs for t in ids.tolist())
    assert list(vocab_dict) == [vocab[t] for t in seen] + [""]
    assert list(vocab_dict.values()) == list(range(len(seen) + 1))
    assert scores["num_docs"] == 200 and len(scores["indptr"]) == len(seen) + 1
