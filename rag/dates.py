"""Dates: the date range a question implies, and the date a document states.

:func:`read_dates` (used by :mod:`rag.answer.query`) reads a question's range. It knows months and
their parts ("late April" = Apr 21-30), open ranges ("since", "after", "before", "until"),
closed ones ("in May", "between March and May", "from March 10 to April 2"), one digest's day
("the March 7 digest", "the 7 March 2026 issue", also with a topic between: "the April 4
transfer learning digest"), ISO dates, and phrases relative to the newest digest ("last
week's digest", "the latest digest", "last month"). Dates without a year take the newest
digest's year. :func:`parse_date` (used by :mod:`rag.corpus.ingest`) reads 'Mar. 7, 2026',
'7 March 2026' or '2026-03-07' in a digest.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from rag.records import Digest

_MONTHS = {m.lower(): i for i, m in enumerate(calendar.month_name) if m}
_MONTHS.update({m.lower(): i for i, m in enumerate(calendar.month_abbr) if m})
_MONTHS["sept"] = 9
MONTH = "(" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")\.?"
_PARTS = {"early": (1, 10), "mid": (11, 20), "late": (21, 31), "first half of": (1, 15),
          "second half of": (16, 31), "beginning of": (1, 10), "end of": (21, 31),
          "start of": (1, 10)}
PART = r"(?:(early|mid|late|first half of|second half of|beginning of|start of|end of)[\s-]+)?"
YEAR = r"(?:,?\s+(\d{4}))?"
DOC = r"(?:digests?|roundups?|issues?|editions?|posts?|newsletters?|round-ups?)"
DAY = r"(\d{1,2})(?:st|nd|rd|th)?"
# "May" the verb: "may be", "may have" ... is not the month
_MAY_VERB = re.compile(r"\bmay\s+(be|have|i|we|you|it|they|help|not|also|use|work)\b")
# a pattern's reader: its match -> (since, until), either open
Reader = Callable[[re.Match[str]], tuple[dt.date | None, dt.date | None]]


@dataclass(frozen=True)
class Found:
    """A date phrase: the range it names, its words, and the question without them."""

    since: dt.date | None
    until: dt.date | None
    phrase: str
    rest: str


def _span(year: int, month: int, part: str | None) -> tuple[dt.date, dt.date]:
    """First and last day of ``month`` or of a part of it ("late", "first half of" ...)."""
    last = calendar.monthrange(year, month)[1]
    lo, hi = _PARTS.get(part or "", (1, last))
    return dt.date(year, month, lo), dt.date(year, month, min(hi, last))


def _year(g: str | None, default: int) -> int:
    return int(g) if g else default


def _day(year: int, month: str, day: str) -> dt.date | None:
    try:
        return dt.date(year, _MONTHS[month], int(day))
    except ValueError:
        return None


def _patterns(year: int, newest: dt.date | None) -> list[tuple[re.Pattern[str], Reader]]:
    """(pattern, reader) pairs, most specific first; a reader maps a match to (since, until)."""
    P = re.compile

    def month_span(m: re.Match[str], part: int, mon: int, yr: int) -> tuple[dt.date, dt.date]:
        return _span(_year(m.group(yr), year), _MONTHS[m.group(mon)], m.group(part))

    pats: list[tuple[re.Pattern[str], Reader]] = [
        # ISO dates
        (P(r"\b(?:between|from)\s+(\d{4}-\d{2}-\d{2})\s+(?:and|to|until|through)\s+"
           r"(\d{4}-\d{2}-\d{2})\b"),
         lambda m: (dt.date.fromisoformat(m.group(1)), dt.date.fromisoformat(m.group(2)))),
        (P(r"\b(?:since|after|from)\s+(\d{4}-\d{2}-\d{2})\b"),
         lambda m: (dt.date.fromisoformat(m.group(1)), None)),
        (P(r"\b(?:before|until|through|up to)\s+(\d{4}-\d{2}-\d{2})\b"),
         lambda m: (None, dt.date.fromisoformat(m.group(1)))),
        # between March 10 and April 2 / between March and May
        (P(rf"\b(?:between|from)\s+{MONTH}\s+{DAY}{YEAR}\s+(?:and|to|until|through|-)\s+"
           rf"{MONTH}\s+{DAY}{YEAR}\b"),
         lambda m: (_day(_year(m.group(3), year), m.group(1), m.group(2)),
                    _day(_year(m.group(6), year), m.group(4), m.group(5)))),
        (P(rf"\b(?:between|from)\s+{PART}{MONTH}{YEAR}\s+(?:and|to|until|through|-)\s+"
           rf"{PART}{MONTH}{YEAR}\b"),
         lambda m: (month_span(m, 1, 2, 3)[0], month_span(m, 4, 5, 6)[1])),
        # one digest's day: "the March 7 digest", "the April 4 transfer learning digest"
        (P(rf"\b(?:(?:in|from|of)\s+)?(?:the\s+)?{MONTH}\s+{DAY}{YEAR}(?:\s+[\w-]+){{0,4}}?\s+"
           rf"{DOC}\b"),
         lambda m: ((d := _day(_year(m.group(3), year), m.group(1), m.group(2))), d)),
        (P(rf"\b(?:(?:in|from|of)\s+)?(?:the\s+)?{DAY}\s+(?:of\s+)?{MONTH}{YEAR}"
           rf"(?:\s+[\w-]+){{0,4}}?\s+{DOC}\b"),
         lambda m: ((d := _day(_year(m.group(3), year), m.group(2), m.group(1))), d)),
        # since / after: open end
        (P(rf"\b(?:since|after)\s+(?:the\s+)?{PART}{MONTH}(?:\s+{DAY})?{YEAR}\b"),
         lambda m: ((_day(_year(m.group(4), year), m.group(2), m.group(3)) if m.group(3)
                     else month_span(m, 1, 2, 4)[0]), None)),
        (P(rf"\bfrom\s+{PART}{MONTH}{YEAR}\s+(?:on(?=\s*[,.;?!]|$)|onwards?|forward)"),
         lambda m: (month_span(m, 1, 2, 3)[0], None)),
        # before / until / through: open start
        (P(rf"\b(before|until|till|through|up to|by)\s+{PART}{MONTH}{YEAR}\b"),
         lambda m: (None, (month_span(m, 2, 3, 4)[0] - dt.timedelta(days=1))
                    if m.group(1) == "before" else month_span(m, 2, 3, 4)[1])),
        (P(rf"\b(?:(?:in|from|during|of)\s+)?(?:the\s+)?(first half of|second half of|early|mid|"
           rf"late|beginning of|start of|"
           rf"end of)[\s-]+{MONTH}{YEAR}\b(?:\s+{DOC}\b)?"), lambda m: month_span(m, 1, 2, 3)),
        # in April and May (2026): both months
        (P(rf"\b(?:in|during|from|over)\s+(?:the\s+)?{PART}{MONTH}{YEAR}\s+(?:and|&|or)\s+"
           rf"{PART}{MONTH}{YEAR}\b"),
         lambda m: (_span(_year(m.group(3) or m.group(6), year), _MONTHS[m.group(2)],
                          m.group(1))[0], month_span(m, 4, 5, 6)[1])),
        # the first quarter of 2026, Q2 2026
        (P(r"\b(?:in\s+|during\s+)?(?:the\s+)?(first|second|third|fourth|1st|2nd|3rd|4th)\s+"
           r"quarter\s+(?:of\s+)?(20\d\d)\b|\bQ([1-4])\s+(20\d\d)\b", re.I),
         lambda m: _quarter(int(m.group(2) or m.group(4)), _QUARTERS.get(
             (m.group(1) or "").lower()) or int(m.group(3) or 1))),
        # in / during / from (late) May (2026) (digests)
        (P(rf"\b(?:in|during|from|of)\s+(?:the\s+)?{PART}{MONTH}{YEAR}\b(?!\s+\d)"
           rf"(?:\s+{DOC}\b)?"), lambda m: month_span(m, 1, 2, 3)),
        (P(rf"\b(?:the\s+)?{PART}{MONTH}{YEAR}\s+{DOC}\b"), lambda m: month_span(m, 1, 2, 3)),
        (P(rf"\b{PART}{MONTH}{YEAR}(?=\s+(?:papers?|works?|studies|research|preprints?|"
           rf"articles?)\b)"), lambda m: month_span(m, 1, 2, 3)),
        # a whole year
        (P(r"\b(?:in|during|from)\s+(20\d\d)\b(?!-)"),
         lambda m: (dt.date(int(m.group(1)), 1, 1), dt.date(int(m.group(1)), 12, 31))),
    ]
    if newest is not None:
        pats += [
            (P(rf"\b(?:in\s+|from\s+)?(?:the\s+)?(?:latest|newest|most recent|last|this "
               rf"week'?s|last week'?s)\s+(?:[\w-]+\s+){{0,3}}?{DOC}\b"),
             lambda m: (newest, newest)),
            (P(r"\b(?:in\s+|from\s+|during\s+)?(?:the\s+)?(?:last|past)\s+(week|month|"
               r"(\d+|two|three|four|six)\s+(weeks|months))\b"),
             lambda m: (_back(newest, m.group(1)), newest)),
            (P(r"\bthis\s+(week|month)\b"),
             lambda m: (_back(newest, m.group(1)), newest)),
        ]
    return pats


_NUM = {"two": 2, "three": 3, "four": 4, "six": 6}
_QUARTERS = {"first": 1, "1st": 1, "second": 2, "2nd": 2, "third": 3, "3rd": 3, "fourth": 4,
             "4th": 4}


def _quarter(year: int, q: int) -> tuple[dt.date, dt.date]:
    """The first and last day of quarter ``q`` (1-4) of ``year``."""
    first = dt.date(year, 3 * q - 2, 1)
    last = dt.date(year + 1, 1, 1) if q == 4 else dt.date(year, 3 * q + 1, 1)
    return first, last - dt.timedelta(days=1)


def _back(newest: dt.date, span: str) -> dt.date:
    """The start of "the last week / month / 3 weeks" ending at the newest digest."""
    words = span.split()
    n = int(words[0]) if words[0].isdigit() else _NUM.get(words[0], 1)
    unit = words[-1]
    days = 7 * n if unit.startswith("week") else 31 * n
    return newest - dt.timedelta(days=days - 1)


def read_dates(question: str, digests: Sequence[Digest] = ()) -> Found | None:
    """The date range ``question`` implies, or None when it names none."""
    dated = [d.date for d in digests if d.date]
    newest = max(dated) if dated else None
    year = newest.year if newest else dt.date.today().year
    q = question.lower()
    for pattern, reader in _patterns(year, newest):
        for m in pattern.finditer(q):
            if _MAY_VERB.search(q, m.start(), min(len(q), m.end() + 12)) and "may" in m.group(0) \
                    and not re.search(r"\d", m.group(0)):
                continue
            since, until = reader(m)
            if since is None and until is None:
                continue
            if since and until and since > until:
                since, until = until, since
            if since is not None and since == until and dated and since not in dated:
                day = since
                near = min(dated, key=lambda d: abs((d - day).days))
                if abs((near - day).days) <= 3:  # "the April 4 digest" posted on April 5
                    since = until = near
            a, b = m.span()
            rest = (question[:a] + question[b:]).strip().lstrip(",;: ")
            if not re.search(r"\w", rest):  # the question was only a date phrase: keep it
                rest = question
            rest = re.sub(r"\s+([?.!,])", r"\1", re.sub(r"\s{2,}", " ", rest))
            return Found(since, until, question[a:b].strip(), rest)
    return None


# ---------------------------------------------------------------- dates written in documents
_MONTH_NAMES = ("january", "february", "march", "april", "may", "june", "july", "august",
                "september", "sept", "october", "november", "december")
_DATE_RE = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})"
                      r"|([A-Za-z]{3,9})\.?\s+(\d{1,2})(?:st|nd|rd|th)?,?\s+(\d{4})"
                      r"|(\d{1,2})(?:st|nd|rd|th)?\s+(?:of\s+)?([A-Za-z]{3,9})\.?,?\s+(\d{4})")


def parse_date(text: str) -> dt.date | None:
    """The first date in ``text``: 'Mar. 7, 2026', 'March 7, 2026', '7 March 2026' or
    '2026-03-07' (words that only look like months are passed over)."""
    for m in _DATE_RE.finditer(text):
        if m.group(1):
            y, mo, d = int(m.group(1)), int(m.group(2)), int(m.group(3))
        else:
            mon, d, y = ((m.group(4), int(m.group(5)), int(m.group(6))) if m.group(4)
                         else (m.group(8), int(m.group(7)), int(m.group(9))))
            mon = mon.lower()
            found = _MONTHS.get(mon[:4] if mon.startswith("sept") else mon[:3])
            if found is None or not any(full.startswith(mon) for full in _MONTH_NAMES):
                continue
            mo = found
        try:
            return dt.date(y, mo, d)
        except ValueError:
            continue
    return None
