"""Chunk: cut passages into retrieval units that follow the digest's structure.

A bullet is one chunk. A paragraph is cut at sentence boundaries wherever the paper it talks
about changes: a sentence belongs to the papers it names, and a sentence that names none
("Their key insight is ...") continues the paper before it. A chunk therefore never mixes two
papers silently: when one sentence names several, the chunk lists them all. Each chunk carries
its digest, section and paper ids, plus an optional context header for embedding.
"""

from __future__ import annotations

import datetime as dt

from rag.corpus.ingest import LoadedDigest
from rag.corpus.paper_texts import PaperText
from rag.corpus.readers import split_long
from rag.extract.papers import PaperSet
from rag.records import Chunk, Digest, Paper
from rag.text import split_sentences

HEADER_MODES = ("none", "paper", "paper+digest")


def context_header(digest: Digest, section: str, papers: list[Paper], mode: str) -> str:
    """The line put before a chunk's text when it is embedded (empty for mode 'none')."""
    if mode == "none":
        return ""
    parts = []
    if mode == "paper+digest":
        parts.append(f"{digest.title} ({digest.date.isoformat() if digest.date else 'undated'})"
                     f" - {section.split(' › ')[0]}")
    for p in papers:
        parts.append(f"{p.title} ({p.short_name})" if p.short_name and
                     p.short_name.lower() not in p.title.lower() else p.title)
    return " | ".join(parts)


def _split_long(text: str, max_chars: int) -> list[str]:
    """Split text longer than ``max_chars`` at sentence boundaries; a sentence longer than
    ``max_chars`` (a line with no full stop) is cut at spaces, else mid-word, so no piece is
    ever longer than ``max_chars``. Sentences are found in windows of a few chunks (cut at
    spaces first), which keeps the cost linear however long the text."""
    if len(text) <= max_chars:
        return [text]
    out, cur = [], ""
    for window in split_long(text, 8 * max_chars):
        for a, b in split_sentences(window):
            for s in split_long(window[a:b].strip(), max_chars):
                if cur and len(cur) + 1 + len(s) > max_chars:
                    out.append(cur)
                    cur = s
                else:
                    cur = f"{cur} {s}".strip()
    if cur:
        out.append(cur)
    return out


def chunk_digest(doc: LoadedDigest, paperset: PaperSet, header: str = "paper",
                 max_chars: int = 1200) -> list[Chunk]:
    """All chunks of one digest, in reading order."""
    if header not in HEADER_MODES:
        raise ValueError(f"context header mode {header!r}: use one of {', '.join(HEADER_MODES)}")
    chunks: list[Chunk] = []
    for p in doc.passages:
        spans = paperset.for_passage(p.digest_id, p.index)
        groups: list[tuple[tuple[str, ...], str]] = []
        if p.kind == "bullet":
            whole = [pid for a, b, pid in spans if a == 0 and b == len(p.text)]
            others = [pid for a, b, pid in spans if pid not in whole]
            groups.append((tuple(dict.fromkeys(whole + others)), p.text))
        else:
            current: tuple[str, ...] = ()
            ordered = sorted(spans)
            for a, b in split_sentences(p.text):
                named = tuple(dict.fromkeys(pid for s, e, pid in ordered if s < b and e > a))
                papers = named or current
                current = papers
                sentence = p.text[a:b].strip()
                if groups and groups[-1][0] == papers:
                    groups[-1] = (papers, groups[-1][1] + " " + sentence)
                else:
                    groups.append((papers, sentence))
        part = 0
        for paper_ids, text in groups:
            named_papers = [paperset.papers[pid] for pid in paper_ids if pid in paperset.papers]
            head = context_header(doc.digest, p.section, named_papers, header)
            for piece in _split_long(text, max_chars):
                chunks.append(Chunk(
                    id=f"{p.digest_id}:{p.index}:{part}", digest_id=p.digest_id,
                    passage_index=p.index, section=p.section, text=piece,
                    embed_text=f"{head}\n{piece}" if head else piece,
                    paper_ids=paper_ids, kind=p.kind))
                part += 1
    return chunks


PAPERS_DIGEST = "papers"  # digest id of paper texts that no digest mentions


def paper_chunks(papers: dict[str, Paper], texts: list[PaperText], owners: list[str],
                 digests: dict[str, Digest], header: str = "paper",
                 max_chars: int = 1200) -> list[Chunk]:
    """Chunks of the papers' own text: arXiv abstracts, PDF pages (page numbers kept) and
    user abstracts, each linked to its paper and dated by the newest digest mentioning it."""
    def home(p: Paper) -> str:
        dated = [m.digest_id for m in p.mentions if m.digest_id in digests]
        return max(dated, key=lambda d: (digests[d].date or dt.date.min, d)) if dated \
            else PAPERS_DIGEST

    def make(p: Paper, text: str, kind: str, source: str, origin: str,
             page: int | None, tag: str) -> list[Chunk]:
        head = context_header(digests.get(home(p)) or papers_digest(""), "", [p], header)
        return [Chunk(id=f"{source}:{p.id}:{tag}:{i}", digest_id=home(p), passage_index=-1,
                      section="Paper text", text=piece,
                      embed_text=f"{head}\n{piece}" if head else piece, paper_ids=(p.id,),
                      kind=kind, source=source, origin=origin, page=page)
                for i, piece in enumerate(_split_long(text, max_chars))]

    out: list[Chunk] = []
    for p in papers.values():
        if p.abstract and p.abstract_source == "arXiv":
            out += make(p, p.abstract, "abstract", "arxiv", p.arxiv_id or "", None, "abs")
    for t, pid in zip(texts, owners):
        p = papers[pid]
        if t.abstract and p.abstract_source != "arXiv":
            out += make(p, t.abstract, "abstract", t.source, t.origin, None, f"{t.origin}-abs")
        for number, page_text in t.pages:
            out += make(p, page_text, "page", t.source, t.origin, number,
                        f"{t.origin}-p{number}")
    return out


def paper_profiles(papers: dict[str, Paper], chunks: list[Chunk]) -> tuple[list[str], list[str]]:
    """(paper ids, profile texts): each paper's title, short name, the digest sections it sits
    in ("Medical Imaging", "Federated Systems") and every passage about it (digest passages and
    its own text), the unit that list and topic questions rank."""
    texts: dict[str, list[str]] = {pid: [p.title, p.short_name or ""] for pid, p in
                                   papers.items()}
    for c in chunks:
        for pid in c.paper_ids:
            if pid in texts:
                texts[pid] += [*c.section.split(" › "), c.text]
    ids = list(texts)
    return ids, ["\n".join(t for t in dict.fromkeys(texts[pid]) if t) for pid in ids]


def papers_digest(corpus_dir: str) -> Digest:
    """The stand-in digest that paper texts no digest mentions are filed under."""
    return Digest(PAPERS_DIGEST, "Papers folder (not in any digest)", None, None,
                  f"{corpus_dir}/papers", "")


def chunk_corpus(docs: list[LoadedDigest], paperset: PaperSet, header: str = "paper",
                 max_chars: int = 1200) -> list[Chunk]:
    """Chunks of every digest of a corpus."""
    return [c for doc in docs for c in chunk_digest(doc, paperset, header, max_chars)]
