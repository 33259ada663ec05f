"""Code versions: a hash of the source of the modules whose code decides what a cache holds.

The parse, extraction and token-count caches are keyed by content hashes of their inputs and by
the code that produced them, so that changing that code empties the cache instead of serving
results the new code would not produce.
"""

from __future__ import annotations

import hashlib
import importlib.util
from collections.abc import Iterable
from pathlib import Path


def module_file(module: str) -> Path:
    """The source file of ``module`` (a dotted name such as ``rag.corpus.ingest``), not imported."""
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:
        raise ModuleNotFoundError(f"no source for {module!r}")
    return Path(spec.origin)


def source_hash(salt: str, modules: Iterable[str]) -> str:
    """Hex SHA-256 of ``salt`` and the source bytes of ``modules``, in the order given."""
    h = hashlib.sha256(salt.encode())
    for module in modules:
        h.update(module_file(module).read_bytes())
    return h.hexdigest()
