"""Embedding backends: the ONNX Runtime backend (rag/index/embed_onnx.py) against torch, its cache
key, its clear errors when the [onnx] extra is missing, and the RAG_BACKEND setting."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from rag import Settings
from rag.errors import MissingExtraError, RagError
from rag.index.embed import BUNDLED, load_embedder, resolve_model_path
from rag.index.embed_onnx import cached_onnx_path, model_stamp

TEXTS = [
    "What speeds up interatomic potential training?",
    "  leading and trailing spaces  ",
    "",
    "Causal reasoning makes medical image models robust across hospitals. " * 40,  # > 256 tokens
    "x",
]


def test_missing_onnxruntime_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import onnxruntime -> ImportError
    with pytest.raises(MissingExtraError) as err:
        load_embedder(BUNDLED, backend="onnx")
    assert "onnxruntime" in str(err.value) and "digest-rag[onnx]" in str(err.value)


def test_missing_onnx_for_export_names_the_extra(monkeypatch: pytest.MonkeyPatch,
                                                 tmp_path: Path) -> None:
    pytest.importorskip("onnxruntime", reason="the [onnx] extra is not installed")
    monkeypatch.setitem(sys.modules, "onnx", None)
    with pytest.raises(MissingExtraError) as err:  # raised before any (slow) export work
        cached_onnx_path(resolve_model_path(BUNDLED), cache_dir=tmp_path)
    assert "'onnx'" in str(err.value) and "digest-rag[onnx]" in str(err.value)
    assert not list(tmp_path.iterdir())


def test_unknown_backend_is_refused() -> None:
    with pytest.raises(RagError, match="RAG_BACKEND"):
        load_embedder(BUNDLED, backend="tensorflow")
    assert load_embedder("hashing-64", backend="onnx").dim == 64  # the test stand-in ignores it


def test_backend_setting_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings().backend == "auto" and Settings().batch_precision == "auto"
    monkeypatch.setenv("RAG_BACKEND", "onnx")
    assert Settings().backend == "onnx"
    monkeypatch.setenv("RAG_BACKEND", "tf")
    with pytest.raises(ValidationError):
        Settings()


def test_model_stamp_changes_with_model_files(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{}")
    first = model_stamp(tmp_path, int8=False)
    assert model_stamp(tmp_path, int8=False) == first
    assert model_stamp(tmp_path, int8=True) != first
    (tmp_path / "config.json").write_text('{"hidden_size": 8}')
    assert model_stamp(tmp_path, int8=False) != first


@pytest.fixture(scope="session")
def onnx_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One private export per test session (never the user's cache)."""
    pytest.importorskip("onnxruntime", reason="the [onnx] extra is not installed")
    pytest.importorskip("onnx", reason="the [onnx] extra is not installed")
    return tmp_path_factory.mktemp("onnx-cache")


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


@pytest.mark.real_model
def test_onnx_vectors_match_torch(onnx_cache: Path) -> None:
    from rag.index.embed_onnx import OnnxEmbedder

    torch_emb = load_embedder(BUNDLED)
    path = resolve_model_path(BUNDLED)
    onnx_emb = OnnxEmbedder(path, BUNDLED, cache_dir=onnx_cache)
    assert onnx_emb.name == torch_emb.name and onnx_emb.dim == torch_emb.dim == 384
    assert onnx_emb.onnx_path.parent == onnx_cache
    ref = torch_emb.encode(TEXTS)
    batch = onnx_emb.encode(TEXTS)  # one padded batch
    alone = np.vstack([onnx_emb.encode([t]) for t in TEXTS])  # the single-query path
    assert _cosines(batch, ref).min() > 0.999 and _cosines(alone, ref).min() > 0.999
    assert np.allclose(np.linalg.norm(batch, axis=1), 1.0, atol=1e-5)
    assert onnx_emb.encode([]).shape == (0, 384)
    # a second embedder reuses the cached file instead of exporting again
    stamp = onnx_emb.onnx_path.stat().st_mtime_ns
    again = OnnxEmbedder(path, BUNDLED, cache_dir=onnx_cache)
    assert again.onnx_path == onnx_emb.onnx_path and again.onnx_path.stat().st_mtime_ns == stamp


@pytest.mark.real_model
def test_onnx_tokenizer_matches_sentence_transformers(onnx_cache: Path) -> None:
    from rag.index.embed_onnx import _Tokenizer

    torch_emb = load_embedder(BUNDLED)
    ours = _Tokenizer(resolve_model_path(BUNDLED))(TEXTS)
    theirs = torch_emb._model.preprocess(TEXTS)
    for key in ("input_ids", "attention_mask", "token_type_ids"):
        assert np.array_equal(ours[key], theirs[key].numpy()), key
    assert ours["input_ids"].shape[1] == 256  # truncated at the model's max_seq_length


@pytest.mark.real_model
def test_onnx_int8_has_its_own_name_and_close_vectors(onnx_cache: Path) -> None:
    from rag.index.embed_onnx import OnnxEmbedder

    emb = OnnxEmbedder(resolve_model_path(BUNDLED), BUNDLED, int8=True, cache_dir=onnx_cache)
    assert emb.name == f"{BUNDLED}+onnx-int8"  # the index manifest tells it apart
    assert emb.name != load_embedder(BUNDLED, int8=True).name
    ref = load_embedder(BUNDLED).encode(TEXTS)
    assert _cosines(emb.encode(TEXTS), ref).min() > 0.95


@pytest.mark.real_model
def test_auto_backend_queries_on_onnx_batches_on_torch_bf16(
        onnx_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The default embedder: 1-4 texts go to ONNX Runtime, batches to torch (bf16 autocast
    when asked); all paths agree with plain torch fp32 and share its name (and index)."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(onnx_cache.parent / "xdg"))
    ref_emb = load_embedder(BUNDLED, backend="torch", batch_precision="fp32")
    auto = load_embedder(BUNDLED, backend="auto", batch_precision="bf16")
    assert auto.name == ref_emb.name and auto.query_encoder is not None and auto.bf16
    texts = [t for t in TEXTS if t.strip()] * 3  # > 4 texts: the batch path
    ref = ref_emb.encode(texts)
    one = auto.encode([texts[0]])  # ONNX; torch is not even loaded for queries
    assert auto._torch is None and _cosines(one, ref[:1]).min() > 0.9999
    assert _cosines(auto.encode(texts), ref).min() > 0.999  # torch, bf16 autocast
    assert auto._torch is not None and auto.torch.bf16
    calls = []
    monkeypatch.setattr(auto.torch._model, "forward", lambda *a, **k: calls.append(1))
    assert _cosines(auto.encode([texts[1]]), ref[1:2]).min() > 0.9999 and not calls
    assert not load_embedder(BUNDLED, backend="auto", batch_precision="fp32").bf16


def test_native_bf16_reads_cpu_flags(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from rag.index import embed

    info = tmp_path / "cpuinfo"
    real_path = embed.Path
    monkeypatch.setattr(embed, "Path", lambda p: info if p == "/proc/cpuinfo" else real_path(p))
    info.write_text("flags\t: fpu sse avx2 avx512f\n")
    assert not embed.native_bf16()
    info.write_text("flags\t: fpu avx512f avx512_bf16 amx_tile\n")
    assert embed.native_bf16()


@pytest.mark.real_model
def test_auto_backend_falls_back_to_torch_when_onnx_fails(
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    """'auto' must never fail because of its ONNX fast path (missing extra, unwritable cache,
    a failed export): it logs why and encodes queries with torch."""
    import rag.index.embed_onnx

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("export failed")

    monkeypatch.setattr(rag.index.embed_onnx, "OnnxEmbedder", broken)
    emb = load_embedder(BUNDLED, backend="auto", batch_precision="fp32")
    assert emb.query_encoder is None and "export failed" in caplog.text
    assert emb.encode(["peatland fire detection"]).shape == (1, 384)
