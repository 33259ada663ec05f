"""Bad inputs, table-driven: every file that once hung or aborted a build, or was indexed as
garbage, next to the five good seed digests, good paper texts and the seed arXiv metadata.

For each row the ingest-level loaders (rag.corpus.ingest.load_corpus, rag.corpus.paper_texts.load_paper_texts,
rag.extract.metadata.load_metadata) must return without raising, give exactly one warning naming the
bad file (with the reason and a fix), and load everything else exactly as without it. One
end-to-end case builds the whole index (hashing embedder) over all the bad files at once.
"""

from __future__ import annotations

import io
import json
import logging
import random
import shutil
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from pypdf import PdfReader, PdfWriter

from rag import Assistant, Settings
from rag.corpus.ingest import load_corpus
from rag.corpus.paper_texts import load_paper_texts
from rag.corpus.parse_pool import ParsePool
from rag.corpus.safe_read import Limits
from rag.extract.metadata import load_metadata
from rag.extract.papers import extract_papers
from rag.index.chunk import chunk_corpus
from rag.index.embed import HashingEmbedder
from tests.test_ingest import GOOD_TXT, make_pdf

CORPUS = Path(__file__).resolve().parents[1] / "corpus"
DEEP = "[" * 100_000 + "]" * 100_000  # a JSON value nested 100,000 deep (RecursionError)


# ---------------------------------------------------------------- makers of bad files


def aes_pdf(lines: list[str]) -> bytes:
    """A PDF encrypted with AES-128 (empty user password). pypdf reads it only with the
    optional 'cryptography' package (else DependencyError), which this venv lacks; the
    writer is given a stand-in cipher, since the reader fails before decrypting anything."""
    import pypdf._encryption as enc

    class StandIn:
        def __init__(self, key: bytes) -> None:
            pass

        def encrypt(self, data: bytes) -> bytes:
            return bytes(16) + data + bytes(16 - len(data) % 16)

        def decrypt(self, data: bytes) -> bytes:
            return data

    real, enc.CryptAES = enc.CryptAES, StandIn
    try:
        writer = PdfWriter(clone_from=PdfReader(io.BytesIO(make_pdf(lines))))
        writer.encrypt("", "owner", algorithm="AES-128")
        out = io.BytesIO()
        writer.write(out)
    finally:
        enc.CryptAES = real
    return out.getvalue()


def password_pdf(lines: list[str]) -> bytes:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(make_pdf(lines))))
    writer.encrypt("secret", "owner", algorithm="RC4-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def zip_bytes() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("digest.txt", GOOD_TXT * 50)
    return out.getvalue()


def nested_html(depth: int) -> str:
    return "<h1>Deep</h1><ul>" + "<li>item <ul>" * depth + "</ul></li>" * depth + "</ul>"


def sparse(size: int) -> Callable[[Path], None]:
    def make(path: Path) -> None:
        with open(path, "wb") as fh:
            fh.truncate(size)  # a sparse file: its size without writing it
    return make


def data(content: bytes | str) -> Callable[[Path], None]:
    def make(path: Path) -> None:
        if isinstance(content, str):
            path.write_text(content, encoding="utf-8")
        else:
            path.write_bytes(content)
    return make


def link(target: str) -> Callable[[Path], None]:
    return lambda path: path.symlink_to(target)


def lines(*records: object) -> str:
    return "".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records)


GOOD_PAPER = {"title": "Good Abstract Paper", "abstract": "We test loaders on bad input."}
GOOD_META = {"arxiv_id": "2699.00001", "title": "Good Metadata Record", "authors": ["A. B"]}
LONG_LINE = " ".join(f"word{i}" for i in range(150_000))[:1_000_000]  # 1 MB, no line break
BIG_TEXT = ("Latest 1 papers on size: 2026-01-02\n"
            + "A paragraph of a very long digest that goes on. " * 40 + "\n") * 1300


@dataclass(frozen=True)
class Bad:
    """One row: a bad file, where it goes, and what the loaders must say about it."""

    id: str
    where: str  # "digest" (corpus/), "paper" (corpus/papers/), "meta" (corpus/arxiv/)
    name: str
    make: Callable[[Path], None]
    expect: str  # in the one warning naming the file; "" = no warning at all
    loads: bool = False  # the file itself is read (a digest, a paper text, a record)
    limits: Limits = Limits()


TABLE = [
    # digests
    Bad("random-bytes-as-txt", "digest", "noise.txt", data(random.Random(1).randbytes(20000)),
        "looks like binary data"),
    Bad("zip-as-txt", "digest", "archive.txt", data(zip_bytes()), "is a ZIP archive"),
    Bad("pdf-as-txt", "digest", "paper.txt", data(make_pdf(GOOD_TXT.splitlines())),
        "give it the .pdf extension"),
    Bad("utf16-bom", "digest", "utf16.txt", data(GOOD_TXT.encode("utf-16")), "", loads=True),
    Bad("utf16-be-bom", "digest", "utf16be.md",
        data(b"\xfe\xff" + GOOD_TXT.encode("utf-16-be")), "", loads=True),
    Bad("utf16-no-bom", "digest", "utf16le.txt", data(GOOD_TXT.encode("utf-16-le")), "",
        loads=True),
    Bad("utf32-bom", "digest", "utf32.txt", data(GOOD_TXT.encode("utf-32")), "", loads=True),
    Bad("symlink-to-etc-passwd", "digest", "passwd.txt", link("/etc/passwd"),
        "outside the corpus folder"),
    Bad("50-MB-file", "digest", "huge.txt", sparse(50 * 1024 * 1024), "over the 20 MB limit"),
    Bad("1-MB-single-line", "digest", "oneline.txt", data("Long Line Digest\n" + LONG_LINE), "",
        loads=True),
    Bad("text-over-max-chars", "digest", "big.txt", data("Big Digest\n" + BIG_TEXT),
        "over the 2,000,000 limit", loads=True),
    Bad("aes-encrypted-pdf", "digest", "aes.pdf", data(aes_pdf(GOOD_TXT.splitlines())),
        "encrypted (AES)"),
    Bad("password-pdf", "digest", "locked.pdf", data(password_pdf(GOOD_TXT.splitlines())),
        "password-protected"),
    Bad("corrupt-pdf", "digest", "corrupt.pdf", data(b"%PDF-1.4\n" + bytes(range(256)) * 9),
        "not a readable PDF"),
    Bad("html-nested-3000-deep", "digest", "deep.html", data(nested_html(3000)),
        "elements deep, more than the 256 allowed"),
    Bad("empty", "digest", "blank.md", data(" \n\n"), "is empty"),
    # paper texts
    Bad("bibtex-unterminated-quote", "paper", "refs.bib",
        data('@article{bad, title = "Unterminated, author = {X},\n abstract = {Y}}\n'
             "@article{good, title = {Bib Good Paper}, abstract = {Loads fine.}}\n"),
        "entry bad: field 'title' is never closed", loads=True),
    Bad("bibtex-unterminated-brace", "paper", "open.bib",
        data("@misc{good2, title = {Second Bib Paper}, abstract = {Fine.}}\n"
             "@article{open, title = {Never closed, abstract = {Z}\n"),
        "entry open: field 'title' is never closed", loads=True),
    Bad("aes-encrypted-paper-pdf", "paper", "aes-paper.pdf",
        data(aes_pdf(["A Paper", "Abstract", "Encrypted words " * 10])), "encrypted (AES)"),
    Bad("abstracts-authors-is-a-number", "paper", "authors-abstracts.jsonl",
        data(lines({"title": "Numbered Authors", "abstract": "Kept.", "authors": 5})),
        "line 1: 'authors' must be a list of names", loads=True),
    Bad("abstracts-title-is-a-number", "paper", "types.jsonl",
        data(lines({"title": 5, "abstract": "x"}, GOOD_PAPER | {"title": "Typed Twin"})),
        "line 1: 'title' must be text", loads=True),
    Bad("abstracts-nested-100000-deep", "paper", "deep-abstracts.jsonl",
        data(lines(DEEP, GOOD_PAPER | {"title": "After Deep"})), "line 1: JSON nested too deeply",
        loads=True),
    Bad("binary-bib", "paper", "noise.bib", data(random.Random(2).randbytes(5000)),
        "looks like binary data"),
    Bad("paper-symlink-outside", "paper", "escape-paper.jsonl", link("/etc/passwd"),
        "outside the corpus folder"),
    # arXiv metadata
    Bad("metadata-nested-100000-deep", "meta", "deep-meta.jsonl",
        data(lines(DEEP, GOOD_META | {"arxiv_id": "2699.00002"})),
        "deep-meta.jsonl line 1: JSON nested too deeply", loads=True),
    Bad("metadata-authors-is-a-number", "meta", "authors-meta.jsonl",
        data(lines(GOOD_META | {"arxiv_id": "2699.00003", "authors": 5})),
        "line 1: 'authors' must be a list of names", loads=True),
    Bad("metadata-id-is-a-number", "meta", "numbers.jsonl",
        data(lines({"arxiv_id": 2699.00004, "title": "Number Id"})),
        "line 1: 'arxiv_id' must be text"),
    Bad("metadata-binary", "meta", "noise.jsonl", data(random.Random(3).randbytes(5000)),
        "looks like binary data"),
    Bad("metadata-utf16", "meta", "utf16.jsonl",
        data(lines(GOOD_META | {"arxiv_id": "2699.00005"}).encode("utf-16")), "", loads=True),
    Bad("metadata-symlink-outside", "meta", "escape-meta.jsonl", link("/etc/passwd"),
        "outside the corpus folder"),
]


def make_corpus(root: Path, rows: list[Bad]) -> Path:
    """Seed digests and metadata, good paper texts, plus the bad files of ``rows``."""
    corpus = root / "corpus"
    shutil.copytree(CORPUS, corpus)
    papers = corpus / "papers"
    papers.mkdir()
    (papers / "good.jsonl").write_text(lines(GOOD_PAPER), encoding="utf-8")
    (papers / "good.pdf").write_bytes(make_pdf(["Good Pdf Paper", "Abstract",
                                                "We read this page. " * 8]))
    folders = {"digest": corpus, "paper": papers, "meta": corpus / "arxiv"}
    for row in rows:
        row.make(folders[row.where] / row.name)
    return corpus


def load_all(corpus: Path, limits: Limits = Limits()) -> tuple[dict, list, list, list[str]]:
    """(digests by file name, paper texts, metadata records, all warnings)."""
    docs, w1 = load_corpus(corpus, limits)
    texts, w2 = load_paper_texts(corpus, limits)
    meta, w3 = load_metadata(corpus / "arxiv", limits)
    return {Path(d.digest.path).name: d for d in docs}, texts, meta, w1 + w2 + w3


@pytest.fixture(scope="module")
def baseline(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, list, list]:
    docs, texts, meta, warnings = load_all(make_corpus(tmp_path_factory.mktemp("base"), []))
    assert warnings == []
    return docs, texts, meta


@pytest.mark.parametrize("row", TABLE, ids=[r.id for r in TABLE])
def test_bad_input_is_skipped_with_one_warning_and_nothing_else_lost(row: Bad, tmp_path: Path,
                                                                     baseline) -> None:
    corpus = make_corpus(tmp_path, [row])
    docs, texts, meta, warnings = load_all(corpus, row.limits)  # raises nothing
    naming = [w for w in warnings if row.name in w]
    if row.expect:
        assert len(naming) == 1, warnings  # one warning, not doubled
        assert row.expect in naming[0] and "Fix:" in naming[0], naming[0]
    else:
        assert naming == [], naming
    base_docs, base_texts, base_meta = baseline
    for name, doc in base_docs.items():  # every seed digest, exactly as without the bad file
        assert docs[name].digest.title == doc.digest.title
        assert docs[name].passages == doc.passages
    titles = {t.title for t in texts}
    assert {t.title for t in base_texts} <= titles
    ids = {r["arxiv_id"] for r in meta}
    assert {r["arxiv_id"] for r in base_meta} <= ids
    if row.where == "digest":
        assert (row.name in docs) == row.loads
    elif row.where == "paper":
        assert (len(titles) > len(base_texts)) == row.loads
    else:
        assert (len(ids) > len(base_meta)) == row.loads
    assert "root:x:0:0" not in json.dumps([[p.text for p in d.passages] for d in docs.values()]
                                          + [t.abstract for t in texts] + meta)


def test_decoded_and_bounded_files_read_right(tmp_path: Path) -> None:
    rows = [r for r in TABLE if r.where == "digest" and r.loads or r.id == "metadata-utf16"]
    docs, _, meta, _ = load_all(make_corpus(tmp_path, rows))
    for name in ("utf16.txt", "utf16be.md", "utf16le.txt", "utf32.txt"):
        assert docs[name].digest.title == "Tiny Test Digest"
        assert docs[name].passages[0].text.startswith("Smith et al. show")
    assert any(r["title"] == "Good Metadata Record" for r in meta)  # the UTF-16 snapshot
    one = docs["oneline.txt"]
    assert max(len(p.text) for p in one.passages) <= Limits().max_passage_chars
    assert sum(len(p.text) for p in one.passages) > 990_000  # split, not dropped
    chunks = chunk_corpus([one], extract_papers([one], []), max_chars=1200)
    assert max(len(c.text) for c in chunks) <= 1200 and len(chunks) > 800
    big = docs["big.txt"]
    assert sum(len(p.text) for p in big.passages) <= 2_000_000


def test_links_inside_the_corpus_are_followed_and_outside_never_read(tmp_path: Path) -> None:
    from rag.corpus.ingest import corpus_files
    from rag.corpus.paper_texts import paper_files

    rows = [r for r in TABLE if "symlink" in r.id]
    corpus = make_corpus(tmp_path, rows)
    (corpus / "again.txt").symlink_to(corpus / "000_0535b448ae7ff890.txt")  # inside: fine
    outside = tmp_path / "elsewhere.txt"
    outside.write_text(GOOD_TXT, encoding="utf-8")
    (corpus / "elsewhere.txt").symlink_to(outside)
    listed = {p.name for p in corpus_files(corpus) + paper_files(corpus)}
    assert "again.txt" in listed and not listed & {"passwd.txt", "escape-paper.jsonl",
                                                   "elsewhere.txt"}
    docs, _, _, warnings = load_all(corpus)
    assert "again.txt" in docs and "elsewhere.txt" not in docs
    assert sum("elsewhere.txt" in w and "not followed" in w for w in warnings) == 1


def test_a_file_over_the_size_setting_is_skipped_by_name(tmp_path: Path, monkeypatch) -> None:
    corpus = make_corpus(tmp_path, [])
    (corpus / "medium.txt").write_text("Medium Digest\n" + "Some words here. " * 20000)
    monkeypatch.setenv("RAG_MAX_FILE_MB", "0.1")
    docs, warnings = load_corpus(corpus)  # limits from the environment
    assert "medium.txt" not in {Path(d.digest.path).name for d in docs} and len(docs) == 5
    (w,) = warnings
    assert "medium.txt: is 0.3 MB, over the 0.1 MB limit" in w and "RAG_MAX_FILE_MB" in w
    docs, warnings = load_corpus(corpus, Settings(max_file_mb=1))
    assert len(docs) == 6 and warnings == []


@pytest.mark.slow
def test_a_parse_over_the_time_limit_is_skipped_and_the_build_goes_on(tmp_path: Path) -> None:
    corpus = make_corpus(tmp_path, [])
    unit = "<ul>" + "<li>item <a href='x'>l</a><ul>" * 120 + "</ul></li>" * 120 + "</ul>"
    (corpus / "slow.html").write_text("<h1>Slow</h1>" + unit * 3400, encoding="utf-8")
    t0 = time.monotonic()  # its 4 MB take ~12 s to read on a 2-CPU machine: stopped at 1.5 s
    docs, warnings = load_corpus(corpus, Limits(parse_timeout_s=1.5, max_text_chars=5_000_000))
    assert time.monotonic() - t0 < 30
    assert len(docs) == 5 and "slow.html" not in {Path(d.digest.path).name for d in docs}
    (w,) = warnings
    assert w.startswith("skipped slow.html: took longer than 1.5 s to parse") and "Fix:" in w


def test_in_process_parsing_still_contains_failures(tmp_path: Path) -> None:
    rows = [r for r in TABLE if r.id in ("aes-encrypted-pdf", "abstracts-nested-100000-deep",
                                         "bibtex-unterminated-quote", "metadata-nested-100000-"
                                         "deep", "abstracts-authors-is-a-number")]
    _, texts, meta, warnings = load_all(make_corpus(tmp_path, rows), Limits(parse_workers=0))
    for row in rows:
        assert sum(row.name in w and row.expect in w for w in warnings) == 1, (row.id, warnings)
    assert {"Bib Good Paper", "After Deep", "Numbered Authors"} <= {t.title for t in texts}


@pytest.mark.slow
def test_pool_kills_a_stuck_or_crashed_worker_and_carries_on() -> None:
    import os

    with ParsePool(workers=2, timeout_s=1.0) as pool:
        out = pool.run(time.sleep, [(0.01,), (60,), (0.02,), (0.03,)])
        assert [o.status for o in out] == ["ok", "timeout", "ok", "ok"]
        assert "longer than 1 s" in out[1].reason
        (died,) = pool.run(os._exit, [(3,)])
        assert died.status == "failed" and "died (exit code 3)" in died.reason
        (failed,) = pool.run(json.loads, [(DEEP,)])
        assert failed.status == "failed" and "nested too deeply" in failed.reason
        assert [o.value for o in pool.run(abs, [(-1,), (-2,), (-3,)])] == [1, 2, 3]


@pytest.mark.slow
def test_the_index_build_survives_every_bad_input_at_once(tmp_path: Path) -> None:
    corpus = make_corpus(tmp_path, TABLE)
    settings = Settings(corpus_dir=corpus, index_dir=tmp_path / "index", model="hashing-256")
    a = Assistant(settings=settings, embedder=HashingEmbedder(256))
    index = a.index  # builds
    warnings = list(index.manifest["warnings"])
    for row in TABLE:
        if row.expect:
            assert sum(row.name in w and row.expect in w for w in warnings) == 1, (row.id,
                                                                                   warnings)
    assert len(warnings) == len(set(warnings))  # nothing said twice
    ids = set(index.digests)
    assert {p.stem for p in CORPUS.glob("*.txt")} <= ids and "oneline" in ids
    assert max(len(c.text) for c in index.chunks) <= settings.max_chunk_chars
    assert not any("root:x:0:0" in c.text for c in index.chunks)
    assert a.ask("Which papers adapt foundation models to head CT?").citations


def test_no_bm25s_debug_line_in_the_log(caplog) -> None:
    from rag.index.stores import LexicalIndex

    with caplog.at_level(logging.DEBUG):
        LexicalIndex().build(["one text", "another text"])
    assert not [r for r in caplog.records if "Building index" in r.getMessage()]
