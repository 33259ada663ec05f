"""digest-rag's Gradio app: streaming chat with cited paper cards, filters, follow-up questions
and a papers browser.

Run ``python app.py`` (or ``make run``): it builds the index when it is missing or stale and
serves on http://127.0.0.1:7860 (``--host``/``--port`` or RAG_HOST/RAG_PORT to change).
With ``--llm``/``--llm-model`` (or RAG_LLM_*) an LLM's tokens stream into the chat, the verified
answer replaces the draft, and "Answer with" can still pick the extractive answerer.
API clients call the ``/ask`` endpoint (see README.md). This file only wires the library
(``rag``) to the UI; HTML/markdown rendering and escaping live in ``rag.render``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
import time
from collections.abc import Callable, Iterator

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr  # noqa: E402
from langchain_core.language_models import BaseChatModel  # noqa: E402

from rag import Answer, Assistant, Paper, RagError  # noqa: E402
from rag.conversation import Rewriter, needs_subject, rewrite_followup  # noqa: E402
from rag.backends import BACKENDS, llm_setup  # noqa: E402
from rag.llm import llm_rewriter  # noqa: E402
from app_style import APP_CSS as CSS  # noqa: E402
from app_style import APP_HEAD as HEAD  # noqa: E402
from rag.render import (answer_dict, answer_stream, error_html,  # noqa: E402
                        filters_line, llm_answer_markdown, md_escape, paper_info_card,
                        paper_rows, sources_html, sources_panel, status_html)

log = logging.getLogger("digest-rag.app")

EXAMPLES = [
    "Which papers adapt foundation models to head CT?",
    "Where is the code for ZACAF?",
    "What did the digests say about physics-informed neural networks since May?",
    "Which work uses transfer learning to detect peatland fires?",
]
SEARCHING = "_Searching the digests…_"
PAPER_COLUMNS = ["Date", "Paper", "Authors (digest)", "Institutions", "Code"]
CONCURRENCY = int(os.environ.get("RAG_CONCURRENCY", "4"))
EXTRACTIVE, LLM = "extractive", "llm"  # the values of the "Answer with" control

def _message(err: Exception) -> str:
    """A user-facing message for any error (RagErrors carry their own)."""
    if isinstance(err, RagError):
        return str(err)
    log.exception("unexpected error in the app")
    return (f"Something went wrong ({type(err).__name__}: {err}). The details are in the "
            "server log.")


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

    # ------------------------------------------------------------------ status and build
    def status(self) -> tuple[str, dict]:
        """(status line html, Build button update)."""
        try:
            a = self.assistant
            if not a.auto_build and not a.is_loaded:
                state, reason = a.state()
                if state != "ok":
                    return (error_html(f"The index is {state}: {reason}. Build it to start."),
                            gr.update(visible=True))
            line = status_html(a.status(), self.llm_label or EXTRACTIVE)
            return line + (error_html(self.notice) if self.notice else ""), gr.update(
                visible=False)
        except Exception as err:  # noqa: BLE001 - shown as a message
            return error_html(_message(err)), gr.update(visible=True)

    def build(self) -> tuple[str, dict, dict, list, list[str]]:
        """Build (or refresh) the index, then refresh everything that depends on it."""
        try:
            report = self.assistant.build()
            self.assistant.index  # noqa: B018
            line, btn = self.status()
            line = line.replace("</div>", f" · built {report.chunks} chunks in "
                                f"{report.seconds:.1f}s</div>", 1)
        except Exception as err:  # noqa: BLE001
            line, btn = error_html(_message(err)), gr.update(visible=True)
        rows, ids = self.papers_table()
        return line, btn, gr.update(choices=self.digest_choices()), rows, ids

    def digest_choices(self) -> list[tuple[str, str]]:
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

    def filters_text(self, since: str, until: str, digest: str | None, has_code: bool) -> str:
        """The visible 'Filters: …' line (with a warning for a malformed date)."""
        bad = []
        for name, v in (("since", since), ("until", until)):
            try:
                if v and v.strip():
                    dt.date.fromisoformat(v.strip())
            except ValueError:
                bad.append(f"{name} “{v}” is not a date (use YYYY-MM-DD)")
        title = dict((i, t) for t, i in self.digest_choices()).get(digest or "", digest)
        line = filters_line((since or "").strip(), (until or "").strip(), title, bool(has_code))
        return line + ("  \n⚠ " + md_escape("; ".join(bad)) if bad else "")

    # ------------------------------------------------------------------ chat
    def respond(self, question: str, history: list, turns: list, since: str, until: str,
                digest: str | None, has_code: bool, answerer: str = "") -> Iterator[tuple]:
        """Answer one chat question: an LLM's draft streams token by token and the verified
        answer replaces it; extractive answers stream sentence by sentence.
        Yields (chat, textbox, sources panel, turns)."""
        history = list(history or [])
        turns = list(turns or [])
        question = (question or "").strip()
        if not question:
            yield list(history), "", gr.update(), turns
            return
        history.append({"role": "user", "content": question})
        history.append({"role": "assistant", "content": SEARCHING})
        yield list(history), "", gr.update(), turns
        ans: Answer | None = None
        try:
            chat = self.chat_for(answerer)
            rewriter = self.rewriter or (self.llm_rewriter if chat is not None else None)
            filters = dict(since=since or None, until=until or None,
                           digest=self._digest_id(digest), has_code=True if has_code else None)
            query = self.assistant.read(question, **filters)
            previous = turns[-1][2] if turns and len(turns[-1]) > 2 else None
            if needs_subject(query, previous):
                history[-1] = {"role": "assistant", "content": md_escape(
                    "What does it refer to? There is no earlier answer to refer back to: "
                    "name the paper or topic, e.g. “Did the EEG papers release code?”.")}
                yield list(history), "", gr.update(), turns
                return
            searched = rewrite_followup(query, previous, rewriter)
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
                        history[-1] = {"role": "assistant", "content": prefix + md_escape(draft)}
                        yield list(history), "", gr.update(), turns
            if ans is None:
                raise RagError("The answer stream ended without an answer.", "ask again")
        except Exception as err:  # noqa: BLE001 - every error becomes a chat message
            history[-1] = {"role": "assistant", "content": "⚠ " + md_escape(_message(err))}
            yield list(history), "", gr.update(), turns
            return
        turn = len(turns) + 1
        turns.append((question, sources_html(ans, self.assistant.index.digests, turn), ans))
        panel = sources_panel(turns)
        pieces = ([llm_answer_markdown(ans, turn, self.llm_label)] if chat is not None
                  else list(answer_stream(ans, turn)))
        for i, partial in enumerate(pieces):
            if i and self.stream_delay:
                time.sleep(self.stream_delay)
            history[-1] = {"role": "assistant", "content": prefix + partial}
            # the cards come with the first piece (so [n] links work at once) and the last
            yield (list(history), "", panel if i in (0, len(pieces) - 1) else gr.update(),
                   turns)

    def clear(self) -> tuple[list, str, list]:
        return [], sources_panel([]), []

    # ------------------------------------------------------------------ API
    def ask(self, question: str, since: str = "", until: str = "", digest: str = "",
            has_code: bool = False, answerer: str = "") -> dict:
        """Answer a question from the digests, citing the papers.

        Returns a dict: answer (markdown with [n] markers), abstained, notes, citations
        (title, authors, institutions, digest, date, code_urls, arxiv_url, passage, ...) and
        answerer (who wrote it). Dates are YYYY-MM-DD; digest is a digest id or title; has_code
        keeps papers with code; answerer is '' (the app's default), 'extractive' or 'llm'.
        """
        try:
            chat = self.chat_for(answerer)
            ans = self.assistant.ask(question, since=since or None, until=until or None,
                                     digest=self._digest_id(digest),
                                     has_code=True if has_code else None, llm=chat or False)
        except Exception as err:  # noqa: BLE001
            raise gr.Error(_message(err)) from None
        return {**answer_dict(ans), "answerer": self.llm_label if chat else EXTRACTIVE}

    # ------------------------------------------------------------------ papers browser
    def _papers(self) -> list[Paper]:
        try:
            return self.assistant.papers()
        except Exception:  # noqa: BLE001 - the status line says why
            return []

    def institutions(self) -> list[str]:
        return sorted({i for p in self._papers() for i in p.institutions}, key=str.lower)

    def papers_table(self, query: str = "", institution: str | None = None,
                     has_code: bool = False, sort: str = "Newest first") -> tuple[list, list]:
        """(table rows, paper ids in row order) for the papers browser."""
        papers = self._papers()
        rows = paper_rows(papers, self.assistant.index.digests if papers else {}, query,
                          institution, has_code, sort)
        return [r for r, _ in rows] or [[""] * len(PAPER_COLUMNS)], [i for _, i in rows]

    def paper_card(self, ids: list[str], evt: gr.SelectData) -> str:
        """The card of the paper in the selected row."""
        try:
            row = evt.index[0] if isinstance(evt.index, (list, tuple)) else int(evt.index)
            if not ids or row >= len(ids):
                return ""
            index = self.assistant.index
            p = index.papers[ids[row]]
            passages = list(dict.fromkeys(c.text for c in index.chunks if p.id in c.paper_ids))
            return paper_info_card(p, index.digests, passages[:4])
        except Exception as err:  # noqa: BLE001
            return error_html(_message(err))


def _example_text(evt: gr.SelectData) -> str:
    """The question of a clicked example."""
    value = evt.value
    return value.get("text", "") if isinstance(value, dict) else str(value or "")


def build_app(assistant: Assistant, rewriter: Rewriter | None = None,
              stream_delay: float = 0.02, chat: BaseChatModel | None = None,
              llm_label: str = "", notice: str = "") -> gr.Blocks:
    """The Gradio Blocks app over one Assistant (launch it with :func:`launch`); ``chat``
    and the other options are those of :class:`AssistantApp`."""
    h = AssistantApp(assistant, rewriter, stream_delay, chat, llm_label, notice)
    first_rows, first_ids = h.papers_table()
    with gr.Blocks(title="digest-rag", fill_width=True) as app:
        gr.Markdown("## digest-rag\nAsk about the papers in the research digests. Every answer "
                    "cites its sources; click a **[n]** to see the passage it comes from.",
                    elem_id="title")
        with gr.Row(equal_height=True):
            status = gr.HTML(elem_id="status")
            build_btn = gr.Button("Build index", variant="secondary", visible=False,
                                  size="sm", scale=0, elem_id="build-btn")
        turns = gr.State([])
        with gr.Tabs():
            with gr.Tab("Ask", id="ask"):
                with gr.Row():
                    with gr.Column(scale=3, min_width=320):
                        chatbot = gr.Chatbot(label="Chat", height=520, elem_id="chat",
                                             examples=[{"text": e} for e in EXAMPLES],
                                             placeholder="**Ask about the digests** – or "
                                             "start with one of these:", feedback_options=None)
                        filt = gr.Markdown(filters_line(), elem_id="filters-line")
                        with gr.Row(elem_id="ask-row"):
                            box = gr.Textbox(placeholder="Ask about the digests…",
                                             show_label=False, scale=5, autofocus=True,
                                             elem_id="question", lines=1, max_lines=4)
                            send = gr.Button("Ask", variant="primary", scale=0, min_width=72,
                                             elem_id="ask-btn")
                            clear = gr.Button("Clear", scale=0, min_width=72, elem_id="clear")
                        answer_with = gr.Radio([(h.llm_label or LLM, LLM),
                                                (EXTRACTIVE, EXTRACTIVE)],
                                               value=LLM if h.chat else EXTRACTIVE,
                                               label="Answer with", elem_id="answerer",
                                               visible=h.chat is not None)
                        with gr.Accordion("Filters (apply to the next question)", open=False,
                                          elem_id="filters"):
                            with gr.Row():
                                since = gr.Textbox(label="Since", placeholder="YYYY-MM-DD",
                                                   elem_id="since", min_width=120)
                                until = gr.Textbox(label="Until", placeholder="YYYY-MM-DD",
                                                   elem_id="until", min_width=120)
                            digest = gr.Dropdown(choices=h.digest_choices(), label="Digest",
                                                 value=None, elem_id="digest")
                            has_code = gr.Checkbox(label="Only papers with code",
                                                   elem_id="has-code")
                    with gr.Column(scale=2, min_width=300):
                        gr.Markdown("### Sources")
                        sources = gr.HTML(sources_panel([]), elem_id="sources")
            with gr.Tab("Papers", id="papers"):
                with gr.Row():
                    p_query = gr.Textbox(label="Search papers", placeholder="title, name, "
                                         "author or institution", scale=3, elem_id="p-query")
                    p_inst = gr.Dropdown(choices=h.institutions(), label="Institution",
                                         value=None, scale=2, elem_id="p-inst")
                    p_sort = gr.Dropdown(["Newest first", "Oldest first", "Title A-Z"],
                                         value="Newest first", label="Sort", scale=1,
                                         elem_id="p-sort")
                    p_code = gr.Checkbox(label="Has code", scale=1, elem_id="p-code")
                p_ids = gr.State(first_ids)
                table = gr.Dataframe(value=first_rows, headers=PAPER_COLUMNS,
                                     interactive=False, wrap=True, elem_id="papers-table",
                                     max_height=560, column_widths=["11%", "45%", "17%", "21%",
                                                                    "6%"])
                p_card = gr.HTML('<div class="src-empty">Select a row to see the paper.</div>',
                                 elem_id="paper-card")

        quiet: dict = {"api_visibility": "private"}
        chat_in = [box, chatbot, turns, since, until, digest, has_code, answer_with]
        chat_out = [chatbot, box, sources, turns]
        box.submit(h.respond, chat_in, chat_out, show_progress="hidden", **quiet)
        send.click(h.respond, chat_in, chat_out, show_progress="hidden", **quiet)
        chatbot.example_select(_example_text, None, box, **quiet).then(
            h.respond, chat_in, chat_out, show_progress="hidden", **quiet)
        clear.click(h.clear, None, [chatbot, sources, turns], **quiet)
        for comp in (since, until, digest, has_code):
            comp.change(h.filters_text, [since, until, digest, has_code], filt, **quiet)
        p_in = [p_query, p_inst, p_code, p_sort]
        for comp in p_in:
            comp.change(h.papers_table, p_in, [table, p_ids], show_progress="hidden", **quiet)
        table.select(h.paper_card, [p_ids], p_card, scroll_to_output=True, **quiet)
        build_btn.click(h.build, None, [status, build_btn, digest, table, p_ids], **quiet)
        app.load(h.status, None, [status, build_btn], **quiet)
        gr.api(h.ask, api_name="ask")
    app.queue(default_concurrency_limit=CONCURRENCY)
    return app


def theme() -> gr.themes.Base:
    """The default theme with system fonts: nothing is fetched from the network (Gradio's
    bundled font files are partial subsets and its default font comes from a font CDN)."""
    return gr.themes.Default(
        font=["-apple-system", "BlinkMacSystemFont", "Segoe UI", "Roboto", "Helvetica Neue",
              "Arial", "Liberation Sans", "sans-serif"],
        font_mono=["ui-monospace", "SFMono-Regular", "Menlo", "Consolas", "Liberation Mono",
                   "monospace"])


def launch(app: gr.Blocks, host: str = "127.0.0.1", port: int = 7860,
           block: bool = True, **kwargs: object) -> gr.Blocks:
    """Serve ``app`` with the app's CSS and scripts (``block=False`` returns at once)."""
    app.launch(server_name=host, server_port=port, css=CSS, head=HEAD, theme=theme(),
               prevent_thread_lock=not block, footer_links=["api"], **kwargs)
    return app


def main(argv: list[str] | None = None, serve: Callable[..., gr.Blocks] = launch) -> None:
    """Parse --host/--port/--llm/--llm-model, make sure the index exists, and serve."""
    parser = argparse.ArgumentParser(description="digest-rag web app")
    parser.add_argument("--host", default=os.environ.get("RAG_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("RAG_PORT", "7860")))
    parser.add_argument("--llm", choices=BACKENDS, default=None,
                        help="who writes answers (default: RAG_LLM_BACKEND, else extractive)")
    parser.add_argument("--llm-model", default=None,
                        help="model name, or .gguf path for llamacpp (default: RAG_LLM_MODEL)")
    args = parser.parse_args(argv)
    settings, chat, label, notice = llm_setup(args.llm, args.llm_model)
    if notice:
        print(f"warning: {notice}")
    elif chat is not None:
        print(f"Answers: {label} (extractive also available in the app)")
    assistant = Assistant(settings=settings, progress=True)
    try:
        state, reason = assistant.state()
        if state != "ok":
            print(f"Index {state} ({reason}): building it now…")
            report = assistant.build(rebuild=state == "incompatible")
            print(f"Built: {report.chunks} chunks, {report.embedded} embedded.")
        assistant.index  # noqa: B018 - load before serving
    except RagError as err:
        print(f"warning: {err}\nThe app starts anyway and shows this message.")
        assistant.auto_build = False  # the "Build index" button retries
    serve(build_app(assistant, chat=chat, llm_label=label, notice=notice), args.host, args.port)


if __name__ == "__main__":
    main()
