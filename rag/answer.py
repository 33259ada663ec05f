"""Answer: compose a cited answer from retrieved passages, without an LLM.

The answerer first decides whether the digests cover the question at all (a coverage score from
how much of the question's distinctive vocabulary the best passages contain, how similar its
topic words are to them, and how far the best passage stands out from the average one); if not,
it abstains briefly, naming the nearest paper when the question only just missed. Otherwise it
picks the papers the best hits are about (or the papers the question names), quotes each one's
most relevant sentences (by term overlap, then passage similarity), puts an inline ``[n]`` after
every quoted sentence, and lists the numbered sources: title, authors as the digest writes them,
digest and date, code and arXiv links. Every ``[n]`` points at a citation whose text contains
the sentence it follows.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections import Counter
from dataclasses import dataclass

import numpy as np

from .embed import Embedder
from .index import Index
from .naming import names_paper
from .records import Answer, Chunk, Citation, Evidence, Hit, Paper
from .settings import Settings
from .text import sentences, tokenize

# Words that say what kind of answer is wanted rather than what it is about.
QUESTION_WORDS = frozenset(tokenize(
    "which what who whom whose where when how why there any paper papers work works study "
    "studies digest digests article articles mention mentioned cover covered discuss discussed "
    "say said tell me about find show shows use uses used using apply applies applied looking "
    "anything report reported reports bring brought item items concern concerns concerning "
    "deal deals dealt come came tied list lists listed appear appears appeared written wrote "
    "write put run runs roundup roundups issue issues edition post posts publish published "
    "propose proposed present presented describe described introduce introduced "
    "is are was were there their they that this these those one ones", stem=True))
CODE_INTENT = re.compile(r"\b(code|github|repo|repository|implementation|source|open[- ]source|"
                         r"notebook|package)\b", re.I)
ARXIV_INTENT = re.compile(r"\barxiv\b|\bpreprint\b|\bpaper link\b", re.I)
# Coverage model: a logistic score over COVERAGE_FEATURES, fitted on
# eval/data/digest_questions.jsonl by `python -m eval.calibrate` (see eval/RESULTS.md,
# "Abstention"). The score is the log-odds that the digests cover the question minus the
# calibrated cut-off, so the default ``abstain_threshold`` is 0.
COVERAGE_FEATURES = ("term_coverage", "specific_cosine", "relative_cosine")
COVERAGE_WEIGHTS = (14.5418, 13.72, 9.0563)
COVERAGE_BIAS = -11.1983
GENERIC_DF = 0.05  # a term in more than this share of chunks says little about a question's topic


@dataclass(frozen=True)
class Coverage:
    """Why the answerer thinks the digests do (or do not) cover a question."""

    score: float  # >= settings.abstain_threshold (default 0): covered
    best_cosine: float  # best dense similarity among the top hits
    term_coverage: float  # idf-weighted share of question terms in the best passage
    absent_terms: int  # question terms found nowhere in the corpus
    specific_cosine: float  # best similarity of the question's topic words alone
    relative_cosine: float  # best_cosine minus the question's mean similarity to all passages
    named: bool = False  # a retrieved paper is named by the question (rag.naming)

    def features(self) -> tuple[float, ...]:
        return tuple(float(getattr(self, f)) for f in COVERAGE_FEATURES)


class Answerer:
    """Extractive, cited answers over one index."""

    def __init__(self, index: Index, embedder: Embedder, settings: Settings) -> None:
        self.index, self.embedder, self.settings = index, embedder, settings
        self._chunk_terms = [frozenset(tokenize(c.embed_text)) for c in index.chunks]
        self._df = Counter(t for terms in self._chunk_terms for t in terms)
        n = max(1, len(index.chunks))
        self._n = n
        self._topic_generic = {t for t, c in self._df.items() if c / n > GENERIC_DF}
        # mean passage vector: question . centroid is its mean similarity to every passage
        self._centroid = (index.dense.vectors_at(range(len(index.chunks))).mean(0)
                          if len(index.chunks) else None)
        self._paper_text_rows: dict[str, list[int]] = {}  # paper id -> rows of its own text
        for row, c in enumerate(index.chunks):
            if c.source != "digest":
                for pid in c.paper_ids:
                    self._paper_text_rows.setdefault(pid, []).append(row)

    def idf(self, term: str) -> float:
        return math.log((self._n + 1) / (self._df.get(term, 0) + 0.5))

    def topic_words(self, question: str) -> str:
        """The question without question words and corpus-generic words ("transfer",
        "model" ...): what it is specifically about."""
        words = re.findall(r"[\w'-]+", question)
        keep = [w for w in words if (ts := tokenize(w)) and all(
            t not in QUESTION_WORDS and t not in self._topic_generic for t in ts)]
        return " ".join(keep)

    def coverage(self, question: str, hits: list[Hit],
                 query_vector: np.ndarray | None = None) -> Coverage:
        """How well the corpus covers the question (score >= 0 at the calibrated cut-off).
        ``query_vector`` is the question's embedding when the caller already has it."""
        terms = [t for t in dict.fromkeys(tokenize(question)) if t not in QUESTION_WORDS]
        total = sum(self.idf(t) for t in terms) or 1.0
        top = hits[:5]
        best = max((h.dense_score or 0.0 for h in top), default=0.0)
        cov = max((sum(self.idf(t) for t in terms
                       if t in self._chunk_terms[self.index.chunk_row[h.chunk.id]]) / total
                   for h in top), default=0.0)
        absent = sum(t not in self._df for t in terms)
        topic = self.topic_words(question)
        specific = best
        if topic and topic != question and len(self.index.chunks):
            vec = self.embedder.encode([topic])[0]
            _, sims = self.index.dense.search(vec, 1)
            specific = float(sims[0]) if len(sims) else 0.0
        relative = 0.0
        if self._centroid is not None and top:
            if query_vector is None:
                query_vector = self.embedder.encode([question])[0]
            relative = best - float(query_vector @ self._centroid)
        named = any(names_paper(question, p) for h in hits for p in h.papers)
        c = Coverage(0.0, best, cov, absent, specific, relative, named)
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

    def backing(self, paper: Paper, question: str,
                query_vector: np.ndarray | None = None) -> Chunk | None:
        """The paper's own passage (abstract, PDF page) closest to the question, if any."""
        rows = self._paper_text_rows.get(paper.id)
        if not rows:
            return None
        if query_vector is None:
            query_vector = self.embedder.encode([question])[0]
        sims = self.index.dense.vectors_at(rows) @ query_vector
        return self.index.chunks[rows[int(np.argmax(sims))]]

    def answer(self, question: str, hits: list[Hit], notes: tuple[str, ...] = (),
               query_vector: np.ndarray | None = None) -> Answer:
        """Compose the answer to ``question`` from ``hits`` (best first)."""
        cov = self.coverage(question, hits, query_vector)
        if not self.covered(cov, hits):
            return self.abstention(question, hits, notes, cov)
        if query_vector is None:
            query_vector = self.embedder.encode([question])[0]
        groups = self._paper_groups(question, hits, query_vector)
        q_terms = set(tokenize(question)) - QUESTION_WORDS
        scored: dict[int, list[tuple[float, str, Hit]]] = {}
        for gi, (_, group_hits) in enumerate(groups):
            for rank, h in enumerate(group_hits[:3]):
                for pos, s in enumerate(sentences(h.chunk.text)):
                    if pos == 0 and h.chunk.kind == "bullet":
                        s = without_label(s)
                    if len(s) < 20:
                        continue
                    overlap = sum(self.idf(t) for t in set(tokenize(s)) & q_terms)
                    # term overlap first; among equals, the better chunk and earlier sentence
                    score = overlap + 0.5 * (h.dense_score or 0.0) - 0.3 * rank - 0.05 * pos
                    scored.setdefault(gi, []).append((score, s, h))

        code_wanted = bool(CODE_INTENT.search(question))
        arxiv_wanted = bool(ARXIV_INTENT.search(question))
        lines: list[str] = []
        citations: list[Citation] = []
        for gi, (paper, _) in enumerate(groups):
            picks = sorted(scored.get(gi, []), key=lambda x: -x[0])[: self.settings.answer_sentences]
            if not picks:
                continue
            n = len(citations) + 1
            order = sorted(picks, key=lambda x: (x[2].chunk.source != "digest", x[2].chunk.id,
                                                 x[2].chunk.text.find(x[1])))
            chunks = list(dict.fromkeys(p[2].chunk for p in order))
            evidence = [Evidence(c.text, c.source, self.label(c), tuple(
                s for _, s, h in order if h.chunk.id == c.id), c.id) for c in chunks]
            if paper and all(c.source == "digest" for c in chunks):
                extra = self.backing(paper, question, query_vector)
                if extra is not None:  # the paper's own words beside the digest's
                    evidence.append(Evidence(extra.text, extra.source, self.label(extra), (),
                                             extra.id))
            citations.append(Citation(
                n=n, paper=paper, text="\n".join(e.text for e in evidence),
                digest=self.index.digests[chunks[0].digest_id],
                sentences=tuple(p[1] for p in order), chunk_ids=tuple(e.chunk_id for e in evidence),
                evidence=tuple(evidence)))
            quoted = " ".join(f"{s} [{n}]" for _, s, _ in order)
            head = f"**{paper.title}**" if paper else f"**{citations[-1].digest.title}**"
            if paper and paper.authors:
                head += f" ({paper.authors[0]})"
            extra = ""
            if paper and code_wanted:
                extra = (" Code: " + ", ".join(paper.code_urls) if paper.code_urls
                         else " The digests give no code link for it.")
            if paper and arxiv_wanted and paper.arxiv_url:
                extra += f" arXiv: {paper.arxiv_url}"
            lines.append(f"- {head}: {quoted}{extra}")
        if not citations:
            return self.abstention(question, hits, notes)
        body = "\n".join(lines)
        intro = "From the digests:" if len(citations) > 1 else "From the digest:"
        text = f"{intro}\n\n{body}\n\n**Sources**\n\n" + "\n".join(
            format_source(c) for c in citations)
        if notes:
            text = "\n".join(f"_{n}_" for n in notes) + "\n\n" + text
        return Answer(question, text, tuple(citations), False, tuple(hits), notes)

    def _paper_groups(self, question: str, hits: list[Hit],
                      query_vector: np.ndarray | None = None
                      ) -> list[tuple[Paper | None, list[Hit]]]:
        """Hits grouped by their main paper, best group first. Papers the question names (by
        short name, author or institution) are answered alone; otherwise groups far below the
        best are cut."""
        if query_vector is None:
            query_vector = self.embedder.encode([question])[0]
        groups: dict[str, tuple[Paper | None, list[Hit]]] = {}
        q_terms = set(tokenize(question)) - QUESTION_WORDS
        seen: set[str] = set()
        for h in (self._lead_in(h, query_vector) for h in hits):
            if h.chunk.id in seen:
                continue
            seen.add(h.chunk.id)
            paper = self._main_paper(h, q_terms)
            key = paper.id if paper else f"chunk:{h.chunk.id}"
            groups.setdefault(key, (paper, []))[1].append(h)
        ordered = list(groups.values())
        named = [g for g in ordered if g[0] and names_paper(question, g[0])]
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
        if not papers:
            return hit
        cosine = float(self.index.dense.vectors_at([row])[0] @ query_vector)
        return dataclasses.replace(hit, chunk=nxt, paper=papers[0], papers=papers,
                                   dense_score=cosine)

    def _main_paper(self, hit: Hit, q_terms: set[str]) -> Paper | None:
        """The paper a hit answers for: of the papers its passage names, the one whose title
        or short name shares the most (idf-weighted) words with the question; the passage's
        first paper on a tie ("T-PaiNN ..., while TJAP ... pricing" asked about pricing: TJAP)."""
        if len(hit.papers) <= 1:
            return hit.paper

        def overlap(p: Paper) -> float:
            words = set(tokenize(f"{p.title} {p.short_name or ''}"))
            return sum(self.idf(t) for t in words & q_terms)

        best = max(hit.papers, key=overlap)
        return best if hit.paper is None or overlap(best) > overlap(hit.paper) else hit.paper

    def abstention(self, question: str, hits: list[Hit], notes: tuple[str, ...] = (),
                   coverage: Coverage | None = None) -> Answer:
        """The brief "not covered" answer. When ``coverage`` shows a near miss (a score within
        ``settings.near_miss_margin`` of the cut) it also names the nearest paper."""
        s = self.settings
        near_miss = coverage is not None and \
            coverage.score >= s.abstain_threshold - s.near_miss_margin
        digests = sorted((d for d in self.index.digests.values() if d.date), key=lambda d: d.date)
        span = (f" ({len(digests)} digests, {digests[0].date:%b %-d} to "
                f"{digests[-1].date:%b %-d, %Y})") if digests else ""
        text = f"The digests do not cover this question{span}, so I can't answer it from them."
        q_terms = set(tokenize(question)) - QUESTION_WORDS
        nearest = next(((p, h.digest) for h in hits if (p := self._main_paper(h, q_terms))),
                       None) if near_miss else None
        if nearest is not None:
            paper, d = nearest
            text += (f" The nearest they come is “{paper.title}” ({d.title}, "
                     f"{d.date or 'undated'}); if that is the paper you mean, ask about it by "
                     "name. Widen the filters if you set any.")
        else:
            text += " Try rephrasing it, or widen the filters if you set any."
        if notes:
            text = "\n".join(f"_{n}_" for n in notes) + "\n\n" + text
        return Answer(question, text, (), True, tuple(hits), notes)


def without_label(sentence: str) -> str:
    """A bullet's first sentence without its "Label: " ("MoLRE Framework: It ..." -> "It ...")
    when enough is left to quote."""
    m = re.match(r"^[^:]{2,90}:\s+(?=\S)", sentence)
    if m and len(sentence) - m.end() >= 20 and "http" not in sentence[:m.end()]:
        return sentence[m.end():]
    return sentence


def format_source(c: Citation) -> str:
    """One line of the numbered source list (markdown)."""
    p, d = c.paper, c.digest
    when = d.date.isoformat() if d.date else "undated"
    if p is None:
        return f"[{c.n}] {d.title}, {when}"
    parts = [f"[{c.n}] **{p.title}**"]
    if p.authors:
        parts.append(" / ".join(p.authors))
    if p.institutions:
        parts.append("(" + ", ".join(p.institutions) + ")")
    line = " - ".join([parts[0], " ".join(parts[1:])]) if len(parts) > 1 else parts[0]
    line += f". In: {d.title} ({when})"
    own = [e.label for e in c.evidence if e.source != "digest"]
    if own:
        line += ". Paper text: " + "; ".join(own)
    if p.code_urls:
        line += ". Code: " + ", ".join(p.code_urls)
    if p.arxiv_url:
        line += f". arXiv: {p.arxiv_url}"
    return line
