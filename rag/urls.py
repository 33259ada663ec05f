"""URLs: find the URLs of a passage, tell arXiv, data and code links apart, read arXiv ids.

A URL is written out in the text, sits behind a link (HTML <a>, markdown [text](url)) or is an
arXiv reference ("arXiv:2603.04567"); its kind comes from the words just before it ("Dataset
available at ...") and its host: code hosts give code, data hosts data, and other sites data
when the words before them speak of data ("images come from the ..."). Used by
:mod:`rag.extract.mentions` and :mod:`rag.extract.paper_links`; :func:`url_spans` (the one link
parser) and :func:`clean_url` (may this become a link?) also serve the renderers (:mod:`ui.render`,
:mod:`rag.output.portable`, :mod:`rag.output.export`).
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

_SAFE_URL = re.compile(r"^https?://[^\s<>\"'`\\{}|^]+$", re.IGNORECASE)
_SPAN_RE = re.compile(r"https?://[^\s<>\"'`\\{}|^“”‘’«»]+", re.IGNORECASE)
_ARXIV_URL = re.compile(r"arxiv\.org/(?:abs|pdf)/(\d{4}\.\d{4,5})")
_ARXIV_REF = re.compile(r"\barXiv:\s?(\d{4}\.\d{4,5})(?:v\d+)?\b", re.IGNORECASE)


_CODE_HOST = re.compile(r"//(?:www\.)?(?:github\.com|gitlab\.|bitbucket\.org|huggingface\.co|"
                        r"colab\.research|pypi\.org|[\w\-]+\.github\.io|sourceforge\.net)")
_DATA_WORDS = re.compile(r"\b(?:data|datasets?|benchmarks?|corpus|corpora|splits?|images|scans|"
                         r"recordings|records|archives?|tiles|cohorts?|registr(?:y|ies)|"
                         r"challenge|on|from)\b", re.IGNORECASE)


def classify_url(url: str, context: str) -> str:
    """'arxiv', 'data' or 'code' for a URL, from its host and the few words just before it
    ("Dataset available at ...", "and code at ...")."""
    if _ARXIV_URL.search(url):
        return "arxiv"
    near = context[-30:].lower()
    cues = [(near.rfind(w), kind) for w, kind in (("dataset", "data"), ("data ", "data"),
                                                  ("code", "code"), ("notebook", "code"),
                                                  ("repositor", "code"))]
    pos, kind = max(cues)
    if pos >= 0:
        return kind
    host = url.lower()
    if any(h in host for h in ("kaggle.com", "zenodo.org", "huggingface.co/datasets",
                               "figshare", "dataverse", "physionet.org")):
        return "data"
    if _CODE_HOST.search(host):
        return "code"
    # another site with no cue: a data set when the words before it speak of data
    return "data" if _DATA_WORDS.search(context[-80:]) else "code"


def url_spans(text: str) -> list[tuple[int, int, str]]:
    """(start, end, url) of every http(s) URL written in ``text``: the one link parser for
    passages, answers and exports. A URL ends at a space, a quote or an angle bracket;
    trailing punctuation is not part of it ("see https://x.org/a." -> https://x.org/a), nor
    is a closing parenthesis or bracket it does not open ("(code: https://github.com/o/r)" ->
    https://github.com/o/r, while https://en.wikipedia.org/wiki/A_(b) keeps its ")")."""
    out = []
    for m in _SPAN_RE.finditer(text or ""):
        url = m.group()
        while True:
            trimmed = url.rstrip(".,;:!?*_~")
            for close, open_ in ((")", "("), ("]", "["), ("}", "{")):
                if trimmed.endswith(close) and trimmed.count(close) > trimmed.count(open_):
                    trimmed = trimmed[:-1]
            if trimmed == url:
                break
            url = trimmed
        if len(url) > len(m.group()[:m.group().find("//") + 2]):
            out.append((m.start(), m.start() + len(url), url))
    return out


def clean_url(url: str | None) -> str | None:
    """``url`` when it may safely become a link (http or https, a host, no spaces, quotes,
    angle brackets or backslashes), else None: ``javascript:`` links and URLs carrying
    ``"onmouseover=`` never get through."""
    url = (url or "").strip()
    if not _SAFE_URL.match(url):
        return None
    try:
        host = urlsplit(url).hostname
    except ValueError:
        return None
    return url if host else None


def find_urls(text: str) -> list[tuple[int, str, str]]:
    """(position, url, kind) for every URL in a passage (see :func:`url_spans`)."""
    return [(start, url, classify_url(url, text[:start])) for start, _, url in url_spans(text)]


def arxiv_id_of(url: str) -> str | None:
    """The arXiv id an arxiv.org abs or pdf URL names, else None."""
    m = _ARXIV_URL.search(url)
    return m.group(1) if m else None


def passage_urls(p) -> list[tuple[int, int, str, str]]:
    """(start, end, url, kind) of the URLs of a passage: those written in its text and the
    hrefs of its links (HTML <a>, markdown [text](url)), located at their link text."""
    if not p.links and "://" not in p.text and "v:" not in p.text and "V:" not in p.text:
        return []  # no URL ("http://") and no arXiv reference ("arXiv:"): most passages
    out = [(pos, pos + len(url), url, kind) for pos, url, kind in find_urls(p.text)]
    for m in _ARXIV_REF.finditer(p.text):  # "HydroFormer (arXiv:2603.04567)"
        out.append((m.start(), m.end(), f"https://arxiv.org/abs/{m.group(1)}", "arxiv"))
    seen = {url for _, _, url, _ in out}
    cursor = 0
    for link in p.links:
        url = link.url.strip()
        if not url.lower().startswith(("http://", "https://")) or url in seen:
            continue
        seen.add(url)
        pos = p.text.find(link.text, cursor) if link.text else -1
        if pos < 0:
            pos, end = len(p.text), len(p.text)  # text not found: treat as trailing
        else:
            end = pos + len(link.text)
            cursor = end
        out.append((pos, end, url, classify_url(url, f"{p.text[:pos]} {link.text} ")))
    return sorted(out)
