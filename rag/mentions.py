"""Mentions: find where a digest passage names a paper, and what it says about it.

Digests name papers in a handful of ways, and this module knows them: quoted titles
(“Title” by Authors), titles after a cue ("in their paper Title,", "Authors from X in Title,",
"introduce Title, a ..."), titles in parentheses after authors, bullet labels
("- DeepCORO-CLIP: ..."), short names ("introduces HATL, which"), and author groups
("Yoo et al.", "Nada Shahin and Leila Ismail (United Arab Emirates University)"). The output,
one :class:`RawMention` per paper per sentence or bullet, is merged into papers by
:mod:`rag.papers`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import regex

from .text import split_sentences

CONNECTORS = frozenset(
    "a an the of for and or in on to with via using from under into at as by toward towards "
    "through without over vs versus across between is are be".split()
)
INSTITUTION_WORDS = re.compile(
    r"\b(universit\w*|universidad|universitat|università|universität|université|institut\w*|"
    r"college|school|lab|labs|laborator\w*|center|centre|hospital|clinic|ministry|academy|"
    r"inc\.?|corp\.?|ltd\.?|gmbh|technologies|politecnico|polytechnic|"
    r"kaggle|hugging face|google|deepmind|microsoft|openai|nvidia|ibm|dfki)\b",
    re.IGNORECASE,
)
GENERIC_LABELS = frozenset(
    """models model datasets dataset benchmarks benchmark code frameworks framework datasets
    & benchmarks datasets and benchmarks medical imaging scientific machine learning
    reinforcement learning efficient transfer learning language models resources tools
    evaluation metrics results applications""".split("\n")
) | {"datasets & benchmarks", "medical imaging", "scientific machine learning",
     "reinforcement learning", "efficient transfer learning", "language models",
     "models", "datasets", "benchmarks", "code", "frameworks", "metrics", "tools"}
_VERBS = (r"introduces?|presents?|proposes?|demonstrates?|shows?|addresses|address|tackles?|"
          r"explores?|investigates?|achieves?|leverages?|uses?|develops?|developed|highlights?|"
          r"reveals?|extends?|offers?|provides?|emphasizes?|solves?|integrates?|employs?|"
          r"utilizes?|finds?|argues?|outperforms?|combines?|enables?|is|are|builds?|marks?")
_COUNTRIES = frozenset("India China USA US UK Germany France Italy Spain Japan Korea Canada "
                       "Brazil Australia Singapore Qatar Switzerland Netherlands".split())
_NAME_PARTICLES = frozenset("of and the de di i at für for del la le du da y von van der".split())
_VERB_RE = re.compile(rf"\s+(?:{_VERBS})\b")
_URL_RE = re.compile(r"https?://[^\s<>\"”)]+")
_ARXIV_URL = re.compile(r"arxiv\.org/(?:abs|pdf)/(\d{4}\.\d{4,5})")

# A person's name token: capitalised word, initial, or all-caps surname ("MARTÍN-PÉREZ").
_NT = r"(?:\p{Lu}\.|\p{Lu}[\p{Ll}\p{Lu}’'\-]*(?<!’s)(?<!'s)\.?)"
_PARTICLE = r"(?:da|de|di|dos|das|van|von|der|del|la|le|du|bin|al)"
_PERSON = rf"{_NT}(?:\s+(?:{_PARTICLE}\s+)?{_NT}){{0,3}}"
_AUTHOR_PATTERNS = [
    regex.compile(rf"(?P<g>{_PERSON}\s+et\s+al\.?)"),
    regex.compile(rf"(?P<g>{_PERSON}\s+and\s+(?:colleagues|co-authors|coauthors|his team|"
                  rf"her team|their team|collaborators))"),
    regex.compile(rf"(?P<g>{_PERSON}(?:,\s+{_PERSON})*,?\s+and\s+{_PERSON})"
                  rf"(?=\s*\(|\s+from\b|\s+at\b|\s*\))"),
    regex.compile(rf"(?<=\bby\s)(?P<g>{_PERSON})(?=\s*\(|\s+from\b|,|\.|\))"),
    regex.compile(rf"(?P<g>{_PERSON})(?=\s+from\s+(?:the\s+)?\p{{Lu}}[^,;]{{0,60}}?(?i:universit|"
                  rf"institut|school|college|lab\b|center|centre|politecnico|hospital)|\s*\([^)]*"
                  rf"(?i:universit|institut|school|college|lab|center|centre)[^)]*\))"),
]
_NOT_NAME_WORDS = frozenset(
    """the in for by from and this these similarly furthermore finally complementing building
    beyond another across at on with however moreover also learning transfer model models
    network networks neural deep data dataset framework university institute school college
    center centre lab laboratory hospital approach method methods system systems analysis
    detection image images medical benchmark foundation recent research innovation science
    sciences technology technologies state national international global new novel
    reinforcement language large small multi based using via code available applied
    researchers researcher scientists authors team teams group engineers experts""".split()
)


@dataclass
class RawMention:
    """One naming of a paper in one sentence (or one bullet) of one passage."""

    digest_id: str
    passage_index: int
    start: int  # span of the naming in the passage text
    end: int
    title: str | None = None
    kind: str = "title"  # "title" | "label" | "name" | "authors"
    how: str = ""  # for titles: "quoted" | "paren" | "cue" | "run"
    short_name: str | None = None
    authors: str | None = None
    institutions: list[str] = field(default_factory=list)


def is_name_like(token: str) -> bool:
    """A coined name: inner capitals, digits or all caps ("MoLRE", "T-PaiNN", "ZACAF")."""
    t = token.strip("“”\"'(),.:;’")
    if len(t) < 3 or not t[0].isalpha():
        return False
    return bool(re.search(r"[A-Z]", t[1:]) or re.search(r"\d", t)) and not t.isdigit()


def _cap_ratio(words: list[str]) -> float:
    content = [w for w in words if w.lower().strip("“”\"(),:;?") not in CONNECTORS]
    if not content:
        return 0.0
    caps = sum(1 for w in content if (w.strip("“”\"(")[:1] or "a")[0].isupper()
               or w[:1].isdigit())
    return caps / len(content)


def looks_like_title(text: str, strict: bool = True) -> bool:
    """Title-case (or, when not strict, sentence-case) text of three or more words."""
    words = text.split()
    if len(words) < 2 or not (text[0].isupper() or text[0].isdigit()):
        return False
    if INSTITUTION_WORDS.search(text) and not re.search(r":", text):
        return False
    if strict:
        return len(words) >= 3 and _cap_ratio(words) >= 0.6 or (len(words) == 2 and
                                                                 _cap_ratio(words) == 1.0)
    return len(words) >= 4


def _clean_title(t: str) -> str:
    t = t.strip().strip("“”\"‘’").strip()
    t = re.sub(r"[,;.]+$", "", t).strip()
    return t


def quoted_spans(s: str) -> list[tuple[int, int]]:
    """Spans of the quoted passages of a sentence (titles live there, authors never do)."""
    return [m.span() for m in re.finditer(r"[“\"][^”\"]{3,300}[”\"]", s)]


def find_author_groups(s: str) -> list[tuple[int, int, str]]:
    """Spans of author groups in a sentence, longest-first without overlaps."""
    found: list[tuple[int, int, str]] = []
    quotes = quoted_spans(s)
    for pat in _AUTHOR_PATTERNS:
        for m in pat.finditer(s):
            a, b = m.span("g")
            text = m.group("g")
            # trim leading sentence words ("Similarly, The ...") that are not names
            toks = text.split()
            while toks and toks[0].lower().strip(",") in _NOT_NAME_WORDS:
                a += len(toks[0]) + 1
                toks = toks[1:]
            text = " ".join(toks)
            name_part = re.sub(r"\s+(et al\.?|and (colleagues|co-authors|coauthors|his team|"
                               r"her team|their team|collaborators))$", "", text)
            words = [w.strip(",.").lower() for w in name_part.replace(" and ", " ").split()]
            if not words or any(w in _NOT_NAME_WORDS for w in words):
                continue
            if INSTITUTION_WORDS.search(name_part) or any(w.isdigit() for w in words):
                continue
            if any(re.search(r"[a-z][A-Z]", w) for w in name_part.split()):
                continue  # DeepScope, MoLRE: coined names, not people
            acro = re.match(r"\s*\(([A-Z][A-Z\-]+)\)", s[b:])
            if acro and _spells_initials(acro.group(1), text):
                continue  # "US-ROC and Pan-Asian ... Study (PAROS)": a named thing, but
                # "Smith et al. (MIT)" is a person at an institution
            if any(not (x[1] <= a or x[0] >= b) for x in found + quotes):
                continue
            found.append((a, b, text.rstrip(",")))
    return sorted(found)


def _spells_initials(acronym: str, text: str) -> bool:
    """True when ``acronym`` is spelt by the initials of consecutive capitalised words of
    ``text`` ("PAROS" in "US-ROC and Pan-Asian Resuscitation Outcomes Study")."""
    letters = re.sub(r"[^A-Z]", "", acronym)
    initials = "".join(w[0] for w in re.split(r"[\s\-]+", text) if w[:1].isupper())
    return len(letters) >= 2 and letters in initials


def _split_institutions(span: str) -> list[str]:
    span = re.sub(r"^(?:the|primarily|mainly)\s+", "", span.strip())
    parts = re.split(r"(,\s*and\s+|,\s*|\s+and\s+)", span)
    out: list[str] = []
    sep = ""
    for i, part in enumerate(parts):
        if i % 2 == 1:
            sep = part
            continue
        part = re.sub(r"^(?:the|primarily|mainly)\s+", "", part.strip()).strip(" ")
        if not re.search(r"\b(?:Inc|Ltd|Corp|Co)\.$", part):
            part = part.rstrip(".")
        if not part or part in _COUNTRIES:
            continue
        standalone = (INSTITUTION_WORDS.search(part) or re.fullmatch(r"[A-Z][A-Z&\-]{1,}", part)
                      or is_name_like(part.split()[0]) or "." in part)
        if out and not standalone:
            out[-1] = out[-1] + sep + part if "and" in sep and "," not in sep else \
                out[-1] + ", " + part
        else:
            out.append(part)
    return [o for o in out if len(o) > 1]


def institutions_after(s: str, pos: int) -> tuple[list[str], int]:
    """Institutions written right after an author group: '(X, Y)', 'from X and Y' or
    ', NYU)'. Returns (institutions, position after them)."""
    rest = s[pos:]
    m = re.match(r"\s*\(([^()]*(?:\([^()]*\)[^()]*)*)\)", rest)
    if m:
        inner = m.group(1)
        if "http" in inner:
            return [], pos
        if looks_like_title(inner) and not INSTITUTION_WORDS.search(inner) and \
                len(inner.split()) >= 4:
            return [], pos
        return _split_institutions(inner), pos + m.end()
    m = re.match(r",?\s*(?:primarily\s+|mainly\s+)?(?:from|at)\s+", rest)
    if not m:
        m2 = re.match(r",\s+([^,()]{2,80}?)\)", rest)  # "et al., NYU)"
        if m2:
            return _split_institutions(m2.group(1)), pos + m2.end()
        return [], pos
    # the institution list runs over capitalised words, name particles, commas and
    # parentheses, and stops at the first other lowercase word, a possessive or a period
    end = m.end()
    depth = 0
    for w in re.finditer(r"\S+", rest[m.end():]):
        tok = w.group()
        depth += tok.count("(") - tok.count(")")
        if depth < 0:
            end = m.end() + w.start() + tok.index(")")
            break
        core = tok.strip("(),;’'")
        if core and core[0].islower() and core not in _NAME_PARTICLES:
            break
        end = m.end() + w.end()
        if tok.endswith(("’", ";")) or (tok.endswith(".") and not re.fullmatch(r"\w+\.\w*\.?|"
                                                                               r"[A-Z]\.", core)):
            break
    span = rest[m.end():end].rstrip(",;’.' ")
    words = span.split()
    while words and words[-1].lower() in _NAME_PARTICLES:
        words.pop()
    span = " ".join(words)
    if not span or len(words) > 14:
        return [], pos
    return _split_institutions(span), pos + m.end() + len(span)


def _delimited_title(s: str, start: int, authors: list[tuple[int, int, str]]) -> tuple[int, str]:
    """Text from ``start`` up to the first terminator: ', ' + lowercase words, ' by ', a verb,
    an author group or the sentence end."""
    stops = [len(s)]
    for pat in (re.compile(r",\s+[a-z][\w\-]*\s+(?=[a-z(])"), re.compile(r",\s+[a-z]+[.]?$"),
                re.compile(r",\s+(?:a|an|the|which|where|who|that|available)\b"),
                re.compile(r"\s+by\s+"), _VERB_RE, re.compile(r"[“”\"]"), re.compile(r"\s\(")):
        m = pat.search(s, start)
        if m:
            stops.append(m.start())
    stops.extend(a for a, _, _ in authors if a > start)
    end = min(stops)
    return end, _clean_title(s[start:end])


_CUE = re.compile(
    r"(?:\b(?:in their (?:paper|work)|detailed in their paper|in the paper|the paper|their paper|"
    r"paper titled|work titled|in their study)\s+)|(?:’\s+(?=[A-Z]))")


def _title_runs(s: str, stops: tuple[int, ...] = ()) -> list[tuple[int, int, str]]:
    """Long Title Case runs outside parentheses ("Cultural Adaptation in Large Language
    Models for Political Discourse"): six or more words, mostly capitalised. A run ends
    where an author group starts (``stops``): "Title Words by Aisha Bello et al."."""
    out = []
    run: list[re.Match] = []
    depth = 0

    def flush() -> None:
        words = list(run)
        while words and words[-1].group().lower() in CONNECTORS:
            words.pop()
        while words and words[0].group().lower() in CONNECTORS:
            words.pop(0)
        if len(words) >= 6 and _cap_ratio([w.group() for w in words]) >= 0.8:
            out.append((words[0].start(), words[-1].end(),
                        s[words[0].start():words[-1].end()]))
        run.clear()

    for w in re.finditer(r"[^\s,;:.!?()“”\"]+|[,;:.!?()“”\"]", s):
        tok = w.group()
        if tok == "(":
            depth += 1
        if tok == ")":
            depth = max(0, depth - 1)
        if w.start() in stops:
            flush()
        if depth == 0 and (tok[0].isupper() or tok[0].isdigit() or
                           (tok.lower() in CONNECTORS and run)):
            run.append(w)
        else:
            flush()
    flush()
    return out


def find_titles(s: str, authors: list[tuple[int, int, str]]) -> list[tuple[int, int, str, str]]:
    """Title spans in a sentence as (start, end, title, how), how being 'quoted', 'paren',
    'cue' (after "in their paper", "Authors from X in", "introduce") or 'run'."""
    out: list[tuple[int, int, str, str]] = []

    def add(a: int, b: int, t: str, strict: bool, how: str) -> None:
        t = _clean_title(t)
        if not t or not looks_like_title(t, strict=strict):
            return
        b = a + len(t)
        if s[b:b + 2] == " (" and how in ("cue", "run"):
            return  # "Causal Transfer Learning (CTL)": a method name, not a title
        if any(not (b <= x[0] or a >= x[1]) for x in out) or \
                any(not (b <= x[0] or a >= x[1]) for x in authors):
            return
        out.append((a, b, t, how))

    for m in re.finditer(r"[“\"]([^”\"]{3,300})[”\"]", s):
        inner = m.group(1)
        if len(inner.split()) >= 4 or looks_like_title(inner):
            add(m.start(1), m.end(1), inner, len(inner.split()) < 4, "quoted")
    strong = [m.end() for m in _CUE.finditer(s)]
    weak = [m.end() for m in re.finditer(r"(?<![\w-])(?:in|introduces?|presents?|developed)\s+"
                                         r"(?=[A-Z0-9])", s)]
    for a, b, _ in authors:  # "Authors (Inst) in Title,", "Authors from X introduce Title, a"
        pm = re.match(r"\s*\(([^()]+)\)", s[b:])  # "Yoo et al. (Specializing ...)"
        if pm and looks_like_title(pm.group(1)) and len(pm.group(1).split()) >= 4 \
                and not INSTITUTION_WORDS.search(pm.group(1)):
            add(b + pm.start(1), b + pm.end(1), pm.group(1), True, "paren")
        _, after = institutions_after(s, b)
        m = re.match(r",?\s*(?:in|introduces?|presents?|proposes?|developed|develops?)\s+"
                     r"(?=[A-Z0-9])", s[after:])
        if m:
            strong.append(after + m.end())
    for a, _, _ in authors:
        # "..., in Title by", "highlight is Title by" (not "..., with Title by": a title part)
        m = re.search(r"(?:^|[(,]\s*|\b(?:in|of|is|are|was|were)\s+|\b(?!(?:%s)\b)[a-z]+\s+)"
                      r"((?:[A-Z0-9][\w\-’']*)"
                      r"(?:\s+(?:[A-Z0-9][\w\-’']*:?|(?:%s)))+)\s+(?:by|from)\s+$"
                      % ("|".join(CONNECTORS), "|".join(CONNECTORS)), s[:a])
        if m and len(m.group(1).split()) >= 4:
            add(m.start(1), m.end(1), m.group(1), True, "paren")
    for c in strong + weak:
        if s[c:c + 1] in "“\"":
            continue
        end, t = _delimited_title(s, c, authors)
        if len(t.split()) >= 3:
            add(c, end, t, c not in strong, "cue")
    for a, b, t in _title_runs(s, tuple(a for a, _, _ in authors)):
        if not INSTITUTION_WORDS.search(t):
            add(a, b, t, True, "run")
    return sorted(out)


def find_short_names(s: str) -> list[tuple[int, str]]:
    """Coined names a sentence defines: 'introduces HATL, which', 'the CPMoE framework',
    'Mixture of Low-Rank Experts (MoLRE) approach', 'TJAP (“Title” ...)'."""
    out: list[tuple[int, str]] = []
    for m in re.finditer(r"\b(?:introduces?|presents?|proposes?|called|named)\s+"
                         r"([A-Za-z][\w\-]+)(?=,|\s+\(|\s+which|\s+in\b)", s):
        if is_name_like(m.group(1)):
            out.append((m.start(1), m.group(1)))
    for m in re.finditer(r"\bthe\s+([A-Za-z][\w\-]+)\s+(?:framework|approach|method|model|"
                         r"algorithm|system|architecture|package|paradigm)\b", s):
        if is_name_like(m.group(1)):
            out.append((m.start(1), m.group(1)))
    for m in re.finditer(r"\(([A-Z][A-Za-z0-9\-]{1,15})\)\s+(?:framework|approach|method|model|"
                         r"algorithm|network)", s):
        out.append((m.start(1), m.group(1)))
    for m in re.finditer(r"([A-Za-z][\w\-]+)\s+\([“\"]?([^”\")]+)", s):
        if is_name_like(m.group(1)) and abbreviates(m.group(1), m.group(2)):
            out.append((m.start(1), m.group(1)))
    return out


def abbreviates(name: str, title: str) -> bool:
    """True when ``name``'s letters and digits appear in order in ``title`` ("TJAP" in
    "Transfer Learning for Contextual Joint Assortment-Pricing"; not "ResNet18")."""
    letters = iter(re.sub(r"[^a-z0-9]", "", title.lower()))
    return all(ch in letters for ch in re.sub(r"[^a-z0-9]", "", name.lower()))


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
                               "figshare", "dataverse")):
        return "data"
    return "code"


def find_urls(text: str) -> list[tuple[int, str, str]]:
    """(position, url, kind) for every URL in a passage; trailing punctuation removed."""
    out = []
    for m in _URL_RE.finditer(text):
        url = m.group().rstrip(".,;:")
        out.append((m.start(), url, classify_url(url, text[:m.start()])))
    return out


def arxiv_id_of(url: str) -> str | None:
    m = _ARXIV_URL.search(url)
    return m.group(1) if m else None


def sentence_mentions(text: str, digest_id: str, index: int) -> list[RawMention]:
    """Mentions in a paragraph: titles paired with the nearest author group of their sentence,
    author groups with no title (named by a coined name when the sentence has one)."""
    spans = split_sentences(text)
    out: list[RawMention] = []
    pending: RawMention | None = None  # authors whose title comes in the next sentence
    for a, b in spans:
        s = text[a:b]
        authors = find_author_groups(s)
        titles = find_titles(s, authors)
        shorts = find_short_names(s)
        taken: set[int] = set()
        sentence_out: list[RawMention] = []
        for ta, tb, title, how in titles:
            rm = RawMention(digest_id, index, a + ta, a + tb, title=title, how=how)
            best = None
            for i, (ga, gb, g) in enumerate(authors):
                if i in taken:
                    continue
                dist = ga - tb if ga >= tb else ta - gb
                if best is None or dist < best[0]:
                    best = (dist, i)
            if best is not None:
                taken.add(best[1])
                ga, gb, g = authors[best[1]]
                rm.authors = g
                rm.institutions = institutions_after(s, gb)[0] or _possessive_inst(s, ga)
            elif pending is not None and re.search(r"\btheir (paper|work)\b|\bthis (method|work)",
                                                   s, re.I):
                rm.authors, rm.institutions = pending.authors, pending.institutions
                pending = None
            else:
                close = tb + 1 if s[tb:tb + 1] in "”\"" else tb
                rm.institutions = institutions_after(s, close)[0]
            pre = title.split(":")[0].strip()
            if ":" in title and len(pre.split()) <= 3:
                names = [w for w in pre.split() if is_name_like(w)] or (
                    [pre] if len(pre.split()) == 1 else [])
                rm.short_name = names[0] if names else None
            sentence_out.append(rm)
        for i, (ga, gb, g) in enumerate(authors):
            if i in taken:
                continue
            rm = RawMention(digest_id, index, a + ga, a + gb, kind="authors", authors=g,
                            institutions=institutions_after(s, gb)[0] or _possessive_inst(s, ga))
            method = re.search(r"((?:[A-Z][\w\-]+\s+){0,3}[A-Z][\w\-]+)\s+\(([A-Z][A-Za-z0-9\-]+)\)"
                               r"\s+(?:algorithm|framework|approach|method|model)", s)
            if method:
                rm.title, rm.short_name, rm.kind = method.group(1), method.group(2), "name"
            elif shorts:
                rm.title = rm.short_name = min(shorts, key=lambda x: abs(x[0] - ga))[1]
                rm.kind = "name"
            sentence_out.append(rm)
            pending = rm
        if titles and shorts:
            for rm in sentence_out:
                if rm.kind == "title" and not rm.short_name:
                    rm.short_name = min(shorts, key=lambda x: abs(a + x[0] - rm.start))[1]
                    break
        out.extend(sentence_out)
    # a mention made only of authors whose paper is named in the next sentence is merged
    return [m for m in out if not (m.kind == "authors" and any(
        o is not m and o.authors == m.authors and o.kind == "title" for o in out))]


def _possessive_inst(s: str, author_start: int) -> list[str]:
    m = re.search(r"((?:The\s+|the\s+)?[A-Z][\w\s&\-]+?)[’']s\s+$", s[:author_start])
    if not m or not INSTITUTION_WORDS.search(m.group(1)):
        return []
    return _split_institutions(re.sub(r"^[Tt]he\s+", "", m.group(1)))


def label_name(label: str) -> tuple[str | None, str | None]:
    """(title, short name) a bullet label gives, or (None, None) for generic labels.

    "MoLRE Framework for Medical Imaging" -> (None, "MoLRE"); "ASEN (Any-Subgroup Equivariant
    Networks)" -> ("Any-Subgroup Equivariant Networks", "ASEN"); "MuCTaL Code and Datasets" ->
    (None, "MuCTaL"); "Neural Network Conversion" -> ("Neural Network Conversion", None).
    """
    core = label.strip()
    if core.lower() in GENERIC_LABELS or not core[:1].isalnum():
        return None, None
    m = re.match(r"^(\S+)\s+\(([^)]+)\)$", core)
    if m and is_name_like(m.group(1)):
        return m.group(2).strip(), m.group(1)
    core = re.sub(r"^(?:Open-Source|The|A|An)\s+", "", core)
    core = re.sub(r"\s+(?:Code(?: and Datasets?)?|Datasets?|Framework|Model)$", "", core)
    words = core.split()
    if words and is_name_like(words[0]) and (len(words) == 1 or re.match(
            r"^(?:for|Framework|Dataset)\b", " ".join(words[1:]))):
        return None, words[0]
    if len(words) == 1:
        return (None, core) if core[0].isupper() and len(core) >= 4 else (None, None)
    if looks_like_title(core) or any(is_name_like(w) for w in words):
        return core, None
    return None, None
