"""The papers browser of the app: the filtered, sorted list of papers as HTML.

Each paper is one row: the newest digest date, its title (and short name), the digest's
authors, and links to arXiv and code; the row unfolds (``<details>``) into the paper's card
with its passages. The list carries BibTeX and RIS of exactly the papers shown (the current
filter) for the page script's "Export" links. Everything from the corpus is escaped by
``ui.render``.
"""

from __future__ import annotations

from collections.abc import Mapping

from rag import Paper
from rag.output.export import bibtex, ris
from rag.records import Digest
from ui.render import esc, link, mentions_row, paper_meta, safe_url, templates

SORTS = ["Newest first", "Oldest first", "Title A-Z"]
MAX_ROWS = 300  # rows rendered at once; the exports always hold every matching paper


def newest(p: Paper, digests: Mapping[str, Digest]) -> str:
    """The ISO date of the newest digest that mentions ``p`` ('' when undated)."""
    dates = [d for i in p.digest_ids if i in digests and (d := digests[i].date) is not None]
    return max(dates).isoformat() if dates else ""


def filter_papers(papers: list[Paper], digests: Mapping[str, Digest], query: str = "",
                  institution: str | None = None, has_code: bool = False,
                  sort: str = "Newest first") -> list[Paper]:
    """The papers matching ``query`` (title, short name, authors, institutions),
    ``institution`` and ``has_code``, sorted by ``sort`` (one of :data:`SORTS`)."""
    q = (query or "").strip().lower()
    out = []
    for p in papers:
        hay = " ".join([p.title, p.short_name or "", *p.authors, *p.arxiv_authors,
                        *p.institutions]).lower()
        if (q and q not in hay) or (has_code and not p.code_urls) or (
                institution and institution not in p.institutions):
            continue
        out.append(p)
    if sort == "Oldest first":
        out.sort(key=lambda p: (newest(p, digests) or "9999", p.title.lower()))
    elif sort == "Title A-Z":
        out.sort(key=lambda p: p.title.lower())
    else:
        out.sort(key=lambda p: p.title.lower())
        out.sort(key=lambda p: newest(p, digests), reverse=True)
    return out


def _title(p: Paper) -> str:
    short = f" ({p.short_name})" if p.short_name and \
        p.short_name.lower() not in p.title.lower() else ""
    return esc(p.title + short)


def paper_row(p: Paper, digests: Mapping[str, Digest], passages: list[str]) -> str:
    """One row: date, title, authors and links; it unfolds into the paper's card."""
    links = [link(p.arxiv_url, "arXiv")] if p.arxiv_url else []
    codes = [u for u in p.code_urls if safe_url(u)]
    links += [link(u, "code" if len(codes) == 1 else f"code {i}") for i, u in enumerate(codes, 1)]
    card = [*paper_meta(p, digests), mentions_row(p, digests),
            *(f'<blockquote class="src-text">{esc(t)}</blockquote>' for t in passages[:4])]
    who = esc(" / ".join(p.authors))
    return (f'<li class="paper-row" id="paper-{esc(p.id)}"><details><summary>'
            f'<span class="p-date">{newest(p, digests) or "undated"}</span>'
            f'<span class="p-title">{_title(p)}</span>'
            f'<span class="p-auth">{who}</span></summary>'
            f'<div class="src-card paper-card">{"".join(card)}</div></details>'
            f'<span class="p-links">{" · ".join(links)}</span></li>')


def papers_html(papers: list[Paper], digests: Mapping[str, Digest],
                passages: Mapping[str, list[str]], total: int | None = None) -> str:
    """The list: a head with the count and the export links, then one row per paper (at
    most :data:`MAX_ROWS`)."""
    n = len(papers)
    of = f" of {total}" if total is not None and total != n else ""
    if not papers:
        return ('<div id="papers-list"><div class="src-empty">No paper matches these filters.'
                "</div></div>")
    more = (f'<div class="src-empty">Showing the first {MAX_ROWS}; narrow the search to see '
            "the rest (the exports hold them all).</div>" if n > MAX_ROWS else "")
    rows = "".join(paper_row(p, digests, passages.get(p.id, [])) for p in papers[:MAX_ROWS])
    exports = templates({"bib": bibtex(papers, digests), "ris": ris(papers, digests)})
    return (f'<div id="papers-list"><div class="papers-head papers-export">{exports}'
            f'<span><b>{n}</b>{of} papers · select one for its card</span>'
            f'<span class="papers-links">Export these: <a href="#papers-bib">BibTeX</a> · '
            f'<a href="#papers-ris">RIS</a></span></div>'
            f'<ul class="paper-list">{rows}</ul>{more}</div>')
