"""Naming: the keys by which a question can name a paper's authors and institutions.

"What did Jing Li work on?" and "What research from Duke-NUS was mentioned?" ask about papers
by a name the embedding model knows nothing about; :class:`rag.answer.query.Catalog` indexes every
paper under these keys and matches questions against them. Matching is strict, to stay clear
of ordinary words: a one-word surname must appear as written (case included), a full name as a
whole phrase, and an institution by its distinctive words ("Duke-NUS" of "Duke-NUS Medical
School", "California Irvine" of "University of California, Irvine") or by the acronym it
carries in parentheses ("DLR").
"""

from __future__ import annotations

import re
from functools import lru_cache

from rag.text import strip_accents

# words every institution shares: they never identify one
GENERIC_AFFILIATION = frozenset(
    """university universitat universidad universite universita universitaet of the and at in
    for de di i da do del des la le institute institut school college technology technologies
    science sciences national laboratory lab labs center centre medical research applied
    advanced studies department state inc ltd corp gmbh""".split())
_AUTHOR_TAIL = re.compile(r"\s*(,?\s*et al\.?|\s+and\s+(colleagues|co-?authors|his team|her team|"
                          r"their team|collaborators))\s*$", re.I)


@lru_cache(maxsize=4096)
def institution_keys(institution: str) -> tuple[frozenset[str], ...]:
    """The word sets that identify an institution in a question (any one suffices). An
    acronym ("MIT", "DLR") keeps its case, so that German "mit" does not name MIT."""
    keys = []
    words = {w if w.isupper() else w.lower() for w in re.findall(
        r"[\w&-]+", strip_accents(re.sub(r"\([^)]*\)", " ", institution)))}
    words -= GENERIC_AFFILIATION
    if any(len(w) >= 3 for w in words):
        keys.append(frozenset(words))
    for acronym in re.findall(r"\(([A-Z][\w&-]{1,})\)", institution):
        keys.append(frozenset({acronym}))
    return tuple(keys)


@lru_cache(maxsize=4096)
def person_names(written: str) -> tuple[str, ...]:
    """The people in an author string: "Nada Shahin and Leila Ismail" -> both names;
    "Jing Li et al." -> "Jing Li"."""
    core = _AUTHOR_TAIL.sub("", written.strip())
    parts = re.split(r",\s*(?:and\s+)?|\s+and\s+|\s*&\s*", core)
    return tuple(p.strip() for p in parts if p.strip() and not p.strip().isdigit())
