"""Authorship claims: who an LLM answer says wrote a paper, checked against the paper's records.

Lexical verification cannot see a wrong relation between words that stand in one passage: a
passage saying "A and B evaluated seven models, among them X" supports every word of "X was
written by A and B". A sentence that credits a paper to people is therefore checked against the
paper itself: the people it names must be among that paper's authors as the digests write them
or as arXiv lists them (:class:`rag.records.Paper`), for a paper the sentence names by title or
short name among the papers of the passages it was written from. Used by
:class:`rag.answer.verify.Verifier`: a miscredited person counts as a fabricated name.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from rag.lexicon import INSTITUTION_WORDS
from rag.records import Paper
from rag.text import normalize_title

# where a sentence gives people as the authors: right after these words ...
_AFTER = re.compile(r"(?:\bauthors?\b[^.;]*?\b(?:are|is|include|were|was)|\b(?:written|authored|"
                    r"co-?authored|developed|proposed|introduced|led)\s+by|\bby)\s+",
                    re.IGNORECASE)
# ... or right before these
_BEFORE = re.compile(r"\s+(?:wrote|authored|co-?authored|et al\b)", re.IGNORECASE)
_SEP = r"(?:\s*,\s*(?:and\s+)?|\s+and\s+|\s*&\s*|\s+)"
_NAME = r"[A-Z][\w'\u2019-]*\.?"
_RUN = re.compile(rf"(?:{_NAME}{_SEP})*{_NAME}")  # "Ana Lopez, Bo Chen and C. Diaz"
_RUN_END = re.compile(rf"(?:{_NAME}{_SEP})*{_NAME}$")
_WORD = re.compile(r"[A-Z][\w'\u2019-]+")
_NOT_NAMES = frozenset(
    "The This That These Those Its It In Their They Authors Author Paper Work Study Answer "
    "According Both And Also Team Lab Group GitHub ArXiv".split())


def _named_papers(sentence: str, papers: Iterable[Paper]) -> list[Paper]:
    """The papers whose title, arXiv title or short name the sentence contains."""
    padded = f" {normalize_title(sentence)} "
    out = []
    for p in papers:
        labels = (p.title, p.arxiv_title, p.short_name)
        if any(lab and len(normalize_title(lab)) >= 3 and f" {normalize_title(lab)} " in padded
               for lab in labels):
            out.append(p)
    return out


def credited_people(sentence: str) -> list[str]:
    """The capitalised words a sentence gives as authors: the run of names after "written by",
    "by", "the authors of X are" ..., or before "wrote", "et al."."""
    text = re.sub(r"\[\d[\d,\s-]*\]|\([^)]*\)", " ", sentence)
    runs = [m.group(0) for c in _AFTER.finditer(text)
            if (m := _RUN.match(text, c.end())) is not None]
    runs += [m.group(0) for c in _BEFORE.finditer(text)
             if (m := _RUN_END.search(text[max(0, c.start() - 200):c.start()])) is not None]
    return [w for r in runs for w in _WORD.findall(r)
            if w not in _NOT_NAMES and not INSTITUTION_WORDS.search(w)]


def miscredited(sentence: str, papers: Iterable[Paper]) -> list[str]:
    """The words ``sentence`` gives as authors (:func:`credited_people`) of a paper it names
    that are in neither that paper's digest-written nor its arXiv author list; [] when it
    credits nobody or names none of ``papers``."""
    people = credited_people(sentence)
    if not people:
        return []
    named = _named_papers(sentence, dict.fromkeys(papers))
    labels = {normalize_title(lab) for p in named
              for lab in (p.title, p.arxiv_title, p.short_name) if lab}
    known = {t for p in named for a in (*p.authors, *p.arxiv_authors)
             for t in normalize_title(a).split()}
    return [w for w in people if named and normalize_title(w) not in known
            and not any(normalize_title(w) in lab.split() for lab in labels)]
