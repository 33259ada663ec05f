"""What one sentence of an answer asserts: its citation markers, the names it gives, its numbers
and links. Shared by verification (:mod:`rag.verify`), rendering and evaluation.
"""

from __future__ import annotations

import re

from .query import coined_names
from .text import normalize_title, tokenize

# A run of markers: "[1]", "[1, 3]", "[2-4]", "[1][2]", "[Passage 2]".
MARKER_GROUP = re.compile(
    r"(?:[ \t]*\[\s*(?:passage|source|p)?\s*#?\d+(?:\s*(?:[,;]|[-–]|and)\s*#?\d+)*\s*\])+",
    re.I)
_ONE_MARKER = re.compile(r"\[\s*(?:passage|source|p)?\s*#?([\d#,;\s\-–and]+)\]", re.I)
UNSUPPORTED_MARK = " _(unverified)_"

_CONNECTORS = frozenset("a an and the of for in on with to via from at by".split())
_QUOTED = re.compile(r"\*\*(.+?)\*\*|\*(.+?)\*|\"(.+?)\"|“(.+?)”|(?<!\w)_(.+?)_(?!\w)")
_CAPS_RUN = re.compile(r"(?<![.!?]\s)(?<!^)\b([A-Z][\w-]*(?:\s+(?:of|for|and|in|on|with|the|to|"
                       r"via|a)?\s*[A-Z][\w-]*){2,})")
_NUMBER = re.compile(r"(?<![\w.])\d+(?:[.,]\d+)*")
URL = re.compile(r"https?://[^\s<>\"')\]]*[^\s<>\"')\].,;:!?]")


def parse_numbers(group: str) -> list[int]:
    """The passage numbers of a marker group, in order, without repeats ("[2-4]" is 2, 3, 4)."""
    nums: list[int] = []
    for m in _ONE_MARKER.finditer(group):
        for part in re.split(r"\s*(?:[,;]|\band\b)\s*", m.group(1).replace("#", "")):
            ends = [int(x) for x in re.split(r"\s*[-–]\s*", part.strip()) if x.strip().isdigit()]
            if len(ends) == 2 and 0 < ends[1] - ends[0] < 20:
                nums.extend(range(ends[0], ends[1] + 1))
            else:
                nums.extend(ends)
    return list(dict.fromkeys(nums))


def strip_markers(text: str) -> str:
    """``text`` without citation markers."""
    return re.sub(r"\s+([.,;:!?])", r"\1", MARKER_GROUP.sub("", text)).strip()


def named_things(sentence: str) -> list[str]:
    """Titles and names a sentence asserts: quoted/bold/italic spans, runs of capitalised words
    (not at the sentence start), and coined names (:func:`rag.query.coined_names`)."""
    s = strip_markers(sentence)
    names = [next(g for g in m.groups() if g) for m in _QUOTED.finditer(s)]
    names += [m.group(1) for m in _CAPS_RUN.finditer(s)]
    names += coined_names(s)
    return [n.strip() for n in dict.fromkeys(names) if len(tokenize(n, stem=False)) >= 1]


def found_in(name: str, padded: str) -> bool:
    """Whether ``name`` occurs in a text given as `` normalize_title(text) ``: one- and two-word
    names word for word (a plural "s" aside), longer ones as a near-contiguous phrase."""
    words = normalize_title(name).split()
    if not words:
        return True
    if len(words) <= 2:
        return all(f" {w} " in padded or f" {w.removesuffix('s')} " in padded for w in words)
    if f" {' '.join(words)} " in padded:
        return True
    pairs = list(zip(words, words[1:]))
    if sum(f" {a} {b} " in padded for a, b in pairs) / len(pairs) >= 0.75:
        return True
    # a paraphrased title or name list: nearly every content word present
    content = [w for w in words if w not in _CONNECTORS]
    return len(content) >= 3 and sum(f" {w} " in padded for w in content) / len(content) >= 0.85


def numbers_in(text: str) -> frozenset[str]:
    """Numbers of two or more digits in ``text`` ("70,000" as "70000"), years left out."""
    nums = (m.replace(",", "").rstrip(".") for m in _NUMBER.findall(text))
    return frozenset(x for x in nums if len(x.replace(".", "")) >= 2
                     and not re.fullmatch(r"(?:19|20)\d\d", x))
