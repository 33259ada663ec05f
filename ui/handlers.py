"""The handlers behind digest-rag's app (``app.py``) and its ``/ask`` API, over one Assistant:
chat answers streamed (an LLM's draft token by token, extractive answers sentence by sentence,
follow-ups rewritten from the previous answer), filters and their removable chips, chats saved
to and restored from the browser, the papers list, the status line. No layout here.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import time
from collections.abc import Iterator

import gradio as gr
from langchain_core.language_models import BaseChatModel

import ui.chats as chats
from rag import Answer, Assistant, RagError
from rag.answer.llm import llm_rewriter
from rag.output.export import bibtex, cited_papers, export, ris
from rag.output.portable import answer_dict
from ui.conversation import Rewriter, needs_subject, rewrite_followup
from ui.papers import SORTS, filter_papers, papers_html
from ui.render import (
    FILTER_KEYS,
    actions_line,
    answer_stream,
    error_html,
    filter_chips,
    filters_line,
    llm_answer_markdown,
    md_escape,
    sources_panel,
    status_html,
)
from ui.serve import base_url

log = logging.getLogger("digest-rag.app")

EXAMPLES = [
    "Which papers adapt foundation models to head CT?",
    "Where is the code for ZACAF?",
    "What did the digests say about physics-informed neural networks since May?",
    "Which work uses transfer learning to detect peatland fires?",
]
SEARCHING = "_Searching the digests…_"
CONCURRENCY = int(os.environ.get("RAG_CONCURRENCY", "4"))
EXTRACTIVE, LLM = "extractive", "llm"  # the values of the "Answer with" control
NO_SUBJECT = ("What does it refer to? There is no earlier answer to refer back to: name the "
              "paper or topic, e.g. “Did the EEG papers release code?”.")
# Gradio sends this key to the page, where it encrypts the saved chats: it keeps one site's
# chats apart from another's, it is no secret (nothing sensitive is stored)
STORE_KEY = "digest-rag-chats"


def _message(err: Exception) -> str:
    """A user-facing message for any error (RagErrors carry their own)."""
    if isinstance(err, RagError):
        return str(err)
    log.exception("unexpected error in the app")
    return (f"Something went wrong ({type(err).__name__}: {err}). The details are in the "
            "server log.")


def _say(history: list, text: str) -> list:
    """``history`` with its last message replaced by the assistant's ``text``."""
    return [*history[:-1], {"role": "assistant", "content": text}]


class AssistantApp:
    """The handlers behind the UI and the API, over one Assistant. ``chat`` (a LangChain chat
    model, named ``llm_label``) answers by default, 'extractive' on request; the app, not the
    assistant's ``llm_backend`` setting, decides. Follow-ups are rewritten by ``rewriter``, else
    by ``chat`` when it answers, else by rules. ``notice`` goes in the status line."""

    def __init__(self, assistant: Assistant, rewriter: Rewriter | None = None,
                 stream_delay: float = 0.02, chat: BaseChatModel | None = None,
                 llm_label: str = "", notice: str = "") -> None:
        self.assistant = assistant
        self.rewriter = rewriter
        self.stream_delay = stream_delay  # pause between streamed sentences (readability)
        self.chat = chat
        self.llm_label = (llm_label or getattr(chat, "model_name", "") or chat._llm_type
                          ) if chat is not None else ""
        self.llm_rewriter = llm_rewriter(chat) if chat is not None else None
        self.notice = notice

    def chat_for(self, answerer: str | None) -> BaseChatModel | None:
        """The chat model answering for ``answerer`` ('' = the app's default, 'extractive' or
        'llm'); None means the extractive answerer."""
        choice = (answerer or "").strip().lower()
        if choice in ("", EXTRACTIVE) or (self.chat and choice == LLM):
            return None if choice == EXTRACTIVE else self.chat
        raise RagError(f"No answerer {answerer!r} in this app.", f"use '' (the default) or "
                       f"'{EXTRACTIVE}'" + (f" or '{LLM}'" if self.chat else " (no --llm)"))

    # ------------------------------------------------------------------ status and filters
    def status(self) -> str:
        """The status line, read from the assistant now: it names the index being served
        (a rebuilt index is picked up between questions)."""
        try:
            a = self.assistant
            if not a.auto_build:
                state, reason = a.state()
                if state != "ok":
                    return error_html(f"The index is {state}: {reason}. Fix: run `rag index` "
                                      "(the app serves the new index as soon as it is built).")
            line = status_html(a.status(), self.llm_label or EXTRACTIVE)
            return line + (error_html(self.notice) if self.notice else "")
        except Exception as err:  # noqa: BLE001 - shown as a message
            return error_html(_message(err))

    def digest_choices(self) -> list[tuple[str, str]]:
        """(label, id) of every digest in the served index, oldest first."""
        try:
            ds = sorted(self.assistant.index.digests.values(),
                        key=lambda d: (d.date or dt.date.min, d.id))
        except Exception:  # noqa: BLE001 - the status line says why
            return []
        return [(f"{d.date or 'undated'} · {d.title}", d.id) for d in ds]

    def _digest_id(self, digest: str | None) -> str | None:
        """A digest id from an id or a title (API clients may pass either)."""
        if not digest:
            return None
        digests = self.assistant.index.digests
        if digest in digests:
            return digest
        for d in digests.values():
            if d.title.strip().lower() == digest.strip().lower():
                return d.id
        raise RagError(f"No digest {digest!r}.", "pick one of the digests listed in the app")

    def filters_view(self, since: str, until: str, digest: str | None, has_code: bool,
                     previous: Answer | None = None, turns: list | None = None) -> list:
        """The filter line: its label (with a warning for a malformed date) and one removable
        chip per filter in force, including those the last question was read with."""
        bad = []
        for name, v in (("since", since), ("until", until)):
            try:
                if v and v.strip():
                    dt.date.fromisoformat(v.strip())
            except ValueError:
                bad.append(f"{name} “{v}” is not a date (use YYYY-MM-DD)")
        title = dict((i, t) for t, i in self.digest_choices()).get(digest or "", digest)
        asked = turns[-1]["filters"].get("has_code") if turns else None
        chips = filter_chips((since or "").strip(), (until or "").strip(), title,
                             bool(has_code), previous.query if previous else None, asked)
        label = filters_line(chips) + ("  \n⚠ " + md_escape("; ".join(bad)) if bad else "")
        return [label, *(gr.update(visible=k in chips, value=f"{chips.get(k, k)} ×")
                         for k in FILTER_KEYS)]

    # ------------------------------------------------------------------ chat
    def respond(self, question: str, history: list, turns: list, previous: Answer | None,
                store: dict, since: str, until: str, digest: str | None, has_code: bool,
                answerer: str = "", request: gr.Request | None = None, drop: str = ""
                ) -> Iterator[tuple]:
        """Answer one chat question: an LLM's draft streams token by token and the verified
        answer replaces it; extractive answers stream sentence by sentence. ``drop`` ('dates'
        or 'code') asks again without what the question's own words implied.
        Yields (chat, textbox, sources panel, turns, previous answer, store, past chats)."""
        history, turns, same = list(history or []), list(turns or []), gr.update()
        question = (question or "").strip()
        if not question:
            yield history, "", same, turns, previous, same, same
            return
        history += [{"role": "user", "content": md_escape(question)},  # shown as typed
                    {"role": "assistant", "content": SEARCHING}]
        yield history, "", same, turns, previous, same, same
        ans: Answer | None = None
        try:
            chat = self.chat_for(answerer)
            rewriter = self.rewriter or (self.llm_rewriter if chat is not None else None)
            filters = dict(since=since or None, until=until or None,
                           digest=self._digest_id(digest), has_code=True if has_code else None)
            if drop == "code":
                filters["has_code"] = False
            query = self.assistant.read(question, **filters)
            if previous is None and turns:  # a chat restored from the browser: ask again
                last = turns[-1]
                previous = self.assistant.ask(last["searched"], **{
                    k: v for k, v in last["filters"].items() if v is not None})
            if needs_subject(query, previous):
                history = _say(history, md_escape(NO_SUBJECT))
                yield history, "", same, turns, previous, same, same
                return
            searched = query.search_text if drop == "dates" else rewrite_followup(
                query, previous, rewriter)
            prefix = ""
            if searched.strip() != query.text:
                query = self.assistant.read(searched, **filters)
                prefix = f"_Searching for: {md_escape(searched)}_\n\n"
            draft = ""
            for item in self.assistant.ask_stream(query, llm=chat or False):
                if isinstance(item, Answer):
                    ans = item
                elif chat is not None:  # an LLM's draft, shown as it arrives
                    draft += item
                    if item.strip():
                        history = _say(history, prefix + md_escape(draft))
                        yield history, "", same, turns, previous, same, same
            if ans is None:
                raise RagError("The answer stream ended without an answer.", "ask again")
        except Exception as err:  # noqa: BLE001 - every error becomes a chat message
            history = _say(history, "⚠ " + md_escape(_message(err)))
            yield history, "", same, turns, previous, same, same
            return
        n = len(turns) + 1
        turns.append(chats.make_turn(question, searched, filters, ans, n,
                                     self.assistant.index.digests, base_url(request)))
        panel = sources_panel(turns)
        pieces = ([llm_answer_markdown(ans, n, self.llm_label)] if chat is not None
                  else list(answer_stream(ans, n)))
        actions = "\n\n" + actions_line(n, exports=bool(turns[-1]["bib"]))
        for i, partial in enumerate(pieces):
            if i and self.stream_delay:
                time.sleep(self.stream_delay)
            last = i == len(pieces) - 1
            history = _say(history, prefix + partial + (actions if last else ""))
            if not last:  # the cards come with the first piece (so [n] links work at once)
                yield history, "", panel if i == 0 else same, turns, ans, same, same
        store = chats.load(store)
        store = chats.save(store, store["current"], history, turns)
        yield history, "", panel, turns, ans, store, gr.update(choices=chats.choices(store))

    def reask(self, kind: str, history: list, turns: list, previous: Answer | None,
              store: dict, since: str, until: str, digest: str | None, has_code: bool,
              answerer: str = "", request: gr.Request | None = None) -> Iterator[tuple]:
        """Ask the last question again without the filter its words implied (``kind``)."""
        question = turns[-1]["q"] if turns else ""
        yield from self.respond(question, history, turns, previous, store, since, until,
                                digest, has_code, answerer, request, drop=kind)

    # ------------------------------------------------------------------ chats
    def _show(self, store: dict, chat: dict | None) -> tuple:
        """(chat, sources, turns, previous, store, past chats) showing ``chat`` (or none)."""
        index = self.assistant.index
        turns = [t for i, raw in enumerate(chat["turns"] if chat else [], 1)
                 if (t := chats.restore_turn(raw, i, index.papers, index.digests))]
        history = chat["history"] if chat and turns else []
        return (history, sources_panel(turns), turns, None, store,
                gr.update(choices=chats.choices(store), value=chat["id"] if chat else None))

    def restore(self, store: dict) -> tuple:
        """On page load: the chat the browser was showing, and the list of past chats."""
        store = chats.load(store)
        try:
            return self._show(store, chats.find(store, store["current"]))
        except Exception:  # noqa: BLE001 - no index: an empty chat, the status line says why
            return [], sources_panel([]), [], None, store, gr.update(choices=[])

    def new_chat(self, store: dict) -> tuple:
        """Start a new chat; the current one stays in the past chats."""
        store = {**chats.load(store), "current": chats.new_id()}
        return [], sources_panel([]), [], None, store, gr.update(
            choices=chats.choices(store), value=None)

    def delete_chat(self, store: dict) -> tuple:
        """The chat's trash icon: forget this chat (and its sources)."""
        store = chats.load(store)
        store = chats.delete(store, store["current"])
        return [], sources_panel([]), [], None, store, gr.update(
            choices=chats.choices(store), value=None)

    def open_chat(self, chat_id: str | None, store: dict) -> tuple:
        """Show a past chat."""
        store = chats.load(store)
        chat = chats.find(store, chat_id or "")
        if chat is None:
            return (gr.update(),) * 6
        return self._show({**store, "current": chat["id"]}, chat)

    # ------------------------------------------------------------------ API
    def ask(self, question: str, since: str = "", until: str = "", digest: str = "",
            has_code: bool = False, answerer: str = "",
            request: gr.Request | None = None) -> dict:
        """Answer a question from the digests, citing the papers.

        Returns a dict: answer (markdown with corpus text escaped, only http(s) links, each
        [n] linked and resolved in a numbered source list), abstained, notes, items,
        citations (plain-text title, authors, institutions, digest, date, validated
        code_urls, arxiv_url, url, passage, ...), bibtex and ris (the cited papers) and
        answerer (who wrote it). Dates are YYYY-MM-DD; digest is a digest id or title;
        has_code keeps papers with code; answerer is '' (the app's default), 'extractive' or
        'llm'.
        """
        try:
            chat = self.chat_for(answerer)
            ans = self.assistant.ask(question, since=since or None, until=until or None,
                                     digest=self._digest_id(digest),
                                     has_code=True if has_code else None, llm=chat or False)
        except Exception as err:  # noqa: BLE001
            raise gr.Error(_message(err), print_exception=False) from None  # logged once
        papers, digests = cited_papers(ans), self.assistant.index.digests
        return {**answer_dict(ans, base_url=base_url(request)),
                "bibtex": bibtex(papers, digests), "ris": ris(papers, digests),
                "answerer": self.llm_label if chat else EXTRACTIVE}

    def papers_export(self, query: str = "", institution: str = "", has_code: bool = False,
                      format: str = "bibtex") -> str:  # noqa: A002 - the API's word
        """The papers matching a search (title, name, author or institution), an institution
        and has_code, as 'bibtex' or 'ris' (the Papers tab's export)."""
        try:
            index = self.assistant.index
            shown = filter_papers(self.assistant.papers(), index.digests, query,
                                  institution or None, bool(has_code))
            return export(shown, (format or "bibtex").strip().lower(), index.digests)
        except ValueError as err:
            raise gr.Error(str(err), print_exception=False) from None
        except Exception as err:  # noqa: BLE001
            raise gr.Error(_message(err), print_exception=False) from None  # logged once

    # ------------------------------------------------------------------ papers browser
    def institutions(self) -> list[str]:
        """Every institution the papers name, for the papers browser's filter."""
        try:
            papers = self.assistant.papers()
        except Exception:  # noqa: BLE001 - the status line says why
            return []
        return sorted({i for p in papers for i in p.institutions}, key=str.lower)

    def papers_view(self, query: str = "", institution: str | None = None,
                    has_code: bool = False, sort: str = SORTS[0]) -> str:
        """The papers list for the current filter, with its exports."""
        try:
            index, papers = self.assistant.index, self.assistant.papers()
        except Exception as err:  # noqa: BLE001
            return error_html(_message(err))
        shown = filter_papers(papers, index.digests, query, institution, has_code, sort)
        passages: dict[str, list[str]] = {}
        for p in shown:  # each paper's own rows: no pass over every chunk (rag.index.table)
            for row in index.paper_rows.get(p.id, ()):
                text = index.chunks[row].text
                if text not in passages.setdefault(p.id, []):
                    passages[p.id].append(text)
        return papers_html(shown, index.digests, passages, total=len(papers))

    def refresh(self, store: dict) -> tuple:
        """On page load: status, filter choices, papers list and the saved chat."""
        return (self.status(), gr.update(choices=self.digest_choices()),
                gr.update(choices=self.institutions()), self.papers_view(),
                *self.restore(store))
