"""Ingest: read a folder of digests (.txt .md .html .pdf) into Digest records and passages.

Each reader (:mod:`rag.corpus.readers`) turns a file into a flat list of blocks (heading / paragraph
/ bullet, with links); one builder then finds the headline, the "Latest N papers on TOPIC: DATE"
line and the sections, drops page furniture ("Share this content", the newsletter box ...) and
numbers the passages. Files are read through :mod:`rag.corpus.safe_read` (inside the corpus folder,
size-bounded, text or refused) and parsed in worker processes under a time limit
(:mod:`rag.corpus.parse_pool`). A file that cannot be read, is refused or fails or times out while
parsing is skipped with one warning naming it and the fix; the rest load.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from rag.corpus.files import SUPPORTED, candidates, corpus_files  # noqa: F401 (re-exported)
from rag.corpus.parse_pool import run_parsers
from rag.corpus.readers import (  # noqa: F401  (re-exported: readers lived here before)
    Block,
    blocks_from_html,
    blocks_from_markdown,
    blocks_from_pdf,
    blocks_from_text,
    clean_text,
    jsonl_records,
)
from rag.corpus.safe_read import (
    DEFAULT_LIMITS,
    Limits,
    decode,
    limits_of,
    outside_warning,
    read_bounded,
    require_content,
)
from rag.dates import parse_date
from rag.errors import CorpusError, DocumentError
from rag.records import Digest, Passage

if TYPE_CHECKING:
    from rag.corpus.parse_cache import ParseCache
    from rag.settings import Settings

log = logging.getLogger(__name__)


# Lines that are page chrome, not digest content (matched on the whole, stripped line).
FURNITURE = [
    r"loading now",
    r"share this content:?",
    r"post comment",
    r"spread the love",
    r"hi there\W*",
    r"get a roundup of the latest ai paper digests.*",
    r"mailbox@\S*.*",
    r"subscribe( now)?",
    r"(leave a )?reply|cancel reply|related posts?:?",
]
_FURNITURE_RE = re.compile("^(?:" + "|".join(FURNITURE) + ")$", re.IGNORECASE)
# The topic holds no colon and the date part is stripped in code: nothing here backtracks.
_LATEST_RE = re.compile(r"^Latest\s+(\d+)\s+papers?\s+on\s+([^:]+):(.+)$", re.IGNORECASE)
# the same line with the date first: "21 March 2026 - Latest 15 papers on efficient inference"
_DATE_FIRST_RE = re.compile(r"^(.{6,30}?)\s*[-\u2013\u2014|\u00b7:]\s*"
                            r"Latest\s+(\d+)\s+papers?\s+on\s+(.+?)\.?$", re.IGNORECASE)


@dataclass(frozen=True)
class LoadedDigest:
    """A parsed digest: its record plus its passages in reading order."""

    digest: Digest
    passages: tuple[Passage, ...]


# ---------------------------------------------------------------- blocks -> digest


def _is_heading(block: Block, nxt: Block | None) -> bool:
    if block.kind == "heading":
        return True
    if block.kind != "paragraph":
        return False
    t = block.text
    words = t.split()
    return (len(words) <= 12 and len(t) <= 90 and not re.search(r"[.!?,;]$", t)
            and t[0].isupper() and (nxt is None or len(nxt.text) > len(t)))


_BYLINE = re.compile(r"\s[·—–|]\s|\s(?:and|&)\s")
_NAV_SEP = re.compile(r"\s*[·|•»]\s*")
_SOURCE_RE = re.compile(r"^(?:source|original(?: post)?|read (?:it )?online|canonical)\s*:\s*"
                        r"(https?://\S+)$", re.I)


# a bullet's "label:" that is a sentence ("X (our May issue) has become the baseline: ...")
_CLAUSE = re.compile(r"^(?=(?:\S+\s+){5}\S).*\b(?:has|have|had|is|are|was|were|became|"
                     r"become|becomes|remains|remain)\s+[a-z]")
# a short topic sentence before a bullet's label: "Drones. AeroMap-2: ..." (not "Dr. Lee: ...")
_TOPIC_FIRST = re.compile(r"(?!(?:Dr|Mr|Mrs|Ms|Prof|St|No|Vol|Fig|Eq|Inc|Ltd)\.)[A-Z][\w’'-]+"
                          r"(?:\s+[\w’'-]+){0,3}\.\s+(\S.{1,80})$")


def _is_nav(block: Block) -> bool:
    """A navigation bar ("Home · Archive · Subscribe"): three or more short link texts."""
    parts = [p for p in _NAV_SEP.split(block.text) if p]
    return len(parts) >= 3 and all(len(p.split()) <= 4 for p in parts) and \
        not re.search(r"[.!?]$", block.text) and parse_date(block.text) is None


def build_digest(blocks: list[Block], path: Path, data: bytes) -> LoadedDigest:
    """Turn a reader's blocks into a Digest and its passages.

    The headline is the first top-level heading near the start (else the first block); the
    date and topic come from a "Latest N papers on TOPIC: DATE" line, else the page's own
    date (an HTML <time> or published meta tag), else a short byline near the top that holds
    a date ("Published 14 February 2026 · ...", "Posted on March 14, 2026 by ..."), which is
    then dropped. The post's address comes from an HTML canonical link or a "Source: URL"
    line. Navigation bars and page furniture are dropped."""
    meta_date = next((parse_date(b.text) for b in blocks if b.kind == "meta-date"), None)
    url = next((b.text for b in blocks if b.kind == "meta-url"), None)
    blocks = [b for b in blocks if b.text and not b.kind.startswith("meta-")
              and not _FURNITURE_RE.match(b.text.strip())]
    blocks = [b for i, b in enumerate(blocks) if i >= 4 or not _is_nav(b)]
    kept = []
    for b in blocks:
        m = _SOURCE_RE.match(b.text.strip())
        if m:
            url = url or m.group(1)
        else:
            kept.append(b)
    blocks = kept
    title, topic, date, count = None, None, None, None
    for i, b in enumerate(blocks[:6]):
        m = _LATEST_RE.match(b.text)
        if m:
            count, topic = int(m.group(1)[:9]), m.group(2).strip()
            date = parse_date(m.group(3).strip())
            blocks.pop(i)
            break
        m = _DATE_FIRST_RE.match(b.text)
        if m and (found := parse_date(m.group(1))):
            count, topic, date = int(m.group(2)[:9]), m.group(3).strip(), found
            blocks.pop(i)
            break
    if blocks:
        top = next((i for i, b in enumerate(blocks[:4]) if b.kind == "heading" and b.depth == 1),
                   0)
        title = blocks.pop(top).text
    date = date or meta_date
    for i, b in enumerate(blocks[:5]):
        if len(b.text.split()) <= 30 and (found := parse_date(b.text)) and b.kind != "heading":
            date = date or found
            if found == date:  # a byline: not a passage
                blocks.pop(i)
            break
    digest_id = path.stem
    passages: list[Passage] = []
    section, group = "", None
    for i, b in enumerate(blocks):
        if b.text == title or (b.kind != "bullet" and b.text.lower() == (title or "").lower()):
            continue  # the headline repeated (page title, newsletter box)
        nxt = blocks[i + 1] if i + 1 < len(blocks) else None
        byline = b.kind == "paragraph" and i > 0 and blocks[i - 1].kind == "heading" and \
            bool(_BYLINE.search(b.text))  # "A and B · Institution" under a title heading
        if _is_heading(b, nxt) and b.kind != "bullet" and not byline:
            section, group = b.text, None
            continue
        label = None
        text = b.text
        if b.kind == "bullet":
            m = re.match(r"^([^:]{2,90}?):\s*(.*)$", text)
            if m and not m.group(2):
                group = m.group(1).strip()  # a bare "Models:" groups the bullets below it
                continue
            if m and len(m.group(1).split()) <= 14 and not re.search(r"https?$", m.group(1)) \
                    and not _CLAUSE.search(m.group(1)):
                label = m.group(1).strip()
                # "**Legged robots.** StepWise: ...": a topic word or two, then the label
                first = _TOPIC_FIRST.match(label)
                label = first.group(1) if first else label
        sec = f"{section} › {group}" if group and b.kind == "bullet" else section
        passages.append(Passage(digest_id, len(passages), sec, b.kind, text,
                                tuple(b.links), label, b.depth, tuple(b.emphasis)))
    if not passages:
        raise DocumentError(path, "no text passages found", "check that it is a digest post")
    digest = Digest(
        id=digest_id, title=title or path.stem, date=date, topic=topic, path=str(path),
        sha256=hashlib.sha256(data).hexdigest(), paper_count=count, url=url,
    )
    return LoadedDigest(digest, tuple(passages))


def parse_digest(path: Path, data: bytes, limits: Limits = DEFAULT_LIMITS
                 ) -> tuple[LoadedDigest, list[str]]:
    """Parse one digest file's bytes (its name decides the reader); (digest, warnings).
    Raises DocumentError when it cannot be used. Runs in a parser process."""
    path = require_content(path, data, "the digest text")
    suffix = path.suffix.lower()
    if suffix == ".pdf":
        blocks, warnings = blocks_from_pdf(path, data, limits.max_text_chars,
                                           limits.max_passage_chars)
    else:
        text, warnings = decode(data, path, limits.max_text_chars)
        if suffix in (".html", ".htm"):
            blocks = blocks_from_html(text, limits.max_passage_chars, limits.max_html_depth,
                                      path)
        elif suffix in (".md", ".markdown"):
            blocks = blocks_from_markdown(text, limits.max_passage_chars)
        else:
            blocks = blocks_from_text(text, limits.max_passage_chars)
    return build_digest(blocks, path, data), warnings


def read_digest(path: Path, settings: Settings | Limits | None = None
                ) -> tuple[LoadedDigest, list[str]]:
    """Read and parse one digest file in this process (no time limit: :func:`load_corpus`
    adds one); raises DocumentError when it cannot be used. ``settings``: a
    :class:`rag.Settings` or :class:`~rag.corpus.safe_read.Limits` (None: from the environment)."""
    limits = limits_of(settings)
    return parse_digest(Path(path), read_bounded(Path(path), limits), limits)


def load_corpus(corpus_dir: Path, settings: Settings | Limits | None = None,
                cache: ParseCache | None = None) -> tuple[list[LoadedDigest], list[str]]:
    """Read every digest in a folder. Returns (digests, warnings); bad files become warnings.

    Each file is parsed in a worker process under ``parse_timeout_s`` and read within the size
    limits of ``settings`` (a :class:`rag.Settings` or :class:`~rag.corpus.safe_read.Limits`; None:
    from the environment); with a ``cache`` (:class:`rag.corpus.parse_cache.ParseCache`) only the
    files whose content changed since it was filled. Raises CorpusError when the folder is
    missing or nothing in it could be read; no single file can make it raise or hang.
    """
    limits = limits_of(settings)
    files = corpus_files(corpus_dir)
    listed = set(files)
    warnings = [outside_warning(p, Path(corpus_dir)) for p in candidates(Path(corpus_dir))
                if p not in listed]
    if not files:
        raise CorpusError(f"Corpus folder {corpus_dir} holds no digests"
                          + (" (" + "; ".join(warnings) + ")" if warnings else "") + ".",
                          f"add .txt, .md, .html or .pdf digests to {corpus_dir}")
    kept = {p: got for p in files if cache is not None and (got := cache.get(p)) is not None}
    parsed, notes = parse_files(parse_digest, [p for p in files if p not in kept], limits)
    warnings += notes
    if cache is not None:
        for path, (doc, warns) in parsed:
            cache.put(path, doc, warns)
    if kept:  # back in file order
        done = dict(parsed)
        parsed = [(p, kept.get(p) or done[p]) for p in files if p in kept or p in done]
    loaded: list[LoadedDigest] = []
    seen: set[str] = set()
    for path, (doc, warns) in parsed:
        warnings.extend(warns)
        if doc.digest.id in seen:  # a.txt and a.html: keep both, tell them apart
            doc = _rename(doc, path.name)
        seen.add(doc.digest.id)
        loaded.append(doc)
    for w in warnings:
        log.info("%s", w)  # the caller shows them; logging them as warnings too doubled them
    if not loaded:
        raise CorpusError(f"No digest in {corpus_dir} could be read: " + "; ".join(warnings),
                          "fix or replace the files named above")
    return loaded, warnings


def parse_files(func: Callable[..., tuple], files: list[Path], limits: Limits, *extra: object
                ) -> tuple[list[tuple[Path, tuple]], list[str]]:
    """Run ``func(path, bytes, *extra)`` on every file in the parser pool: ((path, result)
    of each file that parsed, warnings naming each one that failed, was refused or timed
    out)."""
    outcomes, warnings = run_parsers(func, [file_job(p, limits, *extra) for p in files],
                                     limits.parse_workers, limits.parse_timeout_s)
    done: list[tuple[Path, tuple]] = []
    for path, out in zip(files, outcomes):
        if out.status == "ok":
            done.append((path, out.value))
        else:
            warnings.append(skip_warning(path, out.reason, out.status))
    return done, list(warnings)


def file_job(path: Path, limits: Limits, *extra: object) -> Callable[[], tuple]:
    """A parse job that reads ``path`` (size-bounded) only when a worker is free for it:
    its args are (path, bytes, *extra)."""
    return lambda: (path, read_bounded(path, limits), *extra)


def skip_warning(path: Path, reason: str, status: str = "failed") -> str:
    """The warning for a file whose parser failed or timed out (``reason`` from the pool)."""
    name = Path(path).name
    if status == "refused":  # a DocumentError: already names the file and the fix
        return f"skipped {reason}"
    if status == "timeout":
        return (f"skipped {name}: {reason} (RAG_PARSE_TIMEOUT_S). Fix: check the file, "
                "split it, or raise RAG_PARSE_TIMEOUT_S.")
    return (f"skipped {name}: could not be parsed ({reason}). Fix: check or re-save the file; "
            "if it looks fine, report this as a digest-rag bug.")


def _rename(doc: LoadedDigest, new_id: str) -> LoadedDigest:
    from dataclasses import replace

    return LoadedDigest(replace(doc.digest, id=new_id),
                        tuple(replace(p, digest_id=new_id) for p in doc.passages))
