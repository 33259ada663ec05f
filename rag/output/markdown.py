"""Markdown: render a structured :class:`~rag.records.Answer` as markdown (CLI, API, ``.text``).

The one place an answer becomes markdown text: notes in italics, the lead sentence, one
bullet per paper with its quoted sentences and ``[n]`` markers (plus the code or arXiv links
the question asked for), caveats, then the numbered sources (title, authors as the digests
write them, institutions, digest and date, the paper's own text, code and arXiv links). Nothing
parses this text back; the app renders the same structure to HTML in :mod:`ui.render`.
"""

from __future__ import annotations

from rag.records import Answer, Citation, Item, Paper


def format_source(c: Citation) -> str:
    """One line of the numbered source list."""
    p, d = c.paper, c.digest
    when = d.date.isoformat() if d.date else "undated"
    if p is None:
        return f"[{c.n}] {d.title}, {when}"
    parts = [f"[{c.n}] **{p.title}**"]
    if p.authors:
        parts.append(" / ".join(p.authors))
    if p.institutions:
        parts.append("(" + ", ".join(p.institutions) + ")")
    line = " - ".join([parts[0], " ".join(parts[1:])]) if len(parts) > 1 else parts[0]
    line += f". In: {d.title} ({when})"
    own = [e.label for e in c.evidence if e.source != "digest"]
    if own:
        line += ". Paper text: " + "; ".join(own)
    mine, others = code_links(p, d.id)
    if mine:
        line += ". Code: " + ", ".join(mine)
    if others:
        line += ". Code per other digests: " + ", ".join(others)
    if p.arxiv_url:
        line += f". arXiv: {p.arxiv_url}"
    return line


def code_links(paper: Paper, digest_id: str) -> tuple[list[str], list[str]]:
    """(code URLs this digest gives for the paper, those only other digests give)."""
    sources = paper.url_sources("code")
    if not sources:
        return list(paper.code_urls), []
    return ([u for u, ds in sources.items() if digest_id in ds],
            [u for u, ds in sources.items() if digest_id not in ds])


def item_links(item: Item) -> str:
    """What follows an item when the question asks for code or arXiv links; when digests
    give different links, each with the digest that gives it."""
    extra = ""
    if item.code_urls and len(set(item.code_from)) > 1:
        extra += " Code: " + "; ".join(f"{u} (per {src})" for u, src in
                                       zip(item.code_urls, item.code_from))
    elif item.code_urls:
        extra += " Code: " + ", ".join(item.code_urls)
    elif item.no_code:
        extra += " The digests give no code link for it."
    if item.arxiv_url:
        extra += f" arXiv: {item.arxiv_url}"
    return extra


def item_line(item: Item) -> str:
    """'- **Title** (first author): sentence [n] sentence [n] Code: ...'."""
    head = f"**{item.title}**"
    if item.authors:
        head += f" ({', '.join(item.authors)})"
    elif item.paper and item.paper.authors:
        head += f" ({item.paper.authors[0]})"
    quoted = " ".join(f"{q.text} [{q.n}]" for q in item.quotes)
    return f"- {head}: {quoted}{item_links(item)}"


def answer_markdown(answer: Answer) -> str:
    """The whole answer as markdown."""
    parts = [f"_{n}_" for n in answer.notes]
    if answer.abstained:
        return "\n\n".join([*parts, answer.lead or answer.body])
    if answer.body:
        parts.append(answer.body)
        if answer.footer:
            parts.append(f"_{answer.footer}_")
    else:
        if answer.lead:
            parts.append(answer.lead)
        if answer.items:
            parts.append("\n".join(item_line(i) for i in answer.items))
    parts += [f"⚠ {c}" for c in answer.caveats]
    if answer.citations:
        parts.append("**Sources**")
        parts.append("\n".join(format_source(c) for c in answer.citations))
    return "\n\n".join(p for p in parts if p)
