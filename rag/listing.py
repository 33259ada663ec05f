"""Listing: answer "which papers released code?" with every paper that has a code link.

A question that asks which papers have code, and names no topic beyond that ("Which digest
papers shared code on GitHub in May 2026?"), wants a list, not the four best passages. The
list holds every paper with a code link in the digests the filters keep (dates, digest), in
digest order, each with a sentence on what it does and the passage that gives its code link.
"""

from __future__ import annotations

import re

import numpy as np

from .answer import Answerer, format_source, without_label
from .records import Answer, Chunk, Citation, Evidence
from .text import sentences

_ASKS_WHICH = re.compile(
    r"\b(which|what|list|any|all)\b[^?]*\b(papers?|works?|studies|projects?)\b", re.I)
_CODE_PHRASE = re.compile(
    r"\s*\b(?:released|release|shared|share|published|publish(?:es)?|ha(?:s|ve)|provided|provide|"
    r"open[- ]sourced?|made available|put out|came with|come with)\b"
    r"(?:\s+(?:their|its|the|public|open[- ]source|source))*\s+"
    r"(?:code|github repos?|repositor(?:y|ies)|repos?)\b(?!\s*(?:generation|llms?|models?|"
    r"completion|review|search|synthesis))(?:\s+(?:on|via|through)\s+github)?", re.I)
_DIGEST_PHRASE = re.compile(
    r"\s*\b(?:in|from)\s+the\s+[\w\s-]{0,40}?\b(?:digest|roundup|edition)s?\b", re.I)


def code_list_request(question: str) -> str | None:
    """The question without its "released code" phrase when it asks which papers have code
    ("Which papers released code on GitHub?"), else None."""
    m = _CODE_PHRASE.search(question)
    if not m or not _ASKS_WHICH.search(question[:m.start()]):
        return None
    return (question[:m.start()] + question[m.end():]).strip()


def is_bare_code_list(question: str, answerer: Answerer) -> bool:
    """A code-list request that names no topic: every paper with code is the answer."""
    rest = code_list_request(question)
    return rest is not None and not answerer.topic_words(_DIGEST_PHRASE.sub(" ", rest)).strip()


def code_list(answerer: Answerer, question: str, mask: np.ndarray | None,
              notes: tuple[str, ...] = (), limit: int = 30) -> Answer:
    """Every paper with a code link among the chunks ``mask`` keeps (None: all), cited with
    the passage that links its code (else its first passage there)."""
    index = answerer.index
    rows = np.flatnonzero(mask) if mask is not None else range(len(index.chunks))
    chunks: dict[str, list[Chunk]] = {}  # paper id -> its digest chunks the filters keep
    for row in rows:
        c = index.chunks[int(row)]
        for pid in c.paper_ids:
            p = index.papers.get(pid)
            if p is not None and p.code_urls and c.source == "digest":
                chunks.setdefault(pid, []).append(c)
    if not chunks:
        return answerer.abstention(question, [], notes)
    citations: list[Citation] = []
    for pid, cs in list(chunks.items())[:limit]:
        p = index.papers[pid]
        link = next((c for c in cs if any(u in c.text for u in p.code_urls)), cs[0])
        # quote what the paper does (the code link is listed beside it), from the linking
        # passage when it says more than the link, else from the paper's first passage
        desc, quote = next(((c, s) for c in dict.fromkeys([link, *cs]) for s in sentences(c.text)
                            if len(re.sub(r"https?://\S+", "", s)) >= 40), (link, link.text))
        if desc.kind == "bullet" and desc.text.startswith(quote):
            quote = without_label(quote)
        used = list(dict.fromkeys([desc, link]))
        citations.append(Citation(
            n=len(citations) + 1, paper=p, text="\n".join(c.text for c in used),
            digest=index.digests[desc.digest_id], sentences=(quote,),
            chunk_ids=tuple(c.id for c in used),
            evidence=tuple(Evidence(c.text, c.source, answerer.label(c),
                                    (quote,) if c is desc else (), c.id) for c in used)))
    more = len(chunks) - len(citations)
    head = (f"Papers with a code link ({len(chunks)}"
            + (f"; the first {len(citations)} here" if more > 0 else "") + "):")
    body = "\n".join(f"- **{c.paper.title}**: {c.sentences[0]} [{c.n}] Code: "
                     + ", ".join(c.paper.code_urls) for c in citations if c.paper)
    text = f"{head}\n\n{body}\n\n**Sources**\n\n" + "\n".join(format_source(c) for c in citations)
    if notes:
        text = "\n".join(f"_{n}_" for n in notes) + "\n\n" + text
    return Answer(question, text, tuple(citations), False, (), notes)

