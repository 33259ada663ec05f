"""Title forms: what merging compares and looks up of a title, computed once per title string.

Merging mentions into papers (:mod:`rag.extract.papers`) looks each title up by exact keys
(normalised, headless, lowercased), by blocking keys (title starts, near-identical titles), and
compares it with the titles of the papers that share a key: a corpus of 1,000 digests makes
~30,000 look-ups and ~100,000 comparisons over ~20,000 distinct titles. Everything here is a
pure function of the title strings; forms are cached by title, so each title is normalised and
split once per process instead of once per comparison, and look-up keys for a while (a bullet
looks its label up twice).
"""

from __future__ import annotations

from functools import lru_cache
from typing import NamedTuple

from rag.extract.titles import similar_normalized, similar_title_keys
from rag.text import normalize_title

SIMILAR = 0.93  # title similarity at which same_title holds two long titles the same
_TITLES = 1 << 16  # titles kept per cache of forms (a few hundred bytes each)
_RECENT = 1 << 12  # look-ups kept: a bullet looks up its label again right after (kilobytes each)


class Form(NamedTuple):
    """A title as :func:`same_title` compares it."""

    norm: str  # normalize_title
    head: str  # normalised without a "Name:" head (headless)
    head_long: bool  # the headless title has three words or more
    words: int  # words of the normalised title


@lru_cache(maxsize=_TITLES)
def headless(title: str) -> str:
    """The normalised title without a "Name:" head of at most three words."""
    head, colon, rest = title.partition(":")
    return normalize_title(rest if colon and len(head.split()) <= 3 else title)


@lru_cache(maxsize=_TITLES)
def form(title: str) -> Form:
    """The :class:`Form` of ``title``."""
    norm, head = normalize_title(title), headless(title)
    return Form(norm, head, len(head.split()) >= 3, len(norm.split()))


def same_title(a: str, b: str) -> bool:
    """Two writings of one title: equal once normalised, one the other's start (3+ words),
    equal but for a "Name:" head ("FedX: Handling Label Skew" / "Handling Label Skew"), or
    near-identical long titles."""
    fa, fb = form(a), form(b)
    if fa.norm == fb.norm:
        return True
    if fa.head == fb.head and fa.head_long:
        return True
    short, long_ = (fa, fb) if len(fa.norm) <= len(fb.norm) else (fb, fa)
    if short.words >= 3 and long_.norm.startswith(short.norm + " "):
        return True
    return len(short.norm) > 20 and similar_normalized(fa.norm, fb.norm, SIMILAR)


@lru_cache(maxsize=_RECENT)
def exact_keys(title: str | None, short: str | None) -> tuple[str, ...]:
    """Exact look-up keys of a title and short name (normalised, headless and lowercased
    title; lowercased short name)."""
    out = (f"t:{normalize_title(title)}", f"h:{headless(title)}", f"n:{title.lower()}") \
        if title else ()
    return out + ((f"n:{short.lower()}",) if short else ())


@lru_cache(maxsize=_RECENT)
def lookup_keys(title: str | None, short: str | None) -> tuple[str, ...]:
    """The blocking keys a title and short name are looked up by: those of :func:`index_keys`
    that a paper that can match them is indexed under."""
    keys = [f"n:{short.lower()}"] if short else []
    if title:
        nt = normalize_title(title)
        words = nt.split()
        keys += [f"t:{nt}", f"h:{headless(title)}", f"n:{title.lower()}", f"p:{nt}"]
        keys += [f"t:{' '.join(words[:k])}" for k in range(3, len(words))]
        if len(nt) > 20:
            keys += ["s:" + k for k in similar_title_keys(nt, SIMILAR, band=True)]
    return tuple(keys)


def index_keys(title: str) -> frozenset[str]:
    """The blocking keys a paper is indexed under by its title: normalised, headless and
    lowercased title, its starts of 3+ words, its near-identity keys."""
    nt = normalize_title(title)
    words = nt.split()
    keys = {f"t:{nt}", f"h:{headless(title)}", f"n:{title.lower()}",
            *(f"p:{' '.join(words[:k])}" for k in range(3, len(words) + 1))}
    if len(nt) > 20:
        keys.update("s:" + k for k in similar_title_keys(nt, SIMILAR))
    return frozenset(keys)


@lru_cache(maxsize=_TITLES)
def title_words(title: str) -> tuple[str, str]:
    """(the normalised title with a space before each word, the initials of its words):
    " " + a word start is in the first where a word of the title starts with it."""
    words = normalize_title(title).split()
    return "".join(" " + w for w in words), "".join(w[0] for w in words)
