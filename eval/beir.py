"""BEIR-format datasets (e.g. SciFact) run through digest-rag's own retrieval code.

:func:`load_beir` reads ``corpus.jsonl``, ``queries.jsonl`` and ``qrels/<split>.tsv`` from a
folder into plain dicts (BEIR style: ``corpus[doc_id] = {"title", "text"}``,
``queries[qid] = text``, ``qrels[qid][doc_id] = grade``). :func:`beir_index` turns each
document into one :class:`rag.records.Chunk` (title as the context header, as the product's
``context_header="paper"`` does) and builds a real :class:`rag.index.load.Index` from the
project's :class:`~rag.index.stores.FaissStore` and :class:`~rag.index.stores.LexicalIndex`, so that
:class:`rag.answer.retrieve.Retriever` - the same code the product runs - is what gets measured.
The dataset is read where it lies; nothing is copied into the repository.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from rag.answer.retrieve import Retriever
from rag.errors import RagError
from rag.index.embed import Embedder, content_key
from rag.index.load import Index
from rag.index.stores import FaissStore, LexicalIndex
from rag.records import Chunk, Digest, Paper, Query
from rag.settings import Settings
from rag.text import sentences

BEIR_DIGEST = "beir"


def beir_present(folder: Path, split: str = "test") -> str | None:
    """None when ``folder`` holds a BEIR dataset, else why not (for a skip message)."""
    folder = Path(folder)
    for name in ("corpus.jsonl", "queries.jsonl", f"qrels/{split}.tsv"):
        if not (folder / name).is_file():
            return f"{folder / name} not found"
    return None


def load_beir(folder: Path, split: str = "test") -> tuple[dict[str, dict], dict[str, str],
                                                          dict[str, dict[str, int]]]:
    """(corpus, queries, qrels) of a BEIR folder; queries restricted to those with qrels."""
    folder = Path(folder)
    corpus: dict[str, dict] = {}
    with open(folder / "corpus.jsonl", encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                d = json.loads(line)
                corpus[str(d["_id"])] = {"title": d.get("title") or "", "text": d.get("text") or ""}
    qrels: dict[str, dict[str, int]] = {}
    with open(folder / "qrels" / f"{split}.tsv", encoding="utf-8") as fh:
        rows = csv.reader(fh, delimiter="\t")
        for row in rows:
            if len(row) < 3 or not row[2].strip().lstrip("-").isdigit():
                continue  # header line
            qrels.setdefault(row[0], {})[row[1]] = int(row[2])
    queries: dict[str, str] = {}
    with open(folder / "queries.jsonl", encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                q = json.loads(line)
                if str(q["_id"]) in qrels:
                    queries[str(q["_id"])] = q["text"]
    qrels = {q: r for q, r in qrels.items() if q in queries}
    return corpus, queries, qrels


def doc_text(doc: dict, header: bool = True) -> str:
    """What is embedded and BM25-indexed for one document: the title as a context header
    line above the text (the product's chunk format), or the text alone."""
    title, text = doc.get("title", "").strip(), doc.get("text", "").strip()
    return f"{title}\n{text}" if header and title else text


def beir_chunks(corpus: dict[str, dict], header: bool = True) -> list[Chunk]:
    """One chunk per document; its id and its single 'paper' id are the document id."""
    return [Chunk(id=did, digest_id=BEIR_DIGEST, passage_index=i, section="",
                  text=doc.get("text", ""), embed_text=doc_text(doc, header), paper_ids=(did,))
            for i, (did, doc) in enumerate(corpus.items())]


# ---------------------------------------------------------------- long documents as papers
MAX_PIECES = 254  # MiniLM reads 256 word pieces, [CLS] and [SEP] included


def word_piece_counter(model: str) -> Callable[[list[str]], list[int]]:
    """Word pieces per text under ``model``'s tokenizer (the bundled MiniLM's by default);
    about 1.3 per word for a model without one (the hashing test embedder)."""
    try:
        from transformers import AutoTokenizer

        from rag.index.embed import resolve_model_path

        tok = AutoTokenizer.from_pretrained(str(resolve_model_path(model)))
    except (ImportError, OSError, ValueError, RagError):
        return lambda texts: [int(1.3 * len(t.split())) + 1 for t in texts]
    return lambda texts: [len(x) for x in tok(list(texts), add_special_tokens=False)["input_ids"]]


def doc_windows(doc: dict, count: Callable[[list[str]], list[int]], size: int = 200,
                overlap: int = 1) -> list[str]:
    """A document as the parts the model reads whole: itself when title + text fit in
    MAX_PIECES, else sentence-packed windows of at most ``size`` word pieces (each under the
    title line, consecutive windows sharing ``overlap`` sentences); an over-long sentence is cut
    at word boundaries."""
    full, head = doc_text(doc), doc.get("title", "").strip()
    if count([full])[0] <= MAX_PIECES:
        return [full]
    budget = max(32, min(size, MAX_PIECES - (count([head])[0] + 1 if head else 0)) - 2)
    sents: list[str] = []
    for sent in sentences(doc.get("text", "").strip()):
        if count([sent])[0] <= budget:
            sents.append(sent)
            continue
        cur: list[str] = []
        used = 0
        for word, n in zip(sent.split(), count(sent.split())):
            if cur and used + n > budget:
                sents.append(" ".join(cur))
                cur, used = [], 0
            cur.append(word)
            used += n
        sents += [" ".join(cur)] if cur else []
    lens = count(sents)
    out, i = [], 0
    while i < len(sents):
        j, used = i, 0
        while j < len(sents) and (j == i or used + lens[j] <= budget):
            used += lens[j]
            j += 1
        body = " ".join(sents[i:j])
        out.append(f"{head}\n{body}" if head else body)
        if j >= len(sents):
            break
        i = max(i + 1, j - overlap)
    return out


def paper_index(corpus: dict[str, dict], embedder: Embedder, settings: Settings,
                count: Callable[[list[str]], list[int]], progress: bool = False
                ) -> tuple[Index, dict]:
    """Each document as a paper: its windows are its passages (one vector each) and its
    title + text its profile, so :meth:`rag.answer.retrieve.Retriever.rank_papers` scores it over all
    its parts, exactly as the product ranks papers for list questions."""
    chunks = [Chunk(id=f"{did}#{i}", digest_id=BEIR_DIGEST, passage_index=n, section="",
                    text=w, embed_text=w, paper_ids=(did,))
              for n, (did, doc) in enumerate(corpus.items())
              for i, w in enumerate(doc_windows(doc, count))]
    index, build = beir_index(chunks, embedder, settings, progress)
    t0 = time.perf_counter()
    profiles = LexicalIndex(settings.bm25_k1, settings.bm25_b)
    profiles.build([doc_text(d) for d in corpus.values()])
    index.paper_lexical, index.profile_ids = profiles, list(corpus)
    index.papers = {did: Paper(did, d.get("title") or did) for did, d in corpus.items()}
    build["bm25_s"] += time.perf_counter() - t0
    build["windows"] = len(chunks)
    return index, build


def beir_index(chunks: list[Chunk], embedder: Embedder, settings: Settings,
               progress: bool = False) -> tuple[Index, dict]:
    """A real rag Index over the chunks (one shared dummy Digest), and its build timings."""
    texts = [c.embed_text for c in chunks]
    t0 = time.perf_counter()
    vectors = embedder.encode(texts, progress=progress) if texts else \
        np.zeros((0, embedder.dim), dtype=np.float32)
    t_enc = time.perf_counter() - t0
    t1 = time.perf_counter()
    dense = FaissStore(embedder.dim)
    dense.add(vectors)
    t_dense = time.perf_counter() - t1
    t2 = time.perf_counter()
    lexical = LexicalIndex(settings.bm25_k1, settings.bm25_b)
    lexical.build(texts)
    t_lex = time.perf_counter() - t2
    digest = Digest(id=BEIR_DIGEST, title="BEIR corpus", date=dt.date(2000, 1, 1), topic=None,
                    path="", sha256="")
    keys = [content_key(embedder.name, t) for t in texts]
    index = Index(folder=Path("."), manifest={"model": embedder.name},
                  digests={BEIR_DIGEST: digest}, papers={}, chunks=chunks, keys=keys, dense=dense,
                  lexical=lexical, paper_lexical=LexicalIndex(), profile_ids=[])
    return index, {"docs": len(chunks), "encode_s": t_enc, "faiss_s": t_dense,
                   "bm25_s": t_lex, "build_s": time.perf_counter() - t0}


def beir_run(retriever: Retriever, queries: dict[str, str], k: int = 10,
             query_vectors: dict[str, np.ndarray] | None = None,
             mode: str = "hybrid") -> dict[str, dict[str, float]]:
    """A BEIR/ranx run ``{qid: {doc_id: score}}`` from the product retriever.

    ``mode`` 'dense' / 'lexical' keeps only hits the chosen ranker produced (the retriever is
    expected to carry settings with the other ranker's weight at 0)."""
    run: dict[str, dict[str, float]] = {}
    for qid, text in queries.items():
        qv = query_vectors.get(qid) if query_vectors else None
        hits = retriever.search(text, k=k, query_vector=qv)
        run[qid] = {}
        for rank, h in enumerate(hits):
            if h.score <= 0:
                continue  # a ranker weighted 0 contributes no evidence
            run[qid].setdefault(h.chunk.paper_ids[0] if h.chunk.paper_ids else h.chunk.id,
                                float(k - rank))
    return run


def query_vectors(embedder: Embedder, queries: dict[str, str]) -> dict[str, np.ndarray]:
    """Every query's vector, encoded in one batch (cached when ``embedder`` caches)."""
    vecs = embedder.encode(list(queries.values())) if queries else []
    return dict(zip(queries, vecs))


class BeirBench:
    """A BEIR dataset indexed once per (header, BM25 parameters); runs per configuration."""

    def __init__(self, corpus: dict[str, dict], queries: dict[str, str],
                 qrels: dict[str, dict[str, int]], embedder: Embedder, settings: Settings,
                 progress: bool = False) -> None:
        self.corpus, self.queries, self.qrels = corpus, queries, qrels
        self.embedder, self.settings, self.progress = embedder, settings, progress
        self._indexes: dict[object, tuple[Index, dict]] = {}
        self.qv = query_vectors(embedder, queries)

    def index(self, header: bool = True, k1: float | None = None,
              b: float | None = None) -> tuple[Index, dict]:
        s = self.settings
        key = (header, k1 or s.bm25_k1, s.bm25_b if b is None else b)
        if key not in self._indexes:
            settings = s.model_copy(update={"bm25_k1": key[1], "bm25_b": key[2]})
            self._indexes[key] = beir_index(beir_chunks(self.corpus, header), self.embedder,
                                            settings, self.progress)
        return self._indexes[key]

    def retriever(self, overrides: dict | None = None, header: bool = True) -> Retriever:
        s = self.settings.model_copy(update=overrides or {})
        index, _ = self.index(header, s.bm25_k1, s.bm25_b)
        return Retriever(index, self.embedder, s)

    def run(self, mode: str = "hybrid", overrides: dict | None = None,
            header: bool = True) -> tuple[dict[str, dict[str, float]], list[float]]:
        """(run, per-query search seconds) of one configuration; query vectors precomputed,
        so the times are retrieval only (query encoding is measured separately)."""
        over = dict(overrides or {})
        if mode == "dense":
            over["lexical_weight"] = 0.0
        elif mode == "lexical":
            over["dense_weight"] = 0.0
        r = self.retriever(over, header)
        times: list[float] = []
        run: dict[str, dict[str, float]] = {}
        for qid in self.queries:
            t0 = time.perf_counter()
            run.update(beir_run(r, {qid: self.queries[qid]}, 10, self.qv, mode))
            times.append(time.perf_counter() - t0)
        return run, times

    # ------------------------------------------------------------ documents ranked as papers
    def paper_retriever(self, overrides: dict | None = None) -> Retriever:
        """A retriever over the windowed paper index (built once)."""
        if "papers" not in self._indexes:
            count = word_piece_counter(self.settings.model)
            self._indexes["papers"] = paper_index(self.corpus, self.embedder, self.settings,
                                                  count, self.progress)
        return Retriever(self._indexes["papers"][0], self.embedder,
                         self.settings.model_copy(update=overrides or {}))

    def paper_build(self) -> dict:
        """Build timings of the windowed paper index (windows, encode, FAISS, BM25 seconds)."""
        self.paper_retriever()
        return self._indexes["papers"][1]

    def papers_run(self, share: float | None = None, queries: dict[str, str] | None = None
                   ) -> tuple[dict[str, dict[str, float]], list[float]]:
        """(run, per-query seconds) ranking whole documents with ``rank_papers`` (the
        product's default share unless given); query vectors precomputed."""
        over = {} if share is None else {"paper_dense_share": share}
        r = self.paper_retriever(over)
        run: dict[str, dict[str, float]] = {}
        times: list[float] = []
        for qid, text in (queries or self.queries).items():
            t0 = time.perf_counter()
            ranked = r.rank_papers(Query(text, text), self.qv[qid], limit=10)
            times.append(time.perf_counter() - t0)
            run[qid] = {p.paper.id: float(10 - i) for i, p in enumerate(ranked)}
        return run, times


def ndcg10(rels: dict[str, int], run: dict[str, float]) -> float:
    """nDCG@10 of one query (linear gains, log2 discounts, as pytrec_eval / ranx)."""
    top = sorted(run, key=lambda d: -run[d])[:10]
    dcg = sum(rels.get(d, 0) / np.log2(i + 2) for i, d in enumerate(top))
    ideal = sorted(rels.values(), reverse=True)[:10]
    idcg = sum(g / np.log2(i + 2) for i, g in enumerate(ideal))
    return float(dcg / idcg) if idcg else 0.0


def cross_validate(bench: BeirBench, shares: list[float], folds: int = 5,
                   repeats: int = 5) -> dict:
    """5-fold cross-validation of the dense share over the queries: each fold's share is the
    one best on the other folds, scored on the held-out fold (mean and spread over repeated
    random splits), beside every share's in-sample figure."""
    per = {}
    for a in shares:
        run, _ = bench.papers_run(a)
        per[a] = {q: ndcg10(bench.qrels[q], run.get(q, {})) for q in bench.queries}
    qids = list(bench.queries)
    rng = np.random.default_rng(0)
    scores, chosen = [], []
    for _ in range(repeats):
        order = rng.permutation(len(qids))
        test_scores = []
        for f in range(folds):
            test = {qids[i] for i in order[f::folds]}
            train = [q for q in qids if q not in test]
            best = max(shares, key=lambda a: np.mean([per[a][q] for q in train]))
            chosen.append(best)
            test_scores += [per[best][q] for q in test]
        scores.append(float(np.mean(test_scores)))
    return {"cv_ndcg@10": float(np.mean(scores)), "cv_sd": float(np.std(scores)),
            "folds": folds, "repeats": repeats, "chosen": chosen,
            "in_sample": {str(a): float(np.mean(list(per[a].values()))) for a in shares}}
