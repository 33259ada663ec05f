"""Chunk: cut passages into retrieval units that follow the digest's structure.

A bullet is one chunk. A paragraph is cut at sentence boundaries wherever the paper it talks
about changes: a sentence belongs to the papers it names, and a sentence that names none
("Their key insight is ...") continues the paper before it. A chunk therefore never mixes two
papers silently: when one sentence names several, the chunk lists them all. Each chunk carries
its digest, section and paper ids, plus an optional context header for embedding.
"""

from __future__ import annotations

from .ingest import LoadedDigest
from .papers import PaperSet
from .records import Chunk, Digest, Paper
from .text import split_sentences

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
    """Split text longer than ``max_chars`` at sentence boundaries (never mid-sentence)."""
    if len(text) <= max_chars:
        return [text]
    out, cur = [], ""
    for a, b in split_sentences(text):
        s = text[a:b].strip()
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
            for a, b in split_sentences(p.text):
                named = tuple(dict.fromkeys(pid for s, e, pid in sorted(spans)
                                            if s < b and e > a))
                papers = named or current
                current = papers
                sentence = p.text[a:b].strip()
                if groups and groups[-1][0] == papers:
                    groups[-1] = (papers, groups[-1][1] + " " + sentence)
                else:
                    groups.append((papers, sentence))
        part = 0
        for paper_ids, text in groups:
            papers = [paperset.papers[pid] for pid in paper_ids if pid in paperset.papers]
            head = context_header(doc.digest, p.section, papers, header)
            for piece in _split_long(text, max_chars):
                chunks.append(Chunk(
                    id=f"{p.digest_id}:{p.index}:{part}", digest_id=p.digest_id,
                    passage_index=p.index, section=p.section, text=piece,
                    embed_text=f"{head}\n{piece}" if head else piece,
                    paper_ids=paper_ids, kind=p.kind))
                part += 1
    return chunks


def chunk_corpus(docs: list[LoadedDigest], paperset: PaperSet, header: str = "paper",
                 max_chars: int = 1200) -> list[Chunk]:
    """Chunks of every digest of a corpus."""
    return [c for doc in docs for c in chunk_digest(doc, paperset, header, max_chars)]
