"""Answer: compose a cited answer from retrieved passages, without an LLM.

The answerer first decides whether the digests cover the question at all (a coverage score from
how much of the question's distinctive vocabulary the best passage contains, how far the best
passage stands out from the average one, and how much of its vocabulary the corpus lacks
entirely), from the hits retrieval already has; if not, it abstains briefly, naming the nearest
paper when the question only just missed. Otherwise it picks the papers the best hits are about
(or the papers the question names), quotes each one's most relevant sentences (by term overlap,
then passage similarity) and builds a structured :class:`~rag.records.Answer`: a lead, one item
per paper with its quotes and their citation numbers, caveats, and the citations (the paper,
the passage, the paper's own text). Every quote's number points at a citation whose text
contains it. Who-wrote questions lead with the paper's own author list.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from rag.answer.query import Catalog
from rag.extract.attribution import disagreements
from rag.index.embed import Embedder
from rag.index.load import Index
from rag.records import Answer, Chunk, Citation, Digest, Evidence, Hit, Item, Paper, Query, Quote
from rag.settings import Settings
from rag.text import sentences, tokenize

# Coverage model: a logistic score over COVERAGE_FEATURES, fitted on the tuning questions (seed
# set + the dev half of eval/data/unseen) by `python -m eval.calibrate` (see eval/RESULTS.md,
# "Abstention"). The score is the log-odds that the digests cover the question minus the
# calibrated cut-off, so the default ``abstain_threshold`` is 0.
_URL = re.compile(r"https?://\S+")
_YEAR = re.compile(r"(?:19|20)\d\d")
COVERAGE_FEATURES = ("term_coverage", "relative_cosine", "absent_share")
COVERAGE_WEIGHTS = (5.9794, 8.1854, -3.1459)
COVERAGE_BIAS = -1.844


@dataclass(frozen=True)
class Coverage:
    """Why the answerer thinks the digests do (or do not) cover a question."""

    score: float  # >= settings.abstain_threshold (default 0): covered
    best_cosine: float  # best dense similarity among the top hits
    term_coverage: float  # idf-weighted share of question terms in the best passage
    relative_cosine: float  # best_cosine minus the question's mean similarity to all passages
    absent_share: float  # idf-weighted share of question terms found nowhere in the corpus
    named: bool = False  # a retrieved paper is named by the question (rag.answer.query.Catalog)

    def features(self) -> tuple[float, ...]:
        return tuple(float(getattr(self, f)) for f in COVERAGE_FEATURES)


class Answerer:
    """Extractive, cited answers over one index."""

    def __init__(self, index: Index, embedder: Embedder, settings: Settings,
                 catalog: Catalog | None = None,
                 chunk_terms: Sequence[frozenset[str]] | None = None) -> None:
        """``catalog`` and ``chunk_terms`` (the tokens of each chunk) are built from the
        index when not given (the Assistant shares its own)."""
        self.index, self.embedder, self.settings = index, embedder, settings
        self._chunk_terms = chunk_terms  # None: the top hits are tokenised when asked
        self.catalog = catalog or catalog_of(index, chunk_terms)
        self._n = max(1, self.catalog.n_chunks)
        # mean passage vector: question . centroid is its mean similarity to every passage
        self._centroid = index.centroid()
        self._paper_text_rows = index.own_text_rows()  # paper id -> rows of its own text

    def _terms(self, chunk: Chunk) -> frozenset[str]:
        """The tokens of a chunk (given at construction, else tokenised now)."""
        if self._chunk_terms is not None:
            return self._chunk_terms[self.index.chunk_row[chunk.id]]
        return frozenset(tokenize(chunk.embed_text))

    def idf(self, term: str) -> float:
        return math.log((self._n + 1) / (self.catalog.df.get(term, 0) + 0.5))

    def coverage(self, query: Query, hits: list[Hit], query_vector: np.ndarray) -> Coverage:
        """How well the corpus covers the question (score >= 0 at the calibrated cut-off), from
        the hits and vector retrieval already has: no further search."""
        # a year ("the 2026 World Cup") is in every digest's dates and footers: no topic
        terms = tuple(t for t in query.terms if not _YEAR.fullmatch(t)) or query.terms
        idf = [self.idf(t) for t in terms]
        total = sum(idf) or 1.0
        top = [self._terms(h.chunk) for h in hits[:5]]
        best = max((h.dense_score or 0.0 for h in hits[:5]), default=0.0)
        cov = max((sum(i for t, i in zip(terms, idf) if t in ts) / total for ts in top),
                  default=0.0)
        df = self.catalog.df
        absent = sum(i for t, i in zip(terms, idf) if t not in df) / total
        relative = 0.0
        if self._centroid is not None and top:
            relative = best - float(query_vector @ self._centroid)
        named_ids = set(query.named)
        named = any(p.id in named_ids for h in hits for p in h.papers)
        c = Coverage(0.0, best, cov, relative, absent, named)
        score = float(np.dot(COVERAGE_WEIGHTS, c.features()) + COVERAGE_BIAS)
        return dataclasses.replace(c, score=score)

    def covered(self, cov: Coverage, hits: list[Hit]) -> bool:
        """Answer or abstain: the coverage score clears the threshold, or the question names
        a retrieved paper (its author, institution or short name: the digests cover it)."""
        return bool(hits) and (cov.score >= self.settings.abstain_threshold or cov.named)

    def label(self, chunk: Chunk) -> str:
        """Where a passage comes from: "Digest: <title> (<date>)" or the paper text's label."""
        if chunk.source == "digest":
            d = self.index.digests.get(chunk.digest_id)
            return f"Digest: {d.title} ({d.date or 'undated'})" if d else "Digest"
        return chunk.label

    def backing(self, paper: Paper, query_vector: np.ndarray) -> Chunk | None:
        """The paper's own passage (abstract, PDF page) closest to the question, if any."""
        rows = self._paper_text_rows.get(paper.id)
        if not rows:
            return None
        sims = self.index.dense.vectors_at(rows) @ query_vector
        return self.index.chunks[rows[int(np.argmax(sims))]]

    def answer(self, query: Query, hits: list[Hit], query_vector: np.ndarray,
               coverage: Coverage | None = None) -> Answer:
        """Compose the answer to ``query`` from ``hits`` (best first)."""
        cov = coverage or self.coverage(query, hits, query_vector)
        if not self.covered(cov, hits):
            return self.abstention(query, hits, cov)
        groups = self._paper_groups(query, hits, query_vector)
        return self.compose(query, groups, hits, query_vector)

    def pick_sentences(self, query: Query, group_hits: list[Hit], limit: int
                       ) -> list[tuple[str, Hit]]:
        """The ``limit`` sentences of a paper's hits that best answer the query, in reading
        order (term overlap first; among equals the better chunk and the earlier sentence)."""
        q_terms = set(query.terms)
        scored: list[tuple[float, str, Hit]] = []
        for rank, h in enumerate(group_hits[:3]):
            for pos, s in enumerate(sentences(h.chunk.text)):
                if pos == 0 and h.chunk.kind == "bullet":
                    s = without_label(s)
                if len(_URL.sub("", s).strip(" .,;:")) < 20:  # a bare link says nothing
                    continue
                overlap = sum(self.idf(t) for t in set(tokenize(s)) & q_terms)
                score = overlap + 0.5 * (h.dense_score or 0.0) - 0.3 * rank - 0.05 * pos
                scored.append((score, s, h))
        picks = sorted(scored, key=lambda x: -x[0])[:limit]
        picks.sort(key=lambda x: (x[2].chunk.source != "digest", x[2].chunk.id,
                                  x[2].chunk.text.find(x[1])))
        return [(s, h) for _, s, h in picks]

    def cite(self, n: int, paper: Paper | None, picks: list[tuple[str, Hit]],
             query_vector: np.ndarray | None) -> Citation:
        """Citation ``n``: the passages the picked sentences come from (digest first), plus
        the paper's own closest passage when only the digest is quoted."""
        chunks = list(dict.fromkeys(h.chunk for _, h in picks))
        evidence = [Evidence(c.text, c.source, self.label(c), tuple(
            s for s, h in picks if h.chunk.id == c.id), c.id) for c in chunks]
        if paper and query_vector is not None and all(c.source == "digest" for c in chunks):
            extra = self.backing(paper, query_vector)
            if extra is not None:  # the paper's own words beside the digest's
                evidence.append(Evidence(extra.text, extra.source, self.label(extra), (),
                                         extra.id))
        return Citation(n=n, paper=paper, text="\n".join(e.text for e in evidence),
                        digest=self.index.digests[chunks[0].digest_id],
                        sentences=tuple(s for s, _ in picks),
                        chunk_ids=tuple(e.chunk_id for e in evidence), evidence=tuple(evidence))

    def cite_by_digest(self, first: int, paper: Paper | None, picks: list[tuple[str, Hit]],
                       query_vector: np.ndarray | None) -> list[Citation]:
        """Citations numbered from ``first``, one per digest the picked sentences come from,
        so each quoted sentence is cited to the digest that says it (a paper's own text goes
        with the first digest's citation)."""
        groups: dict[str, list[tuple[str, Hit]]] = {}
        for s, h in picks:
            key = h.chunk.digest_id if h.chunk.source == "digest" else ""
            groups.setdefault(key, []).append((s, h))
        if "" in groups and len(groups) > 1:
            own = groups.pop("")
            groups[next(iter(groups))] += own
        return [self.cite(first + i, paper, g, query_vector)
                for i, g in enumerate(groups.values())]

    def item(self, query: Query, citations: Sequence[Citation]) -> Item:
        """The answer item for one paper's citations: their quotes and the links the
        question asks for (each code link with the digest(s) that give it)."""
        p = citations[0].paper
        quotes = tuple(Quote(s, c.n) for c in citations for s in c.sentences)
        if p is None:
            return Item(None, citations[0].digest.title, quotes)
        sources = p.url_sources("code") if query.wants_code else {}
        code = tuple(sources) or (p.code_urls if query.wants_code else ())
        return Item(p, p.title, quotes, code_urls=code,
                    code_from=tuple("; ".join(self.digest_label(d) for d in sources.get(u, ()))
                                    for u in code),
                    arxiv_url=p.arxiv_url if query.wants_arxiv else None,
                    no_code=query.wants_code and not p.code_urls,
                    authors=(p.arxiv_authors or p.authors) if query.intent == "who" else ())

    def digest_label(self, digest_id: str) -> str:
        """'Title, Mar 7, 2026' of a digest of the index."""
        d = self.index.digests.get(digest_id)
        if d is None:
            return digest_id
        return f"{d.title}, {d.date:%b %-d, %Y}" if d.date else d.title

    def compose(self, query: Query, groups: list[tuple[Paper | None, list[Hit]]],
                hits: list[Hit], query_vector: np.ndarray | None, lead: str = "") -> Answer:
        """An answer citing each group's best sentences, one item per group."""
        citations: list[Citation] = []
        items: list[Item] = []
        for paper, group_hits in groups:
            picks = self.pick_sentences(query, group_hits, self.settings.answer_sentences)
            if picks:
                cs = self.cite_by_digest(len(citations) + 1, paper, picks, query_vector)
                citations += cs
                items.append(self.item(query, cs))
        if not citations:
            return self.abstention(query, hits)
        papers = [c.paper for c in citations if c.paper]
        if not lead:
            lead = who_lead(papers[0]) if query.intent == "who" and papers else (
                "From the digests:" if len({c.digest.id for c in citations}) > 1
                else "From the digest:")
        return Answer(query.text, lead, tuple(items), tuple(citations), False, tuple(hits),
                      query.notes, caveats=caveats(query, papers, self.index.digests),
                      query=query)

    def _paper_groups(self, query: Query, hits: list[Hit], query_vector: np.ndarray
                      ) -> list[tuple[Paper | None, list[Hit]]]:
        """Hits grouped by their main paper, best group first. Papers the question names (by
        short name, title, author or institution) are answered alone; otherwise groups far
        below the best are cut."""
        groups: dict[str, tuple[Paper | None, list[Hit]]] = {}
        seen: set[str] = set()
        for h in (self._lead_in(h, query_vector) for h in hits):
            if h.chunk.id in seen:
                continue
            seen.add(h.chunk.id)
            paper = self._main_paper(h, query)
            key = paper.id if paper else f"chunk:{h.chunk.id}"
            groups.setdefault(key, (paper, []))[1].append(h)
        ordered = list(groups.values())
        named_ids = set(query.named)
        named = [g for g in ordered if g[0] and g[0].id in named_ids]
        if named:
            return named[: self.settings.answer_papers]
        best = max((h.dense_score or 0.0 for _, g in ordered for h in g), default=0.0)
        # the best-ranked group stays even when only its words match ("Duke-NUS", "DFKI":
        # names the embedding model does not know); the others must be near the best cosine
        keep = ordered[:1] + [g for g in ordered[1:]
                              if max(h.dense_score or 0.0 for h in g[1]) >= 0.8 * best]
        with_paper = [g for g in keep if g[0] is not None]
        return (with_paper or keep or ordered[:1])[: self.settings.answer_papers]

    def _lead_in(self, hit: Hit, query_vector: np.ndarray) -> Hit:
        """A paragraph's opening sentence that names no paper ("Addressing climate challenges,
        researchers ...") answers through the paper it leads into: the hit becomes the next
        chunk of its paragraph, scored by that chunk's own cosine, when that chunk names
        papers."""
        c = hit.chunk
        if hit.papers or c.source != "digest":
            return hit
        row = self.index.chunk_row.get(f"{c.digest_id}:{c.passage_index}:"
                                       f"{int(c.id.rsplit(':', 1)[1]) + 1}")
        nxt = self.index.chunks[row] if row is not None else None
        papers = tuple(self.index.papers[p] for p in nxt.paper_ids
                       if p in self.index.papers) if nxt else ()
        if nxt is None or row is None or not papers:
            return hit
        cosine = float(self.index.dense.vectors_at([row])[0] @ query_vector)
        return dataclasses.replace(hit, chunk=nxt, paper=papers[0], papers=papers,
                                   dense_score=cosine)

    def _main_paper(self, hit: Hit, query: Query) -> Paper | None:
        """The paper a hit answers for: of the papers its passage names, one the question
        names, else the one whose title or short name shares the most (idf-weighted) words
        with the question; the passage's first paper on a tie."""
        if len(hit.papers) <= 1:
            return hit.paper
        named = [p for p in hit.papers if p.id in set(query.named)]
        if named:
            return named[0]
        q_terms = set(query.terms)

        def overlap(p: Paper) -> float:
            words = set(tokenize(f"{p.title} {p.short_name or ''}"))
            return sum(self.idf(t) for t in words & q_terms)

        best = max(hit.papers, key=overlap)
        return best if hit.paper is None or overlap(best) > overlap(hit.paper) else hit.paper

    def abstention(self, query: Query, hits: list[Hit], coverage: Coverage | None = None
                   ) -> Answer:
        """The brief "not covered" answer. When ``coverage`` shows a near miss (a score within
        ``settings.near_miss_margin`` of the cut) it also names the nearest paper."""
        s = self.settings
        near_miss = coverage is not None and \
            coverage.score >= s.abstain_threshold - s.near_miss_margin
        dates = sorted(d.date for d in self.index.digests.values() if d.date is not None)
        span = (f" ({len(dates)} digests, {dates[0]:%b %-d} to "
                f"{dates[-1]:%b %-d, %Y})") if dates else ""
        text = f"The digests do not cover this question{span}, so I can't answer it from them."
        nearest = next(((p, h.digest) for h in hits if (p := self._main_paper(h, query))),
                       None) if near_miss else None
        if nearest is not None:
            paper, d = nearest
            text += (f" The nearest they come is “{paper.title}” ({d.title}, "
                     f"{d.date or 'undated'}); if that is the paper you mean, ask about it by "
                     "name. Widen the filters if you set any.")
        else:
            text += " Try rephrasing it, or widen the filters if you set any."
        return Answer(query.text, text, (), (), True, tuple(hits), query.notes, query=query)


def catalog_of(index: Index, chunk_terms: Sequence[frozenset[str]] | None = None) -> Catalog:
    """The catalog of a loaded index: document frequencies from ``chunk_terms`` when given,
    else read from its BM25 index (same tokens, no chunk tokenised again)."""
    if chunk_terms is not None:
        return Catalog.build(index.digests.values(), index.papers, chunk_terms)
    return Catalog.build(index.digests.values(), index.papers,
                         df=(index.lexical.document_frequencies(), len(index.chunks)))


def who_lead(paper: Paper) -> str:
    """The first sentence of a who-wrote answer: the paper's own author list where known."""
    if paper.arxiv_authors:
        return f"“{paper.title}” is by {_names(paper.arxiv_authors)} (arXiv author list)."
    if paper.authors:
        inst = f" ({', '.join(paper.institutions)})" if paper.institutions else ""
        return (f"The digests credit “{paper.title}” to {' / '.join(paper.authors)}{inst}; "
                "no arXiv author list is at hand to check it.")
    return f"The digests name no authors for “{paper.title}”."


def _names(names: Sequence[str], most: int = 8) -> str:
    shown = list(names[:most])
    tail = f" and {len(names) - most} others" if len(names) > most else ""
    if len(shown) > 1 and not tail:
        return ", ".join(shown[:-1]) + " and " + shown[-1]
    return ", ".join(shown) + tail


def caveats(query: Query, papers: Sequence[Paper],
            digests: Mapping[str, Digest] | None = None) -> tuple[str, ...]:
    """Warnings to state in the answer: for who-wrote questions and questions naming an author
    or institution, every cited paper whose digest credit is doubtful; for those and for code
    questions, where digests contradict each other about a cited paper (each side named)."""
    who = query.intent == "who" or bool(query.named_by_author or query.named_by_institution)
    out: list[str] = []
    for p in dict.fromkeys(papers):
        if who and p.attribution_issues:
            out.append(f"{p.title}: {p.attribution_issues[0]}")
        if digests is not None and (who or query.wants_code):
            out += [d for d in disagreements(p, digests)
                    if (who and "who wrote" in d) or (query.wants_code and "the code" in d)]
    return tuple(out)


def without_label(sentence: str) -> str:
    """A bullet's first sentence without its "Label: " ("MoLRE Framework: It ..." -> "It ...")
    when enough is left to quote."""
    m = re.match(r"^[^:]{2,90}:\s+(?=\S)", sentence)
    if m and len(sentence) - m.end() >= 20 and "http" not in sentence[:m.end()]:
        return sentence[m.end():]
    return sentence
