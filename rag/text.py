"""Small text helpers shared by the stages: sentence splitting, title normalisation, tokens.

Kept dependency-free and deterministic so that chunking, answering and evaluation agree on
what a sentence is and when two titles are the same.
"""

from __future__ import annotations

import re
import unicodedata
from difflib import SequenceMatcher
from functools import lru_cache

import numpy as np

from rag.lexicon import cap_ratio

# Tokens after which a period does not end a sentence.
_ABBREV = {
    "al", "e.g", "i.e", "etc", "vs", "fig", "figs", "no", "dr", "mr", "mrs", "ms", "prof",
    "st", "inc", "ltd", "jr", "sr", "eq", "approx", "cf", "resp", "jan", "feb", "mar", "apr",
    "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec", "u.s", "u.k", "ph.d", "co",
}
_SENT_END = re.compile(r"[.!?…]+[\"”’)\]]*\s+(?=[\"“‘(\[]?[A-Z0-9À-Ý])")


def split_sentences(text: str) -> list[tuple[int, int]]:
    """Character spans of the sentences of ``text`` (abbreviations and initials aware)."""
    spans: list[tuple[int, int]] = []
    start = 0
    for m in _SENT_END.finditer(text):
        before = text[max(start, m.start() - 80):m.start() + 1]  # the last word: linear
        word = re.search(r"(\S+)[.!?…]+[\"”’)\]]*$", before)
        token = word.group(1).lower().rstrip(".") if word else ""
        if text[m.start()] == "." and (
            token in _ABBREV or re.fullmatch(r"[a-z]", token)  # initials: "J. Z. Kolter"
            or re.fullmatch(r"(?:[a-z]\.)+[a-z]?", token)
        ):
            continue
        if text[m.start()] == "?" and _question_title(text[start:m.start()], text[m.end():]):
            continue  # "Do We Still Need HD Maps? Online Vectorized Map ...": one title
        end = m.end()
        spans.append((start, len(text[:end].rstrip()) if end else end))
        start = end
    if start < len(text) and text[start:].strip():
        spans.append((start, len(text.rstrip())))
    return spans


_WORD = re.compile(r"[\w'’-]+")


def _question_title(head: str, rest: str) -> bool:
    """Whether a "?" ends the head of a question title, not a sentence: the words before it
    (2 to 12 since the sentence start, an opening quote or a table cell) are all capitalised
    but for connectors ("How Much Energy Does a Recommendation Cost"), and three of the next
    four words are too ("Measuring the Carbon Footprint ..."). "Does it scale? The authors
    show ..." and "Why Does It Work? We find ..." stay two sentences."""
    head = re.split(r"[“\"‘|]", head)[-1]
    words = _WORD.findall(head)
    if not 2 <= len(words) <= 12 or cap_ratio(words) < 1:
        return False
    nxt = _WORD.findall(rest[:80])[:4]
    return len(nxt) == 4 and sum(w[:1].isupper() or w[:1].isdigit() for w in nxt) >= 3


def sentences(text: str) -> list[str]:
    """The sentences of ``text`` as strings."""
    return [text[a:b].strip() for a, b in split_sentences(text)]


def strip_accents(text: str) -> str:
    """``text`` without combining accents ("Martín" -> "Martin"); ASCII text as it is."""
    if text.isascii():
        return text
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


@lru_cache(maxsize=65536)
def normalize_title(title: str) -> str:
    """Lowercase, accents and punctuation removed, whitespace collapsed: for title matching."""
    t = strip_accents(title).lower().replace("&", " and ")
    t = re.sub(r"[^a-z0-9]+", " ", t)
    return re.sub(r"\s+", " ", t).strip()


def title_similarity(a: str, b: str, at_least: float = 0.0) -> float:
    """Similarity in [0, 1] of two titles after normalisation (1.0 = same title).

    With ``at_least``, pairs that cannot reach it return 0.0 after cheap upper-bound checks
    (length, then difflib's quick ratios), which keeps all-pairs matching fast.
    """
    na, nb = normalize_title(a), normalize_title(b)
    if not na or not nb:
        return 0.0
    if na == nb:
        return 1.0
    if 2 * min(len(na), len(nb)) / (len(na) + len(nb)) < at_least:
        return 0.0
    if at_least:  # difflib's quick_ratio bound, from cached character counts
        shared = int(np.minimum(_char_counts(na), _char_counts(nb)).sum())
        if 2 * shared / (len(na) + len(nb)) < at_least:
            return 0.0
    return SequenceMatcher(None, na, nb, autojunk=False).ratio()


@lru_cache(maxsize=8192)
def _char_counts(text: str) -> np.ndarray:
    """Counts of each character of a normalised (ASCII) title."""
    return np.bincount(np.frombuffer(text.encode("ascii", "replace"), np.uint8), minlength=128)


def slugify(text: str, max_words: int = 8) -> str:
    """A readable, stable id: the first words of the normalised text joined by '-'."""
    words = normalize_title(text).split()[:max_words]
    return "-".join(words) or "untitled"


STOPWORDS = frozenset(
    """a an and are as at be been by can did do does for from has have how i if in into is it
    its me my of on or our so than that the their them then there these they this to was we
    were what when where which while who whom why will with would you your about any all also
    paper papers digest digests work works study studies research say said said tell""".split()
)

_TOKEN = re.compile(r"[a-z0-9]+(?:[-'][a-z0-9]+)*")


def tokenize(text: str, stem: bool = True) -> list[str]:
    """Lexical tokens: lowercased words minus stopwords, light suffix stemming, and the parts
    of hyphenated words ("low-rank" -> "low-rank", "low", "rank")."""
    out: list[str] = []
    for tok in _TOKEN.findall(strip_accents(text).lower()):
        parts = [tok] + (tok.split("-") if "-" in tok else [])
        for p in parts:
            p = p.replace("'", "")
            if not p or p in STOPWORDS:
                continue
            out.append(light_stem(p) if stem else p)
    return out


def light_stem(word: str) -> str:
    """A tiny, predictable English stemmer (plural and common verb/noun endings)."""
    if len(word) <= 4 or not word.isalpha():
        return word
    for suf, rep in (("ies", "y"), ("sses", "ss"), ("ing", ""), ("ed", ""), ("es", "e"),
                     ("s", "")):
        if word.endswith(suf) and len(word) - len(suf) >= 3:
            if suf == "s" and word.endswith(("ss", "us", "is")):
                return word
            return word[: len(word) - len(suf)] + rep
    return word
