"""digest-rag's Gradio app: streaming chat with cited paper cards, removable filters, follow-up
questions, chats kept in the browser, copy and export of answers, and a papers browser.

Run ``python app.py`` (or ``make run``): it builds the index when it is missing or stale and
serves on http://127.0.0.1:7860 (``--host``/``--port`` or RAG_HOST/RAG_PORT to change).
With ``--llm``/``--llm-model`` (or RAG_LLM_*) an LLM's tokens stream into the chat, the verified
answer replaces the draft, and "Answer with" can still pick the extractive answerer.
API clients call the ``/ask`` endpoint (see README.md). This file lays out the UI and wires
its events; the handlers live in ``ui.handlers``, rendering and escaping in ``ui.render``,
the page's behaviour in ``ui.script``, its style in ``ui.style``, chats in ``ui.chats``,
the papers list in ``ui.papers`` and serving in ``ui.serve``.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr  # noqa: E402
from langchain_core.language_models import BaseChatModel  # noqa: E402
from pydantic import ValidationError  # noqa: E402

import ui.chats as chats  # noqa: E402
from rag import Assistant, RagError  # noqa: E402
from rag.answer.llm_backends import BACKENDS, llm_setup  # noqa: E402
from rag.errors import SettingsError  # noqa: E402
from ui.conversation import Rewriter  # noqa: E402
from ui.handlers import CONCURRENCY, EXAMPLES, EXTRACTIVE, LLM, SEARCHING, STORE_KEY, AssistantApp  # noqa: E402,F401
from ui.papers import SORTS  # noqa: E402
from ui.render import FILTER_KEYS, filters_line, sources_panel  # noqa: E402
from ui.serve import launch, theme  # noqa: E402,F401


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
    with gr.Blocks(title="digest-rag", fill_width=True) as app:
        app.rag_app = h  # ui.serve's digest route reads it
        gr.Markdown("# digest-rag\nAsk about the papers in the research digests. Every answer "
                    "cites its sources; click a **[n]** to see the passage it comes from.",
                    elem_id="title")
        status = gr.HTML(elem_id="status")
        turns, previous = gr.State([]), gr.State(None)
        store = gr.BrowserState(chats.empty(), storage_key=STORE_KEY, secret=STORE_KEY)
        with gr.Tabs():
            with gr.Tab("Ask", id="ask"), gr.Row():
                with gr.Column(scale=3, min_width=320):
                    chatbot = gr.Chatbot(label="Chat", show_label=False, height=560,
                                         elem_id="chat", autoscroll=False, buttons=[],
                                         examples=[{"text": e} for e in EXAMPLES],
                                         placeholder="**Ask about the digests** – or "
                                         "start with one of these:", feedback_options=None)
                    with gr.Row(elem_id="filters-line"):
                        filt = gr.Markdown(filters_line(), elem_id="filters-label")
                        chips = [gr.Button(k, visible=False, size="sm", scale=0,
                                           min_width=40, elem_id=f"chip-{k}",
                                           elem_classes="chip") for k in FILTER_KEYS]
                    with gr.Row(elem_id="ask-row"):
                        box = gr.Textbox(placeholder="Ask about the digests…",
                                         show_label=False, scale=5, autofocus=True,
                                         elem_id="question", lines=1, max_lines=4)
                        send = gr.Button("Ask", variant="primary", scale=0, min_width=72,
                                         elem_id="ask-btn")
                    with gr.Row(elem_id="chat-row"):
                        new = gr.Button("New chat", size="sm", scale=0, elem_id="new-chat")
                        gr.Button("Copy conversation", size="sm", scale=0,
                                  elem_id="copy-conv")
                        past = gr.Dropdown(choices=[], label="Past chats", value=None,
                                           scale=3, elem_id="past-chats")
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
                        digest = gr.Dropdown(choices=[], label="Digest", value=None,
                                             elem_id="digest")
                        has_code = gr.Checkbox(label="Only papers with code",
                                               elem_id="has-code")
                with gr.Column(scale=2, min_width=300):
                    gr.Markdown("## Sources", elem_id="sources-title")
                    sources = gr.HTML(sources_panel([]), elem_id="sources")
            with gr.Tab("Papers", id="papers", elem_id="papers-tab"):
                with gr.Row(elem_id="papers-filters"):
                    p_query = gr.Textbox(label="Search papers", placeholder="title, name, "
                                         "author or institution", scale=3, elem_id="p-query",
                                         min_width=200)
                    p_inst = gr.Dropdown(choices=[], label="Institution", value=None,
                                         scale=2, elem_id="p-inst", min_width=160)
                    p_sort = gr.Dropdown(SORTS, value=SORTS[0], label="Sort", scale=1,
                                         elem_id="p-sort", min_width=140)
                    p_code = gr.Checkbox(label="Has code", scale=1, elem_id="p-code",
                                         min_width=100)
                plist = gr.HTML(elem_id="papers")

        quiet: dict = {"api_visibility": "private"}
        chat_in = [box, chatbot, turns, previous, store, since, until, digest, has_code,
                   answer_with]
        chat_out = [chatbot, box, sources, turns, previous, store, past]
        shown = [chatbot, sources, turns, previous, store, past]
        filt_in, filt_out = [since, until, digest, has_code, previous, turns], [filt, *chips]
        after = {"fn": h.filters_view, "inputs": filt_in, "outputs": filt_out, **quiet}
        for ev in (box.submit, send.click):
            ev(h.respond, chat_in, chat_out, show_progress="hidden", **quiet).then(
                **after).then(h.status, None, status, **quiet)
        chatbot.example_select(_example_text, None, box, **quiet).then(
            h.respond, chat_in, chat_out, show_progress="hidden", **quiet).then(**after).then(
            h.status, None, status, **quiet)
        chatbot.clear(h.delete_chat, store, shown, **quiet).then(**after)
        new.click(h.new_chat, store, shown, **quiet).then(**after)
        past.input(h.open_chat, [past, store], shown, **quiet).then(**after)
        for comp in (since, until, digest, has_code):
            comp.change(**after)
        for key, chip in zip(FILTER_KEYS, chips):
            if key.startswith("q_"):
                chip.click(h.reask, [gr.State(key[2:]), *chat_in[1:]], chat_out,
                           show_progress="hidden", **quiet).then(**after)
            else:
                target = {"since": since, "until": until, "digest": digest,
                          "has_code": has_code}[key]
                chip.click(lambda k=key: False if k == "has_code" else None, None, target,
                           **quiet)
        p_in = [p_query, p_inst, p_code, p_sort]
        for control in (p_query, p_inst, p_code, p_sort):  # a tuple keeps each type's .change
            control.change(h.papers_view, p_in, plist, show_progress="hidden", **quiet)
        app.load(h.refresh, store, [status, digest, p_inst, plist, *shown], **quiet).then(
            **after)
        gr.api(h.ask, api_name="ask")
        gr.api(h.papers_export, api_name="papers")
    app.queue(default_concurrency_limit=CONCURRENCY)
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
    try:
        settings, chat, label, notice = llm_setup(args.llm, args.llm_model)
    except ValidationError as err:  # an invalid RAG_* setting: one line with the fix, exit 2
        print(f"error: {SettingsError.from_validation(err)}", file=sys.stderr)
        raise SystemExit(2) from None
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
        print(f"warning: {err}\nThe app starts anyway and shows this message; run `rag index` "
              "once the corpus is fixed and the app serves the new index.")
        assistant.auto_build = False  # building is `rag index`'s job, not a page's
    serve(build_app(assistant, chat=chat, llm_label=label, notice=notice), args.host, args.port)


if __name__ == "__main__":
    main()
