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
    rest = (question[:span[0]] + question[span[1]:]).strip()
    return since, until, re.sub(r"\s+([?.!,])", r"\1", re.sub(r"\s{2,}", " ", rest))


def _dates(q: str, year: int) -> tuple[dt.date | None, dt.date | None, tuple[int, int] | None]:
    m = re.search(rf"\b(since|after|from)\s+(?:early\s+|late\s+)?({_MONTH_RE})\.?(?:\s+(\d{{4}}))?\b", q)
    if m:
        y = int(m.group(3)) if m.group(3) else year
        return dt.date(y, _MONTHS[m.group(2)], 1), None, m.span()
    m = re.search(rf"\b(before|until|through)\s+({_MONTH_RE})\.?(?:\s+(\d{{4}}))?\b", q)
    if m:
        y = int(m.group(3)) if m.group(3) else year
        mo = _MONTHS[m.group(2)]
        if m.group(1) == "before":
            return None, dt.date(y, mo, 1) - dt.timedelta(days=1), m.span()
        return None, dt.date(y, mo, calendar.monthrange(y, mo)[1]), m.span()
    m = re.search(rf"\b(?:in|during)\s+(?:the\s+)?({_MONTH_RE})\.?(?:\s+(\d{{4}}))?\b(?!\s+\d)", q) \
        or re.search(rf"\bthe\s+({_MONTH_RE})\s+digests?\b", q)
    if m and not re.search(r"\b(may|can)\s+(be|have|i|we|you|it|they)\b", q[m.start():m.end() + 12]):
        y = int(m.group(2)) if m.lastindex and m.lastindex >= 2 and m.group(2) else year
        mo = _MONTHS[m.group(1)]
        return dt.date(y, mo, 1), dt.date(y, mo, calendar.monthrange(y, mo)[1]), m.span()
    return None, None, None
