"""Lexicon: the word lists and word-shape tests that every mention finder shares.

Connector words, institution words, and the tests for a coined name ("MoLRE", "T-PaiNN") and
for title-case text. :mod:`rag.extract.authors`, :mod:`rag.extract.titles`,
:mod:`rag.extract.mentions`, :mod:`rag.extract.papers` and :mod:`rag.extract.paper_links` build on
them.
"""

from __future__ import annotations

import re

CONNECTORS = frozenset(
    "a an the of for and or in on to with via using from under into at as by toward towards "
    "through without over vs versus across between is are be".split()
)
INSTITUTION_WORDS = re.compile(  # whole words: "Cross-Hospital", "Lab-Scale" name no institution
    r"(?<![\w-])(universit\w*|universidad|universitat|università|universität|université|institut\w*|"
    r"college|school|lab|labs|laborator\w*|center|centre|hospital|clinic|ministry|academy|"
    r"inc\.?|corp\.?|ltd\.?|gmbh|technologies|politecnico|polytechnic|"
    r"kaggle|hugging face|google|deepmind|microsoft|openai|nvidia|ibm|dfki)(?![\w-])",
    re.IGNORECASE,
)


def is_name_like(token: str) -> bool:
    """A coined name: inner capitals, digits or all caps ("MoLRE", "T-PaiNN", "ZACAF")."""
    t = token.strip("“”\"'(),.:;’")
    if len(t) < 3 or not t[0].isalpha():
        return False
    return bool(re.search(r"[A-Z]", t[1:]) or re.search(r"\d", t)) and not t.isdigit()


def cap_ratio(words: list[str]) -> float:
    """Share of the content words (connectors left out) that start with a capital or a digit."""
    content = [w for w in words if w.lower().strip("“”\"(),:;?") not in CONNECTORS]
    if not content:
        return 0.0
    caps = sum(1 for w in content if (w.strip("“”\"(")[:1] or "a")[0].isupper()
               or w[:1].isdigit())
    return caps / len(content)


def looks_like_title(text: str, strict: bool = True) -> bool:
    """Title-case (or, when not strict, sentence-case) text of three or more words."""
    words = text.split()
    if len(words) < 2 or not (text[0].isupper() or text[0].isdigit()):
        return False
    if INSTITUTION_WORDS.search(text) and not re.search(r":", text):
        return False
    if strict:
        return len(words) >= 3 and cap_ratio(words) >= 0.6 or (len(words) == 2 and
                                                                cap_ratio(words) == 1.0)
    return len(words) >= 4
