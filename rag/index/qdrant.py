"""Qdrant store: the search engine for corpora past one machine (``RAG_STORE=qdrant``).

One collection per build holds each chunk row as a point (id = row): a dense vector (dot
product on the unit vectors, as FAISS's inner product) and a sparse vector of BM25 document
weights computed from the project's own tokens (:func:`rag.text.tokenize`; Lucene's tf part
with ``bm25_k1``/``bm25_b``, token ids by a stable hash), the collection applying the IDF
(``Modifier.IDF``), so a query's sparse vector is just its tokens. The payload carries what
filters test (digest date ordinal, digest id, has-code, paper ids). A search is one call: by
default (``qdrant_fusion="client"``) a batched Query API call returning the dense and the
sparse candidates (``settings.candidates`` each, both filtered), fused here by the FAISS
engine's own RRF; or (``"server"``) a dense and a sparse prefetch fused server-side by Qdrant's
weighted RRF, which scales ranks rather than scores and so ranks a little differently at
weights other than 1 (measured: eval/RESULTS.md, "Stores: FAISS vs Qdrant").

Lifecycle: ``build_index`` writes the local build folder as with FAISS (it stays the record of
chunks, papers and vectors), upserts the build's points into the collection
``<qdrant_collection>-<build folder>`` before ``CURRENT`` names the build, points the alias
``qdrant_collection`` at it (one atomic alias operation), and, once the build is live, deletes
older build collections. A query process checks that the alias names its build and then queries
that build's collection by name, so its rows always match its records. ``qdrant_url`` empty:
qdrant-client's local mode in ``<index_dir>/qdrant`` (one process at a time); else a server
or cluster (docs/qdrant/README.md).
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import json
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from rag.errors import IndexStateError, import_extra
from rag.index.engines import Candidates, Cosines, LocalVectors, RowFacets, RowFilter, rrf
from rag.records import Chunk, Digest, Paper
from rag.settings import Settings
from rag.text import tokenize

if TYPE_CHECKING:
    from qdrant_client import QdrantClient

    from rag.index.load import Index

DENSE, SPARSE = "dense", "bm25"  # vector names in the collection
LOCAL_FOLDER = "qdrant"  # local-mode storage under index_dir, outside the checksummed builds
BATCH = 256  # points per upsert request
_CLIENTS: dict[str, QdrantClient] = {}  # one client per place: local mode locks its folder


def _models() -> Any:
    client = import_extra("qdrant_client", "The Qdrant store (RAG_STORE=qdrant)", "qdrant",
                          "qdrant-client")
    return client.models


def _where(settings: Settings) -> str:
    return settings.qdrant_url or str(Path(settings.index_dir) / LOCAL_FOLDER)


def _errors() -> tuple[type[BaseException], ...]:
    """What qdrant-client raises for an unreachable server, an HTTP error or (local mode) a
    missing collection or a folder another process holds."""
    from qdrant_client.http.exceptions import ResponseHandlingException, UnexpectedResponse

    return ResponseHandlingException, UnexpectedResponse, OSError, RuntimeError, ValueError


def _failed(settings: Settings, what: str, err: BaseException) -> IndexStateError:
    local = not settings.qdrant_url
    fix = ("use a Qdrant server (RAG_QDRANT_URL) when several processes share the index, or "
           "stop the other one" if local else
           "check that the server is up and reachable at RAG_QDRANT_URL (and RAG_QDRANT_API_KEY"
           "), or set RAG_STORE=faiss")
    first = (str(err).splitlines() or [""])[0][:300]
    return IndexStateError(f"Qdrant at {_where(settings)} failed to {what} "
                           f"({err.__class__.__name__}: {first}).", fix)


def connect(settings: Settings) -> QdrantClient:
    """The client for ``settings`` (one per URL or local folder in this process)."""
    _models()
    from qdrant_client import QdrantClient

    where = _where(settings)
    if not _CLIENTS:
        atexit.register(close_all)
    if where not in _CLIENTS:
        try:
            if settings.qdrant_url:
                key = settings.qdrant_api_key
                _CLIENTS[where] = QdrantClient(
                    url=settings.qdrant_url, check_compatibility=False,
                    api_key=key.get_secret_value() if key is not None else None)
            else:
                Path(where).mkdir(parents=True, exist_ok=True)
                _CLIENTS[where] = QdrantClient(path=where)
        except _errors() as err:
            raise _failed(settings, "open", err) from err
    return _CLIENTS[where]


def close_all() -> None:
    """Close every client this process opened (at exit: a local-mode client left to the garbage
    collector closes after the interpreter has torn its modules down, and says so on stderr)."""
    while _CLIENTS:
        _, client = _CLIENTS.popitem()
        with contextlib.suppress(Exception):  # closing is best effort at exit
            client.close()


def token_id(token: str) -> int:
    """A token's sparse index: the first 4 bytes of its BLAKE2b hash (stable across runs and
    machines, unlike ``hash()``)."""
    return int.from_bytes(hashlib.blake2b(token.encode("utf-8"), digest_size=4).digest(), "little")


def bm25_weights(texts: Sequence[str], k1: float, b: float
                 ) -> list[tuple[list[int], list[float]]]:
    """(token ids, weights) of each text: BM25's tf part, tf / (tf + k1 (1 - b + b len/avg))
    (as bm25s's Lucene variant); the collection multiplies in the IDF."""
    tokens = [tokenize(t) for t in texts]
    avg = float(np.mean([len(t) for t in tokens])) if tokens else 1.0
    out = []
    for toks in tokens:
        tf = Counter(token_id(t) for t in toks)
        norm = k1 * (1 - b + b * len(toks) / (avg or 1.0))
        out.append((list(tf), [n / (n + norm) for n in tf.values()]))
    return out


def query_sparse(text: str) -> tuple[list[int], list[float]]:
    """A question's sparse vector: each token's count (the collection applies the IDF)."""
    tf = Counter(token_id(t) for t in tokenize(text))
    return list(tf), [float(n) for n in tf.values()]


def _points(chunks: Sequence[Chunk], vectors: np.ndarray, facets: RowFacets,
            settings: Settings) -> Iterator[Any]:
    models = _models()
    sparse = bm25_weights([c.embed_text for c in chunks], settings.bm25_k1, settings.bm25_b)
    for row, (c, (ids, weights)) in enumerate(zip(chunks, sparse)):
        vec: dict[str, Any] = {DENSE: np.asarray(vectors[row], dtype=np.float32).tolist()}
        if ids:
            vec[SPARSE] = models.SparseVector(indices=ids, values=weights)
        yield models.PointStruct(id=row, vector=vec, payload=facets.payload(row, c))


def fill_collection(client: QdrantClient, name: str, chunks: Sequence[Chunk],
                    vectors: np.ndarray, facets: RowFacets, settings: Settings) -> None:
    """(Re)create collection ``name`` (dense + IDF-weighted sparse vectors, payload indexes
    on the filtered fields) and upsert every chunk row."""
    models = _models()
    if client.collection_exists(name):
        client.delete_collection(name)
    client.create_collection(
        name, vectors_config={DENSE: models.VectorParams(size=int(vectors.shape[1]),
                                                         distance=models.Distance.DOT)},
        sparse_vectors_config={SPARSE: models.SparseVectorParams(modifier=models.Modifier.IDF)},
        shard_number=settings.qdrant_shards, replication_factor=settings.qdrant_replicas,
        write_consistency_factor=settings.qdrant_write_consistency)
    if settings.qdrant_url:  # local mode has no payload indexes (it scans)
        for key, kind in (("date", models.PayloadSchemaType.INTEGER),
                          ("digest_id", models.PayloadSchemaType.KEYWORD),
                          ("has_code", models.PayloadSchemaType.BOOL)):
            client.create_payload_index(name, key, field_schema=kind)
    batch: list[Any] = []
    for point in _points(chunks, vectors, facets, settings):
        batch.append(point)
        if len(batch) == BATCH:
            client.upsert(name, batch, wait=True)
            batch = []
    if batch:
        client.upsert(name, batch, wait=True)


def build_collection(settings: Settings, build: str) -> str:
    """The collection of one build (named after its folder)."""
    return f"{settings.qdrant_collection}-{build}"


def _alias_target(client: QdrantClient, alias: str) -> str | None:
    for a in client.get_aliases().aliases:
        if a.alias_name == alias:
            return a.collection_name
    return None


def publish(settings: Settings, build: str, chunks: Sequence[Chunk], vectors: np.ndarray,
            digests: Mapping[str, Digest], papers: Mapping[str, Paper]) -> str:
    """Upsert a build's rows into its own collection and point the alias at it (one atomic
    alias operation); returns the collection's name. Older collections stay until
    :func:`drop_stale` (the live build is still served from its own)."""
    models = _models()
    client, alias = connect(settings), settings.qdrant_collection
    name = build_collection(settings, build)
    try:
        fill_collection(client, name, chunks, vectors, RowFacets(chunks, digests, papers),
                        settings)
        ops: list[Any] = []
        if _alias_target(client, alias) is not None:
            ops.append(models.DeleteAliasOperation(
                delete_alias=models.DeleteAlias(alias_name=alias)))
        ops.append(models.CreateAliasOperation(
            create_alias=models.CreateAlias(collection_name=name, alias_name=alias)))
        client.update_collection_aliases(change_aliases_operations=ops)
    except _errors() as err:
        raise _failed(settings, f"publish collection {name!r}", err) from err
    return name


def drop_stale(settings: Settings, keep: str) -> list[str]:
    """Delete this alias's build collections other than build ``keep``'s; their names."""
    client = connect(settings)
    prefix, want = f"{settings.qdrant_collection}-build-", build_collection(settings, keep)
    try:
        stale = [c.name for c in client.get_collections().collections
                 if c.name.startswith(prefix) and c.name != want]
        for name in stale:
            client.delete_collection(name)
    except _errors() as err:
        raise _failed(settings, "delete old collections", err) from err
    return stale


def ensure_published(settings: Settings, folder: Path) -> None:
    """Publish the live build when the alias does not name it (an index built with another
    store, or a collection lost on the server), then drop older collections."""
    client, name = connect(settings), build_collection(settings, Path(folder).name)
    try:
        target = _alias_target(client, settings.qdrant_collection)
        n = client.count(name, exact=True).count if target == name else -1
    except _errors() as err:
        raise _failed(settings, "read its collections", err) from err
    manifest = json.loads((Path(folder) / "manifest.json").read_text(encoding="utf-8"))
    if n != manifest.get("counts", {}).get("chunks"):
        from rag.index.load import load_index

        index = load_index(settings)
        publish(settings, Path(folder).name, index.chunks, index.dense.vectors(),
                index.digests, index.papers)
    drop_stale(settings, keep=Path(folder).name)


class QdrantEngine:
    """Hybrid search in one Qdrant collection: dense + BM25 sparse, fused server-side."""

    name = "qdrant"

    def __init__(self, client: QdrantClient, collection: str, index: Index,
                 settings: Settings, facets: RowFacets | None = None,
                 rrf_k: int | None = None) -> None:
        """``rrf_k``: Qdrant's RRF constant (default ``settings.rrf_k + 1``, see hybrid)."""
        self.client, self.collection, self.settings = client, collection, settings
        self.rrf_k = rrf_k or settings.rrf_k + 1
        self.index = index
        self.facets = facets or RowFacets.of(index)
        self.vectors = LocalVectors(index)

    def query_filter(self, where: RowFilter | None) -> Any:
        """``where`` as a Qdrant payload filter (None: everything)."""
        if where is None:
            return None
        models = _models()
        must: list[Any] = []
        if where.since is not None or where.until is not None:  # undated (-1) never passes
            must.append(models.FieldCondition(key="date", range=models.Range(
                gte=where.since if where.since is not None else 0, lte=where.until)))
        if where.digest_ids is not None:
            must.append(models.FieldCondition(key="digest_id", match=models.MatchAny(
                any=sorted(where.digest_ids))))
        if where.has_code is not None:
            must.append(models.FieldCondition(key="has_code", match=models.MatchValue(
                value=where.has_code)))
        return models.Filter(must=must) if must else None

    def hybrid(self, text: str, vector: np.ndarray, where: RowFilter | None) -> Candidates:
        """See :class:`rag.index.engines.SearchEngine` (one Query API call runs both
        halves)."""
        s, models = self.settings, _models()
        c = min(s.candidates, len(self.index.chunks))
        flt = self.query_filter(where)
        prefetch, weights = [], []
        if s.dense_weight > 0:
            prefetch.append(models.Prefetch(query=np.asarray(vector, dtype=np.float32).tolist(),
                                            using=DENSE, limit=c, filter=flt))
            weights.append(s.dense_weight)
        ids, values = query_sparse(text)
        if ids and s.lexical_weight > 0:
            prefetch.append(models.Prefetch(query=models.SparseVector(indices=ids, values=values),
                                            using=SPARSE, limit=c, filter=flt))
            weights.append(s.lexical_weight)
        if not prefetch or c == 0:
            return Candidates()
        if s.qdrant_fusion == "client":
            return self._client_fused(prefetch, weights, vector)
        # Qdrant scores a rank r (from 1) 1 / (r / w + k - 1); k = rrf_k + 1 matches this
        # project's w / (rrf_k + r) exactly at weight 1 (eval/RESULTS.md, "Stores")
        query = models.RrfQuery(rrf=models.Rrf(k=self.rrf_k, weights=weights))
        try:
            points = self.client.query_points(self.collection, prefetch=prefetch, query=query,
                                              limit=len(prefetch) * c, with_payload=False,
                                              with_vectors=False).points
        except _errors() as err:
            raise _failed(s, f"search collection {self.collection!r}", err) from err
        order = tuple(int(p.id) for p in points)
        return Candidates(order, {int(p.id): float(p.score) for p in points},
                          Cosines(order, {}, self.vectors, vector), {})

    def _client_fused(self, prefetch: list[Any], weights: list[float], vector: np.ndarray
                      ) -> Candidates:
        """Both candidate lists in one batched call, fused here as the FAISS engine fuses."""
        models = _models()
        requests = [models.QueryRequest(query=p.query, using=p.using, limit=p.limit,
                                        filter=p.filter) for p in prefetch]
        try:
            lists = self.client.query_batch_points(self.collection, requests=requests)
        except _errors() as err:
            raise _failed(self.settings, f"search collection {self.collection!r}", err) from err
        rows = [[int(p.id) for p in r.points] for r in lists]
        fused = rrf(zip(weights, rows), self.settings.rrf_k)
        dense_of = {int(p.id): float(p.score) for p in lists[0].points} \
            if prefetch[0].using == DENSE else {}
        order = sorted(fused, key=lambda i: -fused[i])
        return Candidates(tuple(order), fused, Cosines(fused, dense_of, self.vectors, vector),
                          {})

    def similarities(self, vector: np.ndarray) -> np.ndarray:
        return self.vectors.similarities(vector)


def open_qdrant(index: Index, settings: Settings, facets: RowFacets | None = None
                ) -> QdrantEngine:
    """The engine over the collection of ``index``'s build, checking that the alias names it
    (a build published with RAG_STORE=qdrant)."""
    client, alias = connect(settings), settings.qdrant_collection
    name = build_collection(settings, Path(index.folder).name)
    try:
        target = _alias_target(client, alias)
    except _errors() as err:
        raise _failed(settings, f"read alias {alias!r}", err) from err
    fix = "run `rag index` with RAG_STORE=qdrant (it publishes the live build to Qdrant)"
    if target is None:
        raise IndexStateError(f"Qdrant at {_where(settings)} has no collection {alias!r}.", fix)
    if target != name:
        raise IndexStateError(f"Qdrant alias {alias!r} at {_where(settings)} names {target!r}, "
                              f"not the loaded build's collection {name!r}.", fix)
    return QdrantEngine(client, name, index, settings, facets)
