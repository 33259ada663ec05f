"""Key blocks: blocking keys -> record numbers as three flat numpy arrays, quick to save and load.

A blocking index (:class:`rag.extract.metadata.MetadataIndex`) maps ~15 keys per record to the
records that carry them; as a JSON object of 200,000 keys it took ~0.7 s to parse and as many
again to check and rebuild, on every build that matched one new paper. :class:`KeyBlocks` keeps
the same mapping as sorted 64-bit BLAKE2b hashes of the keys and, per hash, a slice of one array
of record numbers (CSR): loading is reading three arrays, and a look-up hashes its key and
searches the sorted hashes. Two keys whose hashes collide share a block, so a look-up may return
a few more records than the key names: callers use blocks only to find candidates that they then
compare exactly, and an extra candidate changes nothing.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Mapping, Sequence

import numpy as np


def key_hash(key: str) -> int:
    """64-bit BLAKE2b hash of a blocking key (stable across processes, unlike ``hash``)."""
    return int.from_bytes(hashlib.blake2b(key.encode("utf-8", "surrogatepass"),
                                          digest_size=8).digest(), "little")


class KeyBlocks:
    """Read-only ``key -> record numbers`` from sorted key hashes, block starts and members."""

    def __init__(self, hashes: np.ndarray, starts: np.ndarray, members: np.ndarray) -> None:
        self.hashes, self.starts, self.members = hashes, starts, members

    @classmethod
    def of(cls, blocks: Mapping[str, Sequence[int]]) -> KeyBlocks:
        """The arrays of a ``key -> record numbers`` mapping."""
        merged: dict[int, set[int]] = defaultdict(set)
        for key, rows in blocks.items():
            merged[key_hash(key)].update(rows)
        hashes = sorted(merged)
        sizes = [len(merged[h]) for h in hashes]
        starts = np.zeros(len(hashes) + 1, dtype=np.int64)
        np.cumsum(sizes, out=starts[1:])
        members = np.fromiter((i for h in hashes for i in sorted(merged[h])), dtype=np.int32,
                              count=int(starts[-1]))
        return cls(np.array(hashes, dtype=np.uint64), starts, members)

    def get(self, key: str, default: Sequence[int] = ()) -> Sequence[int]:
        """The record numbers of ``key`` (with those of any key of the same hash)."""
        h = np.uint64(key_hash(key))
        i = int(np.searchsorted(self.hashes, h))
        if i == len(self.hashes) or self.hashes[i] != h:
            return default
        return self.members[self.starts[i]:self.starts[i + 1]].tolist()

    @staticmethod
    def valid(hashes: np.ndarray, starts: np.ndarray, members: np.ndarray, n: int) -> bool:
        """Arrays read from disk have the dtypes, shapes and bounds :meth:`of` gives for ``n``
        records."""
        if (hashes.dtype, starts.dtype, members.dtype) != (np.uint64, np.int64, np.int32) or \
                not hashes.ndim == starts.ndim == members.ndim == 1:
            return False
        if len(starts) != len(hashes) + 1 or starts[0] != 0 or starts[-1] != len(members):
            return False
        return bool(np.all(np.diff(starts) > 0) and np.all(hashes[1:] > hashes[:-1]) and
                    (not len(members) or (members.min() >= 0 and members.max() < n)))
