"""Authors: find author groups in a digest sentence and the institutions written beside them.

Author groups: "Yoo et al.", "Smith and colleagues", "Nada Shahin and Leila Ismail (United Arab
Emirates University)", "by Aisha Bello, from ...". Institutions: in parentheses after the
authors, after "from"/"at", or as a possessive before them ("Stanford University’s Jane
Doe"). Used by :mod:`rag.titles` and :mod:`rag.mentions`.
"""

from __future__ import annotations

import re

import regex

from .lexicon import INSTITUTION_WORDS, is_name_like, looks_like_title

_COUNTRIES = frozenset("India China USA US UK Germany France Italy Spain Japan Korea Canada "
                       "Brazil Australia Singapore Qatar Switzerland Netherlands".split())
_NAME_PARTICLES = frozenset("of and the de di i at für for del la le du da y von van der".split())

# A person's name token: capitalised word, initial, or all-caps surname ("MARTÍN-PÉREZ").
_NT = r"(?:\p{Lu}\.|\p{Lu}[\p{Ll}\p{Lu}’'\-]*(?<!’s)(?<!'s)\.?)"
_PARTICLE = r"(?:da|de|di|dos|das|van|von|der|del|la|le|du|bin|al)"
_PERSON = rf"{_NT}(?:\s+(?:{_PARTICLE}\s+)?{_NT}){{0,3}}"
_AUTHOR_PATTERNS = [
    regex.compile(rf"(?P<g>{_PERSON}\s+et\s+al\.?)"),
    regex.compile(rf"(?P<g>{_PERSON}\s+and\s+(?:colleagues|co-authors|coauthors|his team|"
                  rf"her team|their team|collaborators))"),
    regex.compile(rf"(?P<g>{_PERSON}(?:,\s+{_PERSON})*,?\s+and\s+{_PERSON})"
                  rf"(?=\s*\(|\s+from\b|\s+at\b|\s*\))"),
    regex.compile(rf"(?<=\bby\s)(?P<g>{_PERSON})(?=\s*\(|\s+from\b|,|\.|\))"),
    regex.compile(rf"(?P<g>{_PERSON})(?=\s+from\s+(?:the\s+)?\p{{Lu}}[^,;]{{0,60}}?(?i:universit|"
                  rf"institut|school|college|lab\b|center|centre|politecnico|hospital)|\s*\([^)]*"
                  rf"(?i:universit|institut|school|college|lab|center|centre)[^)]*\))"),
]
_NOT_NAME_WORDS = frozenset(
    """the in for by from and this these similarly furthermore finally complementing building
    beyond another across at on with however moreover also learning transfer model models
    network networks neural deep data dataset framework university institute school college
    center centre lab laboratory hospital approach method methods system systems analysis
    detection image images medical benchmark foundation recent research innovation science
    sciences technology technologies state national international global new novel
    reinforcement language large small multi based using via code available applied
    researchers researcher scientists authors team teams group engineers experts""".split()
)


def quoted_spans(s: str) -> list[tuple[int, int]]:
    """Spans of the quoted passages of a sentence (titles live there, authors never do)."""
    return [m.span() for m in re.finditer(r"[“\"][^”\"]{3,300}[”\"]", s)]


def find_author_groups(s: str) -> list[tuple[int, int, str]]:
    """Spans of author groups in a sentence, longest-first without overlaps."""
    found: list[tuple[int, int, str]] = []
    quotes = quoted_spans(s)
    for pat in _AUTHOR_PATTERNS:
        for m in pat.finditer(s):
            a, b = m.span("g")
            text = m.group("g")
            # trim leading sentence words ("Similarly, The ...") that are not names
            toks = text.split()
            while toks and toks[0].lower().strip(",") in _NOT_NAME_WORDS:
                a += len(toks[0]) + 1
                toks = toks[1:]
            text = " ".join(toks)
            name_part = re.sub(r"\s+(et al\.?|and (colleagues|co-authors|coauthors|his team|"
                               r"her team|their team|collaborators))$", "", text)
            words = [w.strip(",.").lower() for w in name_part.replace(" and ", " ").split()]
            if not words or any(w in _NOT_NAME_WORDS for w in words):
                continue
            if INSTITUTION_WORDS.search(name_part) or any(w.isdigit() for w in words):
                continue
            if any(re.search(r"[a-z][A-Z]", w) for w in name_part.split()):
                continue  # DeepScope, MoLRE: coined names, not people
            acro = re.match(r"\s*\(([A-Z][A-Z\-]+)\)", s[b:])
            if acro and _spells_initials(acro.group(1), text):
                continue  # "US-ROC and Pan-Asian ... Study (PAROS)": a named thing, but
                # "Smith et al. (MIT)" is a person at an institution
            if any(not (x[1] <= a or x[0] >= b) for x in found + quotes):
                continue
            found.append((a, b, text.rstrip(",")))
    return sorted(found)


def _spells_initials(acronym: str, text: str) -> bool:
    """True when ``acronym`` is spelt by the initials of consecutive capitalised words of
    ``text`` ("PAROS" in "US-ROC and Pan-Asian Resuscitation Outcomes Study")."""
    letters = re.sub(r"[^A-Z]", "", acronym)
    initials = "".join(w[0] for w in re.split(r"[\s\-]+", text) if w[:1].isupper())
    return len(letters) >= 2 and letters in initials


def _split_institutions(span: str) -> list[str]:
    span = re.sub(r"^(?:the|primarily|mainly)\s+", "", span.strip())
    parts = re.split(r"(,\s*and\s+|,\s*|\s+and\s+)", span)
    out: list[str] = []
    sep = ""
    for i, part in enumerate(parts):
        if i % 2 == 1:
            sep = part
            continue
        part = re.sub(r"^(?:the|primarily|mainly)\s+", "", part.strip()).strip(" ")
        if not re.search(r"\b(?:Inc|Ltd|Corp|Co)\.$", part):
            part = part.rstrip(".")
        if not part or part in _COUNTRIES:
            continue
        standalone = (INSTITUTION_WORDS.search(part) or re.fullmatch(r"[A-Z][A-Z&\-]{1,}", part)
                      or is_name_like(part.split()[0]) or "." in part)
        if out and not standalone:
            out[-1] = out[-1] + sep + part if "and" in sep and "," not in sep else \
                out[-1] + ", " + part
        else:
            out.append(part)
    return [o for o in out if len(o) > 1]


def institutions_after(s: str, pos: int) -> tuple[list[str], int]:
    """Institutions written right after an author group: '(X, Y)', 'from X and Y' or
    ', NYU)'. Returns (institutions, position after them)."""
    rest = s[pos:]
    m = re.match(r"\s*\(([^()]*(?:\([^()]*\)[^()]*)*)\)", rest)
    if m:
        inner = m.group(1)
        if "http" in inner:
            return [], pos
        if looks_like_title(inner) and not INSTITUTION_WORDS.search(inner) and \
                len(inner.split()) >= 4:
            return [], pos
        return _split_institutions(inner), pos + m.end()
    m = re.match(r",?\s*(?:primarily\s+|mainly\s+)?(?:from|at)\s+", rest)
    if not m:
        m2 = re.match(r",\s+([^,()]{2,80}?)\)", rest)  # "et al., NYU)"
        if m2:
            return _split_institutions(m2.group(1)), pos + m2.end()
        return [], pos
    # the institution list runs over capitalised words, name particles, commas and
    # parentheses, and stops at the first other lowercase word, a possessive or a period
    end = m.end()
    depth = 0
    for w in re.finditer(r"\S+", rest[m.end():]):
        tok = w.group()
        depth += tok.count("(") - tok.count(")")
        if depth < 0:
            end = m.end() + w.start() + tok.index(")")
            break
        core = tok.strip("(),;’'")
        if core and core[0].islower() and core not in _NAME_PARTICLES:
            break
        end = m.end() + w.end()
        if tok.endswith(("’", ";")) or (tok.endswith(".") and not re.fullmatch(r"\w+\.\w*\.?|"
                                                                               r"[A-Z]\.", core)):
            break
    span = rest[m.end():end].rstrip(",;’.' ")
    words = span.split()
    while words and words[-1].lower() in _NAME_PARTICLES:
        words.pop()
    span = " ".join(words)
    if not span or len(words) > 14:
        return [], pos
    return _split_institutions(span), pos + m.end() + len(span)


def possessive_institutions(s: str, author_start: int) -> list[str]:
    """Institutions written as a possessive just before an author group ("The University of
    X’s Jane Doe and ..."), or [] when the words before the authors name no institution."""
    m = re.search(r"((?:The\s+|the\s+)?[A-Z][\w\s&\-]+?)[’']s\s+$", s[:author_start])
    if not m or not INSTITUTION_WORDS.search(m.group(1)):
        return []
    return _split_institutions(re.sub(r"^[Tt]he\s+", "", m.group(1)))
