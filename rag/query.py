"""Query handling: check a question and read the filters it implies.

"What did the digests say about X since March?" asks for digests dated from March 1 on; "in
May 2026" asks for May. Dates without a year take the year of the newest digest. Explicit
filters passed by the caller always win over what the question implies.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
import unicodedata

from .errors import QuestionError

_MONTHS = {m.lower(): i for i, m in enumerate(calendar.month_name) if m}
_MONTHS.update({m.lower(): i for i, m in enumerate(calendar.month_abbr) if m})
_MONTH_RE = "|".join(sorted(_MONTHS, key=len, reverse=True))


def check_question(question: object, max_chars: int) -> tuple[str, tuple[str, ...]]:
    """The cleaned question and notes for the user; QuestionError when there is nothing to ask."""
    if not isinstance(question, str):
        raise QuestionError(f"The question must be text, not {type(question).__name__}.",
                            "pass a string")
    q = " ".join(question.split())
    if not q:
        raise QuestionError("The question is empty.", "type a question about the digests")
    notes: list[str] = []
    if len(q) > max_chars:
        q = q[:max_chars].rsplit(" ", 1)[0]
        notes.append(f"Your question was {len(question):,} characters; I used the first "
                     f"{len(q):,}.")
    letters = [c for c in q if c.isalpha()]
    latin = sum(1 for c in letters if "LATIN" in unicodedata.name(c, ""))
    if letters and latin / len(letters) < 0.5:
        notes.append("The digests and the search model are English: questions in English work "
                     "best.")
    return q, tuple(notes)


def date_filters(question: str, year: int) -> tuple[dt.date | None, dt.date | None, str]:
    """(since, until, question without the date phrase) implied by the question; the dates are
    None when it names none."""
    since, until, span = _dates(question.lower(), year)
    if span is None:
        return None, None, question
    rest = (question[:span[0]] + question[span[1]:]).strip().lstrip(",;: ")
    if not re.search(r"\w", rest):  # the question was only a date phrase: keep its words
        return since, until, question
    return since, until, re.sub(r"\s+([?.!,])", r"\1", re.sub(r"\s{2,}", " ", rest))


_PARTS = {"early": (1, 10), "mid": (11, 20), "late": (21, 31), "first half of": (1, 15),
          "second half of": (16, 31), "beginning of": (1, 10), "end of": (21, 31)}
_PART_RE = r"(?:(early|mid|late|first half of|second half of|beginning of|end of)[\s-]+)?"
_YEAR_RE = r"(?:,?\s+(\d{4}))?"
_DOC_RE = r"(?:digests?|roundups?|issues?|editions?|posts?)"


def _span(year: int, month: int, part: str | None) -> tuple[dt.date, dt.date]:
    """First and last day of ``month`` or of a part of it ("late", "first half of" ...)."""
    last = calendar.monthrange(year, month)[1]
    lo, hi = _PARTS.get(part or "", (1, last))
    return dt.date(year, month, lo), dt.date(year, month, min(hi, last))


def _dates(q: str, year: int) -> tuple[dt.date | None, dt.date | None, tuple[int, int] | None]:
    """(since, until, span of the date phrase) for the first date phrase in ``q`` (lower case)."""
    m = re.search(rf"\b(since|after|from)\s+{_PART_RE}({_MONTH_RE})\.?{_YEAR_RE}\b", q)
    if m:
        y = int(m.group(4)) if m.group(4) else year
        return _span(y, _MONTHS[m.group(3)], m.group(2))[0], None, m.span()
    m = re.search(rf"\b(before|until|through)\s+{_PART_RE}({_MONTH_RE})\.?{_YEAR_RE}\b", q)
    if m:
        y = int(m.group(4)) if m.group(4) else year
        lo, hi = _span(y, _MONTHS[m.group(3)], m.group(2))
        if m.group(1) == "before":
            return None, lo - dt.timedelta(days=1), m.span()
        return None, hi, m.span()
    # "the March 7 digest", "the 7 March 2026 issue": that day's digest
    m = re.search(rf"\b(?:(?:in|from)\s+)?(?:the\s+)?({_MONTH_RE})\.?\s+(\d{{1,2}})(?:st|nd|rd|th)?"
                  rf"{_YEAR_RE}\s+{_DOC_RE}\b", q) or re.search(
        rf"\b(?:(?:in|from)\s+)?(?:the\s+)?()(\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?({_MONTH_RE})\.?{_YEAR_RE}"
        rf"\s+{_DOC_RE}\b", q)
    if m:
        month = m.group(1) or m.group(3)
        y = int(m.group(m.lastindex)) if m.group(m.lastindex) and len(m.group(m.lastindex)) == 4 \
            else year
        try:
            day = dt.date(y, _MONTHS[month], int(m.group(2)))
        except ValueError:
            day = None
        if day:
            return day, day, m.span()
    m = re.search(rf"\b(?:in|during)\s+(?:the\s+)?{_PART_RE}({_MONTH_RE})\.?{_YEAR_RE}\b"
                  rf"(?!\s+\d)(?:\s+{_DOC_RE}\b)?", q) \
        or re.search(rf"\b(?:the\s+)?(first half of|second half of|early|mid|late|beginning of|"
                     rf"end of)[\s-]+({_MONTH_RE})\.?{_YEAR_RE}\b(?:\s+{_DOC_RE}\b)?", q) \
        or re.search(rf"\bthe\s+{_PART_RE}({_MONTH_RE}){_YEAR_RE}\s+{_DOC_RE}\b", q) \
        or re.search(rf"\b{_PART_RE}({_MONTH_RE}){_YEAR_RE}\s+{_DOC_RE}\b", q)
    if m and not re.search(r"\b(may|can)\s+(be|have|i|we|you|it|they)\b",
                           q[m.start():m.end() + 12]):
        y = int(m.group(3)) if m.group(3) else year
        since, until = _span(y, _MONTHS[m.group(2)], m.group(1))
        return since, until, m.span()
    return None, None, None
