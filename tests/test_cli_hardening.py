"""CLI faults from the hardening review: each is a one-line message and an exit code, never a
traceback or a silent empty result."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rag.cli import main
from rag.index.load import current_folder


@pytest.fixture
def cli_env(fake_settings, monkeypatch: pytest.MonkeyPatch) -> list[str]:  # noqa: ANN001
    monkeypatch.setenv("RAG_MODEL", "hashing-256")
    return ["--corpus", str(fake_settings.corpus_dir), "--index", str(fake_settings.index_dir)]


@pytest.mark.parametrize("k", ["0", "-5"])
def test_search_refuses_k_below_one(cli_env: list[str], capsys, k: str) -> None:  # noqa: ANN001
    assert main([*cli_env, "search", "EEG", "-k", k]) == 2
    err = capsys.readouterr().err
    assert f"k={k}" in err and "k >= 1" in err and "Traceback" not in err


def test_unknown_digest_filter_is_named(cli_env: list[str], capsys) -> None:  # noqa: ANN001
    assert main([*cli_env, "search", "EEG", "--digest", "no-such"]) == 2
    err = capsys.readouterr().err
    assert "No digest matches 'no-such'" in err and "000_0535b448ae7ff890" in err
    assert main([*cli_env, "ask", "What about EEG?", "--digest", "no-such"]) == 2


def test_status_on_an_edited_manifest_is_a_message(cli_env: list[str], fake_settings,  # noqa: ANN001
                                                   capsys) -> None:  # noqa: ANN001
    assert main([*cli_env, "index"]) == 0
    path = current_folder(fake_settings.index_dir) / "manifest.json"
    manifest = json.loads(path.read_text())
    del manifest["counts"]
    path.write_text(json.dumps(manifest))
    capsys.readouterr()
    assert main([*cli_env, "status"]) == 1  # a damaged index is not bad input
    err = capsys.readouterr().err
    assert "damaged" in err and "rag index --rebuild" in err and "Traceback" not in err


def test_library_that_cannot_load_is_a_message(cli_env: list[str], monkeypatch,  # noqa: ANN001
                                               capsys) -> None:  # noqa: ANN001
    def fail(*_a: object, **_k: object) -> None:
        raise ImportError("libfaiss.so: failed to map segment from shared object")

    monkeypatch.setattr("rag.assistant.load_index", fail)
    assert main([*cli_env, "search", "EEG"]) == 1
    err = capsys.readouterr().err
    assert "error: a library could not be loaded" in err and "make install" in err
    assert "Traceback" not in err


def test_second_index_of_unchanged_corpus_says_up_to_date(cli_env: list[str],  # noqa: ANN001
                                                          capsys) -> None:  # noqa: ANN001
    assert main([*cli_env, "index"]) == 0
    capsys.readouterr()
    assert main([*cli_env, "index"]) == 0
    out = capsys.readouterr().out
    assert "is up to date" in out and "embedded 0 chunks" in out
    assert Path(out.split("Index in ")[1].split(" is up")[0]).is_dir()


@pytest.mark.parametrize(("error", "code"), [
    ("QuestionError('Empty question.', 'ask something')", 2),
    ("CorpusError('No digests in corpus/.', 'add .txt, .md or .html files')", 2),
    ("SettingsError('Invalid setting RAG_RRF_K.', 'unset it')", 2),
    ("IndexStateError('No index in index/.', 'run `rag index`')", 1),
    ("ArxivUnavailable('arXiv is unreachable.', 'try later')", 1),
    ("LLMError('The chat model failed.', 'check RAG_LLM_BASE_URL')", 1),
    ("MissingExtraError('Reranking', 'default', 'sentence_transformers')", 1),
])
def test_exit_codes_are_as_documented(cli_env: list[str], monkeypatch: pytest.MonkeyPatch,
                                      capsys: pytest.CaptureFixture, error: str,
                                      code: int) -> None:
    """2 for bad input the user gave, 1 for every other failure (rag/cli.py's docstring); the
    message and its fix are printed, never a traceback."""
    from rag import errors

    err = eval(error, vars(errors))  # noqa: S307 - a literal from the table above

    def fail(*_a: object, **_k: object) -> None:
        raise err

    monkeypatch.setattr("rag.assistant.Assistant.search", fail)
    assert main([*cli_env, "search", "EEG"]) == code
    out = capsys.readouterr().err
    assert out.startswith("error: ") and "Fix:" in out and "Traceback" not in out


def test_a_setting_naming_a_missing_path_is_refused_at_load(
        cli_env: list[str], monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture) -> None:
    """A setting that names a folder is checked when settings load: the CLI and the app print
    one line naming the variable and the fix (exit 2), not a traceback when it is used. (A
    RAG_LLM_MODEL .gguf path is checked by the backend that opens it, after the installed
    packages: tests/test_llm.py.)"""
    import app

    name, value = "RAG_RERANKER", "/no/such/cross-encoder"
    monkeypatch.setenv(name, value)
    assert main([*cli_env, "search", "EEG"]) == 2
    err = capsys.readouterr().err
    assert f"{name}={value!r}" in err and "unset it" in err and "Traceback" not in err
    with pytest.raises(SystemExit) as stop:
        app.main([], serve=lambda demo, host, port: None)
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert f"{name}={value!r}" in err and "Traceback" not in err


def test_every_setting_is_documented_where_it_is_declared() -> None:
    """Each field's attribute docstring is its description (pydantic's
    use_attribute_docstrings): a field added without one is caught here, and the text reaches
    the JSON schema that tools read."""
    from rag.settings import Settings

    undocumented = [n for n, f in Settings.model_fields.items() if not (f.description or "")]
    assert undocumented == []
    assert Settings.model_fields["ivf_nprobe"].description.startswith("Lists probed per query")
    schema = Settings.model_json_schema()["properties"]
    assert "BM25" in schema["lexical_weight"]["description"]
