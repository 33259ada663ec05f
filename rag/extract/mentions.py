"""Mentions: find where a digest passage names a paper, and what it says about it.

Digests name papers in a handful of ways: quoted titles (“Title” by Authors), titles after a
cue ("in their paper Title,", "Authors from X in Title,", "introduce Title, a ..."), titles in
parentheses after authors, bullet labels ("- DeepCORO-CLIP: ..."), short names ("introduces
HATL, which"), author groups ("Yoo et al.", "Nada Shahin and Leila Ismail (United Arab Emirates
University)") and arXiv links. The finders live in :mod:`rag.extract.titles` (titles, short names,
labels), :mod:`rag.extract.authors` (author groups, institutions) and :mod:`rag.urls`; this module
pairs their finds, one :class:`RawMention` per paper per sentence or bullet, which
:mod:`rag.extract.papers` merges into papers: authors named in the sentence after an unattributed
title are its authors, and "Work by X et al." introduces the paper named next. "FedX : Title"
is read as "FedX: Title". :func:`digest_finds` gathers what one digest says on its own (its
paragraphs' mentions in merge order, and what each bullet's label and body name), which
depends on no other digest and so is cached per digest (:mod:`rag.extract.cache`). The
finders' names are re-exported here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from rag.dates import MONTH
from rag.extract.authors import (
    NAME_LIST,
    find_author_groups,
    institutions_after,
    possessive_institutions,
    team_institutions,
)
from rag.extract.titles import (
    find_short_names,
    find_titles,
    initials_in,
    label_name,
)
from rag.lexicon import INSTITUTION_WORDS, is_name_like, looks_like_title
from rag.text import normalize_title, split_sentences
from rag.urls import arxiv_id_of

__all__ = [
    "RawMention", "passage_mentions", "colon_short_name", "intro_mention", "sentence_mentions",
    "BulletFinds", "DigestFinds", "digest_finds",
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
    intro: bool = False  # "Work by X et al.": authors that introduce the paper named next


_INTRO = re.compile(r"\W*(?i:(?:new |recent |related |other )?(?:work|research|a paper|a study|"
                    r"papers?|study|a team|a group)\s+(?:by|from|led by)\s)")
_SPACED_COLON = re.compile(r"(?<=\S) : (?=\S)")
_CITATION_YEAR = re.compile(r",?\s*(?:19|20)\d\d[a-z]?\s*[;)]")


def colon_short_name(title: str) -> str | None:
    """The short name a "Name: Rest of the Title" (or "Name : ...") title starts with: a coined
    word of a head of at most three words ("FedX: Handling Label Skew" -> "FedX")."""
    if ":" not in title:
        return None
    pre = title.split(":")[0].strip()
    if len(pre.split()) > 3:
        return None
    names = [w for w in pre.split() if is_name_like(w)] or ([pre] if len(pre.split()) == 1
                                                            else [])
    return names[0] if names else None


def sentence_mentions(text: str, digest_id: str, index: int) -> list[RawMention]:
    """Mentions in a paragraph: titles paired with the nearest author group of their sentence,
    author groups with no title (named by a coined name when the sentence has one)."""
    spans = split_sentences(text)
    out: list[RawMention] = []
    pending: RawMention | None = None  # authors whose title comes in the next sentence
    pending_at = -2  # the sentence that left them pending
    prev_titles: list[RawMention] = []  # the previous sentence's titles without authors
    for n, (a, b) in enumerate(spans):
        s = _SPACED_COLON.sub(":  ", text[a:b])  # "FedX : Title" read as "FedX: Title"
        # "since GraphCast (Lam et al., 2023)": a citation of an older work, not a paper here
        authors = [g for g in find_author_groups(s) if not (
            s[:g[0]].rstrip().endswith("(") and _CITATION_YEAR.match(s, g[1]))]
        titles = find_titles(s, authors)
        shorts = find_short_names(s)
        taken: set[int] = set()
        sentence_out: list[RawMention] = []
        for ta, tb, title, how in titles:
            title = " ".join(title.split())
            rm = RawMention(digest_id, index, a + ta, a + tb, title=title, how=how)
            best = None
            for i, (ga, gb, _g) in enumerate(authors):
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
            elif pending is not None and (pending.intro or _names_nothing(pending) and (
                    pending_at == n - 1) or re.search(
                    r"\btheir (paper|work)\b|\bthis (method|work)", s, re.I)):
                # "Ana Lopez et al. (MIT) revisit X. In Title, they ...": the authors of the
                # sentence before, which named no paper, wrote the title of this one
                rm.authors, rm.institutions = pending.authors, pending.institutions
                pending = None
            else:
                close = tb + 1 if s[tb:tb + 1] in "”\"" else tb
                rm.institutions = institutions_after(s, close)[0]
            rm.short_name = colon_short_name(title)
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
            elif not titles and len(prev_titles) == 1 and len(s[:ga].split()) <= 2:
                # "... meets training in FedX: Title. Ana Lopez and Bo Chen (MIT) store ...":
                # the subject of the sentence after an unattributed title wrote it
                # (the title's sentence may have named their institutions: "researchers from X")
                prev_titles[0].authors = rm.authors
                prev_titles[0].institutions = rm.institutions or prev_titles[0].institutions
                prev_titles = []
                continue
            rm.intro = not titles and bool(_INTRO.match(s))
            sentence_out.append(rm)
            pending, pending_at = rm, n
        teams = team_institutions(s)
        for rm in sentence_out if teams else ():  # "researchers from A, B and C propose ..."
            if not rm.institutions:
                rm.institutions = min(teams, key=lambda x: abs(a + x[0] - rm.start))[1]
        if titles and shorts:
            for rm in sentence_out:
                if rm.kind == "title" and not rm.short_name:
                    rm.short_name = min(shorts, key=lambda x: abs(a + x[0] - rm.start))[1]
                    break
        out.extend(sentence_out)
        prev_titles = [m for m in sentence_out if m.kind == "title" and not m.authors]
    _later_short_names(text, out)
    # a mention made only of authors whose paper is named in the next sentence is merged
    return [m for m in out if not (m.kind == "authors" and any(
        o is not m and o.authors == m.authors and o.kind == "title" for o in out))]


def _later_short_names(text: str, found: list[RawMention]) -> None:
    """A title given without a coined name gets the first coined name written after it in the
    passage whose capitals are its words' initials, in order ("... Domain-Agnostic Teachers
    for ... . VLTeach averages 63.7%"), unless another mention of the passage has that name."""
    taken = {m.short_name for m in found if m.short_name}
    # a name inside a link ("github.com/x/Cheby-PINNs") is not written in the text
    text = re.sub(r"\S*(?:https?://|www\.)\S*", lambda u: " " * len(u.group()), text)
    for m in found:
        if m.kind != "title" or m.short_name or not m.title:
            continue
        # a sentence's subject ("... . VLTeach averages"), coined ("VL", "oR": not "Multi-Cancer")
        for w in re.finditer(r"(?:^|[.!?]\s+)(?:(?:The|Their|Its)\s+)?([A-Za-z][\w\-]{2,})",
                             text[m.end:]):
            name = w.group(1)
            if name not in taken and re.search(r"[a-z][A-Z]|[A-Z]{2}", name) and \
                    name not in m.title and initials_in(name, m.title):
                m.short_name = name
                taken.add(name)
                break


def _names_nothing(m: RawMention) -> bool:
    """An author group whose sentence named no paper (no title, no coined name)."""
    return m.kind == "authors" and not m.title and not m.short_name


def intro_mention(text: str, digest_id: str, index: int) -> RawMention | None:
    """The authors of a line that only introduces a paper ("Work by Ana Lopez et al. (MIT)",
    a heading or a short paragraph), or None."""
    if not _INTRO.match(text) or find_titles(text, find_author_groups(text)):
        return None
    groups = find_author_groups(text)
    if not groups:
        return None
    a, b, g = groups[0]
    return RawMention(digest_id, index, 0, 0, kind="authors", authors=g, intro=True,
                      institutions=institutions_after(text, b)[0])


def passage_mentions(p) -> list[RawMention]:
    """The mentions of a passage: :func:`sentence_mentions` plus the titles its arXiv links
    and its emphasis give. "<a href=arxiv.org/abs/...>Why frozen encoders generalise</a>" names
    a paper even in sentence case, and a span set in bold or italics that reads as a title
    ("*k-Space Diffusion for Faster MRI*") is one, with exactly those words; an author group of
    the same sentence that named no title is its authors."""
    text = p.text
    if p.label and text.startswith(p.label):  # the label is read by label_name, not here
        text = " " * len(p.label) + text[len(p.label):]
    found = sentence_mentions(text, p.digest_id, p.index)
    cursor = 0
    for link in p.links:
        title = link.text.strip()
        a = p.text.find(title, cursor) if title else -1
        if a < 0:
            continue
        cursor = a + len(title)
        plain = INSTITUTION_WORDS.sub("Work", title)  # "... for Hospital Hardware" linked to arXiv
        if not arxiv_id_of(link.url) or not (looks_like_title(plain) or
                                             looks_like_title(plain, strict=False)):
            continue
        _name_span(p, found, a, title, "link")
    cursor = 0
    for span in p.emphasis:
        title = span.strip().rstrip(".,;")
        a = p.text.find(title, cursor) if title else -1
        if a < 0:
            continue
        cursor = a + len(title)
        if _emphasised_title(title) and not (p.label and a < len(p.label) and
                                             a + len(title) <= len(p.label) + 1):
            _name_span(p, found, a, title, "emph")  # "**4D-Flow: Title**" a label heads too
    return sorted(found, key=lambda m: m.start)


def _emphasised_title(t: str) -> bool:
    """Bold or italic words that read as a paper's title: four words or more, Title Case
    (a lowercase first letter allowed: "k-Space ..."), not a label ("Datasets this week:")."""
    words = t.split()
    return len(words) >= 4 and not t.endswith(":") and \
        looks_like_title(t[0].upper() + t[1:]) and not _NOT_TITLE_LEAD.match(t) and \
        not re.search(r"[.;!]\s", t) and not _A_DATE.search(t)  # page furniture, not titles


_A_DATE = re.compile(rf"(?i:\b{MONTH}\b\s+\d{{1,2}}|\b\d{{1,2}}\s+{MONTH}\b|\b\d{{4}}-\d\d-\d\d\b)")
# emphasised phrases that are run-in headings or asides, not titles
_NOT_TITLE_LEAD = re.compile(r"(?i:datasets?|benchmarks?|tools?|code|software|libraries|"
                             r"compute|resources|note|update|correction|editor)\b")


def _name_span(p, found: list[RawMention], a: int, title: str, how: str) -> None:  # noqa: ANN001
    """Record that ``title`` (at ``a`` in the passage) names a paper: the one mention found
    there takes its exact words; else the authors of its sentence that named no title are
    its authors; else it is a mention of its own."""
    b = a + len(title)
    over = [m for m in found if m.start < b and m.end > a]
    inside = [m for m in over if m.kind == "title" and a <= m.start and m.end <= b + 1]
    if how == "emph" and len(inside) > 1 and len(inside) == len(over):
        # "*Is It Safe? A Study of X*" read as two titles: the emphasis says it is one
        keep = next((m for m in inside if m.authors), inside[0])
        for m in inside:
            if m is not keep:
                found.remove(m)
        over = [keep]
    if over:  # already named there; these words are the title when they are one
        m = over[0]
        if m.kind == "title" and m.title and m.title != title and len(title.split()) >= 4 \
                and looks_like_title(title[0].upper() + title[1:]) and len(over) == 1:
            m.title, m.start, m.end = title, min(a, m.start), max(b, m.end)
            m.short_name = colon_short_name(title) or m.short_name
        elif how == "emph" and m.kind in ("authors", "name") and len(over) == 1:
            m.title, m.kind, m.how = title, "title", how
            m.short_name = colon_short_name(title) or m.short_name
            m.start, m.end = min(a, m.start), max(b, m.end)
        return
    s0, s1 = next(((x, y) for x, y in split_sentences(p.text) if x <= a < y), (0, len(p.text)))
    owner = next((m for m in found if m.kind in ("authors", "name") and s0 <= m.start < s1),
                 None)
    if owner is not None:
        owner.title, owner.kind, owner.how = title, "title", how
        owner.short_name = colon_short_name(title) or owner.short_name
        owner.start, owner.end = min(a, owner.start), max(b, owner.end)  # title + authors
    else:
        found.append(RawMention(p.digest_id, p.index, a, b, title=title, how=how,
                                short_name=colon_short_name(title),
                                institutions=institutions_after(p.text, b)[0]
                                if how == "emph" else []))


@dataclass
class BulletFinds:
    """What one bullet ("Label: body") names, before knowing the other digests' papers."""

    index: int  # passage index
    length: int  # of the passage text: a label's mention spans the whole bullet
    found: list[RawMention]  # mentions of the body (a "Name: Title" head already joined)
    title: str | None  # what the label gives (rag.extract.titles.label_name)
    short: str | None
    topic: bool  # a plain-word label over a body naming another title: a topic unless known
    teams: list[str]  # institutions of the unnamed researchers of the body


@dataclass
class DigestFinds:
    """The mentions of one digest: paragraphs' in the order they are merged, then bullets'."""

    digest_id: str
    mentions: list[RawMention]
    bullets: list[BulletFinds]


def digest_finds(doc) -> DigestFinds:
    """Read one digest (a :class:`rag.corpus.ingest.LoadedDigest`) on its own: each paragraph's
    mentions, an intro ("Work by X et al.", a heading or the end of a paragraph) given to the
    first paper named after it, and each bullet's :class:`BulletFinds`."""
    mentions: list[RawMention] = []
    bullets: list[BulletFinds] = []
    carry: RawMention | None = None  # "Work by X et al." closing a paragraph
    section = ""
    for p in doc.passages:
        if p.kind == "bullet":
            bullets.append(bullet_finds(p))
            continue
        heading = ""
        if p.section != section:  # a heading "Work by X et al." introduces what follows
            section = heading = p.section
            carry = carry or intro_mention(section, p.digest_id, p.index)
        if _front_matter(p.text):
            continue
        found = passage_mentions(p)
        _heading_title(heading, p.text, found)
        _give_intro(carry, found, mentions)
        carry = None
        if found and found[-1].intro and found[-1].kind == "authors":
            carry = found.pop()  # its paper is named in the next paragraph
        mentions.extend(found)
    _give_intro(carry, [], mentions)
    own = normalize_title(doc.digest.title or "")  # the post's own title, repeated as a heading
    mentions = [m for m in mentions if not (m.title and normalize_title(m.title) == own)]
    return DigestFinds(doc.digest.id, mentions, bullets)


def _front_matter(text: str) -> bool:
    """A "---" block of "key: value" lines (a page's own title and layout), not a passage."""
    return bool(re.match(r"---\s", text)) and len(re.findall(
        r"(?:^|\s)(?:layout|title|date|author|tags|categories|permalink):\s", text)) >= 2


def _heading_title(heading: str, text: str, found: list[RawMention]) -> None:
    """A heading that is a title ("### Sparse Adapters for Tabular Transformers") over a
    paragraph that opens with its authors and names no title: the authors' title."""
    if not heading or len(heading.split()) < 4 or re.search(r"[·|•]", heading) or \
            not looks_like_title(heading) or any(m.kind == "title" for m in found):
        return
    first_end = next((b for _, b in split_sentences(text)), len(text))
    lead = next((m for m in found if m.kind in ("authors", "name") and m.start < first_end
                 and m.authors and len(text[:m.start].split()) <= 4), None)
    if lead is not None:
        lead.title, lead.kind, lead.how = heading.strip(), "title", "heading"
        lead.short_name = colon_short_name(lead.title) or lead.short_name


def _give_intro(intro: RawMention | None, found: list[RawMention],
                out: list[RawMention]) -> None:
    """Credit the authors of an intro paragraph ("Work by Ana Lopez et al. (MIT).") to the
    first paper the next paragraph names; with no such paper the intro stays a mention."""
    if intro is None:
        return
    first = next((m for m in found if m.kind in ("title", "name")), None)
    if first is not None and not first.authors:
        first.authors, first.institutions = intro.authors, first.institutions or intro.institutions
    else:
        out.append(intro)


def bullet_finds(p) -> BulletFinds:
    """What a bullet names by itself: its body's mentions (a "Name: Title" head joined when
    the label is the short name: "Sim2Real-Drive: Domain Randomization ...: ..."), the label's
    title or short name, whether the label reads as a topic, and the body's teams."""
    body_start = p.text.find(":") + 1 if p.label else 0
    found = [m for m in passage_mentions(p) if m.end > body_start]  # not inside the label
    title, short = label_name(p.label) if p.label else (None, None)
    intro = intro_mention(p.label, p.digest_id, p.index) if p.label else None
    if intro is not None:  # "- Work by Ana Lopez et al. (MIT): Title. ...": the title's authors
        title = short = None
        _give_intro(intro, found, [])
    if p.label and not (title or short) and not p.label.lower().startswith("code"):
        # "Benchmarks: ...", "Platforms: ...": a resource list, whose cited authors ("the
        # suite of Ivanov et al.") are credited for something it lists, not a paper of theirs,
        # and whose runs of names ("Jetson Orin and Raspberry Pi 5") are the things listed
        found = [m for m in found if m.kind != "authors" and not (
            m.kind == "title" and m.how == "run" and NAME_LIST.fullmatch(m.title or ""))]
    titled = [m for m in found if m.kind == "title"]
    head = titled[0] if titled and not p.text[body_start:titled[0].start].strip() else None
    named = bool(short and is_name_like(short))
    if named and head and not normalize_title(head.title).startswith(normalize_title(short)):
        # "- GraspNet-3: Learning Dexterous Grasps ..., by ...": the name heads the title
        head.title = f"{short}: {head.title}"
        head.short_name = short
    topic = bool((title or short) and not named and any(
        not normalize_title(m.title).startswith(normalize_title(title or short))
        for m in titled))
    teams = team_institutions(p.text[body_start:])
    return BulletFinds(p.index, len(p.text), found, title, short, topic,
                       teams[0][1] if teams else [])
