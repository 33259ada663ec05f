"""Extraction cache: what each digest names, kept between builds by the digest's content hash.

Reading a digest for its papers (:func:`rag.extract.mentions.digest_finds`) depends on that digest
alone and is most of the cost of extraction, while merging the finds of all digests into papers
(:func:`rag.extract.papers.extract_papers`) is cheap and linear. So a build reads again only the
digests whose text changed and merges all of them anew: ``rag index`` after one digest of 1,000
was edited reads that one.

The cache is one JSON file (no pickle), ``extract-cache.json`` in the index folder beside
``CURRENT``, replaced atomically, keyed by :attr:`rag.records.Digest.sha256`. An entry is used
only when the same extraction code made it (a hash of the source of the modules that read
mentions) from the same passages (a hash of their text, sections, labels and links, which also
covers the reading limits); identical files share one entry. A missing, unreadable or outdated
file is an empty cache; saving keeps the entries of the digests of the last build only.

The same file keeps the metadata matches of the last build (:class:`JoinMemo`): which arXiv
record a paper's title and short name, or its authors and passages, matched, for one metadata
snapshot and matching code; a build matches again only the papers whose names changed, and
the index of the snapshot that those matches need is kept in ``metadata-index.npz`` beside it
(built once per snapshot, not once per build).
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import uuid
import zipfile
from dataclasses import fields
from functools import lru_cache
from pathlib import Path

import numpy as np

from rag.code_version import source_hash
from rag.corpus.ingest import LoadedDigest
from rag.extract.mentions import BulletFinds, DigestFinds, RawMention, digest_finds

log = logging.getLogger(__name__)

CACHE_FILE = "extract-cache.json"
INDEX_FILE = "metadata-index.npz"  # the metadata snapshot's MetadataIndex, beside the cache
FORMAT = 1
# the modules whose code decides what a digest names: a change to any of them empties the cache
_CODE = ("rag.extract.mentions", "rag.extract.titles", "rag.extract.authors", "rag.lexicon",
         "rag.text", "rag.urls", "rag.extract.cache")
_MENTION_FIELDS = [f.name for f in fields(RawMention) if f.name != "digest_id"]


@lru_cache(maxsize=1)
def code_version() -> str:
    """Hash of the extraction code and of this cache's format."""
    return source_hash(f"format {FORMAT}", _CODE)[:16]


def passages_hash(doc: LoadedDigest) -> str:
    """Hash of everything of a digest's passages that mentions are read from (not its id)."""
    h = hashlib.sha256()
    for p in doc.passages:
        links = "\x1e".join(f"{link.text}\x1f{link.url}" for link in p.links)
        h.update(f"{p.index}\x1f{p.section}\x1f{p.kind}\x1f{p.label}\x1f{p.depth}\x1f{p.text}"
                 f"\x1f{links}\x1f{chr(30).join(p.emphasis)}\x1d".encode("utf-8",
                                                                          "surrogatepass"))
    return h.hexdigest()[:32]


def _mention_row(m: RawMention) -> list:
    return [getattr(m, name) for name in _MENTION_FIELDS]


_KINDS = frozenset({"title", "label", "name", "authors"})


def _mention(digest_id: str, row: list) -> RawMention:
    """A mention from its stored row; ValueError when the row is not one."""
    if not isinstance(row, list) or len(row) != len(_MENTION_FIELDS):
        raise ValueError("not a mention row")
    m = RawMention(digest_id, **dict(zip(_MENTION_FIELDS, row)))
    if not (_ints(m.start, m.end) and m.kind in _KINDS and isinstance(m.how, str)
            and isinstance(m.intro, bool) and _texts(m.institutions)
            and all(x is None or isinstance(x, str) for x in (m.title, m.short_name,
                                                               m.authors))):
        raise ValueError("not a mention row")
    m.institutions = list(m.institutions)
    return m


def _ints(*values: object) -> bool:
    return all(isinstance(v, int) and not isinstance(v, bool) for v in values)


def _texts(values: object) -> bool:
    return isinstance(values, list) and all(isinstance(v, str) for v in values)


def encode(f: DigestFinds) -> dict:
    """A JSON-able form of one digest's finds (the digest id left out)."""
    return {"mentions": [_mention_row(m) for m in f.mentions],
            "bullets": [[b.index, b.length, [_mention_row(m) for m in b.found], b.title,
                         b.short, b.topic, b.teams] for b in f.bullets]}


def decode(digest_id: str, entry: dict) -> DigestFinds:
    """The finds :func:`encode` stored, as new objects for the digest ``digest_id``;
    ValueError (or KeyError, TypeError) when the entry is damaged."""
    bullets = []
    for index, length, found, title, short, topic, teams in entry["bullets"]:
        if not (_ints(index, length) and isinstance(found, list) and isinstance(topic, bool)
                and _texts(teams) and all(x is None or isinstance(x, str)
                                          for x in (title, short))):
            raise ValueError("not a bullet row")
        bullets.append(BulletFinds(index, length, [_mention(digest_id, r) for r in found],
                                   title, short, topic, list(teams)))
    return DigestFinds(digest_id, [_mention(digest_id, r) for r in entry["mentions"]], bullets)


def metadata_version(metadata: list[dict]) -> str:
    """Hash of what a metadata join reads (each record's id, title and authors) and of the
    code that matches and checks attributions (:mod:`rag.extract.metadata`,
    :mod:`rag.extract.attribution` and the extraction code)."""
    h = hashlib.sha256(source_hash(code_version(), ("rag.extract.metadata",
                                                    "rag.extract.attribution")).encode())
    for rec in metadata:
        h.update(json.dumps([rec.get("arxiv_id"), rec.get("title"), rec.get("authors")],
                            ensure_ascii=False).encode("utf-8", "surrogatepass"))
    return h.hexdigest()[:16]


class JoinMemo:
    """Results that depend on a paper's names and one metadata snapshot, by key: metadata
    matches (arXiv id, "" for none) that :func:`rag.extract.metadata.join_metadata` found, and
    attribution issues (a list of sentences), in the last build and in this one."""

    def __init__(self, version: str, entries: dict | None = None,
                 index_path: Path | None = None) -> None:
        self.version = version
        self.entries: dict[str, str | list[str]] = entries or {}
        self.used: dict[str, str | list[str]] = {}
        self.hits = self.misses = 0
        self.index_path = index_path  # where the metadata index of this snapshot is kept

    def stored_index(self) -> dict[str, np.ndarray] | None:
        """The :class:`rag.extract.metadata.MetadataIndex` kept for this snapshot (as its
        ``to_arrays``), or None when there is none, it is unreadable or of another snapshot."""
        if self.index_path is None or not self.index_path.is_file():
            return None
        try:
            with np.load(self.index_path, allow_pickle=False) as z:
                data = {k: z[k] for k in z.files}
        except (OSError, ValueError, EOFError, zipfile.BadZipFile) as err:
            log.warning("metadata index %s is unreadable (%s); it is built again",
                        self.index_path, err)
            return None
        version = data.pop("version", None)
        return data if version is not None and str(version) == self.version else None

    def store_index(self, data: dict[str, np.ndarray]) -> None:
        """Keep the metadata index of this snapshot for the next builds."""
        if self.index_path is not None:
            buffer = io.BytesIO()
            # mypy checks **data against savez's keyword allow_pickle: bool as well
            np.savez(buffer, version=np.array(self.version), **data)  # type: ignore[arg-type]
            write_atomic(self.index_path, buffer.getvalue())
            # the JSON index of earlier versions: never read again
            self.index_path.with_suffix(".json").unlink(missing_ok=True)

    def get(self, key: str) -> str | list[str] | None:
        found = self.entries.get(key)
        if isinstance(found, str) or (isinstance(found, list) and
                                      all(isinstance(x, str) for x in found)):
            self.used[key] = found
            self.hits += 1
            return found
        return None

    def put(self, key: str, value: str | list[str]) -> None:
        self.entries[key] = self.used[key] = value
        self.misses += 1


class ExtractCache:
    """Per-digest finds by content hash; :meth:`finds` reads a digest only on a miss. It also
    keeps the metadata matches of the last build (:meth:`joins`)."""

    def __init__(self, path: Path | None = None, entries: dict | None = None,
                 joins: dict | None = None) -> None:
        self.path = Path(path) if path is not None else None
        self.entries: dict[str, dict] = entries or {}
        self.used: dict[str, dict] = {}  # the entries of the digests of this build
        self.hits = self.misses = 0
        self.stored_joins = joins if isinstance(joins, dict) else {}
        self.memo: JoinMemo | None = None

    def joins(self, metadata: list[dict]) -> JoinMemo:
        """The memo of metadata matches for this ``metadata`` (empty when the last build
        joined another snapshot); saved with the cache."""
        version = metadata_version(metadata)
        if self.memo is None or self.memo.version != version:
            stored = self.stored_joins
            same = stored.get("version") == version and isinstance(stored.get("matches"), dict)
            self.memo = JoinMemo(version, dict(stored["matches"]) if same else None,
                                 self.path.with_name(INDEX_FILE) if self.path else None)
        return self.memo

    @classmethod
    def load(cls, path: Path, fresh: bool = False) -> ExtractCache:
        """The cache stored at ``path``; empty when it is missing, unreadable or was made by
        other extraction code, or when ``fresh``."""
        if fresh:
            return cls(path)
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError:
            return cls(path)
        except (OSError, ValueError) as err:  # ValueError: bad JSON or UTF-8
            log.warning("extraction cache %s is unreadable (%s); every digest is read again",
                        path, err)
            return cls(path)
        if not isinstance(data, dict) or data.get("code") != code_version() or \
                not isinstance(data.get("digests"), dict):
            return cls(path)
        return cls(path, data["digests"], data.get("joins"))

    def finds(self, doc: LoadedDigest, check: str | None = None) -> DigestFinds:
        """The finds of ``doc``: from the cache when its passages are unchanged, else read
        (:func:`rag.extract.mentions.digest_finds`) and stored. ``check``: its
        :func:`passages_hash`, when the caller has it."""
        key, check = doc.digest.sha256, check or passages_hash(doc)
        entry = self.entries.get(key)
        if isinstance(entry, dict) and entry.get("check") == check:
            try:
                found = decode(doc.digest.id, entry)
            except (KeyError, TypeError, ValueError):  # a damaged entry: read the digest
                pass
            else:
                self.hits += 1
                self.used[key] = entry
                return found
        found = digest_finds(doc)
        entry = {"check": check, **encode(found)}
        self.entries[key] = self.used[key] = entry
        self.misses += 1
        return found

    def save(self, path: Path | None = None) -> None:
        """Write the entries of this build's digests to ``path`` (default: where it was
        loaded from) atomically: a crash leaves the previous file whole."""
        target = path or self.path
        if target is None:
            raise TypeError("save() needs a path: this cache was made without one")
        path = Path(target)
        joins = {"version": self.memo.version, "matches": self.memo.used} if self.memo else {}
        data = json.dumps({"format": FORMAT, "code": code_version(), "digests": self.used,
                           "joins": joins}, ensure_ascii=False, separators=(",", ":"))
        write_atomic(path, data)


def write_atomic(path: Path, data: str | bytes) -> None:
    """Write ``data`` (text as UTF-8) to ``path`` through a temporary file and a rename: a
    crash leaves the previous file whole."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:6]}")
    try:
        with open(tmp, "wb") as fh:
            fh.write(data.encode("utf-8") if isinstance(data, str) else data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
