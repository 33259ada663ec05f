"""Papers: merge the mentions of every digest into one record per paper, link passages to
papers, and join the arXiv metadata snapshot by title.

Input: parsed digests (:mod:`rag.ingest`). Output: a :class:`PaperSet` holding the
:class:`~rag.records.Paper` records and, for every passage, the character spans where it names
each paper, which :mod:`rag.chunk` uses to keep chunks to one paper.
"""

from __future__ import annotations

import json
import logging
import re
from collections import defaultdict
from dataclasses import dataclass, field, replace
from pathlib import Path

from .attribution import attribution_issues
from .ingest import LoadedDigest
from .mentions import (
    RawMention,
    arxiv_id_of,
    classify_url,
    find_urls,
    is_name_like,
    label_name,
    looks_like_title,
    sentence_mentions,
)
from .records import Mention, Paper
from .sources import PaperText
from .text import (
    normalize_title,
    slugify,
    split_sentences,
    strip_accents,
    title_similarity,
    tokenize,
)

log = logging.getLogger(__name__)

Span = tuple[int, int, str]  # (start, end, paper_id) within a passage's text


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
        names = {s.lower() for s in self.short_names}
        if short and short.lower() in names:
            return True
        if title and title.lower() in names:
            return True
        return bool(short and self.title.lower() == short.lower())

    def absorb(self, m: RawMention) -> None:
        rank = {"title": 3, "label": 2, "name": 1, "authors": 0}
        if m.title and (rank[m.kind] > rank[self.kind] or (
                rank[m.kind] == rank[self.kind] and len(m.title) > len(self.title)
                and normalize_title(m.title).startswith(normalize_title(self.title)))):
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


def _same_title(a: str, b: str) -> bool:
    na, nb = normalize_title(a), normalize_title(b)
    if na == nb:
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

    def find(self, title: str | None, short: str | None) -> _Draft | None:
        if not (title or short):
            return None
        return next((d for d in self.drafts if d.matches(title, short)), None)

    def add(self, m: RawMention, start: int | None = None, end: int | None = None) -> _Draft:
        d = self.find(m.title, m.short_name)
        if d is None and m.kind == "authors":
            d = next((x for x in self.drafts if m.authors in x.authors and any(
                y.digest_id == m.digest_id for y in x.mentions)), None)
        if d is None:
            d = _Draft(m.title or f"Work by {m.authors}", m.kind)
            self.drafts.append(d)
        d.absorb(m)
        self.spans.append((m.digest_id, m.passage_index,
                           m.start if start is None else start, m.end if end is None else end, d))
        return d


def extract_papers(docs: list[LoadedDigest], metadata: list[dict] | None = None) -> PaperSet:
    """Find, merge and link the papers of a corpus; join ``metadata`` (arXiv records) by title."""
    reg = _Registry()
    bullets = []
    for doc in docs:  # pass 1: paragraphs, which carry the fullest titles
        for p in doc.passages:
            if p.kind == "bullet":
                bullets.append(p)
                continue
            for m in passage_mentions(p):
                reg.add(m)
    for p in bullets:  # pass 2: bullets, whose labels often name papers already known
        _bullet_mentions(p, reg)

    papers, by_draft = _freeze(reg.drafts)
    spans: dict[tuple[str, int], list[Span]] = defaultdict(list)
    for digest_id, idx, a, b, d in reg.spans:
        spans[(digest_id, idx)].append((a, b, by_draft[id(d)]))
    _link_names(docs, papers, spans)
    _inherit_in_groups(docs, spans)
    _attach_urls(docs, papers, spans)
    if metadata:
        papers = join_metadata(papers, metadata, docs)
    papers = {pid: replace(p, attribution_issues=attribution_issues(p)) for pid, p in
              papers.items()}
    return PaperSet(papers, {k: sorted(set(v)) for k, v in spans.items()})


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


def _bullet_mentions(p, reg: _Registry) -> None:
    """A bullet "Label: body": the label names the paper unless the body quotes another title
    (then the label is a model or dataset of that paper); a label that is only a short name
    takes the full title the body gives ("TimeMAE ...: ... introduce TimeMAE: Self-...")."""
    body_start = p.text.find(":") + 1 if p.label else 0
    found = [m for m in passage_mentions(p) if m.start >= body_start]
    title, short = label_name(p.label) if p.label else (None, None)
    quoted = [m for m in found if m.kind == "title" and m.how in ("quoted", "paren")]
    known = reg.find(title, short)
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


def _link_names(docs: list[LoadedDigest], papers: dict[str, Paper],
                spans: dict[tuple[str, int], list[Span]]) -> None:
    """Link passages that name a paper only by its short name ("MoLRE", "T-PaiNN’s")."""
    names = [(p.short_name, pid) for pid, p in papers.items()
             if p.short_name and len(p.short_name) >= 3 and is_name_like(p.short_name)]
    for doc in docs:
        for p in doc.passages:
            for name, pid in names:
                for m in re.finditer(rf"(?<![\w/-]){re.escape(name)}(?![\w-])", p.text):
                    spans[(p.digest_id, p.index)].append((m.start(), m.end(), pid))
                    _add_mention(papers, pid, p.digest_id, p.index)


def _add_mention(papers: dict[str, Paper], pid: str, digest_id: str, index: int) -> None:
    paper = papers[pid]
    if not any(m.digest_id == digest_id and m.passage_index == index for m in paper.mentions):
        papers[pid] = replace(paper, mentions=paper.mentions + (Mention(digest_id, index),))


def _inherit_in_groups(docs: list[LoadedDigest], spans: dict[tuple[str, int], list[Span]]) -> None:
    """Bullets of a group ("Efficient Transfer Learning: Frameworks / Datasets / Code") that
    name no paper belong to the group's paper when the group names exactly one."""
    for doc in docs:
        groups: dict[str, list[int]] = defaultdict(list)
        for p in doc.passages:
            if p.kind == "bullet" and "›" in p.section:
                groups[p.section].append(p.index)
        for idxs in groups.values():
            named = {pid for i in idxs for (_, _, pid) in spans.get((doc.digest.id, i), [])}
            if len(named) == 1:
                pid = next(iter(named))
                for i in idxs:
                    if not spans.get((doc.digest.id, i)):
                        spans[(doc.digest.id, i)].append((0, len(doc.passages[i].text), pid))


def _passage_urls(p) -> list[tuple[int, int, str, str]]:
    """(start, end, url, kind) of the URLs of a passage: those written in its text and the
    hrefs of its links (HTML <a>, markdown [text](url)), located at their link text."""
    out = [(pos, pos + len(url), url, kind) for pos, url, kind in find_urls(p.text)]
    seen = {url for _, _, url, _ in out}
    cursor = 0
    for link in p.links:
        url = link.url.strip()
        if not url.lower().startswith(("http://", "https://")) or url in seen:
            continue
        seen.add(url)
        pos = p.text.find(link.text, cursor) if link.text else -1
        if pos < 0:
            pos, end = len(p.text), len(p.text)  # text not found: treat as trailing
        else:
            end = pos + len(link.text)
            cursor = end
        out.append((pos, end, url, classify_url(url, f"{p.text[:pos]} {link.text} ")))
    return sorted(out)


def _attach_urls(docs: list[LoadedDigest], papers: dict[str, Paper],
                 spans: dict[tuple[str, int], list[Span]]) -> None:
    """Give every URL (written out or behind a link) to the paper whose naming the link text
    is, else to the paper named closest before it in its passage (arXiv URLs become arXiv
    ids); a URL in a passage that names no paper ("Code: github.com/x/Cheby-PINNs") goes to
    the paper of the same digest whose title its repository name abbreviates."""
    for doc in docs:
        in_digest = [pid for pid, p in papers.items() if doc.digest.id in p.digest_ids]
        for p in doc.passages:
            here = sorted(spans.get((p.digest_id, p.index), []))
            for pos, end, url, kind in _passage_urls(p):
                inside = [s for s in here if s[0] < end and s[1] > pos and end > pos]
                before = [s for s in here if s[0] <= pos]
                if inside:
                    pid = inside[0][2]
                else:
                    pid = max(before, key=lambda s: (s[0], -s[1]))[2] if before else (
                        here[0][2] if here else _repo_owner(url, in_digest, papers))
                if pid is None:
                    continue
                if not here:
                    spans[(p.digest_id, p.index)].append((0, len(p.text), pid))
                    _add_mention(papers, pid, p.digest_id, p.index)
                paper = papers[pid]
                if kind == "arxiv":
                    papers[pid] = replace(paper, arxiv_id=paper.arxiv_id or arxiv_id_of(url))
                    continue
                field_ = "data_urls" if kind == "data" else "code_urls"
                if url not in getattr(paper, field_):
                    papers[pid] = replace(paper, **{field_: getattr(paper, field_) + (url,)})


def _repo_owner(url: str, candidates: list[str], papers: dict[str, Paper]) -> str | None:
    repo = url.rstrip("/").removesuffix(".git").rsplit("/", 1)[-1]
    parts = [x for x in re.split(r"[-_.]", repo.lower()) if x]
    best = [pid for pid in candidates if parts and all(
        any(w.startswith(x) for w in normalize_title(papers[pid].title).split()) for x in parts)]
    return best[0] if len(best) == 1 else None


# ---------------------------------------------------------------- arXiv metadata


def load_metadata(folder: Path) -> tuple[list[dict], list[str]]:
    """Read every ``*.jsonl`` arXiv snapshot in ``folder``; bad lines become warnings."""
    records: list[dict] = []
    warnings: list[str] = []
    if not Path(folder).is_dir():
        return records, warnings
    for path in sorted(Path(folder).glob("*.jsonl")):
        for n, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(),
                                 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as err:
                warnings.append(f"{path.name} line {n}: not JSON ({err.msg}); line skipped.")
                continue
            if not isinstance(rec, dict) or not rec.get("title") or not rec.get("arxiv_id"):
                warnings.append(f"{path.name} line {n}: needs 'arxiv_id' and 'title'; skipped.")
                continue
            records.append(rec)
    merged: dict[str, dict] = {}  # one record per arXiv id: a snapshot line plus a cached
    for rec in records:           # abstract for the same paper become one record
        have = merged.setdefault(str(rec["arxiv_id"]), {})
        for k, v in rec.items():
            if v and not have.get(k):
                have[k] = v
    return list(merged.values()), warnings


def clean_author_list(authors: list) -> tuple[str, ...]:
    """Names only. A list carrying a snapshot note ('(not in excerpt; digest: ...)') or 'et al.'
    is not a real author list: it counts as unknown (empty), never as partial names."""
    names = [a.strip() for a in authors or [] if isinstance(a, str) and a.strip()]
    if any(re.search(r"[()]|not in excerpt|digest:|\bet al\b|full list", a, re.I)
           for a in names):
        return ()
    return tuple(names)


def match_metadata(paper: Paper, metadata: list[dict]) -> dict | None:
    """The one metadata record whose title is this paper's, or None (no match beats a wrong
    one): exact normalised title, a title that starts with the paper's (3+ words), or an
    arXiv title whose part before the colon is the paper's short name or label."""
    cands = {normalize_title(paper.title)}
    if paper.short_name:
        cands.add(normalize_title(paper.short_name))
        cands.add(normalize_title(f"{paper.short_name}: {paper.title}"))
    scored: list[tuple[float, dict]] = []
    for rec in metadata:
        nt = normalize_title(rec["title"])
        pre = normalize_title(rec["title"].split(":")[0])
        best = 0.0
        for c in cands:
            if not c:
                continue
            if c == nt:
                best = max(best, 1.0)
            elif c == pre and len(c) >= 4:
                best = max(best, 0.95)
            elif len(c.split()) >= 3 and nt.startswith(c + " "):
                best = max(best, 0.9)
            elif len(c) > 25 and title_similarity(c, nt, at_least=0.92) >= 0.92:
                best = max(best, 0.85)
        if best:
            scored.append((best, rec))
    if not scored:
        return None
    scored.sort(key=lambda x: -x[0])
    if len(scored) > 1 and scored[1][0] == scored[0][0]:
        return None  # ambiguous
    return scored[0][1]


def _first_author_key(name: str) -> tuple[str, str] | None:
    """(first initial, surname) of a full name, e.g. "C. Albors" -> ("c", "albors")."""
    parts = strip_accents(name).lower().replace(".", " ").split()
    if len(parts) < 2 or len(parts[-1]) < 2:
        return None
    return parts[0][0], parts[-1]


def match_by_authors(paper: Paper, metadata: list[dict], context: str) -> dict | None:
    """Fallback for papers the digest names without their title (PhyloGPN, ZeroHungerAI): the
    digest's first author (with a first name or initial, not just "Li et al.") must be the
    record's first author, the record must be the only such one, and the paper's passages must
    share at least two content words with the record's title."""
    words = set(tokenize(context))
    for written in paper.authors:
        first = re.split(r",|\band\b|\bet al\b", written)[0].strip()
        key = _first_author_key(first)
        if key is None:
            continue
        hits = [r for r in metadata if clean_author_list(r.get("authors", []))
                and _first_author_key(clean_author_list(r["authors"])[0]) == key]
        if len(hits) == 1 and len(words & set(tokenize(hits[0]["title"]))) >= 2:
            return hits[0]
    return None


def join_metadata(papers: dict[str, Paper], metadata: list[dict],
                  docs: list[LoadedDigest] | None = None) -> dict[str, Paper]:
    """Attach arXiv id, title and the real author list to the papers that match a record, by
    title first and, for papers named without a title, by first author and topic."""
    out = dict(papers)
    text = {(d.digest.id, p.index): p.text for d in docs or [] for p in d.passages}
    claims: dict[str, list[tuple[float, str]]] = defaultdict(list)
    for pid, paper in papers.items():
        rec = match_metadata(paper, metadata)
        score = 1.0
        if rec is None and docs:
            context = " ".join(text.get((m.digest_id, m.passage_index), "")
                               for m in paper.mentions)
            rec, score = match_by_authors(paper, metadata, context), 0.5
        if rec is None:
            continue
        if paper.arxiv_id and paper.arxiv_id != rec["arxiv_id"]:
            log.warning("paper %r: digest links arXiv %s but its title matches %s; kept the link",
                        paper.title, paper.arxiv_id, rec["arxiv_id"])
            continue
        claims[rec["arxiv_id"]].append((score, pid))
    records = {r["arxiv_id"]: r for r in metadata}
    for arxiv_id, who in claims.items():
        who.sort(reverse=True)
        if len(who) > 1 and who[0][0] == who[1][0]:
            log.warning("arXiv %s matches several papers (%s); left unmatched", arxiv_id,
                        ", ".join(pid for _, pid in who))
            continue
        pid, rec = who[0][1], records[arxiv_id]
        out[pid] = replace(out[pid], arxiv_id=arxiv_id, arxiv_title=rec["title"],
                           arxiv_authors=clean_author_list(rec.get("authors", [])))
    for pid, paper in out.items():  # abstracts fetched from arXiv (rag.arxiv's cache)
        rec = records.get(paper.arxiv_id or "")
        if rec and rec.get("abstract") and not paper.abstract:
            out[pid] = replace(paper, abstract=" ".join(str(rec["abstract"]).split()),
                               abstract_source="arXiv")
    return out


def attach_paper_texts(papers: dict[str, Paper], texts: list[PaperText]
                       ) -> tuple[dict[str, Paper], list[str]]:
    """Link each paper text (PDF, abstracts file) to its paper, by arXiv id or title; a text
    that matches no paper becomes a paper of its own. Returns (papers, owner id per text)."""
    out = dict(papers)
    owners: list[str] = []
    for t in texts:
        pid = next((p.id for p in out.values() if t.arxiv_id and p.arxiv_id == t.arxiv_id), None)
        if pid is None:
            rec = match_metadata(Paper("_", t.title), [
                {"arxiv_id": p.id, "title": p.arxiv_title or p.title} for p in out.values()])
            pid = rec["arxiv_id"] if rec else None
        if pid is None:
            pid = base = slugify(t.title)
            n = 2
            while pid in out:
                pid, n = f"{base}-{n}", n + 1
            out[pid] = Paper(id=pid, title=t.title, arxiv_id=t.arxiv_id,
                             arxiv_authors=t.authors)
        if t.abstract and not out[pid].abstract:
            out[pid] = replace(out[pid], abstract=t.abstract, abstract_source=t.origin)
        owners.append(pid)
    return out, owners
