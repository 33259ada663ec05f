"""Paper table (rag/index/paper_table.py): papers written once, read lazily, same records."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rag.answer.query import Catalog
from rag.errors import IndexStateError
from rag.index.build import build_index
from rag.index.embed import HashingEmbedder
from rag.index.load import current_folder, load_index
from rag.index.paper_table import (
    LEGACY,
    PAPERS,
    PAPERS_INDEX,
    PaperTable,
    paper_names,
    papers_with_code,
    read_papers,
    write_papers,
)
from rag.records import Mention, Paper, to_dict


def _papers() -> dict[str, Paper]:
    return {"a": Paper("a", "Sparse Widgets for Testing", "SWT", ("Ann Lee", "Bo Chen"),
                       ("MIT",), ("https://github.com/o/swt",), (), "2601.00001",
                       mentions=(Mention("d1", 3, "Ann Lee et al.", ("MIT",)),)),
            "b": Paper("b", "Dense Gadgets — ünïcode title", None,
                       mentions=(Mention("d2", 0),))}


def test_table_reads_each_paper_as_written(tmp_path: Path) -> None:
    papers = _papers()
    write_papers(tmp_path, papers)
    table = PaperTable(tmp_path)
    assert len(table) == 2 and list(table) == ["a", "b"] and "a" in table and "z" not in table
    assert table._read == {}  # nothing read at load
    assert table["b"] == papers["b"] and table["a"] == papers["a"]
    assert dict(table) == papers
    with pytest.raises(KeyError):
        table["z"]
    assert table.with_code == papers_with_code(papers) == {"a"}
    assert list(paper_names(table)) == list(paper_names(papers))


def test_catalog_from_the_table_equals_catalog_from_records(tmp_path: Path) -> None:
    papers = _papers()
    write_papers(tmp_path, papers)
    table = PaperTable(tmp_path)
    assert Catalog.build((), table) == Catalog.build((), papers)
    assert table._read == {}  # the catalog reads the index, not the papers


def test_legacy_papers_json_still_loads(tmp_path: Path) -> None:
    papers = _papers()
    (tmp_path / LEGACY).write_text(json.dumps({k: to_dict(p) for k, p in papers.items()}),
                                   encoding="utf-8")
    assert read_papers(tmp_path) == papers


def test_truncated_paper_file_is_refused_naming_it(tmp_path: Path) -> None:
    write_papers(tmp_path, _papers())
    data = (tmp_path / PAPERS).read_bytes()
    (tmp_path / PAPERS).write_bytes(data[:-5])
    with pytest.raises(ValueError, match="papers.jsonl has"):
        PaperTable(tmp_path)


def test_loaded_index_serves_papers_from_the_table(fake_settings) -> None:  # noqa: ANN001
    build_index(fake_settings, HashingEmbedder(256), progress=False)
    index = load_index(fake_settings)
    assert isinstance(index.papers, PaperTable) and len(index.papers) > 50
    folder = current_folder(fake_settings.index_dir)
    assert folder is not None and (folder / PAPERS_INDEX).is_file()
    some = next(iter(index.papers))
    assert index.papers[some].id == some
    (folder / PAPERS_INDEX).write_text('{"ids": ["x"]}', encoding="utf-8")  # damaged
    with pytest.raises(IndexStateError, match="damaged"):
        load_index(fake_settings)
