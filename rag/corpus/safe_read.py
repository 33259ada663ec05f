"""Safe reading: the checks every corpus file passes before a parser sees its bytes.

A file is read only when it lies inside its corpus folder (a symlink to ``/etc/passwd`` is
refused, not followed) and is no larger than ``max_file_mb``. Text is decoded by its byte
order mark (UTF-8, UTF-16, UTF-32), else as UTF-8, else as Windows-1252 with a warning; data
that is not text (a ZIP, image or random bytes renamed ``.txt``) is refused, and text past
``max_text_chars`` is dropped with a warning naming the file. Each problem is a
:class:`~rag.errors.DocumentError` (the file is skipped) or a warning string, both naming the
file and the fix. :class:`Limits` carries these bounds (from :class:`rag.Settings`) to the
parser processes of :mod:`rag.corpus.parse_pool`.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from rag.errors import DocumentError

if TYPE_CHECKING:
    from rag.settings import Settings

MB = 1024 * 1024

# Leading bytes of formats people drop into a corpus folder by mistake.
_MAGIC = [
    (b"%PDF-", "a PDF"), (b"PK\x03\x04", "a ZIP archive (or .docx/.xlsx)"),
    (b"\x89PNG", "a PNG image"), (b"GIF8", "a GIF image"), (b"\xff\xd8\xff", "a JPEG image"),
    (b"\x1f\x8b", "a gzip archive"), (b"\x7fELF", "a program (ELF)"), (b"BZh", "a bzip2 archive"),
    (b"7z\xbc\xaf", "a 7-Zip archive"), (b"Rar!", "a RAR archive"),
    (b"\xd0\xcf\x11\xe0", "an old Office document"), (b"\x00\x00\x01\x00", "an icon"),
]
# Byte order marks, longest first (UTF-32 LE starts with the UTF-16 LE mark).
_BOMS = [(codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
         (codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"),
         (codecs.BOM_UTF16_BE, "utf-16")]
# Control characters (but tab, line breaks, form feed and escape), replacement characters
# and lone surrogates: text has next to none, binary data about one byte in eight.
_CONTROL_RE = re.compile("[\x00-\x08\x0e-\x1a\x1c-\x1f\x7f-\x9f\ufffd\ud800-\udfff]")
# A well-formed UTF-8 sequence of two to four bytes (what a legacy 8-bit file almost never has).
_UTF8_MULTIBYTE = re.compile(rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|"
                             rb"[\xf0-\xf4][\x80-\xbf]{3}")
_SAMPLE = 65536  # characters checked for binary content
BINARY_SHARE = 0.02  # more control characters (8 at least) than this share: not text


@dataclass(frozen=True)
class Limits:
    """Bounds on what one corpus file may cost to read (see :class:`rag.Settings`)."""

    max_file_bytes: int = 20 * MB
    max_text_chars: int = 2_000_000
    max_passage_chars: int = 5000
    parse_timeout_s: float = 30.0
    parse_workers: int = 2
    max_html_depth: int = 256

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> Limits:
        """The limits of ``settings`` (a :class:`rag.Settings`; None reads the environment)."""
        if settings is None:
            from rag.settings import Settings

            settings = Settings()
        s = settings
        return cls(max_file_bytes=int(s.max_file_mb * MB),
                   max_text_chars=s.max_text_chars,
                   max_passage_chars=s.max_passage_chars,
                   parse_timeout_s=s.parse_timeout_s,
                   parse_workers=s.parse_workers,
                   max_html_depth=s.max_html_depth)


DEFAULT_LIMITS = Limits()  # the defaults of rag.Settings


def limits_of(settings: Settings | Limits | None) -> Limits:
    """``settings`` as :class:`Limits`: a Limits is returned as is, a Settings converted."""
    return settings if isinstance(settings, Limits) else Limits.from_settings(settings)


def inside(path: Path, root: Path) -> bool:
    """Whether ``path``, with every symlink resolved, lies inside ``root``."""
    try:
        return Path(path).resolve().is_relative_to(Path(root).resolve())
    except (OSError, RuntimeError):  # a symlink loop
        return False


def outside_warning(path: Path, root: Path) -> str:
    """The warning for a file that links outside its corpus folder (it is not read)."""
    try:
        target = str(Path(path).resolve())
    except (OSError, RuntimeError):
        target = "a symlink loop"
    return (f"skipped {Path(path).name}: a link to {target}, outside the corpus folder {root}; "
            "not followed. Fix: copy the file into the corpus folder if it belongs there.")


def read_bounded(path: Path, limits: Limits) -> bytes:
    """The bytes of ``path``; DocumentError when it cannot be read or is over the size limit."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if size <= limits.max_file_bytes:
            data = path.read_bytes()
            size = len(data)
    except OSError as err:
        raise DocumentError(path, f"cannot be read ({err.strerror or err})",
                            "check the file's permissions") from err
    if size > limits.max_file_bytes:
        limit = limits.max_file_bytes / MB
        raise DocumentError(path, f"is {size / MB:.1f} MB, over the {limit:.3g} MB limit for "
                            "one file (RAG_MAX_FILE_MB); skipped",
                            "split it into smaller files, or raise RAG_MAX_FILE_MB")
    return data


def require_content(path: Path | str, data: bytes, what: str) -> Path:
    """``path`` as a Path; DocumentError naming it when ``data`` is empty or only whitespace
    (``what``: what the file should hold, for the fix)."""
    if not data.strip():
        raise DocumentError(Path(path), "is empty", f"remove it or put {what} in it")
    return Path(path)


def _utf16_without_bom(data: bytes) -> str | None:
    """'utf-16-le'/'utf-16-be' when NUL bytes sit in every other position (ASCII-range text
    written as UTF-16 without a byte order mark), else None."""
    sample = data[:4096]
    if len(sample) < 4:
        return None
    even, odd = sample[0::2], sample[1::2]
    if odd.count(0) >= 0.4 * len(odd) and even.count(0) <= 0.05 * len(even):
        return "utf-16-le"
    if even.count(0) >= 0.4 * len(even) and odd.count(0) <= 0.05 * len(odd):
        return "utf-16-be"
    return None


def _refuse_binary(text: str, data: bytes, path: Path) -> None:
    kind = next((what for magic, what in _MAGIC if data.startswith(magic)), None)
    if kind:
        fix = ("give it the .pdf extension" if kind == "a PDF" else
               "convert it to .txt, .md, .html or .pdf, or move it out of the corpus folder")
        raise DocumentError(path, f"is {kind}, not text", fix)
    sample = text[:_SAMPLE]
    bad = len(_CONTROL_RE.findall(sample))
    if bad >= 8 and bad > BINARY_SHARE * len(sample):
        raise DocumentError(path, f"looks like binary data, not text ({bad / len(sample):.0%} "
                            "control bytes); not indexed",
                            "convert it to .txt, .md, .html or .pdf, or move it out of the "
                            "corpus folder")


def decode(data: bytes, path: Path, max_chars: int | None = None) -> tuple[str, list[str]]:
    """Decode file bytes to text; return (text, warnings naming the file).

    A byte order mark decides (UTF-8, UTF-16, UTF-32); UTF-16 without one is recognised by
    its NUL bytes; otherwise UTF-8, else Windows-1252 with a warning. Binary data raises
    DocumentError. Text over ``max_chars`` is cut at the last line break before it, with a
    warning."""
    path = Path(path)
    warnings: list[str] = []
    encoding = next((enc for bom, enc in _BOMS if data.startswith(bom)), None)
    if encoding is None and b"\x00" in data[:4096]:
        encoding = _utf16_without_bom(data)
    if encoding:
        text = data.decode(encoding, errors="replace")
    else:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as err:
            text = data.decode("utf-8", errors="replace")
            bad = text.count("\ufffd")
            if len(_UTF8_MULTIBYTE.findall(data)) > bad:  # UTF-8 with a few broken bytes
                warnings.append(f"{path.name}: not valid UTF-8 (byte {err.start}); {bad} "
                                "undecodable byte sequence(s) replaced. Fix: re-save the file "
                                "as UTF-8.")
            else:  # no UTF-8 to speak of: a legacy single-byte file
                warnings.append(f"{path.name}: not valid UTF-8 (byte {err.start}); read as "
                                "Windows-1252. Fix: re-save the file as UTF-8 if characters "
                                "look wrong.")
                text = data.decode("cp1252", errors="replace")
    _refuse_binary(text, data, path)
    if max_chars is not None and len(text) > max_chars:
        cut = text.rfind("\n", 0, max_chars)
        warnings.append(f"{path.name}: {len(text):,} characters of text, over the {max_chars:,} "
                        "limit for one file (RAG_MAX_TEXT_CHARS); only the first "
                        f"{max(cut, 0) if cut > max_chars // 2 else max_chars:,} were read. "
                        "Fix: split the file, or raise RAG_MAX_TEXT_CHARS.")
        text = text[:cut] if cut > max_chars // 2 else text[:max_chars]
    return text, warnings


def truncate_warning(path: Path, max_chars: int) -> str:
    """The warning for a PDF whose text went past ``max_chars`` (the rest is not read)."""
    return (f"{Path(path).name}: more than {max_chars:,} characters of text, the limit for one "
            "file (RAG_MAX_TEXT_CHARS); only the pages up to it were read. Fix: split the "
            "file, or raise RAG_MAX_TEXT_CHARS.")
