"""Conversation: turn a follow-up question into a standalone one before retrieving.

"Where is the code for ZACAF?" followed by "and where is its code?" should search for ZACAF,
not for "its". :func:`rewrite_followup` does this with rules: when the question leans on the
previous turn (a pronoun such as *it / its / they / this paper*, or an ellipsis such as *what
about ...?*), the pronoun is replaced by the main paper of the previous answer (its short name
when it has one, else its title). Standalone questions come back unchanged.

An LLM-based rewriter can be plugged in later through the ``rewriter`` parameter (any callable
``(question, history) -> question``); the rules are the fallback when it fails or returns
nothing. ``history`` is a chat in the messages format: ``[{"role": "user" | "assistant",
"content": str | [{"type": "text", "text": str}, ...]}, ...]``, oldest first, not including the
new question.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable

from .text import tokenize

log = logging.getLogger(__name__)

Rewriter = Callable[[str, list[dict]], str]

# "its code", "their results": possessive pronouns (become "<subject>'s").
_POSSESSIVE = re.compile(r"\b(its|their)\b", re.I)
_POSSESSIVE_NOUN = re.compile(r"\b(?:its|their)\s+([\w-]+)", re.I)
# "this paper", "that work", "the same method": noun phrases pointing back.
_DEMONSTRATIVE = re.compile(
    r"\b(?:this|that|these|those|the same|said)\s+(?:paper|papers|work|works|study|method|"
    r"model|approach|framework|one|article|preprint|system|benchmark|dataset)\b", re.I)
# bare pronouns ("is it open source?", "who wrote it?", "where are they from?")
_PRONOUN = re.compile(r"\b(it|they|them)\b", re.I)
# "what about the authors?", "and how about TimeMAE?"
_WHAT_ABOUT = re.compile(r"^(?:and\s+|so\s+|ok(?:ay)?,?\s+)?(?:what|how)\s+about\s+(.+?)\W*$",
                         re.I)
_LEADING = re.compile(r"^(?:and|also|so|ok(?:ay)?|then|but)\b[\s,]*", re.I)
# an acronym-like name: two or more capitals or a capital and a digit ("ZACAF", "MoLRE",
# "T-PaiNN", "MP-ISMoE", "GPT4")
_NAME = re.compile(r"(?<![\w-])([A-Za-z][\w]*(?:-[\w]+)*)(?![\w-])")
_BOLD = re.compile(r"\*\*(.+?)\*\*")
_MD_ESCAPE = re.compile(r"\\([\\`*_{}\[\]()<>#|!~.+-])")
# words that look like names but are not subjects
_NOT_NAMES = {"AI", "ML", "LLM", "LLMs", "CT", "MRI", "NLP", "GPU", "CPU", "URL", "PDF", "II",
              "OK", "USA", "UK", "EU"}


def message_text(message: dict) -> str:
    """The plain text of one chat message, whatever shape its content has."""
    content = message.get("content", "") if isinstance(message, dict) else message
    if isinstance(content, str):
        return content
    if isinstance(content, dict):
        return str(content.get("text") or content.get("value") or "")
    if isinstance(content, (list, tuple)):
        return " ".join(message_text({"content": c}) for c in content)
    return ""


def _looks_like_name(word: str) -> bool:
    if word in _NOT_NAMES or len(word) < 3:
        return False
    for part in word.split("-"):
        caps = sum(c.isupper() for c in part)
        if caps >= 2 or (caps >= 1 and any(c.isdigit() for c in part)):
            return True
    return False


def names_in(text: str) -> list[str]:
    """Acronym-like paper names in ``text`` (ZACAF, MoLRE, T-PaiNN), in order, no repeats."""
    return list(dict.fromkeys(w for w in _NAME.findall(text or "") if _looks_like_name(w)))


def _last(history: list[dict], role: str) -> str:
    for m in reversed(history or []):
        if isinstance(m, dict) and m.get("role") == role:
            text = message_text(m).strip()
            if text:
                return text
    return ""


def main_subject(history: list[dict]) -> str | None:
    """The main paper of the previous turn: a name the last question used that the last answer
    confirms, else the short name or title of the first paper the last answer cites."""
    answer = _MD_ESCAPE.sub(r"\1", _last(history, "assistant"))
    question = _last(history, "user")
    titles = [t.strip() for t in _BOLD.findall(answer)
              if not re.fullmatch(r"\[?\d+\]?|sources?:?", t.strip(), re.I)]
    for name in names_in(question):
        if not answer or re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", answer):
            return name
    if titles:
        title = titles[0]
        head = title.split(":", 1)[0].strip()
        if ":" in title and _looks_like_name(head) and len(head.split()) == 1:
            return head  # "MP-ISMoE: Mixed-Precision ..." -> "MP-ISMoE"
        inner = names_in(title)
        return inner[0] if len(inner) == 1 else title
    names = names_in(question)
    return names[0] if names else None


# A question with this many content words carries its own topic: its "it", "they" or "their"
# point inside the question ("... medical image models hold up when they move ...").
SELF_CONTAINED_WORDS = 5


def is_followup(question: str) -> bool:
    """Whether the question leans on the previous turn (pronoun or ellipsis)."""
    q = question.strip()
    if _WHAT_ABOUT.match(q) or _DEMONSTRATIVE.search(q):
        return True
    rest = _LEADING.sub("", q)
    own_topic = len(set(tokenize(_PRONOUN.sub(" ", _POSSESSIVE.sub(" ", q))))) \
        >= SELF_CONTAINED_WORDS
    if _POSSESSIVE.search(q):
        return rest != q or not own_topic
    if names_in(q):  # "is ZACAF open source?" names its subject
        return False
    if _PRONOUN.search(q):
        return rest != q or not own_topic
    return rest != q and len(rest.split()) <= 4


def _rules(question: str, history: list[dict]) -> str:
    q = " ".join(question.split())
    if not q or not history or not is_followup(q):
        return question
    subject = main_subject(history)
    if not subject:
        return question
    prev_q = _last(history, "user")
    m = _WHAT_ABOUT.match(q)
    if m:
        target = m.group(1).strip()
        if names_in(target):  # "what about TimeMAE?" -> the previous question, about TimeMAE
            if prev_q and subject.lower() in prev_q.lower():
                return re.sub(re.escape(subject), lambda _: target, prev_q, count=1,
                              flags=re.I)
            return q
        target = _POSSESSIVE.sub("", target).strip()
        target = re.sub(r"^(?:the\s+)?", "the ", target, count=1, flags=re.I)
        return f"What about {target} of {subject}?"
    out = _LEADING.sub("", q)
    # "its code" -> "ZACAF's code", or "the code of <long title>"
    possessive: tuple[re.Pattern[str], Callable[[re.Match[str]], str]] = (
        (_POSSESSIVE, lambda m: f"{subject}'s") if " " not in subject else
        (_POSSESSIVE_NOUN, lambda m: f"the {m.group(1)} of {subject}"))
    replaced = False
    for pattern, repl in ((_DEMONSTRATIVE, lambda m: subject), possessive,
                          (_PRONOUN, lambda m: subject)):
        out, n = pattern.subn(repl, out, count=1)
        if n:
            replaced = True
            break
    if not replaced:  # an elliptic "and the code?": add the subject
        out = f"{out.rstrip('?.! ')} of {subject}?"
    return out[:1].upper() + out[1:]


def rewrite_followup(question: str, history: list[dict],
                     rewriter: Rewriter | None = None) -> str:
    """``question`` made standalone using ``history`` (see the module docstring).

    ``rewriter`` (for example an LLM) is tried first; when it is missing, raises or returns an
    empty string, the rule-based rewrite is used.
    """
    if rewriter is not None and history:
        try:
            out = rewriter(question, list(history))
            if isinstance(out, str) and out.strip():
                return out.strip()
        except Exception as err:  # noqa: BLE001 - a broken plug-in must not break the chat
            log.warning("follow-up rewriter failed (%s); using the rules", err)
    return _rules(question, history)
