"""Errors that say what went wrong, where, and how to fix it.

Every error digest-rag raises on purpose is a :class:`RagError`; its message names the file or
field involved and ends with a fix. The CLI and the app show the message, never a traceback.
"""

from __future__ import annotations

from pathlib import Path


class RagError(Exception):
    """Base class: ``str(err)`` is a complete, user-facing message."""

    def __init__(self, message: str, fix: str | None = None) -> None:
        self.message = message
        self.fix = fix
        super().__init__(f"{message} Fix: {fix}" if fix else message)


class CorpusError(RagError):
    """The corpus folder is missing, empty or holds nothing readable."""


class DocumentError(RagError):
    """One file could not be read or parsed; ingestion skips it and carries on."""

    def __init__(self, path: Path | str, problem: str, fix: str | None = None) -> None:
        self.path = Path(path)
        super().__init__(f"{self.path.name}: {problem}.", fix)


class IndexStateError(RagError):
    """The index is missing, corrupt, or built with another model or format."""


class QuestionError(RagError):
    """The question cannot be answered as given (empty, say)."""


class MissingExtraError(RagError):
    """An optional feature needs a pip extra that is not installed."""

    def __init__(self, feature: str, extra: str, module: str) -> None:
        super().__init__(
            f"{feature} needs the optional package '{module}', which is not installed.",
            f"pip install 'digest-rag[{extra}]'",
        )


class SettingsError(RagError):
    """A setting (a RAG_* environment variable or an argument) has an invalid value."""

    @classmethod
    def from_validation(cls, err: Exception) -> SettingsError:
        """One readable message for a pydantic ValidationError of :class:`rag.Settings`."""
        parts = []
        for e in getattr(err, "errors", lambda: [])():
            field = str(e["loc"][0]) if e.get("loc") else "?"
            parts.append(f"RAG_{field.upper()}={e.get('input')!r}: {e.get('msg')}")
        return cls("Invalid setting " + ("; ".join(parts) or str(err)) + ".",
                   "correct or unset it (every field is documented in rag/settings.py)")
