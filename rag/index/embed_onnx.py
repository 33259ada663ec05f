"""ONNX Runtime backend for the local sentence-transformers model (``RAG_BACKEND=onnx``).

The model folder is exported once, on this machine and offline, with ``torch.onnx.export``
(the whole sentence-transformers pipeline: transformer, pooling, normalisation; eager attention
so that ONNX Runtime's transformer optimizer can fuse it into its ``Attention`` and
``EmbedLayerNormalization`` kernels), optionally dynamic-int8-quantised per channel, and cached
as a ``.onnx`` file under :func:`onnx_cache_dir`. The file name carries a hash of the model
folder (path, file names, sizes, modification times) and of the exporter's and libraries'
versions, so a changed model or upgrade re-exports instead of reusing a stale file. Nothing is
downloaded and nothing is written into the project.

At run time only ``onnxruntime`` and the ``tokenizers`` fast tokenizer are used (torch is not
imported once the file is cached). fp32 vectors match the torch backend to float rounding
(largest difference 2e-7); the int8 variant differs (cosine >= 0.98 to fp32, closer than the
torch int8 option's 0.88). Measured against torch in ``eval/embed_backends.py``
(``eval/results/embed_backends.json``): fp32 ~1.5x faster per query, no faster per batch;
int8 ~3x per query, ~1.6x per batch.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import uuid
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rag.errors import RagError, import_extra

EXPORT_VERSION = 1  # bump when the export recipe changes: old cache files are then ignored
_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def onnx_cache_dir() -> Path:
    """Where exported models live: ``$XDG_CACHE_HOME/digest-rag/onnx`` (``~/.cache/...``)."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "digest-rag" / "onnx"


def _require_onnxruntime() -> Any:
    return import_extra("onnxruntime", "The ONNX embedding backend (RAG_BACKEND=onnx)", "onnx")


def _require_onnx() -> None:
    """Exporting (graph fusion, int8 quantisation) also needs the ``onnx`` package."""
    import_extra("onnx", "Exporting the embedding model to ONNX (RAG_BACKEND=onnx)", "onnx")


def model_stamp(path: Path, int8: bool) -> str:
    """Hash naming one export: the model folder's files (name, size, mtime), the export
    recipe and the torch / onnxruntime versions (fusions and opsets change between them)."""
    import importlib.metadata as md

    h = hashlib.sha256(f"{path.resolve()}\n{EXPORT_VERSION}\n{int8}\n".encode())
    for name in ("torch", "onnxruntime", "sentence-transformers", "transformers"):
        try:
            h.update(f"{name}={md.version(name)}\n".encode())
        except md.PackageNotFoundError:
            h.update(f"{name}=none\n".encode())
    for f in sorted(p for p in path.rglob("*") if p.is_file()):
        st = f.stat()
        h.update(f"{f.relative_to(path)}:{st.st_size}:{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:16]


def cached_onnx_path(path: Path, int8: bool = False, cache_dir: Path | None = None) -> Path:
    """The cached export of the model folder ``path`` (exported first if missing)."""
    _require_onnxruntime()
    folder = Path(cache_dir) if cache_dir else onnx_cache_dir()
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", path.resolve().name if path.name != "model"
                  else path.resolve().parent.name)
    target = folder / f"{slug}-{model_stamp(path, int8)}{'-int8' if int8 else ''}.onnx"
    if target.is_file():
        return target
    _require_onnx()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise RagError(f"Cannot create the ONNX cache folder {folder} ({err}).",
                       "set XDG_CACHE_HOME to a writable folder or use RAG_BACKEND=torch") from err
    fp32 = target if not int8 else cached_onnx_path(path, False, folder)
    tmp = folder / f".{target.stem}.{uuid.uuid4().hex[:8]}.onnx"
    try:
        if int8:
            _quantise(fp32, tmp)
        else:
            _export(path, tmp)
        os.replace(tmp, target)  # atomic: a concurrent process sees all of the file or none
    finally:
        tmp.unlink(missing_ok=True)
    return target


def _export(path: Path, dest: Path) -> None:
    """torch.onnx.export of the whole sentence-transformers pipeline, then operator fusion."""
    import torch
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    st = SentenceTransformer(str(path), device="cpu",
                             model_kwargs={"attn_implementation": "eager"})
    st.eval()
    sample = st.preprocess(["a short text", "a somewhat longer text, so the batch is padded"])
    names = [k for k in _INPUTS if k in sample]

    class _Pipeline(torch.nn.Module):
        def __init__(self, model: torch.nn.Module) -> None:
            super().__init__()
            self.model = model

        def forward(self, *tensors: torch.Tensor) -> torch.Tensor:
            return self.model(dict(zip(names, tensors)))["sentence_embedding"]

    raw = dest.with_suffix(".raw.onnx")
    axes = {k: {0: "batch", 1: "sequence"} for k in names} | {"sentence_embedding": {0: "batch"}}
    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            torch.onnx.export(_Pipeline(st), tuple(sample[k] for k in names), str(raw),
                              input_names=names, output_names=["sentence_embedding"],
                              dynamic_axes=axes, opset_version=17, dynamo=False)
        _fuse(raw, dest, getattr(getattr(st[0], "auto_model", None), "config", None))
    except (RuntimeError, TypeError, ValueError) as err:
        raise RagError(f"Could not export {path} to ONNX ({type(err).__name__}: {err}).",
                       "use RAG_BACKEND=torch for this model") from err
    finally:
        raw.unlink(missing_ok=True)


def _fuse(raw: Path, dest: Path, config: Any) -> None:
    """ONNX Runtime's BERT optimizer (fused attention: ~3x faster on one query); models it
    does not recognise keep the plain graph, which is slower but gives the same vectors."""
    from onnxruntime.transformers import optimizer

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fused = optimizer.optimize_model(
                str(raw), model_type="bert", opt_level=1,
                num_heads=int(getattr(config, "num_attention_heads", 0) or 0),
                hidden_size=int(getattr(config, "hidden_size", 0) or 0))
        fused.save_model_to_file(str(dest))
    except (RuntimeError, ValueError, AttributeError, KeyError, AssertionError):
        os.replace(raw, dest)


def _quantise(src: Path, dest: Path) -> None:
    """Dynamic int8 weights, per output channel (per-tensor scales lose too much: measured
    while choosing, min cosine to fp32 0.90 per tensor vs 0.98 per channel, same speed)."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # its "consider pre-processing" advice is not actionable here
    try:
        quantize_dynamic(str(src), str(dest), per_channel=True, weight_type=QuantType.QInt8,
                         extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})
    finally:
        root.setLevel(level)


class _Tokenizer:
    """The model's fast tokenizer set up as sentence-transformers sets it up: truncation at
    the model's ``max_seq_length``, padding to the longest text of the batch."""

    def __init__(self, path: Path) -> None:
        from tokenizers import Tokenizer

        st_cfg = _read_json(path / "sentence_bert_config.json")
        tok_cfg = _read_json(path / "tokenizer_config.json")
        model_cfg = _read_json(path / "config.json")
        max_len = st_cfg.get("max_seq_length") or min(
            int(tok_cfg.get("model_max_length") or 512),
            int(model_cfg.get("max_position_embeddings") or 512))
        self.lower = bool(st_cfg.get("do_lower_case", False))
        if not (path / "tokenizer.json").is_file():
            raise RagError(f"{path} has no tokenizer.json (fast tokenizer).",
                           "use RAG_BACKEND=torch for this model")
        self.tok = Tokenizer.from_file(str(path / "tokenizer.json"))
        pad = tok_cfg.get("pad_token")
        pad = pad.get("content") if isinstance(pad, dict) else pad
        pad = pad or "[PAD]"
        pad_id = self.tok.token_to_id(pad)
        self.tok.enable_truncation(int(max_len))
        self.tok.enable_padding(pad_id=0 if pad_id is None else pad_id, pad_token=pad)

    def __call__(self, texts: list[str]) -> dict[str, np.ndarray]:
        enc = self.tok.encode_batch([t.lower() if self.lower else t for t in texts])
        return {"input_ids": np.array([e.ids for e in enc], dtype=np.int64),
                "attention_mask": np.array([e.attention_mask for e in enc], dtype=np.int64),
                "token_type_ids": np.array([e.type_ids for e in enc], dtype=np.int64)}


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


class OnnxEmbedder:
    """The local sentence-transformers model run by ONNX Runtime on the CPU.

    ``name`` equals the torch backend's for fp32 (same vectors to float rounding, so an index
    or vector cache built with either is reused by the other) and gets ``+onnx-int8`` for the
    int8 variant, whose vectors differ.
    """

    def __init__(self, path: Path, name: str, batch_size: int = 32, int8: bool = False,
                 cache_dir: Path | None = None, threads: int = 0) -> None:
        ort = _require_onnxruntime()
        self.path = Path(path)
        self.name = name + ("+onnx-int8" if int8 else "")
        self.batch_size = batch_size
        self.onnx_path = cached_onnx_path(self.path, int8, cache_dir)
        opts = ort.SessionOptions()
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.intra_op_num_threads = threads  # 0: one per physical core
        opts.log_severity_level = 3
        # Worker threads spin between operators (ONNX Runtime's default): one query encodes
        # in ~6.6 ms against ~8.9 sleeping (2 idle cores), and no slower with 1 or 2 other
        # busy processes (12.5 / 16.6 against 11.7 / 16.9 ms) or 4 threads asking at once.
        # Stopping the spin after each run made searches slower (the threads wake up again).
        opts.add_session_config_entry("session.intra_op.allow_spinning", "1")
        self._session = ort.InferenceSession(str(self.onnx_path), opts,
                                             providers=["CPUExecutionProvider"])
        self._inputs = [i.name for i in self._session.get_inputs()]
        self._tokenize = _Tokenizer(self.path)
        self.dim = int(self._session.get_outputs()[0].shape[-1])

    def encode(self, texts: Sequence[str], progress: bool = False) -> np.ndarray:
        """Batches of similar length (less padding), returned in the input order."""
        if 0 < len(texts) <= 4 and not progress:  # a question: one run, no bar, no sorting
            feats = self._tokenize(list(texts))
            return _unit(self._session.run(None, {k: feats[k] for k in self._inputs})[0])
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        from tqdm.auto import tqdm

        with tqdm(total=len(texts), desc="Embedding", unit="text", leave=False,
                  disable=not progress) as bar:
            for start in range(0, len(order), self.batch_size):
                idx = order[start:start + self.batch_size]
                feats = self._tokenize([texts[i] for i in idx])
                vecs = self._session.run(None, {k: feats[k] for k in self._inputs})[0]
                out[idx] = vecs
                bar.update(len(idx))
        return _unit(out)


def _unit(vecs: np.ndarray) -> np.ndarray:
    """Each row scaled to length 1 (zero rows stay zero)."""
    return vecs / np.maximum(np.linalg.norm(vecs, axis=1, keepdims=True), 1e-12)
