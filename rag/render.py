"""Render: answers, source cards, paper cards and status lines as safe HTML/markdown for the app.

Everything that comes from the corpus is escaped here: a digest containing ``<script>`` or a
markdown link to ``javascript:`` shows up as text, never as markup. Only http(s) links become
links. Inline ``[n]`` markers in chat messages link to ``#src-<turn>-<n>``, the id of the
matching source card (the app scrolls to it on click).
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator, Mapping

from .records import Answer, Citation, Digest, Item, Paper
from .verify import MARKER_GROUP, UNSUPPORTED_MARK, parse_numbers

_SAFE_URL = re.compile(r"^https?://[^\s<>\"'`\\]+$")
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#|!~])")


def esc(text: str) -> str:
    """HTML-escape corpus text."""
    return html.escape(text or "", quote=True)


def md_escape(text: str) -> str:
    """Escape markdown and HTML syntax in corpus text shown inside a markdown message."""
    return _MD_SPECIAL.sub(r"\\\1", text or "")


def safe_url(url: str) -> bool:
    """Whether ``url`` may become a link (http/https only, no quotes or spaces)."""
    return bool(_SAFE_URL.match(url or ""))


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
    items = " · ".join(f"{esc(d.title)} ({_when(d)})" for d in found)
    label = "Digest" if len(found) == 1 else f"Mentioned in {len(found)} digests"
    return f'<div class="src-meta src-digests">{label}: {items}</div>'


def _paper_rows(p: Paper) -> list[str]:
    rows = []
    if p.authors:
        rows.append(f'<div class="src-meta">Authors (digest): {esc(" / ".join(p.authors))}</div>')
    if p.arxiv_authors:
        rows.append(f'<div class="src-meta">Authors (arXiv): {esc(", ".join(p.arxiv_authors))}'
                    "</div>")
    if p.institutions:
        rows.append(f'<div class="src-meta">Institutions: {esc(", ".join(p.institutions))}</div>')
    links = [link(u, "code" if len(p.code_urls) == 1 else f"code {i + 1}")
             for i, u in enumerate(p.code_urls)]
    links += [link(u, "data") for u in p.data_urls]
    if p.arxiv_url:
        links.append(link(p.arxiv_url, f"arXiv {p.arxiv_id}"))
    if links:
        rows.append('<div class="src-links">' + " · ".join(links) + "</div>")
    for issue in p.attribution_issues:
        rows.append(f'<div class="src-warn">⚠ Attribution: {esc(issue)}</div>')
    return rows


def paper_card(c: Citation, digests: Mapping[str, Digest] | None = None,
               turn: int | None = None) -> str:
    """One source card: title, authors (digest and arXiv), institutions, the digests and dates
    that mention the paper, links, attribution warnings, and the passage with the cited
    sentences highlighted."""
    p, d = c.paper, c.digest
    rows = [f'<div class="src-card" id="{anchor(c.n, turn)}"><div class="src-title">'
            f'<span class="src-n">[{c.n}]</span> {esc(p.title if p else d.title)}</div>']
    if p is not None:
        rows.extend(_paper_rows(p))
        mentions = mentions_row(p, digests)
        if mentions and len(p.digest_ids) > 1:
            rows.append(mentions)
    rows.append(f'<div class="src-meta">Quoted from: {esc(d.title)} ({_when(d)})</div>')
    rows.append(f'<blockquote class="src-text">{highlight(c.text, c.sentences)}</blockquote>')
    rows.append("</div>")
    return "\n".join(rows)


def paper_rows(papers: list[Paper], digests: Mapping[str, Digest], query: str = "",
               institution: str | None = None, has_code: bool = False,
               sort: str = "Newest first") -> list[tuple[list[str], str]]:
    """(row, paper id) pairs for the papers browser: newest digest date, title (and short name),
    digest authors, institutions, ✓ when it has code; filtered by ``query`` (names, authors,
    institutions), ``institution`` and ``has_code``, and sorted."""
    q = (query or "").strip().lower()
    rows: list[tuple[list[str], str]] = []
    for p in papers:
        hay = " ".join([p.title, p.short_name or "", *p.authors, *p.arxiv_authors,
                        *p.institutions]).lower()
        if (q and q not in hay) or (has_code and not p.code_urls) or (
                institution and institution not in p.institutions):
            continue
        title = p.title + (f" ({p.short_name})" if p.short_name and
                           p.short_name.lower() not in p.title.lower() else "")
        dates = [digests[i].date for i in p.digest_ids if i in digests and digests[i].date]
        rows.append(([max(dates).isoformat() if dates else "", title, " / ".join(p.authors),
                      ", ".join(p.institutions), "✓" if p.code_urls else ""], p.id))
    if sort == "Oldest first":
        rows.sort(key=lambda r: (r[0][0] or "9999", r[0][1].lower()))
    elif sort == "Title A-Z":
        rows.sort(key=lambda r: r[0][1].lower())
    else:
        rows.sort(key=lambda r: (r[0][0], r[0][1].lower()), reverse=True)
    return rows


def paper_info_card(p: Paper, digests: Mapping[str, Digest] | None = None,
                    passages: list[str] | None = None) -> str:
    """A card for one paper of the papers browser (no citation): metadata and its passages."""
    name = f' <span class="src-short">({esc(p.short_name)})</span>' if (
        p.short_name and p.short_name.lower() not in p.title.lower()) else ""
    rows = [f'<div class="src-card paper-card" id="paper-{esc(p.id)}">'
            f'<div class="src-title">{esc(p.title)}{name}</div>', *_paper_rows(p)]
    mentions = mentions_row(p, digests)
    if mentions:
        rows.append(mentions)
    for text in passages or []:
        rows.append(f'<blockquote class="src-text">{esc(text)}</blockquote>')
    rows.append("</div>")
    return "\n".join(rows)


def sources_html(answer: Answer, digests: Mapping[str, Digest] | None = None,
                 turn: int | None = None) -> str:
    """The source cards of one answer."""
    if answer.abstained or not answer.citations:
        return '<div class="src-empty">No sources: the digests do not cover this question.</div>'
    return "\n".join(paper_card(c, digests, turn) for c in answer.citations)


def sources_panel(turns: list[tuple]) -> str:
    """The sources panel: the newest answer's cards open, earlier answers folded away.
    ``turns`` holds (question, cards html, ...) per answer, oldest first."""
    if not turns:
        return ('<div class="src-empty">Sources appear here: one card per cited paper. Click a '
                "[n] in an answer to jump to its card.</div>")
    parts = []
    for i, (question, cards, *_) in reversed(list(enumerate(turns))):
        head = f'<div class="src-q">Sources for: “{esc(question)}”</div>'
        if i == len(turns) - 1:
            parts.append(f'<div class="src-turn" data-turn="{i + 1}">{head}{cards}</div>')
        else:
            parts.append(f'<details class="src-turn" data-turn="{i + 1}"><summary>Earlier: '
                         f"“{esc(question)}”</summary>{cards}</details>")
    return "\n".join(parts)


def _cite(n: int, turn: int | None) -> str:
    return f"[\\[{n}\\]](#{anchor(n, turn)})"


def _cited(item: Item) -> str:
    """'**Title** (first author)' of an answer item, escaped; a who-wrote item shows the
    paper's own author list."""
    if item.authors:
        who = f" ({md_escape(', '.join(item.authors))})"
    else:
        who = f" ({md_escape(item.paper.authors[0])})" if item.paper and item.paper.authors \
            else ""
    return f"**{md_escape(item.title)}**{who}"


def _extras(item: Item) -> str:
    """The code and arXiv links an item carries because the question asked for them."""
    extra = []
    if item.code_urls:
        extra.append("Code: " + ", ".join(md_link(u) for u in item.code_urls))
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
    cards."""
    lines = _head(answer)
    if answer.abstained:
        yield "\n\n".join([*lines, md_escape(answer.lead)])
        return
    head = "\n\n".join([*lines, md_escape(answer.lead)] if answer.lead else lines)
    done: list[str] = []
    for item in answer.items:
        line = f"- {_cited(item)}:"
        for q in item.quotes:
            line += f" {md_escape(q.text)} {_cite(q.n, turn)}"
            yield head + "\n\n" + "\n".join([*done, line])
        done.append(line + _extras(item))
    yield "\n\n".join([head, "\n".join(done), *_caveats(answer)])


def llm_answer_markdown(answer: Answer, turn: int | None = None, by: str = "") -> str:
    """The chat message for a verified LLM answer (``rag.llm.build_answer``): notes, the
    model's text escaped with its ``[n]`` linked to the source cards and unverified sentences
    marked, the verifier's note, caveats, then the cited papers; ``by`` names the model."""
    k = len(answer.citations)

    def markers(m: re.Match[str]) -> str:
        ns = [n for n in parse_numbers(m.group(0)) if 1 <= n <= k]
        return " " + " ".join(_cite(n, turn) for n in ns) if ns else md_escape(m.group(0))

    body = answer.body or answer.lead
    pieces, pos = [], 0
    for m in MARKER_GROUP.finditer(body):
        pieces.append(md_escape(body[pos:m.start()]).replace(md_escape(UNSUPPORTED_MARK),
                                                             UNSUPPORTED_MARK))
        pieces.append(markers(m))
        pos = m.end()
    pieces.append(md_escape(body[pos:]).replace(md_escape(UNSUPPORTED_MARK), UNSUPPORTED_MARK))
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
    out = ""
    for out in answer_stream(answer, turn):
        pass
    return out


def status_html(status: Mapping[str, object], answers: str = "") -> str:
    """The index status line: digests, papers, chunks, model, built at (and who answers)."""
    built = str(status.get("built_at", "")).replace("T", " ")[:16]
    who = f" · answers: <b>{esc(answers)}</b>" if answers else ""
    return (f'<div class="status-line">Index: <b>{int(status.get("digests", 0))}</b> digests · '
            f'<b>{int(status.get("papers", 0))}</b> papers · <b>{int(status.get("chunks", 0))}'
            f'</b> chunks · model {esc(str(status.get("model", "?")))} · built {esc(built)} UTC'
            f"{who}</div>")


def error_html(message: str) -> str:
    """A visible, escaped error/warning box (never a traceback)."""
    return f'<div class="status-line status-error">⚠ {esc(message)}</div>'


def filters_line(since: str | None = None, until: str | None = None,
                 digest: str | None = None, has_code: bool = False) -> str:
    """'Filters: since 2026-05-01 · has code' (markdown, escaped), or 'Filters: none'."""
    parts = []
    if since and until:
        parts.append(f"{since} to {until}")
    elif since:
        parts.append(f"since {since}")
    elif until:
        parts.append(f"until {until}")
    if digest:
        parts.append(f"digest “{digest}”")
    if has_code:
        parts.append("has code")
    return "**Filters:** " + (md_escape(" · ".join(parts)) if parts else "none")


def answer_dict(answer: Answer, searched: str | None = None) -> dict:
    """A JSON-able summary of an answer for API clients."""
    cites = []
    for c in answer.citations:
        p = c.paper
        cites.append({
            "n": c.n, "title": p.title if p else None, "short_name": p.short_name if p else None,
            "authors": list(p.authors) if p else [],
            "arxiv_authors": list(p.arxiv_authors) if p else [],
            "institutions": list(p.institutions) if p else [],
            "code_urls": list(p.code_urls) if p else [],
            "arxiv_url": p.arxiv_url if p else None,
            "attribution_issues": list(p.attribution_issues) if p else [],
            "digest": c.digest.title, "date": c.digest.date.isoformat() if c.digest.date else None,
            "passage": c.text, "sentences": list(c.sentences)})
    return {"question": answer.question, "searched": searched or answer.question,
            "answer": answer.text, "abstained": answer.abstained, "notes": list(answer.notes),
            "lead": answer.lead, "caveats": list(answer.caveats),
            "items": [{"title": i.title, "authors": list(i.authors),
                       "quotes": [{"text": q.text, "n": q.n} for q in i.quotes],
                       "code_urls": list(i.code_urls), "arxiv_url": i.arxiv_url}
                      for i in answer.items],
            "citations": cites}
