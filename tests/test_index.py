"""Index: persistence without pickle, manifest checks, incremental re-embedding, atomic writes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from rag import Assistant, Settings
from rag.errors import CorpusError, IndexStateError
from rag.index.build import build_index
from rag.index.embed import HashingEmbedder
from rag.index.load import current_folder, load_index
from rag.index.state import index_state
from rag.index.stores import FaissStore
from rag.settings import INDEX_FORMAT_VERSION


def test_build_writes_manifest_and_no_pickle(fake_settings: Settings) -> None:
    emb = HashingEmbedder(256)
    report = build_index(fake_settings, emb, progress=False)
    folder = current_folder(fake_settings.index_dir)
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["format_version"] == INDEX_FORMAT_VERSION
    assert manifest["model"] == emb.name and manifest["dim"] == 256
    assert manifest["counts"] == {"digests": 5, "papers": report.papers, "chunks": report.chunks}
    assert len(manifest["fingerprint"]) == 32
    for npy in folder.rglob("*.npy"):  # every array loads with pickle disabled
        np.load(npy, allow_pickle=False)
    assert not list(folder.rglob("*.pkl")) and not list(folder.rglob("*.pickle"))
    index = load_index(fake_settings, emb.name)
    assert len(index.chunks) == len(index.dense) == report.chunks
    assert index_state(fake_settings, emb.name) == ("ok", "up to date")


def test_unchanged_corpus_embeds_nothing_and_one_edit_reembeds_only_its_chunks(
        fake_settings: Settings) -> None:
    emb = HashingEmbedder(256)
    first = build_index(fake_settings, emb, progress=False)
    assert first.embedded == first.chunks
    second = build_index(fake_settings, emb, progress=False)
    assert second.embedded == 0 and second.reused == first.chunks
    path = Path(fake_settings.corpus_dir) / "002_fd1715ea83014534.txt"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("455 parameters", "456 parameters"), encoding="utf-8")
    assert index_state(fake_settings, emb.name)[0] == "stale"
    third = build_index(fake_settings, emb, progress=False)
    assert third.embedded == 1  # only the edited chunk
    index = load_index(fake_settings, emb.name)
    edited = [c for c in index.chunks if "456 parameters" in c.text]
    assert len(edited) == 1 and edited[0].digest_id == "002_fd1715ea83014534"


def test_changed_bm25_parameters_make_the_index_stale_and_rebuild_embeds_nothing(
        fake_settings: Settings) -> None:
    """BM25 k1/b live in the saved lexical index, so changing them must trigger a rebuild
    (which reuses every vector)."""
    emb = HashingEmbedder(256)
    build_index(fake_settings, emb, progress=False)
    tuned = fake_settings.model_copy(update={"bm25_k1": 1.5})
    assert index_state(tuned, emb.name)[0] == "stale"
    report = build_index(tuned, emb, progress=False)
    assert report.embedded == 0 and index_state(tuned, emb.name) == ("ok", "up to date")


def test_index_built_with_another_model_is_refused_with_fix(fake_settings: Settings) -> None:
    build_index(fake_settings, HashingEmbedder(256), progress=False)
    with pytest.raises(IndexStateError, match=r"hashing-256.*rag index --rebuild"):
        load_index(fake_settings, "hashing-128")
    assert index_state(fake_settings, "hashing-128")[0] == "incompatible"
    # the Assistant rebuilds it instead (auto_build) and embeds everything with the new model
    a = Assistant(settings=fake_settings.model_copy(update={"model": "hashing-128"}),
                  embedder=HashingEmbedder(128))
    assert a.index.manifest["model"] == "hashing-128"
    no_build = Assistant(settings=fake_settings, embedder=HashingEmbedder(256), auto_build=False)
    with pytest.raises(IndexStateError, match="rag index"):
        no_build.index  # noqa: B018


def test_crash_mid_write_keeps_previous_index(fake_settings: Settings,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    emb = HashingEmbedder(256)
    build_index(fake_settings, emb, progress=False)
    before = current_folder(fake_settings.index_dir)
    (Path(fake_settings.corpus_dir) / "000_0535b448ae7ff890.txt").unlink()

    def boom(self: FaissStore, folder: Path) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(FaissStore, "save", boom)
    with pytest.raises(OSError, match="disk full"):
        build_index(fake_settings, emb, progress=False)
    assert current_folder(fake_settings.index_dir) == before
    assert not list(Path(fake_settings.index_dir).glob(".tmp-*"))
    assert load_index(fake_settings, emb.name).manifest["counts"]["digests"] == 5


def test_damaged_index_gives_clear_error(fake_settings: Settings) -> None:
    emb = HashingEmbedder(256)
    build_index(fake_settings, emb, progress=False)
    (current_folder(fake_settings.index_dir) / "chunks.jsonl").write_text("{not json\n")
    with pytest.raises(IndexStateError, match="damaged.*rag index --rebuild"):
        load_index(fake_settings, emb.name)


def test_missing_and_empty_corpus(tmp_path: Path) -> None:
    s = Settings(corpus_dir=tmp_path / "nope", index_dir=tmp_path / "ix", model="hashing-256")
    with pytest.raises(CorpusError, match="does not exist"):
        build_index(s, HashingEmbedder(256), progress=False)
    (tmp_path / "empty").mkdir()
    s = s.model_copy(update={"corpus_dir": tmp_path / "empty"})
    with pytest.raises(CorpusError, match="holds no digests"):
        build_index(s, HashingEmbedder(256), progress=False)


def test_corrupt_file_is_skipped_and_rest_indexed(fake_settings: Settings) -> None:
    (Path(fake_settings.corpus_dir) / "broken.pdf").write_bytes(b"%PDF-1.4 garbage \x00\xff")
    report = build_index(fake_settings, HashingEmbedder(256), progress=False)
    assert report.digests == 5
    assert any("broken.pdf" in w for w in report.warnings)


def test_query_time_code_never_imports_the_build_side() -> None:
    """Loading an index, answering and the app import nothing that parses, chunks, extracts or
    builds (issue 13: build split from load; issue 16: the packages show it). Of rag.extract only
    the attribution check is query-time: answers and source cards state a digest's disagreement."""
    import subprocess
    import sys

    code = ("import sys\n"
            "from rag.assistant import Assistant\n"
            "from rag.index.load import load_index\n"
            "import rag.answer.retrieve, rag.answer.compose, rag.answer.lists, rag.answer.llm\n"
            "import rag.cli, ui.conversation, ui.render, ui.handlers\n"
            "print(' '.join(sorted(m for m in sys.modules if m.startswith('rag.'))))\n")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True).stdout.split()
    assert "rag.index.load" in loaded and "rag.answer.compose" in loaded
    build_side = [m for m in loaded if m.startswith(("rag.corpus", "rag.extract."))
                  and m != "rag.extract.attribution"
                  or m in ("rag.index.build", "rag.index.chunk", "rag.index.embed_onnx")]
    assert build_side == []


def test_extractive_answers_import_no_langchain(seed_fake) -> None:  # noqa: ANN001
    """LangChain is imported only when a model is asked for: it took ~1.2 s of a cold start
    (issue 13's 'cold start to first answer')."""
    import subprocess
    import sys

    code = ("import sys\n"
            "from rag.assistant import Assistant\n"
            "import rag.cli, rag.answer.lists, rag.answer.compose\n"
            "print(sorted({m.split('.')[0] for m in sys.modules if m.startswith('langchain')}))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "[]"
    ans = seed_fake.ask("Which paper benchmarks foundation models on head CT scans?")
    assert ans.citations and not ans.abstained
