"""Query: read a question once into a :class:`~rag.records.Query` that every later stage takes.

:func:`parse` checks the text (empty, too long, not English) and reads, in one place, what the
rest of the pipeline needs: the words to search, the dates it implies (:mod:`rag.dates`), its
intent (a lookup, a list of papers, who wrote a paper, where its code is, a comparison, what
is new), whether it asks for code or arXiv links, the papers it names by short name or title,
the authors and institutions it names, and whether it leans on an earlier turn ("its code").
What it knows about the corpus (paper names, author and institution keys, which words are too
common to name a topic) comes from a :class:`Catalog`, built once per loaded index.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from rag.answer.name_keys import institution_keys, person_names
from rag.dates import read_dates
from rag.errors import QuestionError
from rag.index.paper_table import paper_names
from rag.lexicon import is_name_like
from rag.records import Digest, Paper, Query
from rag.text import normalize_title, strip_accents, tokenize

# Words that say what kind of answer is wanted rather than what it is about.
QUESTION_WORDS = frozenset(tokenize(
    "which what who whom whose where when how why there any paper papers work works study "
    "studies digest digests article articles mention mentioned cover covered discuss discussed "
    "say said tell me about find show shows use uses used using apply applies applied looking "
    "anything report reported reports bring brought item items concern concerns concerning "
    "deal deals dealt come came tied list lists listed appear appears appeared written wrote "
    "write put run runs roundup roundups issue issues edition post posts publish published "
    "propose proposed present presented describe described introduce introduced "
    "is are was were there their they that this these those one ones new newly recent "
    "recently latest featured according", stem=True))
GENERIC_DF = 0.05  # a term in more than this share of chunks says little about a topic
# Acronyms common enough that they name no particular paper.
COMMON_ACRONYMS = frozenset(
    "AI ML LLM LLMs NLP CV GPU GPUs CPU API CNN CNNs RNN GAN GANs MRI CT EEG ECG IoT IOT RL "
    "SOTA DL AGI QA RAG ID URL PDF OK USA UK EU II III".split())

_CODE = re.compile(r"\b(code(?![- ](?:generation|completion|synthesis|models?|llms?|review|"
                   r"search|translation|repair|editing|agents?|assistants?)\b)|github|repo|"
                   r"repository|repositories|implementation|source code|open[- ]source[d]?|"
                   r"notebook|package)\b", re.I)  # "code-generation papers": a topic, not code
_ARXIV = re.compile(r"\barxiv\b|\bpreprint\b|\bpaper link\b", re.I)
_WHO = re.compile(r"\bwho\b[^?]*\b(wrote|write|authored|author|authors|behind|developed|"
                  r"created|proposed|introduced|did|made|published)\b|\b(authors?|written by|"
                  r"authored by)\b[^?]*\b(of|behind)\b|\bwho are the authors\b|"
                  r"\b(which|what)\s+(institutions?|universit\w+|labs?|groups?|teams?)\b", re.I)
_LIST = re.compile(
    r"\b(which|what|list|name|any|all|show me|are there)\b[^?]{0,40}?\b(papers|works|studies|"
    r"projects|methods|approaches|articles|models|research|frameworks|datasets)\b|"
    r"\blist\b|\bname (all|every|the)\b|\b(all|every) (the )?(papers?|works?|studies)\b", re.I)
_SINGLE = re.compile(r"\b(which|what)\s+(one|paper|work|study|method|approach|article|model|"
                     r"framework)\b(?!s)", re.I)
_COMPARE = re.compile(r"\bcompar\w*\b|\bdifferen\w+\s+between\b|\bversus\b|\bvs\.?\b", re.I)
_SUMMARY = re.compile(r"\bwhat (did|do|does) (the )?[\w\s-]{0,40}?\b(digests?|roundups?|posts?|"
                      r"editions?|issues?)\b[^?]*\b(say|cover|report|mention|discuss)\b|"
                      r"\bwhat'?s new\b|\bwhat is new\b|\blatest\b|\brecent(ly)?\b", re.I)
# leaning on an earlier turn: possessives, demonstratives, bare pronouns, "what about ...?"
POSSESSIVE = re.compile(r"\b(its|their)\b", re.I)
DEMONSTRATIVE = re.compile(
    r"\b(?:this|that|these|those|the same|said)\s+(?:paper|papers|work|works|study|method|"
    r"model|approach|framework|one|ones|article|preprint|system|benchmark|dataset)\b", re.I)
PRONOUN = re.compile(r"\b(it|they|them)\b", re.I)
WHAT_ABOUT = re.compile(r"^(?:and\s+|so\s+|ok(?:ay)?,?\s+)?(?:what|how)\s+about\s+(.+?)\W*$",
                         re.I)
LEADING = re.compile(r"^(?:and|also|so|ok(?:ay)?|then|but)\b[\s,]*", re.I)
SELF_CONTAINED_WORDS = 5  # a question with this many content words carries its own topic
_WORD = re.compile(r"(?<![\w-])([A-Za-z][\w]*(?:-[\w]+)*)(?![\w-])")


def coined_names(text: str) -> list[str]:
    """Coined paper names in ``text`` ("ZACAF", "MoLRE", "T-PaiNN"), in order, no repeats: the
    one definition of a coined name that question reading, follow-ups and verification share."""
    out = []
    for w in _WORD.findall(text or ""):
        if w in COMMON_ACRONYMS or w.rstrip("s") in COMMON_ACRONYMS or not is_name_like(w):
            continue
        out.append(w)
    return list(dict.fromkeys(out))


def check_question(question: object, max_chars: int) -> tuple[str, tuple[str, ...]]:
    """The cleaned question and notes for the user; QuestionError when there is nothing to ask."""
    if not isinstance(question, str):
        raise QuestionError(f"The question must be text, not {type(question).__name__}.",
                            "pass a string")
    q = " ".join(question.split())
    if not q:
        raise QuestionError("The question is empty.", "type a question about the digests")
    notes: list[str] = []
    if len(q) > max_chars:
        q = q[:max_chars].rsplit(" ", 1)[0]
        notes.append(f"Your question was {len(question):,} characters; I used the first "
                     f"{len(q):,}.")
    letters = [c for c in q if c.isalpha()]
    latin = sum(1 for c in letters if "LATIN" in unicodedata.name(c, ""))
    if letters and latin / len(letters) < 0.5:
        notes.append("The digests and the search model are English: questions in English work "
                     "best.")
    return q, tuple(notes)


@dataclass
class Catalog:
    """What question reading knows about a corpus: its digests, paper names, author and
    institution keys, and how common each word is. Built once per loaded index."""

    digests: tuple[Digest, ...] = ()
    df: Counter = field(default_factory=Counter)  # term -> chunks holding it
    n_chunks: int = 0
    short_names: dict[str, set[str]] = field(default_factory=dict)  # lowercased -> paper ids
    titles: dict[str, set[str]] = field(default_factory=dict)  # first 4 title words -> ids
    full_titles: dict[str, str] = field(default_factory=dict)  # paper id -> normalised title
    surnames: dict[str, set[str]] = field(default_factory=dict)  # one-word name (cased) -> ids
    people: dict[str, set[str]] = field(default_factory=dict)  # full name (lower) -> ids
    institutions: dict[str, list[tuple[frozenset[str], str]]] = field(default_factory=dict)
    institution_heads: dict[str, set[str]] = field(default_factory=dict)  # "university of x"
    generic: frozenset[str] = frozenset()  # terms in more than GENERIC_DF of the chunks

    @classmethod
    def build(cls, digests: Iterable[Digest], papers: Mapping[str, Paper],
              chunk_terms: Iterable[Iterable[str]] = (),
              df: tuple[Mapping[str, int], int] | None = None) -> Catalog:
        """The catalog of a corpus; ``chunk_terms`` are the tokens of each chunk (for df), or
        ``df`` gives (term -> chunks holding it, number of chunks) directly."""
        cat = cls(tuple(sorted(digests, key=lambda d: (d.date or dt.date.min, d.id))))
        if df is not None:
            cat.df, cat.n_chunks = Counter(df[0]), df[1]
        for terms in chunk_terms:
            cat.df.update(set(terms))
            cat.n_chunks += 1
        cat.generic = frozenset(t for t, c in cat.df.items()
                                if c / max(1, cat.n_chunks) > GENERIC_DF)
        for p in paper_names(papers):  # a loaded index's table reads no paper for this
            pid = p.id
            if p.short_name and len(p.short_name) >= 3:
                cat.short_names.setdefault(p.short_name.lower(), set()).add(pid)
            norm = normalize_title(p.title)
            if len(norm.split()) >= 3:
                cat.full_titles[pid] = norm
                cat.titles.setdefault(" ".join(norm.split()[:4]), set()).add(pid)
            for written in (*p.authors, *p.arxiv_authors):
                for name in person_names(written):
                    if len(name.split()) == 1:
                        if len(name) >= 3:
                            cat.surnames.setdefault(name, set()).add(pid)
                    else:
                        person = strip_accents(name).lower()
                        cat.people.setdefault(person, set()).add(pid)
            for inst in p.institutions:
                for key in institution_keys(inst):
                    anchor = min(key, key=len)
                    cat.institutions.setdefault(anchor, []).append((key, pid))
                head = normalize_title(inst.split(",")[0])
                if "," in inst and len(head.split()) >= 3:  # "University of California, Irvine"
                    cat.institution_heads.setdefault(head, set()).add(pid)
        return cat

    def topic_words(self, text: str) -> str:
        """``text`` without question words and corpus-generic words: what it is about."""
        words = re.findall(r"[\w'-]+", text)
        return " ".join(w for w in words if (ts := tokenize(w)) and all(
            t not in QUESTION_WORDS and t not in self.generic for t in ts))

    def named(self, text: str) -> tuple[list[str], list[str], list[str]]:
        """(paper ids named by short name or title, by an author, by an institution)."""
        by_name: list[str] = []
        raw = re.findall(r"[\w&-]+", strip_accents(text))
        for w in raw:
            by_name += sorted(self.short_names.get(w.lower(), ()))
        norm = normalize_title(text)
        words = norm.split()
        for i in range(len(words) - 3):
            for pid in sorted(self.titles.get(" ".join(words[i:i + 4]), ())):
                if self.full_titles[pid] in norm or len(words) - i >= 6:
                    by_name.append(pid)
        by_author: list[str] = []
        for w in raw:
            if w in self.surnames:  # a bare surname: as written, case included
                by_author += sorted(self.surnames[w])
        low = strip_accents(text).lower()
        lw = re.findall(r"[\w'-]+", low)
        for n in (2, 3, 4):
            for i in range(len(lw) - n + 1):
                by_author += sorted(self.people.get(" ".join(lw[i:i + n]), ()))
        parts = [p for w in raw if "-" in w for p in w.split("-") if p]  # "Harvard-affiliated"
        keys = {w.lower() for w in raw + parts} | {w for w in raw + parts if w.isupper()}
        by_inst: list[str] = []
        for head, ids in self.institution_heads.items():
            if f" {head} " in f" {norm} ":
                by_inst += sorted(ids)
        for w in keys:
            for key, pid in self.institutions.get(w, ()):
                if key <= keys:
                    by_inst.append(pid)
        return (list(dict.fromkeys(by_name)), list(dict.fromkeys(by_author)),
                list(dict.fromkeys(by_inst)))


def intent_of(text: str, named: bool) -> str:
    """lookup | list | who | code | compare | time, from the question's wording."""
    if _WHO.search(text):
        return "who"
    if _COMPARE.search(text):
        return "compare"
    listy = bool(_LIST.search(text)) and not _SINGLE.search(text)
    if _CODE.search(text) and not listy:
        return "code"
    if listy:
        return "list"
    if _SUMMARY.search(text) and not named:
        return "time"
    return "lookup"


def refers_back(text: str, names: list[str]) -> bool:
    """Whether the question leans on the previous turn (pronoun, demonstrative, ellipsis)."""
    q = text.strip()
    if WHAT_ABOUT.match(q) or DEMONSTRATIVE.search(q):
        return True
    rest = LEADING.sub("", q)
    own_topic = len(set(tokenize(PRONOUN.sub(" ", POSSESSIVE.sub(" ", q))))) \
        >= SELF_CONTAINED_WORDS
    if POSSESSIVE.search(q):
        return rest != q or not own_topic
    if names:  # "is ZACAF open source?" names its subject
        return False
    if PRONOUN.search(q):
        return rest != q or not own_topic
    return rest != q and len(rest.split()) <= 4


def parse(text: object, catalog: Catalog | None = None, *, max_chars: int = 2000,
          since: dt.date | None = None, until: dt.date | None = None,
          digest: str | None = None, has_code: bool | None = None) -> Query:
    """Read ``text`` once into a :class:`Query`. Explicit filters win over what the question
    implies; dates without a year take the newest digest's year, and relative phrases ("last
    week's digest") count from the newest digest."""
    catalog = catalog or Catalog()
    q, notes = check_question(text, max_chars)
    found = read_dates(q, catalog.digests)
    search_text = q
    implied = False
    if found is not None:
        search_text = found.rest
        if since is None and until is None:
            since, until, implied = found.since, found.until, True
            notes += (f"Searching digests dated {since or 'any time'} to {until or 'now'}, "
                      "as the question asks.",)
    names = coined_names(q)
    by_name, by_author, by_inst = catalog.named(q)
    intent = intent_of(q, bool(by_name or by_author or by_inst))
    topic = catalog.topic_words(search_text)
    if intent in ("lookup", "list") and implied and not (by_name or by_author or by_inst) and \
            (intent == "lookup" or not topic):
        intent = "time"  # "What papers were in last week's digest?": that digest's overview
    wants_code = bool(_CODE.search(q))
    if has_code is None and wants_code and intent == "list":
        has_code = True
        notes += ("Only papers with a code link, as the question asks.",)
    terms = tuple(t for t in dict.fromkeys(tokenize(search_text)) if t not in QUESTION_WORDS)
    return Query(
        text=q, search_text=search_text, terms=terms, topic=topic,
        intent=intent, since=since, until=until,
        date_phrase=found.phrase if found is not None else "", dates_from_question=implied,
        digest=digest, has_code=has_code, wants_code=wants_code,
        wants_arxiv=bool(_ARXIV.search(q)), names=tuple(names),
        named_papers=tuple(by_name), named_by_author=tuple(by_author),
        named_by_institution=tuple(by_inst), refers_back=refers_back(q, names),
        notes=notes)


def with_filters(query: Query, since: dt.date | None, until: dt.date | None,
                 digest: str | None, has_code: bool | None) -> Query:
    """``query`` with other filters (the caller's explicit ones)."""
    return dataclasses.replace(query, since=since, until=until, digest=digest,
                               has_code=has_code)
