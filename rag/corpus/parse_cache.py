"""Parse cache: each digest file's parse (its Digest record, passages and warnings) and each arXiv
snapshot file's records, kept between builds by the file's path and content hash.

Parsing a digest (:func:`rag.corpus.ingest.parse_digest`, in worker processes) depends on the file's
bytes, its name and the reading limits alone, so a build parses again only the files whose
content changed: after one digest of 1,000 was edited, that one. The content hash comes from
the build's file stamps (:class:`rag.index.integrity.FileStamps`: size and mtime unchanged means the
hash of the last build), so an unchanged file is not even read.

One JSON file (no pickle), ``parse-cache.json`` in the index folder beside ``CURRENT``,
replaced atomically. An entry is used only when the same parsing code (a hash of the source of
the modules that parse) under the same limits made it; a missing, unreadable or outdated file
is an empty cache, a damaged entry is parsed again; saving keeps the files of the last build.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

from rag.code_version import source_hash
from rag.corpus.ingest import LoadedDigest
from rag.corpus.safe_read import Limits
from rag.extract.cache import write_atomic
from rag.records import Digest, Link, Passage, to_dict

log = logging.getLogger(__name__)

CACHE_FILE = "parse-cache.json"
# the modules whose code decides how a file parses: a change to any of them empties the cache
_CODE = ("rag.corpus.ingest", "rag.corpus.readers", "rag.corpus.safe_read", "rag.dates",
         "rag.records", "rag.corpus.parse_cache", "rag.extract.metadata", "rag.lexicon")


@lru_cache(maxsize=1)
def _code_hash() -> str:
    return source_hash("parse-cache 1", _CODE)


def code_version(limits: Limits) -> str:
    """Hash of the parsing code and of the limits that shape a parse."""
    shape = (limits.max_file_bytes, limits.max_text_chars, limits.max_passage_chars,
             limits.max_html_depth)
    return hashlib.sha256(f"{_code_hash()}|{shape}".encode()).hexdigest()[:16]


def encode(doc: LoadedDigest, warnings: list[str]) -> dict:
    """A JSON-able form of one parse (a :class:`rag.corpus.ingest.LoadedDigest` and its
    warnings)."""
    return {"digest": to_dict(doc.digest), "warnings": list(warnings),
            "passages": [[p.index, p.section, p.kind, p.text,
                          [[x.text, x.url] for x in p.links], p.label, p.depth,
                          list(p.emphasis)]
                         for p in doc.passages]}


def decode(entry: dict) -> tuple[Digest, tuple[Passage, ...], list[str]]:
    """The parse :func:`encode` stored; KeyError, TypeError or ValueError when damaged."""
    digest = Digest.from_dict(entry["digest"])
    passages = tuple(Passage(digest.id, int(i), str(sec), str(kind), str(text),
                             tuple(Link(str(t), str(u)) for t, u in links),
                             None if label is None else str(label), int(depth),
                             tuple(str(e) for e in emphasis))
                     for i, sec, kind, text, links, label, depth, emphasis in entry["passages"])
    warnings = entry["warnings"]
    if not (passages and isinstance(warnings, list) and all(isinstance(w, str)
                                                            for w in warnings)):
        raise ValueError("not a parse")
    return digest, passages, list(warnings)


class ParseCache:
    """Parses by (file path, content hash); ``sha_of`` gives a file's current hash."""

    def __init__(self, path: Path | None, version: str, sha_of: Callable[[Path], str],
                 entries: dict | None = None) -> None:
        self.path = Path(path) if path is not None else None
        self.version = version
        self.sha_of = sha_of
        self.entries: dict[str, dict] = entries or {}
        self.used: dict[str, dict] = {}
        self.hits = self.misses = 0

    @classmethod
    def load(cls, path: Path, limits: Limits, sha_of: Callable[[Path], str],
             fresh: bool = False) -> ParseCache:
        """The cache stored at ``path``; empty when missing, unreadable, made by other code
        or limits, or when ``fresh``."""
        version = code_version(limits)
        if fresh or not Path(path).is_file():
            return cls(path, version, sha_of)
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as err:  # ValueError: bad JSON or UTF-8
            log.warning("parse cache %s is unreadable (%s); every file is parsed again",
                        path, err)
            return cls(path, version, sha_of)
        if not isinstance(data, dict) or data.get("code") != version or \
                not isinstance(data.get("files"), dict):
            return cls(path, version, sha_of)
        return cls(path, version, sha_of, data["files"])

    @staticmethod
    def _key(path: Path, sha: str) -> str:
        return f"{path}\x1f{sha}"

    def _entry(self, path: Path) -> tuple[str, dict] | None:
        """(key, stored entry) of ``path``'s current content, or None."""
        try:
            key = self._key(path, self.sha_of(path))
        except OSError:
            return None
        entry = self.entries.get(key)
        return (key, entry) if isinstance(entry, dict) else None

    def get(self, path: Path) -> tuple[LoadedDigest, list[str]] | None:
        """(LoadedDigest, warnings) of ``path`` as last parsed, or None when its content
        changed, it was never parsed or its entry is damaged."""
        found = self._entry(path)
        if found is None:
            return None
        key, entry = found
        try:
            digest, passages, warnings = decode(entry)
        except (KeyError, TypeError, ValueError):
            return None
        if digest.path != str(path) or digest.id != Path(path).stem:
            return None
        self.used[key] = entry
        self.hits += 1
        return LoadedDigest(digest, passages), warnings

    def put(self, path: Path, doc: LoadedDigest, warnings: list[str]) -> None:
        """Store the parse of ``path`` under the hash of the bytes that were parsed."""
        key = self._key(path, doc.digest.sha256)
        self.entries[key] = self.used[key] = encode(doc, warnings)
        self.misses += 1

    def records(self, path: Path) -> tuple[list[dict], list[str]] | None:
        """(records, warnings) of an arXiv snapshot file as last parsed
        (:func:`rag.extract.metadata.parse_metadata_file`), or None when its content changed,
        it was never parsed or its entry is damaged."""
        found = self._entry(path)
        if found is None:
            return None
        key, entry = found
        records, warnings = entry.get("records"), entry.get("warnings")
        if not (isinstance(records, list) and isinstance(warnings, list)
                and all(isinstance(r, dict) and "arxiv_id" in r and isinstance(r.get("title"), str)
                        for r in records) and all(isinstance(w, str) for w in warnings)):
            return None
        self.used[key] = entry
        self.hits += 1
        return records, warnings

    def put_records(self, path: Path, records: list[dict], warnings: list[str]) -> None:
        """Store the parse of an arXiv snapshot file under its current content hash."""
        try:
            key = self._key(path, self.sha_of(path))
        except OSError:
            return
        self.entries[key] = self.used[key] = {"records": records, "warnings": list(warnings)}
        self.misses += 1

    def save(self, path: Path | None = None) -> None:
        """Write the entries of this build's files atomically."""
        target = path or self.path
        if target is None:
            raise TypeError("save() needs a path: this cache was made without one")
        path = Path(target)
        data = json.dumps({"code": self.version, "files": self.used}, ensure_ascii=False,
                          separators=(",", ":"))
        write_atomic(path, data)
