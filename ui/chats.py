"""Chats of the app: one answered question ("turn") as the app keeps it, and the chat history
kept in the browser (``gr.BrowserState``) across reloads.

A turn holds the question, what was searched, the filters, the copy texts (clean markdown with
resolved references) and the citations as plain data; its HTML (source cards) and its BibTeX
and RIS are rendered here from that data and the loaded index, never read back from the
browser. The store keeps the newest :data:`MAX_CHATS` chats within :data:`MAX_CHARS`
characters; anything malformed in it is dropped, not trusted.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
from collections.abc import Mapping

from rag import Answer
from rag.output.export import bibtex, ris
from rag.output.portable import answer_markdown, turn_markdown
from rag.records import Citation, Digest, Paper
from ui.render import sources_html

MAX_CHATS = 20
MAX_TURNS = 30
MAX_CHARS = 1_500_000  # localStorage holds ~5 MB per site; Gradio encrypts (base64) on top
FILTERS = ("since", "until", "digest", "has_code")


def new_id() -> str:
    """A fresh chat id."""
    return "c" + secrets.token_hex(6)


def empty() -> dict:
    """An empty store."""
    return {"current": new_id(), "chats": []}


def make_turn(question: str, searched: str, filters: Mapping[str, object], ans: Answer,
              n: int, digests: Mapping[str, Digest], base_url: str | None = None) -> dict:
    """Turn ``n`` of a chat: the answer's copy texts and citations, with its cards and
    exports rendered."""
    md = answer_markdown(ans, base_url)
    turn = {"q": question, "searched": searched,
            "filters": {k: filters.get(k) for k in FILTERS},
            "md": md, "turn": turn_markdown(question, md), "abstained": ans.abstained,
            "cites": [{"n": c.n, "paper": c.paper.id if c.paper else None,
                       "digest": c.digest.id, "text": c.text, "sentences": list(c.sentences)}
                      for c in ans.citations]}
    return {**turn, **_rendered(ans.citations, ans.abstained, n, digests)}


def _rendered(cites: tuple[Citation, ...], abstained: bool, n: int,
              digests: Mapping[str, Digest]) -> dict:
    papers = list({c.paper.id: c.paper for c in cites if c.paper}.values())
    return {"cards": sources_html(Answer("", citations=cites, abstained=abstained), digests, n),
            "bib": bibtex(papers, digests) if papers else "",
            "ris": ris(papers, digests) if papers else ""}


def restore_turn(t: Mapping, n: int, papers: Mapping[str, Paper],
                 digests: Mapping[str, Digest]) -> dict | None:
    """A stored turn made whole again over the loaded index (None when malformed)."""
    try:
        cites = []
        for c in t.get("cites", []):
            d = digests.get(c["digest"]) or Digest(str(c["digest"]), "(a digest no longer in "
                                                   "the index)", None, None, "", "")
            cites.append(Citation(int(c["n"]), papers.get(c["paper"] or ""), str(c["text"]),
                                  d, tuple(str(s) for s in c.get("sentences", []))))
        base = {k: t[k] for k in ("q", "searched", "md", "turn") if isinstance(t[k], str)}
        if len(base) < 4:
            return None
        filters = t.get("filters") or {}
        base["filters"] = {k: filters.get(k) for k in FILTERS}
        base["abstained"] = bool(t.get("abstained"))
        base["cites"] = list(t.get("cites", []))
        return {**base, **_rendered(tuple(cites), base["abstained"], n, digests)}
    except (KeyError, TypeError, ValueError, AttributeError):
        return None


def _stored(turn: Mapping) -> dict:
    return {k: v for k, v in turn.items() if k not in ("cards", "bib", "ris")}


def _text(content: object) -> str | None:
    """A message's text: a string, or Gradio's list of parts ({"type": "text", "text": ...})."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [p.get("text") for p in content if isinstance(p, dict) and p.get("type") == "text"]
        texts = [p for p in parts if isinstance(p, str)]
        if parts and len(texts) == len(parts):
            return "".join(texts)
    return None


def _messages(history: object) -> list[dict]:
    """Chat messages from the browser: role and text only."""
    out = []
    for m in history if isinstance(history, list) else []:
        text = _text(m.get("content")) if isinstance(m, dict) else None
        if text is not None and m.get("role") in ("user", "assistant"):
            out.append({"role": m["role"], "content": text})
    return out


def load(value: object) -> dict:
    """The store as read from the browser, with anything malformed dropped."""
    if not isinstance(value, dict) or not isinstance(value.get("chats"), list):
        return empty()
    chats = []
    for c in value["chats"][:MAX_CHATS]:
        if isinstance(c, dict) and isinstance(c.get("id"), str) and \
                isinstance(c.get("turns"), list):
            chats.append({"id": c["id"], "title": str(c.get("title", ""))[:200],
                          "updated": str(c.get("updated", ""))[:32],
                          "history": _messages(c.get("history")),
                          "turns": [t for t in c["turns"] if isinstance(t, dict)]})
    current = value.get("current") if isinstance(value.get("current"), str) else new_id()
    return {"current": current, "chats": chats}


def find(store: Mapping, chat_id: str) -> dict | None:
    """The chat ``chat_id`` of the store, or None."""
    return next((c for c in store.get("chats", []) if c["id"] == chat_id), None)


def save(store: Mapping, chat_id: str, history: list, turns: list[dict]) -> dict:
    """The store with chat ``chat_id`` (history and turns) saved as the newest."""
    chats = [c for c in store.get("chats", []) if c["id"] != chat_id]
    if turns:
        title = turns[0]["q"]
        chats.insert(0, {"id": chat_id, "title": title[:120],
                         "updated": dt.datetime.now().isoformat(timespec="minutes"),
                         "history": _messages(history)[-2 * MAX_TURNS:],
                         "turns": [_stored(t) for t in turns[-MAX_TURNS:]]})
    chats = chats[:MAX_CHATS]
    while len(chats) > 1 and len(json.dumps(chats)) > MAX_CHARS:
        chats.pop()
    return {"current": chat_id, "chats": chats}


def delete(store: Mapping, chat_id: str) -> dict:
    """The store without chat ``chat_id``, and a new current chat."""
    return {"current": new_id(),
            "chats": [c for c in store.get("chats", []) if c["id"] != chat_id]}


def choices(store: Mapping) -> list[tuple[str, str]]:
    """(label, id) of the saved chats, newest first, for the "Past chats" list."""
    return [(f"{c['updated'].replace('T', ' ')} · {c['title']}", c["id"])
            for c in store.get("chats", [])]
