"""A running Assistant follows a rebuilt index: the next question after `rag index` publishes
a new build is answered from it; a question in flight keeps its own index; a damaged new
build is refused once and the old one kept."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from rag import Assistant, Settings
from rag.index.build import build_index
from rag.index.embed import HashingEmbedder
from rag.index.load import current_folder

NEW_DIGEST = """Latest 3 papers on Quantum Knitting: May 31, 2026

Knitting Qubits with Yarn Transformers
Researchers present YarnFormer, a transformer that knits qubits into woollen circuits.
"""


def _publish_new_build(settings: Settings) -> Path:
    (Path(settings.corpus_dir) / "999_knitting.txt").write_text(NEW_DIGEST, encoding="utf-8")
    report = build_index(settings, HashingEmbedder(256), progress=False)  # as `rag index` does
    return report.folder


def test_next_question_after_a_build_uses_the_new_index(fake_assistant: Assistant) -> None:
    a = fake_assistant
    old = a.index.folder
    assert not a.search("YarnFormer woollen circuits", k=3)[0].text.count("YarnFormer")
    new = _publish_new_build(a.settings)
    assert new != old
    hits = a.search("YarnFormer woollen circuits", k=3)
    assert "YarnFormer" in hits[0].text
    assert a.index.folder == new and a.status()["build"] == new.name
    assert a.status()["digests"] == 6


def test_a_question_in_flight_keeps_the_index_it_started_with(
        fake_assistant: Assistant) -> None:
    a = fake_assistant
    r = a.retrieve("Where is the code for ZACAF?")
    started = r.live.index
    _publish_new_build(a.settings)
    answer = a.answer(r)  # rows of r.hits refer to the old index, and the old index answers
    assert r.live.index is started and not answer.abstained
    assert a.index is not started  # while the next question gets the new one


def test_a_damaged_new_build_is_refused_once_and_the_old_index_kept(
        fake_assistant: Assistant, caplog: pytest.LogCaptureFixture) -> None:
    a = fake_assistant
    old = a.index.folder
    new = _publish_new_build(a.settings)
    (new / "chunks.jsonl").write_text("damaged\n", encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="rag.assistant"):
        assert a.index.folder == old
        assert a.index.folder == old
    warnings = [r for r in caplog.records if "cannot be loaded" in r.getMessage()]
    assert len(warnings) == 1 and "damaged" in warnings[0].getMessage()
    assert a.search("ZACAF code", k=1)  # still answering from the old index
    assert current_folder(a.settings.index_dir) == new
