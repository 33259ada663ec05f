"""digest-rag: search and cited answers over AI-research digests and the papers they link.

>>> from rag import ask, search, Assistant
>>> ans = ask("Which papers adapt foundation models to head CT?")
>>> print(ans.text)

Names are imported on first use (module ``__getattr__``), so ``import rag`` is cheap and
changes no global state; the embedder sets ``HF_HUB_OFFLINE`` when it loads a model.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "Assistant": "assistant", "ask": "assistant", "default_assistant": "assistant",
    "search": "assistant", "RagError": "errors", "Answer": "records", "Chunk": "records",
    "Citation": "records", "Digest": "records", "Hit": "records", "Item": "records",
    "Paper": "records", "Query": "records", "Quote": "records", "Settings": "settings",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'rag' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
