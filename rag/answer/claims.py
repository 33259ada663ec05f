"""What one sentence of an answer asserts: its citation markers, the names it gives, its numbers
(every one, digits or words) and links; and where in a passage it is found (:class:`Grounding`:
one window of the passage, no conflicting polarity, direction, counts or percentages, no loop,
the question's words it repeats in the passage too, in strict mode a near-copy from a passage
about the question). Shared by verification (:mod:`rag.answer.verify`), rendering and evaluation.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from rag.answer.query import QUESTION_WORDS, coined_names
from rag.text import normalize_title, sentences, tokenize

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
    (not at the sentence start), and coined names (:func:`rag.answer.query.coined_names`)."""
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


_UNITS = "two three four five six seven eight nine".split()
_NUMBER_WORDS = {w: str(i) for i, w in enumerate(
    "_ _ two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
    "sixteen seventeen eighteen nineteen twenty".split()) if w != "_"} | {
    w: str(10 * i) for i, w in enumerate("thirty forty fifty sixty seventy eighty ninety".split(),
                                         3)}
# "one" alone is a pronoun ("the one that ..."), "zero" mostly a term ("zero-shot"): left as words
_SPELLED = re.compile(r"\b(" + "|".join(_NUMBER_WORDS) + r")(?:[-\s](one|" + "|".join(_UNITS)
                      + r"))?\b", re.I)
_MONTH = (r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
          r"sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?")
# numbers that count nothing: dates (the digest's, shown on its source card), list enumerators,
# references to a passage by number
_NOT_COUNTS = re.compile(
    rf"\b{_MONTH}\s+\d{{1,2}}(?:st|nd|rd|th)?\b|\b\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?{_MONTH}"
    r"|\b(?:19|20)\d\d-\d\d(?:-\d\d)?\b|^\s*(?:[-*•]\s*)?\(?\d{1,2}[.)](?=\s)"
    r"|\b(?:passage|source|snippet|excerpt)s?\s*#?\d+", re.I | re.M)


def spelled_digits(text: str) -> str:
    """``text`` with its number words as digits ("three" as "3", "twenty-five" as "25")."""
    def digits(m: re.Match[str]) -> str:
        tens = int(_NUMBER_WORDS[m.group(1).lower()])
        unit = (["one", *_UNITS].index(m.group(2).lower()) + 1) if m.group(2) else 0
        if unit and tens < 20:  # "ten two" is two numbers, not one
            return f"{tens} {unit}"
        return str(tens + unit)
    return _SPELLED.sub(digits, text)


def _plain_number(raw: str) -> str:
    """A number as :func:`numbers_in` writes it: "70,000" as "70000", "3.10" as "3.1"."""
    x = raw.rstrip("%").replace(",", "").rstrip(".")
    return x.rstrip("0").rstrip(".") if "." in x else x


def numbers_in(text: str) -> frozenset[str]:
    """Every number ``text`` states, single digits, decimals and number words included ("3.1",
    "three" as "3", "70,000" as "70000"); years, dates, list enumerators and passage numbers
    ("passage 2") left out: they count nothing a passage must hold."""
    text = _NOT_COUNTS.sub(" ", spelled_digits(text))
    nums = (_plain_number(m) for m in _NUMBER.findall(text))
    return frozenset(x for x in nums if x and not re.fullmatch(r"(?:19|20)\d\d", x))


# ---------------------------------------------------------------------- where a claim is found
# What verification asks of the passage text a claim comes from (see rag.answer.verify): that what
# the claim adds be found within one *window* of a passage (a sentence, two adjacent sentences, or
# the passage's heading line with one sentence), that it negate what the window negates, keep its
# "from A to B" the right way round and its numbers counting the same things, and that it does not
# repeat itself.

_NEGATION = re.compile(
    r"\b(?:not(?!\s+(?:only|just|merely)\b)|no|never|none|neither|nor|without|cannot|"
    r"lacks?|lacking)\b|\b\w+n['’]t\b|\bun(available|released|published|supported)\b", re.I)
_CLAUSE_END = re.compile(r"[,;:()\[\]]|\.(?:\s|$)")
_NUMBER_AT = re.compile(r"(?<![\w.])\d+(?:[.,]\d+)*%?(?!\w)")
_MONTHS = frozenset("january february march april may june july august september october "
                    "november december monday tuesday wednesday thursday friday saturday "
                    "sunday".split())
_Q_CAPS = re.compile(r"(?<!^)(?<![.!?]\s)\b([A-Z][\w.&-]*(?:\s+(?:of|for|and|de|da|i|the)?\s*"
                     r"[A-Z][\w.&-]*)*)")


_YEAR = re.compile(r"(?<![\w.,])(?:19|20)\d\d(?![\w.,]\d)")


def windows(passage: str) -> list[str]:
    """Where one claim may be found in ``passage``: each sentence, each two adjacent sentences,
    and, when the passage opens with a one-sentence line (a heading: what it is about), that
    line alone and with each sentence."""
    lines = [x.strip() for x in passage.split("\n") if x.strip()]
    heading = lines[0] if len(lines) > 1 and len(sentences(lines[0])) <= 1 else ""
    sents = [s for line in (lines[1:] if heading else lines) for s in (sentences(line) or [line])]
    out = sents + [f"{a} {b}" for a, b in zip(sents, sents[1:])]
    return out + ([heading] + [f"{heading}\n{s}" for s in sents] if heading else [])


def term_in(term: str, terms: frozenset[str]) -> bool:
    """Whether ``term`` (a token of :func:`rag.text.tokenize`) is in ``terms``, or a word of the
    same stem is ("align" and "alignment": one is a prefix of the other, the shorter 5+
    letters long)."""
    if term in terms:
        return True
    if len(term) < 5:
        return False
    return any(len(t) >= 5 and (t.startswith(term) or term.startswith(t)) for t in terms)


def negations(text: str) -> tuple[bool, frozenset[str]]:
    """Whether ``text`` negates something, and the terms it negates: those of the clause after
    each "not", "no", "without", "...n't" (at most three), and "available" for "unavailable"."""
    found, terms = False, set()
    for m in _NEGATION.finditer(text):
        found = True
        if m.group(1):
            terms.update(tokenize(m.group(1)))
            continue
        rest = text[m.end():m.end() + 80]
        end = _CLAUSE_END.search(rest)
        terms.update(tokenize(rest[:end.start()] if end else rest)[:3])
    return found, frozenset(terms)


def polarity_clash(claim: str, window: str) -> bool:
    """Whether ``claim`` negates what ``window`` affirms or affirms what it negates ("the code is
    not available" against a passage giving the link; "X needs labels" against "X works without
    labels")."""
    c_neg, c_terms = negations(claim)
    w_neg, w_terms = negations(window)
    if c_neg and not w_neg:
        return True
    if c_neg:  # both negate: not the same thing when the claim negates what the window affirms
        affirmed = frozenset(tokenize(window)) - w_terms
        return any(term_in(t, affirmed) for t in c_terms - w_terms)
    return w_neg and any(term_in(t, w_terms) for t in tokenize(claim))


_PERCENT = "%"  # in a number's context: the number is a percentage ("87%", "87 percent")
_PERCENT_WORD = re.compile(r"\s*(?:percent|per\s*cent|percentage)", re.I)


def _number_contexts(text: str) -> dict[str, set[str]]:
    """Each number of ``text`` (as :func:`numbers_in` writes it, number words included) and the
    terms beside it in its clause: up to three before and three after, and :data:`_PERCENT`
    when it is a percentage."""
    text = spelled_digits(text)
    out: dict[str, set[str]] = {}
    for m in _NUMBER_AT.finditer(text):
        after = text[m.end():m.end() + 60]
        end = _CLAUSE_END.search(after)
        before = text[max(0, m.start() - 60):m.start()]
        start = max((x.end() for x in _CLAUSE_END.finditer(before)), default=0)
        pct = [_PERCENT] if m.group(0).endswith("%") or _PERCENT_WORD.match(after) else []
        out.setdefault(_plain_number(m.group(0)), set()).update(
            tokenize(after[:end.start()] if end else after)[:3] + tokenize(before[start:])[-3:]
            + pct)
    return out


def numbers_bound(claim: str, window: str) -> bool:
    """Whether each number of ``claim`` that ``window`` also gives counts the same thing there:
    the word right after it in the claim ("1,122 documents", "0.9 seconds") is beside it in the
    window, and a percentage in the claim is one in the window ("87%" is not "87 tasks")."""
    have = _number_contexts(window)
    for num, beside in _number_contexts(claim).items():
        if num not in have:
            continue
        if _PERCENT in beside and _PERCENT not in have[num]:
            return False
    claim = spelled_digits(claim)
    for m in _NUMBER_AT.finditer(claim):
        num = _plain_number(m.group(0))
        after = claim[m.end():m.end() + 60]
        end = _CLAUSE_END.search(after)
        unit = tokenize(after[:end.start()] if end else after)[:1]
        if num in have and unit and not term_in(unit[0], frozenset(have[num])):
            return False
    return True


_FROM_TO = re.compile(r"\bfrom\s+([^,;:.()]{2,60}?)\s+(?:to|into|onto)\s+([^,;:.()]{2,60}?)"
                      r"(?=[,;:.()]|\s+(?:and|with|for|by|using|via|while|achiev\w*)\b|$)", re.I)


def direction_clash(claim: str, window: str) -> bool:
    """Whether ``claim`` turns round a "from A to B" of ``window`` (a transfer from one domain
    to another, a rise from one figure to another): its A is the window's B rather than its
    A."""
    pairs = [(frozenset(tokenize(a)), frozenset(tokenize(b))) for a, b in _FROM_TO.findall(window)]
    for a, b in _FROM_TO.findall(claim):
        ca, cb = frozenset(tokenize(a)), frozenset(tokenize(b))
        for wa, wb in pairs:
            if len((ca | cb) & (wa | wb)) >= 2 and len(ca & wb) > len(ca & wa):
                return True
    return False


def conflicts(claim: str, window: str) -> bool:
    """Whether ``window`` states something other than ``claim`` in the claim's own words: the
    opposite polarity (:func:`polarity_clash`), a "from A to B" turned round
    (:func:`direction_clash`) or a number counting something else (:func:`numbers_bound`)."""
    return polarity_clash(claim, window) or direction_clash(claim, window) or \
        not numbers_bound(claim, window)


def repeated_runs(sentence: str, n: int = 4) -> set[str]:
    """The runs of ``n`` words (two of them content words) that ``sentence`` says twice, as
    normalised text: "the paper that does X is the one that does X" is a small model's loop,
    which asserts nothing, unless the question or passage it copies says it twice as well."""
    words = normalize_title(strip_markers(sentence)).split()
    seen: set[str] = set()
    out: set[str] = set()
    for i in range(len(words) - n + 1):
        gram = " ".join(words[i:i + n])
        if len(tokenize(gram)) >= 2:
            (out if gram in seen else seen).add(gram)
    return out


def question_names(question: str) -> list[str]:
    """What a question asks about by name: its titles and coined names
    (:func:`named_things`) and its capitalised words and runs after the first word ("Wichita
    State University", "Pavlos Protopapas", "Stanford"), months and weekdays left out."""
    names = named_things(question) + [m.group(1) for m in _Q_CAPS.finditer(question)]
    out: list[str] = []
    for nm in dict.fromkeys(n.strip(" .") for n in names):
        words = normalize_title(nm).split()
        if not words or all(w in _MONTHS for w in words) or len(nm) < 2 or any(
                f" {' '.join(words)} " in f" {normalize_title(o)} " for o in out):
            continue
        out = [o for o in out if f" {normalize_title(o)} " not in f" {' '.join(words)} "]
        out.append(nm)
    return out


# words that say what kind of work is asked for, not what it is about ("What research ...")
_ASKING = frozenset(tokenize("research researcher researchers team teams effort efforts"))
STRICT_SHARE = 1.0  # strict (small-model) mode: every term a claim adds, within one window
RELEVANCE = 0.3  # strict mode: idf share of the question's terms its cited passages must hold
# (set so that 91% of the passages of the digest questions' gold papers hold it, 17% of others)


class Grounding:
    """Where in numbered passages (from 1) a claim is found, beyond overall support: within one
    window of each passage it cites (:meth:`local`), not as a loop (:meth:`loops`), and, in
    strict mode, in passages about what the question asks (:meth:`about_question`). Terms
    match by stem (:func:`term_in`) and count by ``idf``."""

    def __init__(self, passages: Sequence[str], question: str, topic: Sequence[str],
                 idf: Callable[[str], float], strict: bool = False) -> None:
        self.terms = [frozenset(tokenize(p)) for p in passages]
        self.norm = [f" {normalize_title(p)} " for p in passages]
        self.q_norm = f" {normalize_title(question)} "
        self.q_names = question_names(question)
        self.topic, self.idf, self.strict = list(topic), idf, strict
        self.asked = frozenset(topic) - QUESTION_WORDS - _ASKING
        self.windows = [[(w, frozenset(tokenize(w)), f" {normalize_title(w)} ")
                         for w in windows(p)] for p in passages]

    def held(self, terms: Sequence[str], have: frozenset[str]) -> float:
        """idf share of ``terms`` found in ``have`` (1.0 for no terms)."""
        total = sum(self.idf(t) for t in terms)
        return sum(self.idf(t) for t in terms if term_in(t, have)) / total if total else 1.0

    @staticmethod
    def mentions(name: str, padded: str, terms: frozenset[str]) -> bool:
        """Whether a text (normalised and padded, and its terms) mentions ``name``."""
        return found_in(name, padded) or all(term_in(t, terms) for t in tokenize(name))

    def loops(self, claim: str, ns: Sequence[int]) -> bool:
        """Whether ``claim`` says a run of words twice (:func:`repeated_runs`) that neither
        passages ``ns`` nor the question and passages together say twice."""
        return any(sum(f" {g} " in t for t in (self.q_norm, *(self.norm[n - 1] for n in ns)))
                   < 2 and max(self.norm[n - 1].count(f" {g} ") for n in ns) < 2
                   for g in repeated_runs(claim))

    def given(self, terms: Sequence[str]) -> list[str]:
        """Those of a claim's ``terms`` that it takes from what the question asks about (its
        topic terms, question words, dates and request words such as "research" left out): a
        sentence restating the question asserts them too ("X studies federated learning across
        satellites"), so the passage it cites must hold them."""
        return [t for t in terms if t in self.asked]

    def local(self, claim: str, novel: Sequence[str], ns: Sequence[int], share: float,
              given: Sequence[str] = ()) -> bool:
        """Whether ``claim`` is found within one window (:func:`windows`) of each of passages
        ``ns``, not scattered over them: the windows hold ``share`` (idf-weighted; STRICT_SHARE
        in strict mode) of its ``novel`` terms (those the question lacks), all its numbers
        (the question's too), links and names (and the question's names it repeats), and no
        window :func:`conflicts` with it; and the terms it takes from the question
        (``given``, :meth:`given`) are all in those windows (strict mode) or passages."""
        numbers, urls = numbers_in(claim), URL.findall(claim)
        padded_claim = f" {normalize_title(claim)} "
        # a year counts nothing, but it is still a claim: in a cited passage or the question
        if any(all(f" {y} " not in t for t in (self.q_norm, *(self.norm[n - 1] for n in ns)))
               for y in _YEAR.findall(claim)):
            return False
        names = named_things(claim) + [n for n in self.q_names if found_in(n, padded_claim)]
        chosen = []
        for n in ns:
            fits = [(self.held(novel, t) + self.held(given, t) + sum(u in w for u in urls) + sum(
                x in numbers_in(w) for x in numbers) + sum(self.mentions(nm, p, t) for nm in
                                                            names), w, t, p)
                    for w, t, p in self.windows[n - 1] if not conflicts(claim, w)]
            if fits:
                chosen.append(max(fits, key=lambda f: f[0]))
        text = "\n".join(f[1] for f in chosen)
        terms = frozenset().union(*(f[2] for f in chosen))
        padded = " ".join(f[3] for f in chosen)
        whole = terms if self.strict else frozenset().union(*(self.terms[n - 1] for n in ns))
        return bool(chosen) and self.held(novel, terms) >= (STRICT_SHARE if self.strict
                                                            else share) \
            and self.held(given, whole) >= 1.0 \
            and not numbers - numbers_in(text) and all(u in text for u in urls) \
            and all(self.mentions(nm, padded, terms) for nm in names)

    def about_question(self, ns: Sequence[int]) -> bool:
        """Whether passages ``ns`` are about what the question asks: they mention one of the
        names it gives (:func:`question_names`), if any, and RELEVANCE (idf-weighted) of its
        topic terms."""
        padded = " ".join(self.norm[n - 1] for n in ns)
        terms = frozenset().union(*(self.terms[n - 1] for n in ns))
        if self.q_names and not any(self.mentions(nm, padded, terms) for nm in self.q_names):
            return False
        return self.held(self.topic, terms) >= RELEVANCE
