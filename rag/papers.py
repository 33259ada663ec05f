"""Papers: merge the mentions of every digest into one record per paper and link passages to
papers.

Input: parsed digests (:mod:`rag.ingest`), whose passages :mod:`rag.mentions` reads; an intro
("Work by X et al." as a paragraph or heading) gives its authors to the paper named next, and
a title written with and without its "Name:" head, or by short name only, is one paper. Output: a
:class:`PaperSet` holding the :class:`~rag.records.Paper` records and, for every passage, the
character spans where it names each paper, which :mod:`rag.chunk` uses to keep chunks to one
paper. Linking by short name and URL is in :mod:`rag.paper_links`; the arXiv metadata join in
:mod:`rag.metadata`, whose names are re-exported here.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field, replace
from functools import lru_cache

from .attribution import attribution_issues
from .authors import team_institutions
from .ingest import LoadedDigest
from .lexicon import is_name_like
from .mentions import RawMention, intro_mention, label_name, passage_mentions
from .metadata import (
    attach_paper_texts,
    clean_author_list,
    join_metadata,
    load_metadata,
    match_by_authors,
    match_metadata,
)
from .paper_links import Span, attach_urls, inherit_in_groups, link_names
from .records import Mention, Paper
from .text import normalize_title, slugify, title_similarity

__all__ = [
    "PaperSet", "Span", "attach_paper_texts", "clean_author_list", "extract_papers",
    "join_metadata", "load_metadata", "match_by_authors", "match_metadata", "passage_mentions",
]


@dataclass
class PaperSet:
    """Every paper of a corpus plus, per (digest_id, passage_index), where each is named."""

    papers: dict[str, Paper]
    spans: dict[tuple[str, int], list[Span]] = field(default_factory=dict)

    def for_passage(self, digest_id: str, index: int) -> list[Span]:
        return self.spans.get((digest_id, index), [])


@dataclass
class _Draft:
    """A paper being assembled from mentions (mutable until frozen into a Paper)."""

    title: str
    kind: str
    short_names: list[str] = field(default_factory=list)
    authors: list[str] = field(default_factory=list)
    institutions: list[str] = field(default_factory=list)
    mentions: list[Mention] = field(default_factory=list)

    def matches(self, title: str | None, short: str | None) -> bool:
        if title and _same_title(self.title, title):
            return True
        if self.short_names:
            names = {s.lower() for s in self.short_names}
            if (short and short.lower() in names) or (title and title.lower() in names):
                return True
        return bool(short and self.title.lower() == short.lower())

    def absorb(self, m: RawMention) -> None:
        rank = {"title": 3, "label": 2, "name": 1, "authors": 0}
        if m.title and (rank[m.kind] > rank[self.kind] or (
                rank[m.kind] == rank[self.kind] and len(m.title) > len(self.title)
                and _extends(m.title, self.title))):
            self.title, self.kind = m.title, m.kind
        for value, bag in ((m.short_name, self.short_names), (m.authors, self.authors)):
            if value and value not in bag:
                bag.append(value)
        self.institutions.extend(x for x in m.institutions if x not in self.institutions)
        mention = Mention(m.digest_id, m.passage_index, m.authors, tuple(m.institutions))
        same = [x for x in self.mentions
                if (x.digest_id, x.passage_index) == (m.digest_id, m.passage_index)]
        if not same:
            self.mentions.append(mention)
        elif m.authors and not same[0].authors:
            self.mentions[self.mentions.index(same[0])] = mention


def _keys(title: str | None, short: str | None) -> list[str]:
    """Exact look-up keys of a title and short name (see :meth:`_Registry.find`)."""
    out = [f"t:{normalize_title(title)}", f"h:{_headless(title)}", f"n:{title.lower()}"] \
        if title else []
    return out + ([f"n:{short.lower()}"] if short else [])


def _extends(longer: str, shorter: str) -> bool:
    """``longer`` is ``shorter`` with more words at its end or a "Name:" head at its start."""
    nl, ns = normalize_title(longer), normalize_title(shorter)
    return nl.startswith(ns) or (":" in longer and nl.endswith(" " + ns))


@lru_cache(maxsize=65536)
def _headless(title: str) -> str:
    """The normalised title without a "Name:" head of at most three words."""
    head, colon, rest = title.partition(":")
    return normalize_title(rest if colon and len(head.split()) <= 3 else title)


def _same_title(a: str, b: str) -> bool:
    """Two writings of one title: equal once normalised, one the other's start (3+ words),
    equal but for a "Name:" head ("FedX: Handling Label Skew" / "Handling Label Skew"), or
    near-identical long titles."""
    na, nb = normalize_title(a), normalize_title(b)
    if na == nb:
        return True
    ha, hb = _headless(a), _headless(b)
    if ha == hb and len(ha.split()) >= 3:
        return True
    short, long_ = sorted((na, nb), key=len)
    if len(short.split()) >= 3 and long_.startswith(short + " "):
        return True
    return len(short) > 20 and title_similarity(a, b, at_least=0.93) >= 0.93


class _Registry:
    """Drafts plus the passage spans that name them."""

    def __init__(self) -> None:
        self.drafts: list[_Draft] = []
        self.spans: list[tuple[str, int, int, int, _Draft]] = []
        self.keys: dict[str, _Draft] = {}  # exact keys of every draft, for fast look-ups

    def find(self, title: str | None, short: str | None) -> _Draft | None:
        """The draft a title or short name names: an exact key first, else the first draft
        whose title is the same title written another way (prefix, near-identical)."""
        if not (title or short):
            return None
        for key in _keys(title, short):
            d = self.keys.get(key)
            if d is not None and d.matches(title, short):
                return d
        return next((d for d in self.drafts if d.matches(title, short)), None)

    def _index(self, d: _Draft) -> None:
        for key in _keys(d.title, None) + [f"n:{x.lower()}" for x in d.short_names]:
            self.keys.setdefault(key, d)

    def add(self, m: RawMention, start: int | None = None, end: int | None = None) -> _Draft:
        d = self.find(m.title, m.short_name)
        if d is None and m.kind == "authors":
            d = next((x for x in self.drafts if m.authors in x.authors and any(
                y.digest_id == m.digest_id for y in x.mentions)), None)
        if d is None:
            d = _Draft(m.title or f"Work by {m.authors}", m.kind)
            self.drafts.append(d)
        d.absorb(m)
        self._index(d)
        self.spans.append((m.digest_id, m.passage_index,
                           m.start if start is None else start, m.end if end is None else end, d))
        return d


def extract_papers(docs: list[LoadedDigest], metadata: list[dict] | None = None) -> PaperSet:
    """Find, merge and link the papers of a corpus; join ``metadata`` (arXiv records) by title."""
    reg = _Registry()
    bullets = []
    for doc in docs:  # pass 1: paragraphs, which carry the fullest titles
        carry: RawMention | None = None  # "Work by X et al." closing a paragraph
        section = ""
        for p in doc.passages:
            if p.kind == "bullet":
                bullets.append(p)
                continue
            if p.section != section:  # a heading "Work by X et al." introduces what follows
                section = p.section
                carry = carry or intro_mention(section, p.digest_id, p.index)
            found = passage_mentions(p)
            _give_intro(carry, found, reg)
            carry = None
            if found and found[-1].intro and found[-1].kind == "authors":
                carry = found.pop()  # its paper is named in the next paragraph
            for m in found:
                reg.add(m)
        _give_intro(carry, [], reg)
    for p in bullets:  # pass 2: bullets, whose labels often name papers already known
        _bullet_mentions(p, reg)

    papers, by_draft = _freeze(reg.drafts)
    spans: dict[tuple[str, int], list[Span]] = defaultdict(list)
    for digest_id, idx, a, b, d in reg.spans:
        spans[(digest_id, idx)].append((a, b, by_draft[id(d)]))
    link_names(docs, papers, spans)
    inherit_in_groups(docs, spans)
    attach_urls(docs, papers, spans)
    if metadata:
        papers = join_metadata(papers, metadata, docs)
    papers = {pid: replace(p, attribution_issues=attribution_issues(p)) for pid, p in
              papers.items()}
    return PaperSet(papers, {k: sorted(set(v)) for k, v in spans.items()})


def _give_intro(intro: RawMention | None, found: list[RawMention], reg: _Registry) -> None:
    """Credit the authors of an intro paragraph ("Work by Ana Lopez et al. (MIT).") to the
    first paper the next paragraph names; with no such paper the intro stays a mention."""
    if intro is None:
        return
    first = next((m for m in found if m.kind in ("title", "name")), None)
    if first is not None and not first.authors:
        first.authors, first.institutions = intro.authors, first.institutions or intro.institutions
    else:
        reg.add(intro)


def _bullet_mentions(p, reg: _Registry) -> None:
    """A bullet "Label: body": the label names the paper unless the body quotes another title
    (then the label is a model or dataset of that paper) or the label is plain words over a
    body that names its paper ("Oncology: A and B present Title": a topic); a label that is
    only a short name takes the full title the body gives ("TimeMAE ...: ... introduce TimeMAE:
    Self-...") or starts with ("Sim2Real: Domain Randomization for ...: Researchers ...")."""
    body_start = p.text.find(":") + 1 if p.label else 0
    found = [m for m in passage_mentions(p) if m.end > body_start]  # not inside the label
    title, short = label_name(p.label) if p.label else (None, None)
    quoted = [m for m in found if m.kind == "title" and m.how in ("quoted", "paren")]
    known = reg.find(title, short)
    titled = [m for m in found if m.kind == "title"]
    head = titled[0] if titled and not p.text[body_start:titled[0].start].strip() else None
    if short and is_name_like(short) and head and p.text[head.end:head.end + 1] == ":":
        head.title = f"{short}: {head.title}"  # "Sim2Real-Drive: Domain Randomization ...: ..."
        head.short_name = short
    elif (title or short) and not known and not (short and is_name_like(short)) and any(
            not normalize_title(m.title).startswith(normalize_title(title or short))
            for m in titled):
        title = short = None  # "Oncology Outcomes: Sofia Rossi ... present Federated ...":
        # a plain-word label over a body that names its paper is a topic, not a paper
    if not (title or short) or (quoted and not known):
        for m in found:
            reg.add(m)
        if quoted and short and not reg.find(None, short):
            owner = reg.find(quoted[0].title, None)
            if owner is not None and not owner.short_names and \
                    normalize_title(quoted[0].title).startswith(short.lower()):
                owner.short_names.append(short)
        return
    lm = RawMention(p.digest_id, p.index, 0, len(p.text), title=title or short, kind="label",
                    short_name=short)
    cue_titles = [m for m in found if m.kind == "title"]
    if not title and cue_titles and not known:  # label is a short name, the body the title
        lm.title, lm.kind = cue_titles[0].title, "title"
    for m in found:
        if m.kind == "title" and m.how in ("quoted", "paren") and known and \
                not known.matches(m.title, None):
            reg.add(m)  # another paper quoted inside this bullet
            continue
        lm.authors = lm.authors or m.authors
        lm.institutions = lm.institutions or m.institutions
    if not lm.institutions:  # "- Title: Researchers at the University of Zurich fly ..."
        teams = team_institutions(p.text[body_start:])
        lm.institutions = teams[0][1] if teams else []
    reg.add(lm)


def _freeze(drafts: list[_Draft]) -> tuple[dict[str, Paper], dict[int, str]]:
    papers: dict[str, Paper] = {}
    by_draft: dict[int, str] = {}
    for d in drafts:
        pid = base = slugify(d.title)
        n = 2
        while pid in papers:
            pid, n = f"{base}-{n}", n + 1
        short = next((s for s in d.short_names if is_name_like(s)), None) or (
            d.short_names[0] if d.short_names else None)
        papers[pid] = Paper(id=pid, title=d.title, short_name=short, authors=tuple(d.authors),
                            institutions=tuple(d.institutions), mentions=tuple(d.mentions))
        by_draft[id(d)] = pid
    return papers, by_draft
