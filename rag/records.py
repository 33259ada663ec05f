"""The records that flow through the pipeline: small frozen dataclasses.

ingest -> :class:`Digest` + :class:`Passage`; papers -> :class:`Paper` (+ :class:`Mention`);
chunk -> :class:`Chunk`; query -> :class:`Query`; retrieve -> :class:`Hit`; answer ->
:class:`Answer` (+ :class:`Item`, :class:`Quote`, :class:`Citation`).
Each record converts to and from plain JSON-able dicts, which is how the index stores them.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import operator
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

T = TypeVar("T")


def to_dict(record: Any) -> dict[str, Any]:
    """A JSON-able dict of a record (dates as ISO strings, tuples as lists)."""
    names, values = _fields_of(record.__class__)
    return {name: v if type(v) in _SCALARS else _plain(v)
            for name, v in zip(names, values(record))}


_SCALARS = frozenset({str, int, float, bool, type(None)})  # JSON-able as they are


@functools.cache
def _fields_of(cls: Any) -> tuple[tuple[str, ...], Callable[[Any], tuple]]:
    """The field names of a record class and a getter of all their values at once
    (dataclasses.fields is slow per call: a build writes ~60 k records per 1,000 digests)."""
    names = tuple(f.name for f in dataclasses.fields(cls))
    if len(names) < 2:  # attrgetter of one name gives the value, not a tuple
        return names, lambda record: tuple(getattr(record, n) for n in names)
    return names, operator.attrgetter(*names)


def _plain(v: Any) -> Any:
    """A field value as JSON-able data: the common scalars first, as they are."""
    kind = type(v)
    if kind is tuple or kind is list:  # the common containers first, as below
        return [x if type(x) in _SCALARS else _plain(x) for x in v]
    if kind in _RECORDS:
        return to_dict(v)
    if v is None or isinstance(v, (str, int, float)):
        return v
    if isinstance(v, dt.date):
        return v.isoformat()
    if isinstance(v, (list, tuple)):
        return [x if type(x) in _SCALARS else _plain(x) for x in v]
    if dataclasses.is_dataclass(v) and not isinstance(v, type):
        return to_dict(v)
    return v


@dataclass(frozen=True)
class Link:
    """A hyperlink kept from an HTML or markdown digest."""

    text: str
    url: str


@dataclass(frozen=True)
class Digest:
    """One digest post: its identity and metadata (passages travel separately)."""

    id: str  # file stem, unique within a corpus
    title: str
    date: dt.date | None
    topic: str | None
    path: str
    sha256: str  # of the file's bytes: the unit of "did this digest change?"
    paper_count: int | None = None  # the "Latest N papers" figure the digest claims
    url: str | None = None  # the post's address (HTML canonical link or a "Source:" line)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Digest:
        d = dict(d)
        d["date"] = dt.date.fromisoformat(d["date"]) if d.get("date") else None
        return cls(**d)


@dataclass(frozen=True)
class Passage:
    """A paragraph or bullet item of a digest, in reading order."""

    digest_id: str
    index: int  # position within the digest
    section: str  # heading it sits under ("" before the first heading)
    kind: str  # "paragraph" | "bullet"
    text: str
    links: tuple[Link, ...] = ()
    label: str | None = None  # a bullet's "Label:" prefix, without the colon
    depth: int = 0  # bullet nesting level
    emphasis: tuple[str, ...] = ()  # spans set in bold or italics (titles often are), as in text


@dataclass(frozen=True)
class Mention:
    """Where a digest talks about a paper, and what it says about its authorship."""

    digest_id: str
    passage_index: int
    authors: str | None = None  # as written, e.g. "Yoo et al."
    institutions: tuple[str, ...] = ()


@dataclass(frozen=True)
class UrlClaim:
    """A link a digest gives for a paper, and where it gives it: the provenance that lets
    answers show each digest's links side by side instead of one digest overriding another."""

    url: str
    kind: str  # "code" | "data"
    digest_id: str
    passage_index: int


@dataclass(frozen=True)
class Paper:
    """A paper mentioned by one or more digests, merged across them."""

    id: str  # stable slug of the normalised title (or the arXiv id when known)
    title: str  # full title when a digest gives one, else the name it uses
    short_name: str | None = None  # "MoLRE", "T-PaiNN"
    authors: tuple[str, ...] = ()  # as the digests write them ("Yoo et al.")
    institutions: tuple[str, ...] = ()
    code_urls: tuple[str, ...] = ()
    data_urls: tuple[str, ...] = ()
    arxiv_id: str | None = None
    arxiv_title: str | None = None
    arxiv_authors: tuple[str, ...] = ()  # the real author list, from arXiv metadata
    mentions: tuple[Mention, ...] = ()
    attribution_issues: tuple[str, ...] = ()
    abstract: str | None = None  # the paper's own abstract (arXiv, a PDF or an abstracts file)
    abstract_source: str | None = None  # where the abstract comes from, e.g. "arXiv"
    url_claims: tuple[UrlClaim, ...] = ()  # which digest gives which code and data URL

    @property
    def arxiv_url(self) -> str | None:
        return f"https://arxiv.org/abs/{self.arxiv_id}" if self.arxiv_id else None

    @property
    def digest_ids(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(m.digest_id for m in self.mentions))

    def url_sources(self, kind: str = "code") -> dict[str, tuple[str, ...]]:
        """url -> the ids of the digests that give it, for code (or data) links."""
        out: dict[str, tuple[str, ...]] = {}
        for c in self.url_claims:
            if c.kind == kind and c.digest_id not in out.get(c.url, ()):
                out[c.url] = out.get(c.url, ()) + (c.digest_id,)
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Paper:
        d = dict(d)
        d["mentions"] = tuple(
            Mention(**{**m, "institutions": tuple(m.get("institutions", ()))})
            for m in d.get("mentions", ())
        )
        for k in ("authors", "institutions", "code_urls", "data_urls", "arxiv_authors",
                  "attribution_issues"):
            d[k] = tuple(d.get(k, ()))
        d["url_claims"] = tuple(UrlClaim(**c) for c in d.get("url_claims", ()))
        return cls(**d)


@dataclass(frozen=True)
class Chunk:
    """A unit of retrieval: one or more sentences of one passage about at most one paper
    (several only when one sentence names several papers, and then all are listed)."""

    id: str  # "<digest_id>:<passage_index>:<part>"
    digest_id: str
    passage_index: int
    section: str
    text: str  # what the user sees and what answers quote
    embed_text: str  # what is embedded (text, optionally behind a context header)
    paper_ids: tuple[str, ...] = ()
    kind: str = "paragraph"  # "paragraph" | "bullet" | "abstract" | "page"
    source: str = "digest"  # "digest" | "arxiv" | "pdf" | "file" (a user's abstracts file)
    origin: str = ""  # for paper text: the file or arXiv id it comes from
    page: int | None = None  # PDF page number (1-based)

    @property
    def label(self) -> str:
        """Where the text comes from, for citations: "arXiv abstract 2603.00675" etc."""
        if self.source == "arxiv":
            return f"arXiv abstract {self.origin}".strip()
        if self.source == "pdf":
            return f"PDF {self.origin}, page {self.page}" if self.page else f"PDF {self.origin}"
        if self.source == "file":
            return f"abstract from {self.origin}"
        return "digest"

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Chunk:
        return cls(**{**d, "paper_ids": tuple(d.get("paper_ids", ()))})


_RECORDS = frozenset({Link, Digest, Passage, Mention, UrlClaim, Paper, Chunk})  # nested in records


@dataclass(frozen=True)
class Hit:
    """One search result, best first."""

    chunk: Chunk
    score: float  # fused score (higher is better); comparable within one query only
    digest: Digest
    paper: Paper | None  # the first paper the chunk is about, if any
    papers: tuple[Paper, ...] = ()  # every paper the chunk is about
    dense_score: float | None = None  # cosine similarity, when the dense ranker saw the chunk
    lexical_score: float | None = None

    @property
    def text(self) -> str:
        return self.chunk.text


@dataclass(frozen=True)
class Evidence:
    """One labelled passage behind a citation: the digest's words or the paper's own."""

    text: str
    source: str  # "digest" | "arxiv" | "pdf" | "file"
    label: str  # "Digest: <title> (2026-03-07)", "arXiv abstract 2603.00675", "PDF x.pdf, page 3"
    sentences: tuple[str, ...] = ()  # the sentences of ``text`` the answer quotes
    chunk_id: str = ""


@dataclass(frozen=True)
class Citation:
    """A numbered source of an answer: the paper and the passage text that backs it."""

    n: int
    paper: Paper | None
    text: str  # the passage(s) the cited sentences come from
    digest: Digest
    sentences: tuple[str, ...] = ()  # the sentences of ``text`` the answer quotes
    chunk_ids: tuple[str, ...] = ()
    evidence: tuple[Evidence, ...] = ()  # labelled passages: digest first, then paper text


@dataclass(frozen=True)
class Query:
    """A question as :func:`rag.answer.query.parse` read it, once: every later stage takes this.

    ``text`` is the question as asked (cleaned); ``search_text`` is what the rankers search
    (date phrases removed); ``terms`` are its stemmed content words (question words out).
    """

    text: str
    search_text: str
    terms: tuple[str, ...] = ()
    topic: str = ""  # the words that say what it is about (question and corpus-generic words out)
    intent: str = "lookup"  # lookup | list | who | code | compare | time
    since: dt.date | None = None
    until: dt.date | None = None
    date_phrase: str = ""  # the words the dates were read from ("late April")
    dates_from_question: bool = False  # since/until were read from the text, not passed
    digest: str | None = None  # digest filter (id)
    has_code: bool | None = None
    wants_code: bool = False  # asks for code links
    wants_arxiv: bool = False  # asks for arXiv links
    names: tuple[str, ...] = ()  # coined names in the question ("ZACAF", "T-PaiNN")
    named_papers: tuple[str, ...] = ()  # paper ids it names by short name or title
    named_by_author: tuple[str, ...] = ()  # paper ids whose author it names
    named_by_institution: tuple[str, ...] = ()  # paper ids whose institution it names
    refers_back: bool = False  # leans on an earlier turn ("its code", "what about ...")
    notes: tuple[str, ...] = ()  # for the user: truncated, non-English, filters read

    @property
    def named(self) -> tuple[str, ...]:
        """Every paper id the question names, by any of name, author or institution."""
        return tuple(dict.fromkeys((*self.named_papers, *self.named_by_author,
                                    *self.named_by_institution)))

    @property
    def wants_set(self) -> bool:
        """A list or topic question: every paper that belongs, not the best few."""
        return self.intent in ("list", "time")


@dataclass(frozen=True)
class Quote:
    """One sentence an answer quotes, and the number ``n`` of the citation that backs it
    (``[n]`` in the rendered answer)."""

    text: str
    n: int


@dataclass(frozen=True)
class Item:
    """One paper of an answer: what the digests say about it, each sentence cited."""

    paper: Paper | None
    title: str  # the paper's title (or the digest's, for a passage about no paper)
    quotes: tuple[Quote, ...] = ()
    code_urls: tuple[str, ...] = ()  # shown when the question asks for code
    arxiv_url: str | None = None  # shown when the question asks for arXiv
    no_code: bool = False  # the question asks for code and the digests give none
    code_from: tuple[str, ...] = ()  # per code URL: the digest(s) that give it ("Title, date")
    authors: tuple[str, ...] = ()  # who-wrote answers: the paper's own author list


@dataclass(frozen=True)
class Answer:
    """What ``ask()`` returns: structure, rendered at the edge (``text`` is derived markdown).

    An extractive answer is a ``lead`` sentence and ``items`` (one per paper, its quoted
    sentences cited ``[n]``); an LLM answer is the model's verified prose in ``body``. Either
    way ``citations`` are numbered 1..k and every ``[n]`` points into them; ``caveats`` are
    attribution warnings the reader must see (the digest's author list disagrees with arXiv).
    """

    question: str
    lead: str = ""
    items: tuple[Item, ...] = ()
    citations: tuple[Citation, ...] = ()
    abstained: bool = False
    hits: tuple[Hit, ...] = field(default=(), repr=False)
    notes: tuple[str, ...] = ()  # e.g. "question truncated to 2000 characters"
    caveats: tuple[str, ...] = ()
    unsupported: tuple[str, ...] = ()  # LLM answers: sentences no retrieved passage supports
    body: str = ""  # LLM answers: verified prose with [n] markers
    footer: str = ""  # LLM answers: the verifier's note on unverified sentences
    query: Query | None = field(default=None, repr=False, compare=False)

    @property
    def text(self) -> str:
        """The answer as markdown with [n] markers and a numbered source list."""
        from rag.output.markdown import answer_markdown

        return answer_markdown(self)
