"""Papers: merge the mentions of every digest into one record per paper and link passages to
papers.

Input: parsed digests (:mod:`rag.corpus.ingest`), whose passages :mod:`rag.extract.mentions` reads;
an intro ("Work by X et al." as a paragraph or heading) gives its authors to the paper named next,
and a title written with and without its "Name:" head, or by short name only, is one paper. Output:
a :class:`PaperSet` holding the :class:`~rag.records.Paper` records and, for every passage, the
character spans where it names each paper, which :mod:`rag.index.chunk` uses to keep chunks to one
paper. Linking by short name and URL is in :mod:`rag.extract.paper_links`; the arXiv metadata join
in :mod:`rag.extract.metadata`, whose names are re-exported here.

Linear and incremental: each digest is read on its own (:func:`rag.extract.mentions.digest_finds`,
cached by content hash in :mod:`rag.extract.cache`), and merging compares a mention only with
the papers that share a blocking key with it (normalised or headless title, short name, a
title of 3+ words that starts the other, three of its four longest words at a similar length
for near-identical titles), never with every paper found so far; ``PaperSet.stats`` counts
those comparisons. An author-only mention ("Work by X et al.") is looked up among the papers
of its own digest, where copies of one digest (the same passages under several file names)
count as one digest: N copies give the papers of one copy.
"""

from __future__ import annotations

import bisect
import hashlib
import json
import re
from collections import defaultdict
from dataclasses import dataclass, field, replace

from rag.corpus.ingest import LoadedDigest
from rag.extract.attribution import attribution_issues
from rag.extract.cache import ExtractCache, JoinMemo, passages_hash
from rag.extract.mentions import BulletFinds, RawMention, digest_finds
from rag.extract.metadata import (
    join_metadata,
)
from rag.extract.paper_links import WORD_RUN, Span, attach_urls, inherit_in_groups, link_names
from rag.extract.title_forms import exact_keys, index_keys, lookup_keys, same_title, title_words
from rag.lexicon import CONNECTORS, is_name_like
from rag.records import Mention, Paper
from rag.text import normalize_title, slugify

__all__ = ["PaperSet", "extract_papers"]


@dataclass
class PaperSet:
    """Every paper of a corpus plus, per (digest_id, passage_index), where each is named."""

    papers: dict[str, Paper]
    spans: dict[tuple[str, int], list[Span]] = field(default_factory=dict)
    stats: dict[str, int] = field(default_factory=dict)  # digests, mentions, comparisons

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
    order: int = 0  # creation order: the first of several matching drafts wins
    blocked: set[str] = field(default_factory=set)  # blocking keys it is indexed under
    indexed: tuple[str, int] = ("", -1)  # (title, number of short names) when last indexed

    def matches(self, title: str | None, short: str | None) -> bool:
        if title and same_title(self.title, title):
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


def _extends(longer: str, shorter: str) -> bool:
    """``longer`` is ``shorter`` with more words at its end or a "Name:" head at its start."""
    nl, ns = normalize_title(longer), normalize_title(shorter)
    return nl.startswith(ns) or (":" in longer and nl.endswith(" " + ns))


class _Registry:
    """Drafts plus the passage spans that name them, and the look-ups that find a draft.

    A title or short name is compared only with the drafts that share a blocking key with it:
    the same normalised title, headless title or short name, a title of 3+ words that is the
    other's start, or three of its four longest words at a similar length
    (:func:`rag.extract.titles.similar_title_keys`) for near-identical titles; an author-only
    mention only with the drafts of its own digest. ``exhaustive`` compares with every draft instead
    (the all-pairs reference the blocking is tested against)."""

    def __init__(self, exhaustive: bool = False) -> None:
        self.drafts: list[_Draft] = []
        self.spans: list[tuple[str, int, int, int, _Draft]] = []
        self.keys: dict[str, _Draft] = {}  # exact keys of every draft, for fast look-ups
        self.blocks: dict[str, list[_Draft]] = defaultdict(list)  # blocking key -> drafts
        self.by_digest: dict[str, list[_Draft]] = defaultdict(list)  # by digest content
        self.twin: dict[str, str] = {}  # digest id -> first digest id of the same content
        self.exhaustive = exhaustive
        self.comparisons = 0  # title / short-name comparisons of a mention with a draft

    def matches(self, d: _Draft, title: str | None, short: str | None) -> bool:
        """``d.matches``, counted."""
        self.comparisons += 1
        return d.matches(title, short)

    def find(self, title: str | None, short: str | None) -> _Draft | None:
        """The draft a title or short name names: an exact key first, else the first draft
        whose title is the same title written another way (prefix, near-identical)."""
        if not (title or short):
            return None
        for key in exact_keys(title, short):
            d = self.keys.get(key)
            if d is not None and self.matches(d, title, short):
                return d
        found = self.drafts if self.exhaustive else self._candidates(title, short)
        return next((d for d in found if self.matches(d, title, short)), None)

    def _candidates(self, title: str | None, short: str | None) -> list[_Draft]:
        """Every draft that can match (in creation order): see the class docstring."""
        keys = lookup_keys(title, short)
        found = {id(d): d for key in keys for d in self.blocks.get(key, ())}
        return sorted(found.values(), key=lambda d: d.order)

    def _index(self, d: _Draft) -> None:
        state = (d.title, len(d.short_names))
        if d.indexed == state:
            return  # nothing it is found by changed
        d.indexed = state
        names = [f"n:{x.lower()}" for x in d.short_names]
        for key in (*exact_keys(d.title, None), *names):
            self.keys.setdefault(key, d)
        keys = index_keys(d.title).union(names)
        for key in keys - d.blocked:
            self.blocks[key].append(d)
        d.blocked |= keys

    def add_short_name(self, d: _Draft, short: str) -> None:
        """Give a draft another short name (and index it under that name)."""
        d.short_names.append(short)
        self._index(d)

    def add(self, m: RawMention, start: int | None = None, end: int | None = None) -> _Draft:
        d = self.find(m.title, m.short_name)
        group = self.twin.get(m.digest_id, m.digest_id)  # copies of a digest are one digest
        if d is None and m.kind == "authors":
            here = self.drafts if self.exhaustive else self.by_digest.get(group, [])
            d = next((x for x in here if m.authors in x.authors and any(
                self.twin.get(y.digest_id, y.digest_id) == group for y in x.mentions)), None)
        if d is None:
            d = _Draft(m.title or f"Work by {m.authors}", m.kind, order=len(self.drafts))
            self.drafts.append(d)
        if not any(self.twin.get(y.digest_id, y.digest_id) == group for y in d.mentions):
            here = self.by_digest[group]
            here.insert(bisect.bisect([x.order for x in here], d.order), d)
        d.absorb(m)
        self._index(d)
        self.spans.append((m.digest_id, m.passage_index,
                           m.start if start is None else start, m.end if end is None else end, d))
        return d


def extract_papers(docs: list[LoadedDigest], metadata: list[dict] | None = None, *,
                   cache: ExtractCache | None = None, exhaustive: bool = False) -> PaperSet:
    """Find, merge and link the papers of a corpus; join ``metadata`` (arXiv records) by title.

    Each digest is read on its own (:func:`rag.extract.mentions.digest_finds`; taken from ``cache``
    when its text is unchanged, and stored there otherwise), then the finds of all digests are
    merged: paragraphs first, which carry the fullest titles, then bullets, whose labels often
    name papers already known. ``exhaustive`` compares every mention with every paper found so
    far and every paper with every metadata record (the quadratic reference path, for tests
    and benchmarks); the default compares each with the few that share a blocking key."""
    reg = _Registry(exhaustive)
    # an author-only mention is looked up among its own digest's papers, and the same text
    # under several file names is one digest: its "Work by X et al." is one paper, not one
    # per copy (each copy apart, the arXiv join found several claimants and matched none)
    first: dict[str, str] = {}  # passages hash -> first digest with those passages
    hashes = [passages_hash(doc) for doc in docs]
    for doc, h in zip(docs, hashes):
        twin = first.setdefault(h, doc.digest.id)
        if twin != doc.digest.id:
            reg.twin[doc.digest.id] = twin
    finds = [cache.finds(doc, h) if cache is not None else digest_finds(doc)
             for doc, h in zip(docs, hashes)]
    for f in finds:  # pass 1: paragraphs
        for m in f.mentions:
            reg.add(m)
    for doc, f in zip(docs, finds):  # pass 2: bullets
        labels = {p.index: (p.label or "", p.text) for p in doc.passages}
        for bullet in f.bullets:
            _merge_bullet(f.digest_id, bullet, reg, *labels.get(bullet.index, ("", "")))

    papers, by_draft = _freeze(reg.drafts)
    spans: dict[tuple[str, int], list[Span]] = defaultdict(list)
    for digest_id, idx, a, b, d in reg.spans:
        spans[(digest_id, idx)].append((a, b, by_draft[id(d)]))
    link_names(docs, papers, spans)
    inherit_in_groups(docs, spans)
    attach_urls(docs, papers, spans)
    memo = cache.joins(metadata or []) if cache is not None and not exhaustive else None
    if metadata:
        papers = join_metadata(papers, metadata, docs, exhaustive=exhaustive, memo=memo)
    papers = {pid: _with_issues(p, memo) for pid, p in papers.items()}
    stats = {"digests": len(docs), "mentions": len(reg.spans), "comparisons": reg.comparisons}
    return PaperSet(papers, {k: sorted(set(v)) for k, v in spans.items()}, stats)


_JSON = json.JSONEncoder(ensure_ascii=False)  # json.dumps(..., ensure_ascii=False), made once


def _with_issues(p: Paper, memo: JoinMemo | None) -> Paper:
    """``p`` with its attribution issues (itself when it has them already: most have none)."""
    found = _issues(p, memo)
    return p if found == p.attribution_issues else replace(p, attribution_issues=found)


def _issues(p: Paper, memo: JoinMemo | None) -> tuple[str, ...]:
    """:func:`rag.extract.attribution.attribution_issues` of a paper, from ``memo`` when a paper
    with the same authors, arXiv authors and institutions was checked in the last build."""
    if memo is None:
        return attribution_issues(p)
    key = "i" + hashlib.blake2b(_JSON.encode([p.authors, p.arxiv_authors, p.institutions])
                                .encode("utf-8", "surrogatepass"), digest_size=12).hexdigest()
    found = memo.get(key)
    if not isinstance(found, list):
        found = list(attribution_issues(p))
        memo.put(key, found)
    return tuple(found)


_PLAIN = frozenset("study paper work method approach model results experiments setup details "
                   "notes project".split())


def _described(label: str, drafts: list[_Draft]) -> _Draft | None:
    """The one paper of a digest a descriptive bullet label stands for ("Soil moisture study",
    "NR forecasting" for "Nowcasting Rainfall ... Soil Moisture ..."): all its words but one
    (two at least) start a word of the title or, in capitals, spell initials of its words."""
    words = [w for w in re.findall(r"[A-Za-z0-9]+", label)
             if w.lower() not in _PLAIN and w.lower() not in CONNECTORS]
    if len(words) < 2 or not re.search(r"[\s-][a-z]", label):
        return None  # a Title Case label ("Sparse Kernel Regression") names a paper of its own
    # (" word" to find at a word start of the spaced title, checked so, as initials)
    tests = [(" " + w.lower(), len(w) >= 3, w.isupper() and len(w) >= 2) for w in words]
    hits = []
    for d in drafts:
        spaced, initials = title_words(d.title)
        found = sum(1 for low, prefix, caps in tests
                    if (prefix and low in spaced) or (caps and low[1:] in initials))
        if found >= 2 and found >= len(words) - 1:
            hits.append(d)
    return hits[0] if len(hits) == 1 else None


def _about_another(label: str, text: str, drafts: list[_Draft]) -> bool:
    """A one-word plain label ("Ablations") over a body that names papers of the digest by
    their coined names ("... the X authors also run Y ..."): a topic, not a paper."""
    if len(label.split()) != 1 or is_name_like(label):
        return False
    names = [n for d in drafts for n in d.short_names if n != label and is_name_like(n)]
    if not names:
        return False
    body = text[len(label):]
    runs = set(WORD_RUN.findall(body))  # a name of word characters and hyphens is a whole run
    return any(n in runs if WORD_RUN.fullmatch(n) else
               re.search(rf"(?<![\w-]){re.escape(n)}(?![\w-])", body) for n in names)


def _merge_bullet(digest_id: str, b: BulletFinds, reg: _Registry, label: str = "",
                  text: str = "") -> None:
    """A bullet "Label: body": the label names the paper unless the body quotes another title
    (then the label is a model or dataset of that paper) or the label is plain words over a
    body that names its paper ("Oncology: A and B present Title": a topic) and no paper found
    so far bears it; a label that is only a short name takes the full title the body gives
    ("TimeMAE ...: ... introduce TimeMAE: Self-...") or starts with ("Sim2Real: Domain
    Randomization for ...: Researchers ...")."""
    title, short, found = b.title, b.short, b.found
    known = reg.find(title, short)
    here = reg.by_digest.get(reg.twin.get(digest_id, digest_id), [])
    if label and not known and not any(m.kind in ("title", "name") for m in found):
        # "- Soil moisture study: data at zenodo...": a paper of this digest, described
        d = _described(label, here)
        if d is not None:
            reg.add(RawMention(digest_id, b.index, 0, b.length, title=d.title, kind="label"))
            return
        if _about_another(label, text, here):
            title = short = None
    if b.topic and not known:
        title = short = None
    quoted = [m for m in found if m.kind == "title" and m.how in ("quoted", "paren")]
    if not (title or short) or (quoted and not known):
        for m in found:
            reg.add(m)
        if quoted and short and not reg.find(None, short):
            owner = reg.find(quoted[0].title, None)
            if owner is not None and not owner.short_names and \
                    normalize_title(quoted[0].title).startswith(short.lower()):
                reg.add_short_name(owner, short)
        return
    lm = RawMention(digest_id, b.index, 0, b.length, title=title or short, kind="label",
                    short_name=short)
    longer = [m.title for m in found if m.kind == "title" and title and m.title and
              len(m.title) > len(title) and normalize_title(m.title).startswith(
                  normalize_title(title))]
    if longer:  # "- Head of a Title: Rest of It ...": the label is the title's head
        lm.title, lm.kind = longer[0], "title"
    cue_titles = [m for m in found if m.kind == "title"]
    if not title and cue_titles and not known:  # label is a short name, the body the title
        lm.title, lm.kind = cue_titles[0].title, "title"
    for m in found:
        if m.kind == "title" and m.how in ("quoted", "paren") and known and \
                not reg.matches(known, m.title, None):
            reg.add(m)  # another paper quoted inside this bullet
            continue
        lm.authors = lm.authors or m.authors
        lm.institutions = lm.institutions or m.institutions
    if not lm.institutions:  # "- Title: Researchers at the University of Zurich fly ..."
        lm.institutions = list(b.teams)
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
