"""Serving the app: theme, launch options, and the route that shows a digest's own file.

:func:`launch` serves a Blocks app from :func:`app.build_app` with the app's CSS and page
script, uploads refused (no component takes files: ``max_file_size=0`` makes
``/gradio_api/upload`` answer 413), no "share" hint, and ``GET /digest/<id>``: the file of a
digest in the loaded index, so a source card can link to the digest when the digest gives no
address of its own. Text is served as plain text; HTML under a sandboxing Content Security
Policy (no script runs, nothing is fetched); anything else (PDF) as a download.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gradio as gr
from fastapi.responses import FileResponse, PlainTextResponse, Response

from ui.script import APP_HEAD
from ui.style import APP_CSS

_TYPES = {".txt": "text/plain; charset=utf-8", ".md": "text/plain; charset=utf-8",
          ".html": "text/html; charset=utf-8", ".htm": "text/html; charset=utf-8"}
_SAFE_HEADERS = {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
                 "Content-Security-Policy": "sandbox; default-src 'none'; "
                 "style-src 'unsafe-inline'"}


def theme() -> gr.themes.Base:
    """The default theme with system fonts (nothing is fetched from the network: Gradio's
    bundled font files are partial subsets and its default font comes from a font CDN), and
    darker links, muted text and primary buttons, for a contrast of at least 4.5:1 in both
    colour schemes (the defaults give 2.8-3.5)."""
    return gr.themes.Default(
        font=["-apple-system", "BlinkMacSystemFont", "Segoe UI", "Roboto", "Helvetica Neue",
              "Arial", "Liberation Sans", "sans-serif"],
        font_mono=["ui-monospace", "SFMono-Regular", "Menlo", "Consolas", "Liberation Mono",
                   "monospace"]).set(
        **{f"link_text_color{state}": "*secondary_700"
           for state in ("", "_active", "_visited")},
        **{f"link_text_color{state}_dark": "*secondary_300"
           for state in ("", "_active", "_visited")},
        link_text_color_hover="*secondary_800", link_text_color_hover_dark="*secondary_200",
        body_text_color_subdued="*neutral_600", body_text_color_subdued_dark="*neutral_400",
        button_primary_background_fill="*primary_700",
        button_primary_background_fill_dark="*primary_700",
        button_primary_background_fill_hover="*primary_800",
        button_primary_background_fill_hover_dark="*primary_800",
        button_primary_text_color="white", button_primary_text_color_dark="white")


def base_url(request: gr.Request | None) -> str | None:
    """The address the page was loaded from ('http://host:port/'), for links in copied text."""
    if request is None:
        return None
    try:
        return str(request.base_url)
    except (AttributeError, KeyError):
        return None


def digest_response(app: gr.Blocks, digest_id: str) -> Response:
    """The file of digest ``digest_id`` of the index the app serves (404 for anything else)."""
    h = getattr(app, "rag_app", None)
    try:
        d = h.assistant.index.digests.get(digest_id) if h is not None else None
    except Exception:  # noqa: BLE001 - no index: nothing to serve
        d = None
    if d is None:
        return PlainTextResponse(f"No digest {digest_id!r} in the index.", status_code=404)
    assert h is not None  # d was found through it
    path = Path(d.path).resolve()
    corpus = Path(h.assistant.settings.corpus_dir).resolve()
    if corpus not in path.parents or not path.is_file():
        return PlainTextResponse("That digest's file is not in the corpus folder.",
                                 status_code=404)
    kind = _TYPES.get(path.suffix.lower())
    if kind is None:
        return FileResponse(path, filename=path.name, headers=_SAFE_HEADERS,
                            media_type="application/octet-stream")
    return FileResponse(path, media_type=kind, headers=_SAFE_HEADERS)


def launch(app: gr.Blocks, host: str = "127.0.0.1", port: int = 7860,
           block: bool = True, **kwargs: Any) -> gr.Blocks:
    """Serve ``app`` with the app's CSS and scripts (``block=False`` returns at once)."""
    quiet = bool(kwargs.pop("quiet", False))
    kwargs.setdefault("max_file_size", 0)  # uploads off: no feature takes a file
    app.launch(server_name=host, server_port=port, css=APP_CSS, head=APP_HEAD, theme=theme(),
               prevent_thread_lock=True, footer_links=["api"], quiet=True, **kwargs)
    app.server_app.add_api_route(
        "/digest/{digest_id}", lambda digest_id: digest_response(app, digest_id),
        methods=["GET"], include_in_schema=False)
    if not quiet:
        print(f"digest-rag is serving on {app.local_url}")
    if block:
        app.block_thread()
    return app
