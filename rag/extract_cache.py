"""Extraction cache: what each digest names, kept between builds by the digest's content hash.

Reading a digest for its papers (:func:`rag.mentions.digest_finds`) depends on that digest
alone and is most of the cost of extraction, while merging the finds of all digests into papers
(:func:`rag.papers.extract_papers`) is cheap and linear. So a build reads again only the
digests whose text changed and merges all of them anew: ``rag index`` after one digest of 1,000
was edited reads that one.

The cache is one JSON file (no pickle), ``extract-cache.json`` in the index folder beside
``CURRENT``, replaced atomically, keyed by :attr:`rag.records.Digest.sha256`. An entry is used
only when the same extraction code made it (a hash of the source of the modules that read
mentions) from the same passages (a hash of their text, sections, labels and links, which also
covers the reading limits); identical files share one entry. A missing, unreadable or outdated
file is an empty cache; saving keeps the entries of the digests of the last build only.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import uuid
from dataclasses import fields
from functools import lru_cache
from pathlib import Path

from .ingest import LoadedDigest
from .mentions import BulletFinds, DigestFinds, RawMention, digest_finds

log = logging.getLogger(__name__)

CACHE_FILE = "extract-cache.json"
FORMAT = 1
# the modules whose code decides what a digest names: a change to any of them empties the cache
_CODE = ("mentions", "titles", "authors", "lexicon", "text", "urls", "extract_cache")
_MENTION_FIELDS = [f.name for f in fields(RawMention) if f.name != "digest_id"]


@lru_cache(maxsize=1)
def code_version() -> str:
    """Hash of the extraction code and of this cache's format."""
    h = hashlib.sha256(f"format {FORMAT}".encode())
    for name in _CODE:
        h.update((Path(__file__).parent / f"{name}.py").read_bytes())
    return h.hexdigest()[:16]


def passages_hash(doc: LoadedDigest) -> str:
    """Hash of everything of a digest's passages that mentions are read from (not its id)."""
    h = hashlib.sha256()
    for p in doc.passages:
        links = "\x1e".join(f"{link.text}\x1f{link.url}" for link in p.links)
        h.update(f"{p.index}\x1f{p.section}\x1f{p.kind}\x1f{p.label}\x1f{p.depth}\x1f{p.text}"
                 f"\x1f{links}\x1d".encode("utf-8", "surrogatepass"))
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


class ExtractCache:
    """Per-digest finds by content hash; :meth:`finds` reads a digest only on a miss."""

    def __init__(self, path: Path | None = None, entries: dict | None = None) -> None:
        self.path = Path(path) if path is not None else None
        self.entries: dict[str, dict] = entries or {}
        self.used: dict[str, dict] = {}  # the entries of the digests of this build
        self.hits = self.misses = 0

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
        return cls(path, data["digests"])

    def finds(self, doc: LoadedDigest) -> DigestFinds:
        """The finds of ``doc``: from the cache when its passages are unchanged, else read
        (:func:`rag.mentions.digest_finds`) and stored."""
        key, check = doc.digest.sha256, passages_hash(doc)
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
        path = Path(path or self.path)
        data = json.dumps({"format": FORMAT, "code": code_version(), "digests": self.used},
                          ensure_ascii=False, separators=(",", ":"))
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:6]}")
        try:
            with open(tmp, "w", encoding="utf-8") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
