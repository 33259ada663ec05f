"""Conversation: turn a follow-up question into a standalone one, from the previous Answer.

"Where is the code for ZACAF?" followed by "and where is its code?" should search for ZACAF,
not for "its". The question is read first (:func:`rag.answer.query.parse` notes whether it leans on
an earlier turn: a pronoun such as *it / its / they / this paper*, or an ellipsis such as
*what about ...?*); :func:`rewrite_followup` then replaces the reference with the subject of
the previous :class:`~rag.records.Answer`: a name the previous question used that its answer
confirms, else its one paper (short name, else title), else, for a list answer, its papers by
name ("TimeMAE and ZACAF") or its topic ("the papers on EEG"). No chat text is parsed.

When there is nothing to refer to (no previous answer, or one that abstained), the question
cannot be answered as asked: :func:`needs_subject` says so and the caller asks what "they"
means. An LLM-based rewriter can be plugged in through ``rewriter`` (any callable
``(question, previous answer) -> question``); the rules are the fallback when it fails or
returns nothing.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable

from rag.answer.query import DEMONSTRATIVE, LEADING, POSSESSIVE, PRONOUN, WHAT_ABOUT
from rag.records import Answer, Query

log = logging.getLogger(__name__)

Rewriter = Callable[[str, Answer], str]

_POSSESSIVE_NOUN = re.compile(r"\b(?:its|their)\s+([\w-]+)", re.I)


def _short(title: str) -> str:
    """'MP-ISMoE: Mixed-Precision ...' -> 'MP-ISMoE'; other titles unchanged."""
    head = title.split(":", 1)[0].strip()
    if ":" in title and len(head.split()) == 1 and any(c.isupper() for c in head[1:]):
        return head
    return title


def subject(previous: Answer | None) -> tuple[str, bool] | None:
    """(what the previous answer was about, whether it is plural), or None."""
    if previous is None or previous.abstained:
        return None
    papers = [i.paper for i in previous.items if i.paper] or \
        [c.paper for c in previous.citations if c.paper]
    q = previous.query
    if q is not None:
        for name in q.names:  # the name the previous question used, if its answer has it
            if any(name.lower() in f"{p.title} {p.short_name or ''}".lower() for p in papers):
                return name, False
    if not papers:
        return None
    if len(papers) == 1 or (q is not None and not q.wants_set):
        p = papers[0]
        return p.short_name or _short(p.title), False
    names = [p.short_name for p in papers if p.short_name]
    if len(names) == len(papers) and len(names) <= 3:
        return (" and ".join([", ".join(names[:-1]), names[-1]]) if len(names) > 1
                else names[0]), True
    topic = q.topic.strip(" ?.!,") if q is not None else ""
    return (f"the papers on {topic}" if topic else "those papers"), True


def needs_subject(query: Query, previous: Answer | None) -> bool:
    """A follow-up ("Did they release code?") with nothing before it to refer to."""
    return query.refers_back and subject(previous) is None and not query.named


def _rules(query: Query, previous: Answer | None) -> str:
    q = query.text
    if not query.refers_back:
        return q
    found = subject(previous)
    if found is None:
        return q
    subj, plural = found
    prev_q = previous.query.text if previous is not None and previous.query else ""
    m = WHAT_ABOUT.match(q)
    if m:
        target = m.group(1).strip()
        if query.names:  # "what about TimeMAE?" -> the previous question, about TimeMAE
            if prev_q and subj.lower() in prev_q.lower():
                return re.sub(re.escape(subj), lambda _: target, prev_q, count=1, flags=re.I)
            return q
        target = POSSESSIVE.sub("", target).strip()
        target = re.sub(r"^(?:the\s+)?", "the ", target, count=1, flags=re.I)
        return f"What about {target} of {subj}?"
    out = LEADING.sub("", q)
    if plural:  # "Did they release code?" -> "Did the papers on EEG release code?"
        possessive = (_POSSESSIVE_NOUN, lambda m: f"the {m.group(1)} of {subj}")
    elif " " not in subj:
        possessive = (POSSESSIVE, lambda m: f"{subj}'s")
    else:
        possessive = (_POSSESSIVE_NOUN, lambda m: f"the {m.group(1)} of {subj}")
    for pattern, repl in ((DEMONSTRATIVE, lambda m: subj), possessive,
                          (PRONOUN, lambda m: subj)):
        out, n = pattern.subn(repl, out, count=1)
        if n:
            break
    else:  # an elliptic "and the code?": add the subject
        out = f"{out.rstrip('?.! ')} of {subj}?"
    return out[:1].upper() + out[1:]


def rewrite_followup(query: Query, previous: Answer | None,
                     rewriter: Rewriter | None = None) -> str:
    """The question of ``query`` made standalone using the previous answer (see the module
    docstring); unchanged when it does not lean on it. ``rewriter`` (for example an LLM) is
    tried first; when it raises or returns nothing, the rules are used."""
    if rewriter is not None and previous is not None and query.refers_back:
        try:
            out = rewriter(query.text, previous)
            if isinstance(out, str) and out.strip():
                return out.strip()
        except Exception as err:  # noqa: BLE001 - a broken plug-in must not break the chat
            log.warning("follow-up rewriter failed (%s); using the rules", err)
    return _rules(query, previous)
