"""Chunk table: a build's chunk records, read lazily, and the per-row columns queries need.

A build writes ``chunks.jsonl`` (one JSON record per chunk, as before) and beside it
``rows.npz`` (plain numpy arrays, no pickle) + ``rows.json``: the byte offset of every line,
a hash of every chunk id (for id -> row look-ups), each row's digest, whether it is digest
text, its (row, paper) pairs and the mean vector. :class:`ChunkTable` is a read-only
sequence of :class:`~rag.records.Chunk` over ``chunks.jsonl`` (rows read with ``pread``:
none of the file is mapped into the process): ``len``, ``[i]`` and iteration parse only
the rows asked for, so a loaded index of a million chunks holds arrays, not a million
Python objects. The mappings :class:`ChunkRows` (chunk id ->
row) and :class:`PaperRows` (paper id -> rows) answer from the same arrays.
"""

from __future__ import annotations

import hashlib
import json
import mmap
import os
import weakref
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import overload

import numpy as np

from rag.records import Chunk, to_dict

CHUNKS = "chunks.jsonl"
ROWS = "rows.npz"
ROWS_META = "rows.json"


def id_hash(chunk_id: str) -> int:
    """64-bit hash of a chunk id (blake2b), for the sorted id column."""
    return int.from_bytes(hashlib.blake2b(chunk_id.encode(), digest_size=8).digest(), "little")


def row_columns(chunks: Sequence[Chunk], vectors: np.ndarray | None = None
                ) -> tuple[dict[str, np.ndarray], dict[str, list[str]]]:
    """(arrays, names) of the row columns: each row's digest (an index into
    ``names["digests"]``), whether it is a paper's own text, its (row, paper) pairs in row
    order (papers as indexes into ``names["papers"]``), the sorted id hashes with their rows
    and, given ``vectors``, their mean."""
    digests: dict[str, int] = {}
    papers: dict[str, int] = {}
    digest_of = np.zeros(len(chunks), dtype=np.int32)
    own_text = np.zeros(len(chunks), dtype=bool)
    pair_rows: list[int] = []
    pair_papers: list[int] = []
    hashes = np.zeros(len(chunks), dtype=np.uint64)
    for i, c in enumerate(chunks):
        digest_of[i] = digests.setdefault(c.digest_id, len(digests))
        own_text[i] = c.source != "digest"
        hashes[i] = id_hash(c.id)
        for pid in c.paper_ids:
            pair_rows.append(i)
            pair_papers.append(papers.setdefault(pid, len(papers)))
    order = np.argsort(hashes, kind="stable")
    cols: dict[str, np.ndarray] = {
        "id_hash": hashes[order], "id_rows": order.astype(np.int64), "digest": digest_of,
        "own_text": own_text, "pair_rows": np.asarray(pair_rows, dtype=np.int64),
        "pair_papers": np.asarray(pair_papers, dtype=np.int32)}
    if vectors is not None:
        cols["centroid"] = (vectors.mean(0) if len(vectors) else
                            np.zeros(vectors.shape[1], np.float32)).astype(np.float32)
    return cols, {"digests": list(digests), "papers": list(papers)}


_JSON = json.JSONEncoder(ensure_ascii=False)  # json.dumps(..., ensure_ascii=False), made once


def write_table(folder: Path, chunks: Sequence[Chunk], keys: Sequence[str],
                vectors: np.ndarray) -> None:
    """Write ``chunks.jsonl`` (each record with its content ``key``) and the row columns."""
    folder = Path(folder)
    offsets = np.zeros(len(chunks) + 1, dtype=np.int64)
    with open(folder / CHUNKS, "wb") as fh:
        for i, (c, k) in enumerate(zip(chunks, keys)):
            line = (_JSON.encode({**to_dict(c), "key": k}) + "\n").encode()
            fh.write(line)
            offsets[i + 1] = offsets[i] + len(line)
    cols, names = row_columns(chunks, vectors)
    with open(folder / ROWS, "wb") as fh:
        # mypy checks **cols against savez's keyword allow_pickle: bool as well
        np.savez(fh, offsets=offsets, **cols)  # type: ignore[arg-type]
    (folder / ROWS_META).write_text(json.dumps(names), encoding="utf-8")


class ChunkTable(Sequence[Chunk]):
    """The chunks of a build folder as a lazy, read-only sequence (see the module doc)."""

    def __init__(self, folder: Path) -> None:
        folder = Path(folder)
        with np.load(folder / ROWS, allow_pickle=False) as z:
            self.columns = {k: z[k] for k in z.files}
        self.names: dict[str, list[str]] = json.loads(
            (folder / ROWS_META).read_text(encoding="utf-8"))
        self._offsets = self.columns["offsets"]
        # rows are read with pread, not through a memory map: the page cache holds files in
        # large folios, and each mapped row counted up to 2 MB of this process's resident set
        self._file = open(folder / CHUNKS, "rb", buffering=0)  # noqa: SIM115 - held open
        weakref.finalize(self, self._file.close)  # closed with the table
        size = os.fstat(self._file.fileno()).st_size
        self._map: mmap.mmap | bytes = b""
        if size and not hasattr(os, "pread"):  # no pread (Windows): read through a map
            self._map = mmap.mmap(self._file.fileno(), 0, access=mmap.ACCESS_READ)
        if size != int(self._offsets[-1]):
            self._file.close()
            raise ValueError(f"{CHUNKS} has {size} bytes, {ROWS} says "
                             f"{int(self._offsets[-1])}")

    def __len__(self) -> int:
        return len(self._offsets) - 1

    def record(self, i: int) -> dict:
        """Row ``i`` as stored (the chunk's fields and its content ``key``)."""
        if not -len(self) <= i < len(self):
            raise IndexError(f"chunk row {i} out of range ({len(self)} rows)")
        i %= len(self)
        start, end = int(self._offsets[i]), int(self._offsets[i + 1])
        if self._map:
            return json.loads(self._map[start:end])
        data = os.pread(self._file.fileno(), end - start, start)
        if len(data) != end - start:
            raise ValueError(f"{CHUNKS} is shorter than {ROWS} says")
        return json.loads(data)

    @overload
    def __getitem__(self, i: int) -> Chunk: ...
    @overload
    def __getitem__(self, i: slice) -> list[Chunk]: ...

    def __getitem__(self, i: int | slice) -> Chunk | list[Chunk]:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        d = self.record(int(i))
        d.pop("key", None)
        return Chunk.from_dict(d)

    def __iter__(self) -> Iterator[Chunk]:
        return (self[i] for i in range(len(self)))

    def keys(self) -> KeyColumn:
        """The content key of every row, lazily."""
        return KeyColumn(self)


class KeyColumn(Sequence[str]):
    """The content keys of a :class:`ChunkTable`, read row by row."""

    def __init__(self, table: ChunkTable) -> None:
        self._table = table

    def __len__(self) -> int:
        return len(self._table)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        return self._table.record(int(i))["key"]


class ChunkRows(Mapping[str, int]):
    """chunk id -> row, by binary search over the sorted id hashes (checked on the row)."""

    def __init__(self, table: ChunkTable) -> None:
        self._table = table
        self._hashes = table.columns["id_hash"]
        self._rows = table.columns["id_rows"]

    def __getitem__(self, chunk_id: str) -> int:
        h = np.uint64(id_hash(chunk_id))
        i = int(np.searchsorted(self._hashes, h))
        while i < len(self._hashes) and self._hashes[i] == h:
            row = int(self._rows[i])
            if self._table.record(row)["id"] == chunk_id:
                return row
            i += 1
        raise KeyError(chunk_id)

    def __len__(self) -> int:
        return len(self._table)

    def __iter__(self) -> Iterator[str]:
        return (self._table.record(i)["id"] for i in range(len(self._table)))


class PaperRows(Mapping[str, list[int]]):
    """paper id -> the rows of the chunks naming it (in row order), from the pair columns."""

    def __init__(self, columns: Mapping[str, np.ndarray], names: Sequence[str]) -> None:
        papers = columns["pair_papers"]
        order = np.argsort(papers, kind="stable")
        self._rows = columns["pair_rows"][order]
        self._start = np.searchsorted(papers[order], np.arange(len(names) + 1))
        self._code = {pid: j for j, pid in enumerate(names)}

    def __getitem__(self, paper_id: str) -> list[int]:
        j = self._code[paper_id]
        return self._rows[self._start[j]:self._start[j + 1]].tolist()

    def __len__(self) -> int:
        return len(self._code)

    def __iter__(self) -> Iterator[str]:
        return iter(self._code)
