"""digest-rag's Gradio app: chat over the digests with cited paper cards and filters.

Run ``python app.py`` (or ``make run``): it builds the index when it is missing or stale and
serves on http://127.0.0.1:7860 (``--host``/``--port`` or RAG_HOST/RAG_PORT to change).
This file only wires the library (``rag``) to the UI.
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr  # noqa: E402

from rag import Assistant, RagError  # noqa: E402
from rag.render import answer_markdown, esc, sources_html  # noqa: E402

EXAMPLES = [
    "Which papers adapt foundation models to head CT?",
    "Where is the code for ZACAF?",
    "What did the digests say about physics-informed neural networks since May?",
    "Which work uses transfer learning to detect peatland fires?",
]
CSS = """
.src-card {border:1px solid var(--border-color-primary); border-radius:8px; padding:10px 12px;
           margin-bottom:10px; background: var(--background-fill-secondary);}
.src-title {font-weight:600; margin-bottom:4px;} .src-n {color: var(--color-accent);}
.src-meta {font-size:0.9em; opacity:0.85;} .src-links {margin-top:4px;}
.src-warn {color:#b45309; font-size:0.9em; margin-top:4px;}
.src-text {margin:6px 0 0 0; font-size:0.9em; border-left:3px solid var(--color-accent);
           padding-left:8px;} mark {background:#fde68a; color:inherit;}
"""


def build_app(assistant: Assistant) -> gr.Blocks:
    """The Gradio Blocks app over one Assistant."""

    def status_line() -> str:
        try:
            s = assistant.status()
        except RagError as err:
            return f"⚠ {esc(str(err))}"
        return (f"Index: {s['digests']} digests · {s['papers']} papers · {s['chunks']} chunks · "
                f"model {esc(s['model'])} · built {esc(s['built_at'])}")

    def digest_choices() -> list[tuple[str, str]]:
        try:
            ds = sorted(assistant.index.digests.values(), key=lambda d: d.date or d.id)
        except RagError:
            return []
        return [(f"{d.date} · {d.title}", d.id) for d in ds]

    def respond(question: str, history: list, since: str, until: str, digest: str | None,
                has_code: bool):
        """Answer one chat question; returns the updated chat and the sources panel."""
        history = list(history or [])
        if not (question or "").strip():
            return history, "", gr.update()
        history.append({"role": "user", "content": question})
        try:
            ans = assistant.ask(question, since=since or None, until=until or None,
                                digest=digest or None, has_code=True if has_code else None)
            history.append({"role": "assistant", "content": answer_markdown(ans)})
            return history, "", sources_html(ans)
        except RagError as err:
            history.append({"role": "assistant", "content": f"⚠ {err}"})
            return history, "", ""

    with gr.Blocks(title="digest-rag") as app:
        gr.Markdown("## digest-rag\nAsk about the papers in the research digests. "
                    "Every answer cites its sources.")
        status = gr.HTML(status_line())
        with gr.Row():
            with gr.Column(scale=3):
                chat = gr.Chatbot(label="Chat", height=480)
                with gr.Row():
                    box = gr.Textbox(placeholder="Ask a question about the digests…",
                                     show_label=False, scale=5, autofocus=True)
                    send = gr.Button("Ask", variant="primary", scale=1)
                gr.Examples(EXAMPLES, inputs=box)
                with gr.Accordion("Filters (apply to the next question)", open=False):
                    with gr.Row():
                        since = gr.Textbox(label="Since (YYYY-MM-DD)")
                        until = gr.Textbox(label="Until (YYYY-MM-DD)")
                    digest = gr.Dropdown(choices=digest_choices(), label="Digest", value=None)
                    has_code = gr.Checkbox(label="Only papers with code")
            with gr.Column(scale=2):
                gr.Markdown("### Sources")
                sources = gr.HTML('<div class="src-empty">Sources appear here.</div>')
        inputs = [box, chat, since, until, digest, has_code]
        box.submit(respond, inputs, [chat, box, sources])
        send.click(respond, inputs, [chat, box, sources])
        app.load(status_line, None, status)
    return app


def main() -> None:
    """Parse --host/--port, make sure the index exists, and serve."""
    parser = argparse.ArgumentParser(description="digest-rag web app")
    parser.add_argument("--host", default=os.environ.get("RAG_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("RAG_PORT", "7860")))
    args = parser.parse_args()
    assistant = Assistant(progress=True)
    try:
        state, reason = assistant.state()
        if state != "ok":
            print(f"Index {state} ({reason}): building it now…")
            report = assistant.build(rebuild=state == "incompatible")
            print(f"Built: {report.chunks} chunks, {report.embedded} embedded.")
        assistant.index  # noqa: B018 - load before serving
    except RagError as err:
        print(f"warning: {err}\nThe app starts anyway and shows this message.")
    build_app(assistant).launch(server_name=args.host, server_port=args.port, css=CSS)


if __name__ == "__main__":
    main()
