"""Portable answers: what leaves the app (copied markdown, ``rag ask --format markdown``, the
``/ask`` API) in a form its readers can trust.

* :func:`answer_markdown` is markdown anyone can paste into a renderer: corpus text escaped (no
  raw HTML, no markdown syntax from a digest), URLs as ``<https://...>`` autolinks only when
  they are plain http(s) URLs (:func:`rag.urls.clean_url`), each ``[n]`` a link to its
  paper, and a numbered list of references that resolves every ``[n]``: title (linked),
  authors, digest and date, arXiv and code links. Each paper item is one concise line: its
  title once (:func:`item_head`).
* :func:`plain` turns corpus text into plain text for JSON fields (tags and scripted links
  removed), and :func:`answer_dict` is the API's JSON.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from urllib.parse import quote

from rag.answer.claims import MARKER_GROUP, UNSUPPORTED_MARK, parse_numbers
from rag.output.markdown import code_links
from rag.records import Answer, Citation, Digest, Item
from rag.text import normalize_title
from rag.urls import clean_url, url_spans

DigestLink = Callable[[Digest], "str | None"]

_TAG = re.compile(r"<!--.*?-->|</?[A-Za-z][^<>]*>", re.S)
_MD_LINK = re.compile(r"!?\[([^\]\n]*)\]\(((?:[^()\s]|\([^()\s]*\))*)(?:\s+\"[^\"]*\")?\)")
_INLINE = re.compile(r"([\\`*\[\]<>~])")
_ENTITY = re.compile(r"&(?=#?\w+;)")
_UNDERSCORE = re.compile(r"(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])")
_LINE_START = re.compile(r"^(\s*)([#>+=-]|\d+[.)])", re.M)


def plain(text: str | None) -> str:
    """Corpus text as plain text: HTML tags dropped, markdown links reduced to their label
    (and the URL when it is a clean http(s) one)."""
    out = _TAG.sub("", text or "")

    def flat(m: re.Match[str]) -> str:
        url = clean_url(m.group(2))
        return f"{m.group(1)} ({url})" if url and m.group(1) != url else (url or m.group(1))

    return _MD_LINK.sub(flat, out)


def escape(text: str) -> str:
    """Markdown-escape text that is not a URL: nothing in it becomes markup or HTML."""
    text = _INLINE.sub(r"\\\1", text)
    text = _UNDERSCORE.sub(r"\\_", _ENTITY.sub(r"\\&", text))
    return text


def md_text(text: str | None, inline: bool = True) -> str:
    """Corpus (or model) text as safe markdown: escaped, and its http(s) URLs as autolinks
    (trailing punctuation and unmatched parentheses stay outside: :func:`rag.urls.url_spans`).
    ``inline`` folds line breaks into spaces."""
    text = text or ""
    if inline:
        text = " ".join(text.split())
    out, pos = [], 0
    for start, end, url in url_spans(text):
        out.append(escape(text[pos:start]))
        safe = clean_url(url)
        out.append(f"<{safe}>" if safe else escape(url))
        pos = end
    out.append(escape(text[pos:]))
    return _LINE_START.sub(_line_start, "".join(out))


def _line_start(m: re.Match[str]) -> str:
    """Escape what would open a heading, quote, list or setext line."""
    mark = m.group(2)
    return m.group(1) + (mark[:-1] + "\\" + mark[-1] if mark[0].isdigit() else "\\" + mark)


def link(label: str, url: str | None) -> str:
    """``[label](url)`` for a clean http(s) URL, else the escaped label."""
    safe = clean_url(url)
    if not safe:
        return md_text(label)
    return f"[{md_text(label)}]({safe.replace('(', '%28').replace(')', '%29')})"


def item_head(item: Item) -> str | None:
    """The bold head of an answer item, or None: the paper's title, unless its quotes already
    name it in full (then its short name, or nothing), so an item says its title once."""
    quoted = normalize_title(" ".join(q.text for q in item.quotes))
    title = item.title or ""
    if title and normalize_title(title) not in quoted:
        return title
    short = item.paper.short_name if item.paper else None
    return short if short and normalize_title(short) not in quoted else None


def item_authors(item: Item) -> str:
    """The authors to show beside an item's head ('' when its quotes already say who)."""
    if item.authors:
        return ", ".join(item.authors)
    first = item.paper.authors[0] if item.paper and item.paper.authors else ""
    quoted = " ".join(q.text for q in item.quotes)
    return "" if not first or first.split()[0] in quoted else first


def digest_link(d: Digest, base_url: str | None = None) -> str | None:
    """Where a digest can be read: its post (``Digest.url``) when it gives a clean address,
    else the app's copy of the file under ``base_url`` (``<base>/digest/<id>``), else None."""
    url = clean_url(d.url)
    if url:
        return url
    return f"{base_url.rstrip('/')}/digest/{quote(d.id, safe='')}" if base_url else None


def reference_url(c: Citation, base_url: str | None = None) -> str:
    """The link of citation ``c``: the paper's arXiv page, else its code, else the digest, else
    an arXiv title search (every reference gets a working link)."""
    p = c.paper
    candidates = [p.arxiv_url if p else None, *(p.code_urls if p else ()),
                  digest_link(c.digest, base_url)]
    for u in candidates:
        if clean_url(u):
            return clean_url(u) or ""
    title = p.title if p else c.digest.title
    return "https://arxiv.org/search/?searchtype=title&query=" + quote(plain(title), safe="")


def _marker(n: int, urls: dict[int, str]) -> str:
    return f"[\\[{n}\\]]({urls[n]})" if n in urls else f"\\[{n}\\]"


def clean_links(urls: tuple[str, ...], sources: tuple[str, ...] = ()
                ) -> list[tuple[str, str]]:
    """(url, the digests that give it) for the clean http(s) URLs of ``urls``; ``sources``
    runs beside ``urls`` (an item's ``code_from``) and may be shorter."""
    pairs = zip(urls, [*sources, *[""] * len(urls)])
    return [(clean_url(u) or "", s) for u, s in pairs if clean_url(u)]


def _code(item: Item) -> str:
    sources = item.code_from
    links = clean_links(item.code_urls, sources)
    if links:
        per = len(set(sources)) > 1
        return " Code: " + ", ".join(f"<{u}>" + (f" (per {md_text(s)})" if per and s else "")
                                     for u, s in links)
    return " The digests give no code link for it." if item.no_code else ""


def item_line(item: Item, urls: dict[int, str]) -> str:
    """One concise line per paper: head (title once), authors, quotes with linked [n], the
    code and arXiv links the question asked for."""
    head, who = item_head(item), item_authors(item)
    lead = (f"**{md_text(head)}**" if head else "") + (f" ({md_text(who)})" if who else "")
    quotes = " ".join(f"{md_text(q.text)} {_marker(q.n, urls)}" for q in item.quotes)
    arxiv = f" arXiv: <{clean_url(item.arxiv_url)}>" if clean_url(item.arxiv_url) else ""
    return f"- {lead + ': ' if lead else ''}{quotes}{_code(item)}{arxiv}"


def source_line(c: Citation, base_url: str | None = None) -> str:
    """One reference: linked title, authors (institutions), digest (linked) and date, the
    paper's own text used, arXiv and code links."""
    p, d = c.paper, c.digest
    title = plain(p.title if p else d.title)
    line = f"{c.n}. **{link(title, reference_url(c, base_url))}**"
    if p is not None and p.authors:
        line += " — " + md_text(" / ".join(p.authors))
        if p.institutions:
            line += f" ({md_text(', '.join(p.institutions))})"
    when = d.date.isoformat() if d.date else "undated"
    line += f". In: {link(plain(d.title), digest_link(d, base_url))} ({when})"
    own = [e.label for e in c.evidence if e.source != "digest"]
    if own:
        line += ". Paper text: " + md_text("; ".join(own))
    links = []
    if p is not None and p.arxiv_id and clean_url(p.arxiv_url):
        links.append(link(f"arXiv:{p.arxiv_id}", p.arxiv_url))
    mine, others = code_links(p, d.id) if p is not None else ([], [])
    codes = [u for u in mine if clean_url(u)]
    links += [link("code" if len(codes) == 1 else f"code {i}", u)
              for i, u in enumerate(codes, 1)]
    others = [u for u in others if clean_url(u)]
    if others:
        links.append("code per other digests: " + ", ".join(f"<{clean_url(u)}>" for u in others))
    return line + (". " + " · ".join(links) if links else "")


def _body(answer: Answer, urls: dict[int, str]) -> str:
    """An LLM answer's prose, escaped, its [n] markers linked."""
    out = []
    for para in re.split(r"\n\s*\n", answer.body):
        pieces, pos = [], 0
        for m in MARKER_GROUP.finditer(para):
            pieces.append(md_text(para[pos:m.start()]))
            ns = [n for n in parse_numbers(m.group(0)) if n in urls]
            pieces.append(" " + " ".join(_marker(n, urls) for n in ns) if ns
                          else md_text(m.group(0)))
            pos = m.end()
        pieces.append(md_text(para[pos:]))
        out.append("".join(pieces).replace(md_text(UNSUPPORTED_MARK.strip()),
                                           UNSUPPORTED_MARK.strip()))
    return "\n\n".join(out)


def answer_markdown(answer: Answer, base_url: str | None = None) -> str:
    """The whole answer as safe, self-contained markdown with resolved references."""
    urls = {c.n: reference_url(c, base_url) for c in answer.citations}
    parts = [f"_{md_text(n)}_" for n in answer.notes]
    if answer.abstained:
        return "\n\n".join([*parts, md_text(answer.lead or answer.body)])
    if answer.body:
        parts.append(_body(answer, urls))
        if answer.footer:
            parts.append(f"_{md_text(answer.footer)}_")
    else:
        if answer.lead:
            parts.append(md_text(answer.lead))
        if answer.items:
            parts.append("\n".join(item_line(i, urls) for i in answer.items))
    parts += [f"⚠ {md_text(c)}" for c in answer.caveats]
    if answer.citations:
        parts.append("**Sources**")
        parts.append("\n".join(source_line(c, base_url) for c in answer.citations))
    return "\n\n".join(p for p in parts if p)


def turn_markdown(question: str, answer_md: str) -> str:
    """One question and its answer, as a section of a copied conversation."""
    return f"## {md_text(question)}\n\n{answer_md}"


def answer_dict(answer: Answer, searched: str | None = None, base_url: str | None = None
                ) -> dict:
    """The API's JSON for an answer: ``answer`` is :func:`answer_markdown`; every other text
    field is plain text (:func:`plain`) and every URL a clean http(s) one (others dropped)."""
    def urls(xs: Iterable[str] | None) -> list[str]:
        return [u for u in (clean_url(x) for x in (xs or ())) if u]

    cites = []
    for c in answer.citations:
        p, d = c.paper, c.digest
        cites.append({
            "n": c.n, "title": plain(p.title) if p else None,
            "short_name": plain(p.short_name) if p and p.short_name else None,
            "authors": [plain(a) for a in p.authors] if p else [],
            "arxiv_authors": [plain(a) for a in p.arxiv_authors] if p else [],
            "institutions": [plain(i) for i in p.institutions] if p else [],
            "code_urls": urls(p.code_urls) if p else [],
            "arxiv_url": clean_url(p.arxiv_url) if p else None,
            "attribution_issues": [plain(i) for i in p.attribution_issues] if p else [],
            "digest": plain(d.title), "date": d.date.isoformat() if d.date else None,
            "digest_url": digest_link(d, base_url), "url": reference_url(c, base_url),
            "passage": plain(c.text), "sentences": [plain(s) for s in c.sentences]})
    return {"question": plain(answer.question),
            "searched": plain(searched or answer.question),
            "answer": answer_markdown(answer, base_url), "abstained": answer.abstained,
            "notes": [plain(n) for n in answer.notes], "lead": plain(answer.lead),
            "caveats": [plain(c) for c in answer.caveats],
            "items": [{"title": plain(i.title), "authors": [plain(a) for a in i.authors],
                       "quotes": [{"text": plain(q.text), "n": q.n} for q in i.quotes],
                       "code_urls": urls(i.code_urls), "arxiv_url": clean_url(i.arxiv_url)}
                      for i in answer.items],
            "citations": cites}
