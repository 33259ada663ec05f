"""Token-count cache: each text's BM25 term counts, kept between builds by the text's hash.

Tokenising every chunk (:func:`rag.text.tokenize`) is most of the cost of building the BM25
index; counting and weighting the terms from counts is a few vectorised numpy passes
(:meth:`rag.index.stores.LexicalIndex.build`). So a build tokenises only the texts it has not seen
and takes the others' counts from here: after one digest of 1,000 was edited, the chunks of
that digest. BM25 weights depend on every document (document frequencies, average length),
so the weights are always computed anew, from counts, and equal those of a from-scratch
bm25s build of the same texts.

One file, ``lexical-cache.npz`` in the index folder beside ``CURRENT`` (numpy arrays, no
pickle), replaced atomically: the vocabulary, and per text its hash, its distinct terms in
order of first appearance and their counts. An entry is used only when the same tokeniser made
it (a hash of :mod:`rag.text`'s source); a missing, unreadable or outdated file is an empty
cache; saving keeps the texts of the last build only.
"""

from __future__ import annotations

import hashlib
import logging
import os
import uuid
import zipfile
from collections import Counter
from functools import lru_cache
from pathlib import Path

import numpy as np

from rag.code_version import source_hash
from rag.text import tokenize

log = logging.getLogger(__name__)

CACHE_FILE = "lexical-cache.npz"
EMPTY = "∅"  # the token of a text with none (bm25s needs one token per document)


@lru_cache(maxsize=1)
def code_version() -> str:
    """Hash of the tokeniser's code (a change empties the cache)."""
    return source_hash("lexical-cache 1|", ["rag.text"])[:16]


def text_key(text: str) -> bytes:
    """The cache key of a text: 16 bytes of its BLAKE2b hash."""
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()


def term_counts(text: str) -> Counter[str]:
    """The BM25 terms of ``text`` and their counts, in order of first appearance."""
    return Counter(tokenize(text) or [EMPTY])


class TokenCache:
    """Term counts by text hash; :meth:`counts` tokenises a text only on a miss."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = Path(path) if path is not None else None
        self.vocab: list[str] = []
        self.ids: dict[str, int] = {}
        self.entries: dict[bytes, tuple[np.ndarray, np.ndarray]] = {}  # key -> (ids, counts)
        self.used: set[bytes] = set()
        self.hits = self.misses = 0

    @classmethod
    def load(cls, path: Path, fresh: bool = False) -> TokenCache:
        """The cache stored at ``path``; empty when missing, unreadable, made by another
        tokeniser, or when ``fresh``."""
        cache = cls(path)
        if fresh or not Path(path).is_file():
            return cache
        try:
            with np.load(path, allow_pickle=False) as z:
                if str(z["code"]) != code_version():
                    return cache
                vocab = bytes(z["vocab"]).decode("utf-8").split("\n") if z["vocab"].size \
                    else []
                keys, offsets = z["keys"], z["offsets"]
                terms, counts = z["terms"], z["counts"]
        except (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile) as err:
            log.warning("token cache %s is unreadable (%s); every text is tokenised again",
                        path, err)
            return cache
        if keys.dtype != np.uint8 or keys.ndim != 2 or keys.shape[1] != 16 or \
                len(offsets) != len(keys) + 1 or offsets[-1] != len(terms) or \
                len(terms) != len(counts) or \
                (len(terms) and (terms.min() < 0 or terms.max() >= len(vocab))):
            log.warning("token cache %s is damaged; every text is tokenised again", path)
            return cache
        cache.vocab = vocab
        cache.ids = {t: i for i, t in enumerate(vocab)}
        bounds = offsets.tolist()
        raw = keys.tobytes()
        cache.entries = {raw[16 * i:16 * i + 16]: (terms[a:b], counts[a:b])
                         for i, (a, b) in enumerate(zip(bounds, bounds[1:]))}
        return cache

    def counts(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """(vocabulary ids of the distinct terms of ``text`` in order of first appearance,
        their counts): from the cache when this text was seen, else tokenised and stored."""
        key = text_key(text)
        self.used.add(key)
        hit = self.entries.get(key)
        if hit is not None:
            self.hits += 1
            return hit
        self.misses += 1
        found = term_counts(text)
        ids = np.empty(len(found), dtype=np.int64)
        for i, term in enumerate(found):
            tid = self.ids.get(term)
            if tid is None:
                tid = self.ids[term] = len(self.vocab)
                self.vocab.append(term)
            ids[i] = tid
        entry = (ids, np.fromiter(found.values(), dtype=np.int64, count=len(found)))
        self.entries[key] = entry
        return entry

    def save(self, path: Path | None = None) -> None:
        """Write the entries of the texts used since loading to ``path`` (default: where it
        was loaded from) atomically, with the vocabulary they use."""
        target = path or self.path
        if target is None:
            raise TypeError("save() needs a path: this cache was made without one")
        path = Path(target)
        keys = sorted(self.used & self.entries.keys())
        parts = [self.entries[k] for k in keys]
        terms = np.concatenate([p[0] for p in parts]) if parts else np.zeros(0, np.int64)
        counts = np.concatenate([p[1] for p in parts]) if parts else np.zeros(0, np.int64)
        # drop the terms no kept text uses (what np.unique(terms, return_inverse=True) gives,
        # in one pass over the vocabulary instead of a sort of every term)
        used = np.zeros(len(self.vocab), dtype=bool)
        used[terms] = True
        kept = np.flatnonzero(used)
        terms = (np.cumsum(used) - 1)[terms]
        vocab = "\n".join(self.vocab[i] for i in kept.tolist()).encode("utf-8")
        offsets = np.zeros(len(keys) + 1, dtype=np.int64)
        np.cumsum([len(p[0]) for p in parts], out=offsets[1:])
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:6]}.npz")
        try:
            np.savez(tmp, code=np.array(code_version()), vocab=np.frombuffer(vocab, np.uint8),
                     keys=np.frombuffer(b"".join(keys), np.uint8).reshape(-1, 16), offsets=offsets,
                     terms=terms.astype(np.int32), counts=counts.astype(np.int32))
            with open(tmp, "rb") as fh:
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
