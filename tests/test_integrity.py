"""Index integrity: every file of a build is checksummed, damage is refused with the rebuild
fix and never reused; identical texts are embedded once; an unchanged corpus is not rebuilt."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from rag import Settings
from rag.errors import IndexStateError
from rag.index.build import build_index
from rag.index.embed import HashingEmbedder
from rag.index.integrity import folder_checksums, seal
from rag.index.load import current_folder, load_index
from rag.index.stores import FaissStore

EMB = HashingEmbedder(256)


def _files(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


def test_manifest_lists_a_checksum_for_every_file(fake_settings: Settings) -> None:
    build_index(fake_settings, EMB, progress=False)
    folder = current_folder(fake_settings.index_dir)
    manifest = json.loads((folder / "manifest.json").read_text())
    assert set(manifest["files"]) == set(_files(folder)) - {"manifest.json"}
    assert manifest["checksum"] == seal(manifest)["checksum"]


@pytest.mark.parametrize("damage", ["truncate", "random_bytes", "delete"])
def test_every_damaged_file_is_refused_and_never_reused(fake_settings: Settings,
                                                       damage: str) -> None:
    build_index(fake_settings, EMB, progress=False)
    pristine = current_folder(fake_settings.index_dir)
    backup = pristine.parent / "pristine-copy"
    shutil.copytree(pristine, backup)
    rng = np.random.default_rng(0)
    for rel in _files(pristine):
        path = pristine / rel
        data = bytearray(path.read_bytes())
        if damage == "truncate":
            path.write_bytes(bytes(data[: len(data) // 2]))
        elif damage == "delete":
            path.unlink()
        else:
            at = int(rng.integers(0, max(1, len(data) - 8)))
            for i in range(at, min(at + 8, len(data))):
                data[i] ^= 0xA5  # always a different byte
            path.write_bytes(bytes(data))
        with pytest.raises(IndexStateError, match=r"damaged.*rag index --rebuild"):
            load_index(fake_settings, EMB.name)
        shutil.rmtree(pristine)
        shutil.copytree(backup, pristine)
    load_index(fake_settings, EMB.name)  # the restored copy loads again


def test_a_damaged_build_is_not_reused_by_the_next_build(fake_settings: Settings) -> None:
    first = build_index(fake_settings, EMB, progress=False)
    path = current_folder(fake_settings.index_dir) / FaissStore.FILE
    data = bytearray(path.read_bytes())
    data[-100:] = bytes(100)  # zero the last vectors' bytes
    path.write_bytes(bytes(data))
    again = build_index(fake_settings, EMB, progress=False)
    assert not again.up_to_date and again.reused == 0 and again.embedded > 0
    assert any("damaged" in w and "embedded again" in w for w in again.warnings)
    assert load_index(fake_settings, EMB.name).manifest["counts"]["chunks"] == first.chunks


def test_non_finite_vectors_are_refused_even_with_matching_checksums(
        fake_settings: Settings) -> None:
    build_index(fake_settings, EMB, progress=False)
    folder = current_folder(fake_settings.index_dir)
    store = FaissStore.load(folder)
    vectors = store.vectors()
    vectors[3, 7] = np.nan
    bad = FaissStore(vectors.shape[1])
    bad.add(vectors)
    bad.save(folder)
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["files"] = folder_checksums(folder)  # as if the build itself had written NaN
    (folder / "manifest.json").write_text(json.dumps(seal(manifest)))
    with pytest.raises(IndexStateError, match="1 vectors contain NaN"):
        load_index(fake_settings, EMB.name)
    again = build_index(fake_settings, EMB, progress=False)
    assert again.reused == 0 and any("NaN" in w for w in again.warnings)


def test_unchanged_corpus_is_not_parsed_or_rewritten(fake_settings: Settings,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    first = build_index(fake_settings, EMB, progress=False)

    def no_parse(*_a: object, **_k: object) -> None:
        raise AssertionError("an unchanged corpus must not be parsed again")

    monkeypatch.setattr("rag.index.build.load_corpus", no_parse)
    second = build_index(fake_settings, EMB, progress=False)
    assert second.up_to_date and second.folder == first.folder and second.embedded == 0
    assert second.chunks == first.chunks


def test_identical_texts_are_embedded_once(fake_settings: Settings) -> None:
    corpus = Path(fake_settings.corpus_dir)
    single = build_index(fake_settings.model_copy(
        update={"index_dir": Path(fake_settings.index_dir).parent / "single"}), EMB,
        progress=False)
    for src in sorted(corpus.glob("*.txt")):
        for n in range(3):
            shutil.copy(src, corpus / f"{src.stem}-copy{n}.txt")
    report = build_index(fake_settings, EMB, progress=False)
    assert report.digests == 20 and report.chunks > single.chunks
    assert report.embedded <= single.embedded  # each distinct text once
