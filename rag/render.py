"""Render: answers, source cards and status lines as safe HTML/markdown for the app.

Everything that comes from the corpus is escaped here: a digest containing ``<script>`` or a
markdown link to ``javascript:`` shows up as text, never as markup. Only http(s) links become
links.
"""

from __future__ import annotations

import html
import re

from .records import Answer, Citation, Paper

_SAFE_URL = re.compile(r"^https?://[^\s<>\"']+$")
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#|!~])")


def esc(text: str) -> str:
    """HTML-escape corpus text."""
    return html.escape(text or "", quote=True)


def md_escape(text: str) -> str:
    """Escape markdown and HTML syntax in corpus text shown inside a markdown message."""
    return _MD_SPECIAL.sub(r"\\\1", text or "")


def link(url: str, label: str | None = None) -> str:
    """An <a> for http(s) URLs; anything else (javascript:, data:) is shown as plain text."""
    if not _SAFE_URL.match(url or ""):
        return esc(label or url)
    return (f'<a href="{esc(url)}" target="_blank" rel="noopener noreferrer">'
            f"{esc(label or url)}</a>")


def highlight(text: str, sentences: tuple[str, ...]) -> str:
    """Escaped passage text with the cited sentences wrapped in <mark>."""
    out = esc(text)
    for s in sentences:
        e = esc(s)
        if e and e in out:
            out = out.replace(e, f"<mark>{e}</mark>", 1)
    return out


def paper_card(c: Citation) -> str:
    """One source card: title, authors, institutions, digest and date, links, passage."""
    p, d = c.paper, c.digest
    when = d.date.isoformat() if d.date else "undated"
    rows = [f'<div class="src-card" id="src-{c.n}"><div class="src-title"><span class="src-n">'
            f"[{c.n}]</span> {esc(p.title if p else d.title)}</div>"]
    if p is not None:
        rows.extend(_paper_rows(p))
    rows.append(f'<div class="src-meta">Digest: {esc(d.title)} ({when})</div>')
    rows.append(f'<blockquote class="src-text">{highlight(c.text, c.sentences)}</blockquote>')
    rows.append("</div>")
    return "\n".join(rows)


def _paper_rows(p: Paper) -> list[str]:
    rows = []
    if p.authors:
        rows.append(f'<div class="src-meta">Authors (digest): {esc(" / ".join(p.authors))}</div>')
    if p.arxiv_authors:
        rows.append(f'<div class="src-meta">Authors (arXiv): {esc(", ".join(p.arxiv_authors))}'
                    "</div>")
    if p.institutions:
        rows.append(f'<div class="src-meta">Institutions: {esc(", ".join(p.institutions))}</div>')
    links = [link(u, "code") for u in p.code_urls]
    if p.arxiv_url:
        links.append(link(p.arxiv_url, f"arXiv {p.arxiv_id}"))
    if links:
        rows.append('<div class="src-links">' + " · ".join(links) + "</div>")
    for issue in p.attribution_issues:
        rows.append(f'<div class="src-warn">⚠ {esc(issue)}</div>')
    return rows


def sources_html(answer: Answer) -> str:
    """The sources panel for an answer."""
    if answer.abstained or not answer.citations:
        return '<div class="src-empty">No sources: the digests do not cover this question.</div>'
    return "\n".join(paper_card(c) for c in answer.citations)


def answer_markdown(answer: Answer) -> str:
    """The chat message for an answer: corpus text escaped, [n] kept, sources listed."""
    if answer.abstained:
        return "\n\n".join([*(f"_{md_escape(n)}_" for n in answer.notes), md_escape(
            answer.text.split("\n\n")[-1])])
    lines = [f"_{md_escape(n)}_" for n in answer.notes]
    for c in answer.citations:
        title = c.paper.title if c.paper else c.digest.title
        who = f" ({md_escape(c.paper.authors[0])})" if c.paper and c.paper.authors else ""
        quoted = " ".join(f"{md_escape(s)} **[{c.n}]**" for s in c.sentences)
        lines.append(f"- **{md_escape(title)}**{who}: {quoted}")
    return "\n".join(lines)
