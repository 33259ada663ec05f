"""Render: answers, source cards and status lines as safe HTML/markdown for the app.

Everything that comes from the corpus is escaped here: a digest containing ``<script>`` or a
markdown link to ``javascript:`` shows up as text, never as markup. Only http(s) links become
links (URLs are found by :func:`rag.urls.url_spans`, so a ")" or "." after one stays text).
Inline ``[n]`` markers in chat messages link to ``#src-<turn>-<n>``, the id of the matching
source card; each card links back (``#back-<turn>-<n>``) and to the digest it quotes. Each
answer's panel carries its copy and export texts (markdown, BibTeX, RIS) in hidden elements
for the page script (``ui.script.py``).
"""

from __future__ import annotations

import html
import re
from collections import deque
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import quote

from rag.answer.claims import MARKER_GROUP, UNSUPPORTED_MARK, parse_numbers
from rag.extract.attribution import disagreements
from rag.output.portable import clean_links, digest_link, item_authors, item_head
from rag.records import Answer, Citation, Digest, Item, Paper, Query
from rag.urls import clean_url, url_spans

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#|!~&])")


def esc(text: str) -> str:
    """HTML-escape corpus text."""
    return html.escape(text or "", quote=True)


def md_escape(text: str) -> str:
    """Escape markdown and HTML syntax in corpus text shown inside a markdown message."""
    return _MD_SPECIAL.sub(r"\\\1", text or "")


def safe_url(url: str) -> bool:
    """Whether ``url`` may become a link (http/https only, no quotes or spaces)."""
    return clean_url(url) is not None


def link(url: str, label: str | None = None) -> str:
    """An <a> for http(s) URLs; anything else (javascript:, data:) is shown as plain text."""
    if not safe_url(url):
        return esc(label or url)
    return (f'<a href="{esc(url)}" target="_blank" rel="noopener noreferrer">'
            f"{esc(label or url)}</a>")


def md_link(url: str, label: str | None = None) -> str:
    """A markdown link for http(s) URLs; anything else is escaped text."""
    if not safe_url(url):
        return md_escape(label or url)
    target = url.replace("(", "%28").replace(")", "%29")
    return f"[{md_escape(label or url)}]({target})"


def md_chat(text: str) -> str:
    """Corpus text for a chat message: escaped, its http(s) URLs as links whose target is
    exactly the URL (no escape backslash or trailing ")" in the href)."""
    out, pos = [], 0
    for start, end, url in url_spans(text or ""):
        out += [md_escape(text[pos:start]), md_link(url)]
        pos = end
    out.append(md_escape((text or "")[pos:]))
    return "".join(out)


def highlight(text: str, sentences: tuple[str, ...]) -> str:
    """Escaped passage text with the cited sentences wrapped in <mark>."""
    out = esc(text)
    for s in sentences:
        e = esc(s)
        if e and e in out:
            out = out.replace(e, f"<mark>{e}</mark>", 1)
    return out


def anchor(n: int, turn: int | None = None) -> str:
    """The HTML id of source card ``n`` of answer ``turn`` (``src-n`` without a turn)."""
    return f"src-{n}" if turn is None else f"src-{turn}-{n}"


def _when(d: Digest | None) -> str:
    return d.date.isoformat() if d is not None and d.date else "undated"


def mentions_row(p: Paper, digests: Mapping[str, Digest] | None) -> str:
    """'Mentioned in: <digest> (date) · …' for every digest that mentions the paper."""
    if not digests:
        return ""
    found = [digests[i] for i in p.digest_ids if i in digests]
    if not found:
        return ""
    found.sort(key=lambda d: (_when(d), d.title))
    items = " · ".join(f"{digest_anchor(d)} ({_when(d)})" for d in found)
    label = "Digest" if len(found) == 1 else f"Mentioned in {len(found)} digests"
    return f'<div class="src-meta src-digests">{label}: {items}</div>'


def digest_anchor(d: Digest) -> str:
    """The digest's title linking to its post (``Digest.url``), else to the app's copy of its
    file (``digest/<id>``)."""
    url = digest_link(d)
    href = esc(url) if url else f"digest/{quote(d.id, safe='')}"
    return (f'<a href="{href}" target="_blank" rel="noopener noreferrer" '
            f'class="src-digest">{esc(d.title)}</a>')


def paper_meta(p: Paper, digests: Mapping[str, Digest] | None = None) -> list[str]:
    """A paper's rows: authors (digest, arXiv), institutions, links (each code link with its
    digest when digests give different ones), attribution warnings and where digests
    disagree about the paper."""
    rows = []
    if p.authors:
        rows.append(f'<div class="src-meta">Authors (digest): {esc(" / ".join(p.authors))}</div>')
    if p.arxiv_authors:
        rows.append(f'<div class="src-meta">Authors (arXiv): {esc(", ".join(p.arxiv_authors))}'
                    "</div>")
    if p.institutions:
        rows.append(f'<div class="src-meta">Institutions: {esc(", ".join(p.institutions))}</div>')
    codes = [u for u in p.code_urls if safe_url(u)]
    sources = p.url_sources("code")
    per = {u: "; ".join(digests[d].title if d in digests else d for d in ds)
           for u, ds in sources.items()} if digests and len(set(sources.values())) > 1 else {}
    links = [link(u, ("code" if len(codes) == 1 else f"code {i}")
                  + (f" (per {per[u]})" if u in per else "")) for i, u in enumerate(codes, 1)]
    links += [link(u, "data") for u in p.data_urls if safe_url(u)]
    if p.arxiv_url:
        links.append(link(p.arxiv_url, f"arXiv {p.arxiv_id}"))
    if links:
        rows.append('<div class="src-links">' + " · ".join(links) + "</div>")
    for issue in p.attribution_issues:
        rows.append(f'<div class="src-warn">⚠ Attribution: {esc(issue)}</div>')
    for issue in disagreements(p, digests) if digests is not None else ():
        rows.append(f'<div class="src-warn">⚠ {esc(issue)}</div>')
    return rows


def paper_card(c: Citation, digests: Mapping[str, Digest] | None = None,
               turn: int | None = None) -> str:
    """One source card: title, authors (digest and arXiv), institutions, the digests and dates
    that mention the paper, links, attribution warnings, the passage with the cited sentences
    highlighted, the digest it is quoted from (linked) and a link back to the answer."""
    p, d = c.paper, c.digest
    rows = [f'<div class="src-card" id="{anchor(c.n, turn)}"><div class="src-title">'
            f'<span class="src-n">[{c.n}]</span> {esc(p.title if p else d.title)}</div>']
    if p is not None:
        rows.extend(paper_meta(p, digests))
        mentions = mentions_row(p, digests)
        if mentions and len(p.digest_ids) > 1:
            rows.append(mentions)
    rows.append(f'<div class="src-meta">Quoted from: {digest_anchor(d)} ({_when(d)})</div>')
    rows.append(f'<blockquote class="src-text">{highlight(c.text, c.sentences)}</blockquote>')
    if turn is not None:
        rows.append(f'<a class="src-back" href="#back-{turn}-{c.n}">↑ Back to the answer</a>')
    rows.append("</div>")
    return "\n".join(rows)


def sources_html(answer: Answer, digests: Mapping[str, Digest] | None = None,
                 turn: int | None = None) -> str:
    """The source cards of one answer."""
    if answer.abstained or not answer.citations:
        return '<div class="src-empty">No sources: the digests do not cover this question.</div>'
    return "\n".join(paper_card(c, digests, turn) for c in answer.citations)


def templates(texts: Mapping[str, str]) -> str:
    """Texts for the page script (copy, download) as hidden, escaped elements (not
    ``<template>``: Gradio patches the panel in place and a template's content is not
    patched)."""
    return "".join(f'<div hidden class="export" data-kind="{esc(k)}">{esc(v)}</div>'
                   for k, v in texts.items() if v)


EXPORT_KINDS = ("md", "turn", "bib", "ris")


def sources_panel(turns: list[dict]) -> str:
    """The sources panel: the newest answer's cards open, earlier answers folded away. Each
    turn is a dict with ``q`` (the question), ``cards`` (html) and the copy/export texts
    ``md``, ``turn``, ``bib``, ``ris``; oldest first."""
    if not turns:
        return ('<div class="src-empty">Sources appear here: one card per cited paper. Click a '
                "[n] in an answer to jump to its card.</div>")
    parts = []
    for i, t in reversed(list(enumerate(turns))):
        extra = templates({k: t.get(k, "") for k in EXPORT_KINDS})
        if i == len(turns) - 1:
            parts.append(f'<div class="src-turn" data-turn="{i + 1}"><div class="src-q">'
                         f'Sources for: “{esc(t["q"])}”</div>{extra}{t["cards"]}</div>')
        else:
            parts.append(f'<details class="src-turn" data-turn="{i + 1}"><summary>Earlier: '
                         f'“{esc(t["q"])}”</summary>{extra}{t["cards"]}</details>')
    return "\n".join(parts)


def _cite(n: int, turn: int | None) -> str:
    return f"[\\[{n}\\]](#{anchor(n, turn)})"


def _cited(item: Item) -> str:
    """The item's head: its title once ('**Title** (first author): '), or its short name when
    the quotes already give the title; '' when they give both."""
    head, who = item_head(item), item_authors(item)
    out = (f"**{md_escape(head)}**" if head else "") + (f" ({md_escape(who)})" if who else "")
    return out + ":" if out else ""


def _extras(item: Item) -> str:
    """The code and arXiv links an item carries because the question asked for them (each
    with the digest that gives it when digests differ)."""
    extra = []
    sources = item.code_from
    links = clean_links(item.code_urls, sources)
    if links:
        per = len(set(sources)) > 1
        extra.append("Code: " + ", ".join(
            md_link(u) + (f" (per {md_escape(s)})" if per and s else "") for u, s in links))
    elif item.no_code:
        extra.append("The digests give no code link for it.")
    if item.arxiv_url:
        extra.append("arXiv: " + md_link(item.arxiv_url))
    return "".join(" " + e for e in extra)


def _head(answer: Answer) -> list[str]:
    return [f"_{md_escape(n)}_" for n in answer.notes]


def _caveats(answer: Answer) -> list[str]:
    return [f"⚠ {md_escape(c)}" for c in answer.caveats]


def answer_stream(answer: Answer, turn: int | None = None) -> Iterator[str]:
    """The chat message for an extractive answer, growing one sentence at a time (each item
    is the whole message so far). Corpus text is escaped; ``[n]`` markers link to the source
    cards; one line per paper, its title once."""
    lines = _head(answer)
    if answer.abstained:
        yield "\n\n".join([*lines, md_chat(answer.lead)])
        return
    head = "\n\n".join([*lines, md_chat(answer.lead)] if answer.lead else lines)
    done: list[str] = []
    for item in answer.items:
        line = "-" + (f" {_cited(item)}" if _cited(item) else "")
        for q in item.quotes:
            line += f" {md_chat(q.text)} {_cite(q.n, turn)}"
            yield head + "\n\n" + "\n".join([*done, line])
        done.append(line + _extras(item))
    yield "\n\n".join([head, "\n".join(done), *_caveats(answer)])


def llm_answer_markdown(answer: Answer, turn: int | None = None, by: str = "") -> str:
    """The chat message for a verified LLM answer (``rag.answer.llm.build_answer``): notes, the
    model's text escaped with its ``[n]`` linked to the source cards and unverified sentences
    marked, the verifier's note, caveats, then the cited papers; ``by`` names the model."""
    k = len(answer.citations)

    def markers(m: re.Match[str]) -> str:
        ns = [n for n in parse_numbers(m.group(0)) if 1 <= n <= k]
        return " " + " ".join(_cite(n, turn) for n in ns) if ns else md_escape(m.group(0))

    def text(t: str) -> str:
        return md_chat(t).replace(md_escape(UNSUPPORTED_MARK), UNSUPPORTED_MARK)

    body = answer.body or answer.lead
    pieces, pos = [], 0
    for m in MARKER_GROUP.finditer(body):
        pieces += [text(body[pos:m.start()]), markers(m)]
        pos = m.end()
    pieces.append(text(body[pos:]))
    parts = [*_head(answer), "".join(pieces)]
    if answer.footer:
        parts.append(f"_{answer.footer}_")  # our own words, not corpus text
    parts += _caveats(answer)
    if answer.citations:
        rows = []
        for c in answer.citations:
            title = md_escape(c.paper.title if c.paper else c.digest.title)
            who = f" ({md_escape(c.paper.authors[0])})" if c.paper and c.paper.authors else ""
            rows.append(f"- {_cite(c.n, turn)} **{title}**{who}")
        parts.append("**Sources:**\n\n" + "\n".join(rows))
    if by and not answer.abstained:
        parts.append(f"_Written by {md_escape(by)}; citations checked against the passages._")
    return "\n\n".join(parts)


def answer_markdown(answer: Answer, turn: int | None = None) -> str:
    """The complete chat message for an answer (extractive or LLM)."""
    if answer.body:
        return llm_answer_markdown(answer, turn)
    return (deque(answer_stream(answer, turn), maxlen=1) or [""])[0]  # the last, complete one


def actions_line(turn: int, exports: bool = True) -> str:
    """The links under an answer: copy it (markdown with its references) and export its
    papers (BibTeX, RIS); the page script handles them."""
    out = f"[Copy answer](#copy-{turn})"
    if exports:
        out += f" · [BibTeX](#bib-{turn}) · [RIS](#ris-{turn})"
    return out


def status_html(status: Mapping[str, Any], answers: str = "") -> str:
    """The index status line: digests, papers, chunks, model, which build and when (and who
    answers)."""
    built = str(status.get("built_at", "")).replace("T", " ")[:16]
    who = f" · answers: <b>{esc(answers)}</b>" if answers else ""
    build = f" · index <code>{esc(str(status['build']))}</code>" if status.get("build") else ""
    return (f'<div class="status-line">Index: <b>{int(status.get("digests", 0))}</b> digests · '
            f'<b>{int(status.get("papers", 0))}</b> papers · <b>{int(status.get("chunks", 0))}'
            f'</b> chunks · model {esc(str(status.get("model", "?")))}{build} · built '
            f"{esc(built)} UTC{who}</div>")


def error_html(message: str) -> str:
    """A visible, escaped error/warning box (never a traceback)."""
    return f'<div class="status-line status-error">⚠ {esc(message)}</div>'


FILTER_KEYS = ("since", "until", "digest", "has_code", "q_dates", "q_code")


def filter_chips(since: str | None = None, until: str | None = None,
                 digest: str | None = None, has_code: bool = False,
                 query: Query | None = None, asked_has_code: bool | None = None
                 ) -> dict[str, str]:
    """Every filter in force, key -> label: those set in the filter controls and those the
    last question (``query``, asked with ``asked_has_code``) was read with: its dates, or
    "has code" a list question implies."""
    chips = {}
    if since:
        chips["since"] = f"since {since}"
    if until:
        chips["until"] = f"until {until}"
    if digest:
        chips["digest"] = f"digest “{digest}”"
    if has_code:
        chips["has_code"] = "has code"
    if query is not None and query.dates_from_question and (query.since or query.until):
        span = (f"{query.since or 'any time'} to {query.until or 'now'}")
        phrase = f" (from “{query.date_phrase}”)" if query.date_phrase else " (from the question)"
        chips["q_dates"] = span + phrase
    if query is not None and query.has_code and asked_has_code is None and not has_code:
        chips["q_code"] = "has code (read from the question)"
    return chips


def filters_line(chips: Mapping[str, str] | None = None) -> str:
    """The label before the filter chips: 'Filters: none' or 'Filters (× removes one):'."""
    return "**Filters:** none" if not chips else "**Filters** (× removes one):"
