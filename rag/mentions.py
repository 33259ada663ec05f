"""Mentions: find where a digest passage names a paper, and what it says about it.

Digests name papers in a handful of ways: quoted titles (“Title” by Authors), titles after a
cue ("in their paper Title,", "Authors from X in Title,", "introduce Title, a ..."), titles in
parentheses after authors, bullet labels ("- DeepCORO-CLIP: ..."), short names ("introduces
HATL, which"), author groups ("Yoo et al.", "Nada Shahin and Leila Ismail (United Arab Emirates
University)") and arXiv links. The finders live in :mod:`rag.titles` (titles, short names,
labels), :mod:`rag.authors` (author groups, institutions) and :mod:`rag.urls`; this module
pairs their finds, one :class:`RawMention` per paper per sentence or bullet, which
:mod:`rag.papers` merges into papers. The finders' names are re-exported here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .authors import find_author_groups, institutions_after, possessive_institutions, quoted_spans
from .lexicon import CONNECTORS, INSTITUTION_WORDS, is_name_like, looks_like_title
from .text import split_sentences
from .titles import GENERIC_LABELS, abbreviates, find_short_names, find_titles, label_name
from .urls import arxiv_id_of, classify_url, find_urls, passage_urls

__all__ = [
    "CONNECTORS", "GENERIC_LABELS", "INSTITUTION_WORDS", "RawMention", "abbreviates",
    "arxiv_id_of", "classify_url", "find_author_groups", "find_short_names", "find_titles",
    "find_urls", "institutions_after", "is_name_like", "label_name", "looks_like_title",
    "passage_mentions", "passage_urls", "possessive_institutions", "quoted_spans",
    "sentence_mentions",
]


@dataclass
class RawMention:
    """One naming of a paper in one sentence (or one bullet) of one passage."""

    digest_id: str
    passage_index: int
    start: int  # span of the naming in the passage text
    end: int
    title: str | None = None
    kind: str = "title"  # "title" | "label" | "name" | "authors"
    how: str = ""  # for titles: "quoted" | "paren" | "cue" | "run"
    short_name: str | None = None
    authors: str | None = None
    institutions: list[str] = field(default_factory=list)


def sentence_mentions(text: str, digest_id: str, index: int) -> list[RawMention]:
    """Mentions in a paragraph: titles paired with the nearest author group of their sentence,
    author groups with no title (named by a coined name when the sentence has one)."""
    spans = split_sentences(text)
    out: list[RawMention] = []
    pending: RawMention | None = None  # authors whose title comes in the next sentence
    for a, b in spans:
        s = text[a:b]
        authors = find_author_groups(s)
        titles = find_titles(s, authors)
        shorts = find_short_names(s)
        taken: set[int] = set()
        sentence_out: list[RawMention] = []
        for ta, tb, title, how in titles:
            rm = RawMention(digest_id, index, a + ta, a + tb, title=title, how=how)
            best = None
            for i, (ga, gb, g) in enumerate(authors):
                if i in taken:
                    continue
                dist = ga - tb if ga >= tb else ta - gb
                if best is None or dist < best[0]:
                    best = (dist, i)
            if best is not None:
                taken.add(best[1])
                ga, gb, g = authors[best[1]]
                rm.authors = g
                rm.institutions = institutions_after(s, gb)[0] or possessive_institutions(s, ga)
            elif pending is not None and re.search(r"\btheir (paper|work)\b|\bthis (method|work)",
                                                   s, re.I):
                rm.authors, rm.institutions = pending.authors, pending.institutions
                pending = None
            else:
                close = tb + 1 if s[tb:tb + 1] in "”\"" else tb
                rm.institutions = institutions_after(s, close)[0]
            pre = title.split(":")[0].strip()
            if ":" in title and len(pre.split()) <= 3:
                names = [w for w in pre.split() if is_name_like(w)] or (
                    [pre] if len(pre.split()) == 1 else [])
                rm.short_name = names[0] if names else None
            sentence_out.append(rm)
        for i, (ga, gb, g) in enumerate(authors):
            if i in taken:
                continue
            rm = RawMention(digest_id, index, a + ga, a + gb, kind="authors", authors=g,
                            institutions=institutions_after(s, gb)[0]
                            or possessive_institutions(s, ga))
            method = re.search(r"((?:[A-Z][\w\-]+\s+){0,3}[A-Z][\w\-]+)\s+\(([A-Z][A-Za-z0-9\-]+)\)"
                               r"\s+(?:algorithm|framework|approach|method|model)", s)
            if method:
                rm.title, rm.short_name, rm.kind = method.group(1), method.group(2), "name"
            elif shorts:
                rm.title = rm.short_name = min(shorts, key=lambda x: abs(x[0] - ga))[1]
                rm.kind = "name"
            sentence_out.append(rm)
            pending = rm
        if titles and shorts:
            for rm in sentence_out:
                if rm.kind == "title" and not rm.short_name:
                    rm.short_name = min(shorts, key=lambda x: abs(a + x[0] - rm.start))[1]
                    break
        out.extend(sentence_out)
    # a mention made only of authors whose paper is named in the next sentence is merged
    return [m for m in out if not (m.kind == "authors" and any(
        o is not m and o.authors == m.authors and o.kind == "title" for o in out))]


def passage_mentions(p) -> list[RawMention]:
    """The mentions of a passage: :func:`sentence_mentions` plus the titles its arXiv links
    give. "<a href=arxiv.org/abs/...>Why frozen encoders generalise</a>" names a paper even in
    sentence case; an author group of the same sentence that named no title is its authors."""
    found = sentence_mentions(p.text, p.digest_id, p.index)
    cursor = 0
    for link in p.links:
        title = link.text.strip()
        a = p.text.find(title, cursor) if title else -1
        if a < 0:
            continue
        b = cursor = a + len(title)
        if not arxiv_id_of(link.url) or not (looks_like_title(title) or
                                             looks_like_title(title, strict=False)):
            continue
        if any(m.start < b and m.end > a for m in found):
            continue  # already named there
        s0, s1 = next(((x, y) for x, y in split_sentences(p.text) if x <= a < y),
                      (0, len(p.text)))
        owner = next((m for m in found if m.kind in ("authors", "name") and s0 <= m.start < s1),
                     None)
        if owner is not None:
            owner.title, owner.kind, owner.how = title, "title", "link"
            owner.start, owner.end = min(a, owner.start), max(b, owner.end)  # title + authors
        else:
            found.append(RawMention(p.digest_id, p.index, a, b, title=title, how="link"))
    return sorted(found, key=lambda m: m.start)
