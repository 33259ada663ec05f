"""The Qdrant engine (RAG_STORE=qdrant) on qdrant-client's local mode: same answers as the
FAISS engine, filters as payload filters, the build's collection behind an alias, clear errors.
No server, no network: the unreachable-server test uses a closed local port."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("qdrant_client")

from rag import Assistant, Settings  # noqa: E402
from rag.answer.retrieve import Filters, Retriever  # noqa: E402
from rag.errors import IndexStateError, MissingExtraError  # noqa: E402
from rag.index.build import build_index  # noqa: E402
from rag.index.embed import HashingEmbedder  # noqa: E402
from rag.index.load import load_index  # noqa: E402
from rag.index.qdrant import bm25_weights, connect, token_id  # noqa: E402
from rag.text import tokenize  # noqa: E402

from .conftest import CORPUS  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
QUESTIONS = [json.loads(line)["question"] for line in
             (ROOT / "eval" / "data" / "digest_questions.jsonl").read_text().splitlines()
             if line.strip()][:60]
EMB = HashingEmbedder(256)


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory) -> tuple[Assistant, Assistant]:
    """(FAISS assistant, Qdrant assistant) over the seed corpus, same embedder."""
    out = []
    for store in ("faiss", "qdrant"):
        s = Settings(corpus_dir=CORPUS, index_dir=tmp_path_factory.mktemp(f"idx-{store}"),
                     model="hashing-256", store=store)
        a = Assistant(settings=s, embedder=HashingEmbedder(256))
        a.index  # noqa: B018
        out.append(a)
    return out[0], out[1]


def _retrievers(stores: tuple[Assistant, Assistant], **over: float) -> tuple[Retriever, ...]:
    return tuple(Retriever(a.index, EMB, a.settings.model_copy(update=over)) for a in stores)


def test_the_engine_is_chosen_by_the_store_setting(stores: tuple[Assistant, Assistant]) -> None:
    assert [a.retriever.engine.name for a in stores] == ["faiss", "qdrant"]


def test_equal_weights_fuse_exactly_as_faiss(stores: tuple[Assistant, Assistant]) -> None:
    """At weight 1 Qdrant's RRF (k = rrf_k + 1) is this project's RRF: same hits, same fused
    scores, the dense and BM25 candidate lists agreeing up to float ties."""
    faiss, qdrant = _retrievers(stores, dense_weight=1.0, lexical_weight=1.0,
                                qdrant_fusion="server")
    identical = 0
    for q in QUESTIONS:
        a, b = faiss.search(q, k=10), qdrant.search(q, k=10)
        assert a[0].chunk.id == b[0].chunk.id, q
        assert a[0].score == pytest.approx(b[0].score, rel=1e-6)
        assert b[0].dense_score == pytest.approx(a[0].dense_score, abs=1e-5)
        identical += [h.chunk.id for h in a] == [h.chunk.id for h in b]
    assert identical >= 0.8 * len(QUESTIONS)


def test_server_fusion_agrees_on_the_top_hits(stores: tuple[Assistant, Assistant]) -> None:
    """Qdrant's weighted RRF at the product weights: close to FAISS's fusion, not the same."""
    faiss, qdrant = _retrievers(stores, qdrant_fusion="server")
    top1, overlap = 0, []
    for q in QUESTIONS:
        a, b = [h.chunk.id for h in faiss.search(q, k=5)], [h.chunk.id for h in
                                                            qdrant.search(q, k=5)]
        top1 += a[:1] == b[:1]
        overlap.append(len(set(a) & set(b)) / 5)
    assert top1 >= 0.9 * len(QUESTIONS) and np.mean(overlap) >= 0.85


def test_client_fusion_ranks_exactly_as_faiss(stores: tuple[Assistant, Assistant]) -> None:
    """qdrant_fusion='client' (the default): both lists from one batched call, fused by the
    FAISS engine's RRF, so the product weights give FAISS's hits (up to BM25 float ties)."""
    assert stores[1].settings.qdrant_fusion == "client"
    faiss, qdrant = _retrievers(stores, qdrant_fusion="client")
    identical = 0
    for q in QUESTIONS:
        a, b = faiss.search(q, k=10), qdrant.search(q, k=10)
        assert a[0].chunk.id == b[0].chunk.id and a[0].score == pytest.approx(b[0].score), q
        identical += [h.chunk.id for h in a] == [h.chunk.id for h in b]
    assert identical >= 0.8 * len(QUESTIONS)


def test_sparse_vectors_score_as_bm25(stores: tuple[Assistant, Assistant]) -> None:
    """BM25 alone (dense weight 0): the collection's IDF-weighted sparse vectors rank the
    chunks as bm25s does over the same tokens."""
    faiss, qdrant = _retrievers(stores, dense_weight=0.0)
    for q in QUESTIONS[:30]:
        a, b = faiss.search(q, k=5), qdrant.search(q, k=5)
        lex = stores[0].index.lexical.scores(q)
        assert [round(float(lex[faiss.index.chunk_row[h.chunk.id]]), 4) for h in a] == \
            [round(float(lex[faiss.index.chunk_row[h.chunk.id]]), 4) for h in b], q


def test_token_ids_are_stable_and_weights_saturate() -> None:
    assert token_id("diffusion") == token_id("diffusion") == 310138381  # not hash()
    (ids, w), = bm25_weights(["diffusion diffusion diffusion model"], k1=1.2, b=0.75)
    weights = dict(zip(ids, w))
    toks = tokenize("diffusion model")
    assert 0 < weights[token_id(toks[1])] < weights[token_id(toks[0])] < 1


@pytest.mark.parametrize("filters", [
    Filters.make(since="2026-04-01"), Filters.make(until="2026-03-20"),
    Filters.make(since="2026-03-10", until="2026-05-15"), Filters(has_code=True),
    Filters(has_code=False)])
def test_filters_give_only_allowed_chunks(stores: tuple[Assistant, Assistant],
                                          filters: Filters) -> None:
    faiss, qdrant = _retrievers(stores)
    mask = qdrant.mask(filters)
    assert mask is not None and 0 < mask.sum() < len(mask)
    for q in QUESTIONS[:15]:
        hits = qdrant.search(q, k=20, filters=filters)
        assert hits, q
        assert all(mask[qdrant.index.chunk_row[h.chunk.id]] for h in hits)
        assert {h.chunk.id for h in hits[:3]} & {h.chunk.id for h in
                                                 faiss.search(q, k=3, filters=filters)}


def test_digest_filter_by_name_resolves_to_ids(stores: tuple[Assistant, Assistant]) -> None:
    qdrant = stores[1].retriever
    digest = sorted((d for d in qdrant.index.digests.values() if d.title),
                    key=lambda d: d.id)[0]
    hits = qdrant.search("language models", k=30, filters=Filters(digest=digest.title[:12]))
    assert hits and {h.digest.id for h in hits} <= {
        d.id for d in qdrant.index.digests.values()
        if digest.title[:12].lower() in d.title.lower()}


def test_ask_answers_as_with_faiss(stores: tuple[Assistant, Assistant]) -> None:
    same = 0
    for q in QUESTIONS[:20]:
        a, b = stores[0].ask(q), stores[1].ask(q)
        assert a.abstained == b.abstained, q
        same += [c.chunk_ids for c in a.citations] == [c.chunk_ids for c in b.citations]
    assert same >= 17


def test_assistant_end_to_end_from_the_environment(corpus: Path, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAG_STORE", "qdrant")
    s = Settings(corpus_dir=corpus, index_dir=tmp_path / "index", model="hashing-256")
    a = Assistant(settings=s, embedder=HashingEmbedder(256))
    ans = a.ask("Which papers released code?")
    assert a.retriever.engine.name == "qdrant" and ans.citations and not ans.abstained
    assert (tmp_path / "index" / "qdrant").is_dir()  # local mode, beside the builds


def test_rebuild_switches_the_alias_and_drops_the_old_collection(corpus: Path,
                                                                 tmp_path: Path) -> None:
    s = Settings(corpus_dir=corpus, index_dir=tmp_path / "index", model="hashing-256",
                 store="qdrant")
    first = build_index(s, EMB, progress=False).folder.name
    client = connect(s)
    names = {c.name for c in client.get_collections().collections}
    assert names == {f"digest-rag-{first}"}
    doc = sorted(corpus.glob("*.txt"))[0]
    doc.write_text(doc.read_text() + "\n\nA new paragraph about sparse retrieval.\n")
    second = build_index(s, EMB, progress=False).folder.name
    assert second != first
    assert {c.name for c in client.get_collections().collections} == {f"digest-rag-{second}"}
    assert {a.alias_name: a.collection_name for a in client.get_aliases().aliases} == \
        {"digest-rag": f"digest-rag-{second}"}
    r = Retriever(load_index(s), EMB, s)
    assert r.search("sparse retrieval", k=3)


def test_switching_a_faiss_index_to_qdrant(corpus: Path, tmp_path: Path) -> None:
    """An index built with FAISS: opening it with store=qdrant says to run `rag index`, which
    publishes the unchanged build without rebuilding it."""
    s = Settings(corpus_dir=corpus, index_dir=tmp_path / "index", model="hashing-256")
    folder = build_index(s, EMB, progress=False).folder
    sq = s.model_copy(update={"store": "qdrant"})
    with pytest.raises(IndexStateError, match="rag index"):
        Retriever(load_index(sq), EMB, sq)
    report = build_index(sq, EMB, progress=False)
    assert report.up_to_date and report.folder == folder
    assert Retriever(load_index(sq), EMB, sq).search("diffusion", k=3)


def test_unreachable_server_is_a_clear_error(corpus: Path, tmp_path: Path) -> None:
    s = Settings(corpus_dir=corpus, index_dir=tmp_path / "index", model="hashing-256",
                 store="qdrant", qdrant_url="http://127.0.0.1:9")
    with pytest.raises(IndexStateError) as err:
        build_index(s, EMB, progress=False)
    assert "http://127.0.0.1:9" in str(err.value) and "RAG_QDRANT_URL" in str(err.value)
    assert (tmp_path / "index" / "CURRENT").exists() is False  # nothing was published


def test_missing_client_names_the_extra(monkeypatch: pytest.MonkeyPatch,
                                        tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "qdrant_client", None)
    with pytest.raises(MissingExtraError, match=r"digest-rag\[qdrant\]"):
        connect(Settings(index_dir=tmp_path, store="qdrant"))


def test_local_mode_lives_outside_the_checksummed_build(stores: tuple[Assistant, Assistant]
                                                        ) -> None:
    a = stores[1]
    assert (Path(a.settings.index_dir) / "qdrant").is_dir()
    assert not (a.index.folder / "qdrant").exists()
