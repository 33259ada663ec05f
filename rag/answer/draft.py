"""A model's draft answer as text: markers kept whole while streaming, prompt echoes removed,
unsupported sentences dropped.

* :class:`MarkerBuffer` holds back a trailing ``[...`` so streamed markers arrive whole.
* :func:`clean_draft` removes what small models copy from the prompt instead of answering
  (``<passage n="3">`` tags, passage header lines, "Answer:" and "Question: ..." lines) and
  what a small model repeats in a loop.
* :func:`says_no_answer` recognises the prompt's abstention sentence, :data:`NO_ANSWER`.
* :func:`drop_marked` leaves out the sentences :mod:`rag.answer.verify` marked unverified
  (``RAG_LLM_DROP_UNSUPPORTED``).
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterator

from rag.answer.claims import UNSUPPORTED_MARK
from rag.records import Answer
from rag.text import split_sentences

NO_ANSWER = "The passages do not answer this question."

_OPEN_MARKER = re.compile(r"\[[^\[\]\n]{0,16}$")
_MARKER_PREFIX = re.compile(r"\[\s*(?:[a-z]{1,7}\s*)?#?[\d\s,;\-–and]*", re.I)
_ECHO_LINE = re.compile(r"^\s*(?:</?\s*passages?\b[^>\n]*>|answer\s*:?|question\s*:.*|"
                        r"(?:quoted text|source)\s*:\s*(?:\"\"\")?|\"\"\"|"
                        r"source\s*:\s*digest\s*:.*|.*authors as the digest writes them.*|"
                        r"paper\s*:.*; institutions:.*|"
                        r"</?[a-z][a-z0-9]*\b[^>\n]*>)\s*$", re.I | re.M)
# the same phrase three or more times in a row (a small model's loop): kept once
_LOOP = re.compile(r"(?<!\S)(\S(?:[^\n]{0,80}?\S)?)(?:[ \t]+\1){2,}(?!\S)")
_SENTENCE_END = re.compile(r"(?:[.!?…]|\]|\*\*|[\"”)])\s*$")
_ECHO_TAG = re.compile(r"</?\s*passages?\b[^>\n]*>", re.I)
_BULLET = re.compile(r"\s*(?:(?:[-*•]|\d+[.)])\s+)?")


class MarkerBuffer:
    """Holds back a trailing ``[...`` that may still become a citation marker, so that markers
    reach the caller whole even when the model streams "[" and "2]" in separate chunks."""

    def __init__(self) -> None:
        self.pending = ""

    def feed(self, delta: str) -> str:
        """The part of ``pending + delta`` that can be shown now."""
        text = self.pending + delta
        m = _OPEN_MARKER.search(text)
        if m and _MARKER_PREFIX.fullmatch(m.group(0)):
            self.pending = text[m.start():]
            return text[:m.start()]
        self.pending = ""
        return text

    def flush(self) -> str:
        """What is still held back (the stream has ended)."""
        out, self.pending = self.pending, ""
        return out


def clean_draft(draft: str, cut_off: bool = False) -> str:
    """``draft`` without lines and tags copied from the prompt's structure and with a phrase
    repeated in a loop kept once; ``cut_off`` (the model hit its token limit): without the
    unfinished last sentence."""
    text = _LOOP.sub(r"\1", _ECHO_TAG.sub("", _ECHO_LINE.sub("", draft)))
    text = _drop_repeats(re.sub(r"\n{3,}", "\n\n", text).strip())
    last = text.rsplit("\n", 1)[-1]
    if cut_off and last and not _SENTENCE_END.search(last):  # back to its last full sentence
        spans = split_sentences(last)
        done = [last[a:b] for a, b in spans if _SENTENCE_END.search(last[a:b])]
        if done or "\n" in text:
            head = text[:len(text) - len(last)]
            text = (head + " ".join(done)).strip()
    return text


def _drop_repeats(text: str) -> str:
    """``text`` without sentences (and lines) that repeat an earlier one word for word."""
    seen: set[str] = set()
    out = []
    for line in text.split("\n"):
        prefix = _BULLET.match(line).group(0)  # type: ignore[union-attr]  # always matches
        rest = line[len(prefix):]
        kept = []
        for a, b in split_sentences(rest) or [(0, len(rest))]:
            key = re.sub(r"\W+", " ", rest[a:b]).strip().lower()
            if not key or key not in seen:
                kept.append(rest[a:b].strip())
                seen.add(key)
        if kept or not rest.strip():
            out.append(prefix + " ".join(k for k in kept if k) if kept else line)
    return re.sub(r"\n{3,}", "\n\n", "\n".join(out)).strip()


_SAYS_NO_ANSWER = re.compile(r"(?<![\"“'])" + re.escape(NO_ANSWER.rstrip(".")), re.I)


def says_no_answer(draft: str) -> bool:
    """Whether a model's draft says the passages do not answer the question (in its own words,
    not inside the quoted instruction a small model may echo)."""
    return bool(_SAYS_NO_ANSWER.search(draft))


def drop_marked(text: str) -> str:
    """``text`` without the sentences the verifier marked unsupported (and lines left empty)."""
    mark = UNSUPPORTED_MARK.strip()
    out = []
    for line in text.split("\n"):
        if mark not in line:
            out.append(line)
            continue
        prefix = _BULLET.match(line).group(0)  # type: ignore[union-attr]  # always matches
        rest = line[len(prefix):]
        kept = [rest[a:b].strip() for a, b in split_sentences(rest) if mark not in rest[a:b]]
        if any(kept):
            out.append(prefix + " ".join(k for k in kept if k))
    return re.sub(r"\n{3,}", "\n\n", "\n".join(out)).strip()


def collect(stream: Iterator[str | Answer]) -> Answer:
    """The final Answer of an answer stream (``Assistant.ask_stream``; the deltas are
    discarded)."""
    last = (deque(stream, maxlen=1) or [None])[0]
    assert isinstance(last, Answer), "an answer stream ends with its Answer"
    return last
