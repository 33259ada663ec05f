"""Listing: answer list and topic questions with every paper that belongs, not the best few.

"Which works deal with EEG signals?", "What did the May digests say about PINNs?" and "Which
papers released code?" want a set. Papers are ranked whole (:meth:`rag.answer.retrieve.Retriever.
rank_papers`: best passage cosine and profile BM25 fused by z-scores, inside the filters) and
every paper within ``settings.list_margin`` of the best is kept (at most
``settings.list_max``), best first, each cited with its best sentence. A question that names
papers (by author, institution or name) lists exactly those; a bare "which papers released
code?" lists every paper with a code link (the first CODE_LIST_MAX, saying so). The answer
leads with a count and the names: "3 papers in the digests (Mar 7 - May 30) address EEG: A,
B and C."
"""

from __future__ import annotations

import re

import numpy as np

from rag.answer.compose import Answerer, caveats, without_label
from rag.answer.query import QUESTION_WORDS
from rag.answer.retrieve import Filters, PaperScore, Retriever
from rag.records import Answer, Citation, Hit, Item, Paper, Query
from rag.text import sentences, tokenize

# Words of a code request that name no topic ("Which papers released their code on GitHub?")
CODE_WORDS = frozenset(tokenize(
    "code codes github repo repos repository repositories release released releases share "
    "shared open source sourced open-source open-sourced implementation implementations "
    "available publish public notebook package provide provided come came with have has make "
    "made put out link links paper papers work works", stem=True))


CODE_LIST_MAX = 30  # papers a "which papers released code?" answer names at most


def is_bare_code_list(query: Query) -> bool:
    """A list question about code links that names no topic: every paper with code belongs."""
    return query.intent == "list" and query.wants_code and not query.named and all(
        t in CODE_WORDS for t in tokenize(query.topic))


def is_digest_overview(query: Query) -> bool:
    """"What papers were in last week's digest?": a time question naming digests by date and
    no topic; every paper of those digests belongs (never an abstention)."""
    return query.intent == "time" and query.dates_from_question and not query.named and \
        not tokenize(query.topic)


def selected(ranked: list[PaperScore], query: Query, margin: float, most: int
             ) -> list[PaperScore]:
    """The papers a list answer names: those the question names, else those within
    ``margin`` of the best score."""
    named = set(query.named)
    if named:
        return [p for p in ranked if p.paper.id in named][:most]
    if not ranked:
        return []
    cut = ranked[0].score - margin
    return [p for p in ranked if p.score >= cut][:most]


def _paper_hits(answerer: Answerer, paper: Paper, rows: list[int],
                query_vector: np.ndarray) -> list[Hit]:
    """Hits for a paper's passages (best cosine first)."""
    index = answerer.index
    sims = index.dense.vectors_at(rows) @ query_vector
    order = np.argsort(-sims, kind="stable")
    hits = []
    for j in order:
        c = index.chunks[rows[int(j)]]
        papers = tuple(index.papers[p] for p in c.paper_ids if p in index.papers)
        hits.append(Hit(c, float(sims[j]), index.digests[c.digest_id], paper, papers,
                        dense_score=float(sims[j])))
    return hits


def list_answer(answerer: Answerer, retriever: Retriever, query: Query, hits: list[Hit],
                query_vector: np.ndarray) -> Answer:
    """Every paper that belongs to a list or topic question, each cited with its best
    sentence (abstains when the digests do not cover the question)."""
    s = answerer.settings
    bare_code = is_bare_code_list(query)
    in_order = bare_code or is_digest_overview(query)  # every paper, in digest order
    filters = Filters.of(query)
    if bare_code:
        filters = Filters(filters.since, filters.until, filters.digest, True)
    elif not in_order:
        cov = answerer.coverage(query, hits, query_vector)
        if not answerer.covered(cov, hits):
            return answerer.abstention(query, hits, cov)
    ranked = retriever.rank_papers(query, query_vector, filters,
                                   limit=None if in_order else 4 * s.list_max)
    if in_order:
        chosen = sorted(ranked, key=lambda p: _first_mention(answerer, p))[:CODE_LIST_MAX]
    else:
        chosen = selected(ranked, query, s.list_margin, s.list_max)
    mask = retriever.mask(filters)
    citations: list[Citation] = []
    items: list[Item] = []
    for ps in chosen:
        rows = [r for r in answerer.index.paper_rows.get(ps.paper.id, ())
                if mask is None or mask[r]]
        if not rows:
            continue
        paper_hits = _paper_hits(answerer, ps.paper, rows, query_vector)
        if in_order:  # what the paper does (from the passage that links its code first)
            if bare_code:
                paper_hits.sort(key=lambda h: not any(u in h.chunk.text
                                                      for u in ps.paper.code_urls))
            picks = describe(paper_hits)
        else:
            picks = answerer.pick_sentences(query, paper_hits, 1)
        if not picks:
            continue
        cs = answerer.cite_by_digest(len(citations) + 1, ps.paper, picks, query_vector)
        citations += cs
        items.append(answerer.item(query, cs))
    if not citations:
        return answerer.abstention(query, hits)
    lead = list_lead(query, citations, bare_code)
    if in_order and len(ranked) > len(citations):  # never a silently shortened list
        lead += (f" {len(ranked)} papers {'have one' if bare_code else 'in all'}; these are "
                 f"the first {len(citations)}.")
    papers = [c.paper for c in citations if c.paper]
    return Answer(query.text, lead, tuple(items), tuple(citations), False, tuple(hits),
                  query.notes, caveats=caveats(query, papers, answerer.index.digests),
                  query=query)


def describe(hits: list[Hit]) -> list[tuple[str, Hit]]:
    """The first sentence saying what a paper does (40+ characters besides any link)."""
    for h in hits:
        for i, sent in enumerate(sentences(h.chunk.text)):
            if len(re.sub(r"https?://\S+", "", sent)) >= 40:
                return [(without_label(sent) if i == 0 and h.chunk.kind == "bullet" else sent, h)]
    return [(hits[0].chunk.text, hits[0])] if hits else []


def _first_mention(answerer: Answerer, ps: PaperScore) -> tuple:
    """Digest order: a paper's first mention (date, digest, passage)."""
    c = answerer.index.chunks[ps.row]
    d = answerer.index.digests[c.digest_id]
    return (d.date.toordinal() if d.date else 0, d.id, c.passage_index)


def list_lead(query: Query, citations: list[Citation], bare_code: bool) -> str:
    """'3 papers in the digests (Mar 7 - May 30) address EEG signals: A, B and C.'"""
    dates = sorted({c.digest.date for c in citations if c.digest.date})
    span = ""
    if dates:
        span = (f" ({dates[0]:%b %-d, %Y})" if len(dates) == 1 else
                f" ({dates[0]:%b %-d} – {dates[-1]:%b %-d, %Y})")
    names = [c.paper.short_name or c.paper.title if c.paper else c.digest.title
             for c in citations]
    listed = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
    k = len(citations)
    noun = "paper" if k == 1 else "papers"
    if bare_code:
        return f"{k} {noun} in the digests{span} give a code link: {listed}."
    if is_digest_overview(query):
        return f"{k} {noun} in the digests{span}: {listed}."
    topic = subject_phrase(query.search_text)
    verb = "addresses" if k == 1 else "address"
    what = f"{verb} {topic}" if topic else ("matches the question" if k == 1
                                            else "match the question")
    return f"{k} {noun} in the digests{span} {what}: {listed}."


def subject_phrase(text: str) -> str:
    """What a list question is about, in its own words: the question without its leading
    question words ("Which works deal with EEG signals?" -> "EEG signals")."""
    words = text.strip(" ?.!").split()
    while words and (not tokenize(words[0]) or all(t in QUESTION_WORDS or t in CODE_WORDS
                                                   for t in tokenize(words[0]))):
        words.pop(0)
    while words and all(t in QUESTION_WORDS for t in tokenize(words[-1])):
        words.pop()  # "... covered in the digests"
    return " ".join(words)
