"""Small-model mode: count prompt tokens, size the answer, fit passages into a context window.

A small model on a CPU reads its prompt at a few hundred tokens a second, so the prompt decides
the time to first token, and a 2k-token context window holds only a few passages. Here:

* :func:`token_counter` counts tokens with the model's own tokenizer when one can be reached
  (in-process GGUF models; an OpenAI-compatible llama.cpp server's ``/tokenize``), otherwise
  approximates them as one per :data:`APPROX_CHARS_PER_TOKEN` characters, which over-counts
  English for BPE tokenizers (about four characters a token), so an approximated prompt still fits;
* :func:`is_small` decides small-model mode (``RAG_LLM_SMALL``; by default on for in-process
  GGUF models), :func:`context_window` what the prompt must fit in;
* :func:`answer_tokens` sizes ``max_tokens`` to the question;
* :func:`fit_blocks` keeps the passage blocks that fit a token budget, cutting one that does not
  at a sentence boundary.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from langchain_core.language_models import BaseChatModel

from rag.answer.local_llm import count_tokens_at
from rag.records import Query
from rag.settings import Settings
from rag.text import split_sentences

APPROX_CHARS_PER_TOKEN = 3.0
TEMPLATE_TOKENS = 8  # a chat template's role markers around one message
Counter = Callable[[str], int]

_SERVER_TOKENIZE: dict[str, bool] = {}  # root URL -> whether it answers /tokenize


def approx_tokens(text: str) -> int:
    """An over-estimate of the tokens of ``text`` for BPE tokenizers (see module docstring)."""
    return math.ceil(len(text) / APPROX_CHARS_PER_TOKEN)


def _server_root(chat: BaseChatModel) -> str | None:
    base = getattr(chat, "openai_api_base", None)
    if not base:
        return None
    base = str(base).rstrip("/")
    return base[:-3] if base.endswith("/v1") else base


def token_counter(chat: BaseChatModel) -> tuple[Counter, str]:
    """(a function counting tokens as ``chat``'s model does, how it counts: 'model tokenizer',
    'server tokenizer' or 'approximation')."""
    own = getattr(chat, "count_tokens", None)
    if callable(own):
        return own, "model tokenizer"
    root = _server_root(chat)
    if root:
        if root not in _SERVER_TOKENIZE:
            try:
                _SERVER_TOKENIZE[root] = count_tokens_at(root, "probe", timeout=2.0) > 0
            except (OSError, ValueError, KeyError):  # not a llama.cpp server
                _SERVER_TOKENIZE[root] = False
        if _SERVER_TOKENIZE[root]:
            return (lambda text: count_tokens_at(root, text)), "server tokenizer"
    return approx_tokens, "approximation"


def is_small(chat: BaseChatModel, settings: Settings) -> bool:
    """Small-model mode: ``settings.llm_small``, or by default on for in-process GGUF models."""
    if settings.llm_small is not None:
        return settings.llm_small
    return chat._llm_type in ("xllamacpp", "llama-cpp")


def context_window(chat: BaseChatModel, settings: Settings, small: bool) -> int | None:
    """Tokens the prompt plus the answer must fit in: an in-process model's own window, else
    ``settings.llm_context`` in small-model mode, else unknown (None: nothing is cut)."""
    own = getattr(chat, "n_ctx", None)
    if isinstance(own, int) and own > 0:
        return own
    return settings.llm_context if small else None


# answer length by question intent: (base tokens, tokens per passage shown)
_ANSWER_SIZE = {"lookup": (112, 0), "who": (80, 0), "code": (80, 0), "compare": (96, 32),
                "list": (48, 40), "time": (48, 40)}


def answer_tokens(query: Query, n_passages: int, settings: Settings) -> int:
    """``max_tokens`` for ``query``: a few sentences for a lookup, a line per paper for a list
    or comparison, never more than ``settings.llm_max_tokens``."""
    base, per = _ANSWER_SIZE.get(query.intent, (112, 0))
    want = base + per * n_passages + 32 * max(0, len(query.named) - 1)
    return max(32, min(settings.llm_max_tokens, want))


def fit_blocks(blocks: Sequence[str], count: Counter, budget: int, limit: int,
               cut: Callable[[int, int], str | None]) -> list[tuple[int, str]]:
    """``(index, block)`` of the ``blocks`` kept, in order: each while its tokens (plus a
    separator) fit the ``budget``, at most ``limit`` of them. When the first block alone does
    not fit, ``cut(index, tokens_left)`` may return a shorter version of it."""
    kept: list[tuple[int, str]] = []
    left = budget
    for i, block in enumerate(blocks):
        if len(kept) >= limit or left <= 0:
            break
        n = count(block) + 2
        if n <= left:
            kept.append((i, block))
            left -= n
        elif not kept and (short := cut(i, left - 2)):
            kept.append((i, short))
            left -= count(short) + 2
    return kept


def cut_sentences(text: str, fits: Callable[[str], bool]) -> str | None:
    """The longest run of ``text``'s first sentences for which ``fits`` holds (or its first
    words, when not even one sentence fits); None when nothing does."""
    spans = split_sentences(text) or [(0, len(text))]
    lo, hi, best = 1, len(spans), None
    while lo <= hi:  # binary search: a few tokenizer calls, not one per sentence
        mid = (lo + hi) // 2
        candidate = text[:spans[mid - 1][1]].rstrip()
        if fits(candidate):
            best, lo = candidate, mid + 1
        else:
            hi = mid - 1
    if best:
        return best
    words = text[:spans[0][1]].split()
    lo, hi = 1, len(words)
    while lo <= hi:
        mid = (lo + hi) // 2
        candidate = " ".join(words[:mid]) + " ..."
        if fits(candidate):
            best, lo = candidate, mid + 1
        else:
            hi = mid - 1
    return best
