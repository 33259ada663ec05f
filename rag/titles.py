"""Titles: find what a digest sentence calls a paper: its title, a coined short name, or a
bullet label.

Titles are quoted (“Title” by Authors), follow a cue ("in their paper Title,", "Authors from X
in Title,", "introduce Title, a ..."), sit in parentheses after authors, or run as long Title
Case spans. Short names are coined names a sentence defines ("introduces HATL, which"); bullet
labels ("- DeepCORO-CLIP: ...") give a title, a short name or nothing. Used by
:mod:`rag.mentions`.
"""

from __future__ import annotations

import re

from .authors import institutions_after
from .lexicon import CONNECTORS, INSTITUTION_WORDS, cap_ratio, is_name_like, looks_like_title

# Section-like bullet labels ("- Datasets & Benchmarks: ...") that name no paper.
GENERIC_LABELS = frozenset({
    "models", "model", "datasets", "dataset", "benchmarks", "benchmark", "code", "frameworks",
    "framework", "datasets & benchmarks", "datasets and benchmarks", "medical imaging",
    "scientific machine learning", "reinforcement learning", "efficient transfer learning",
    "language models", "resources", "tools", "metrics", "evaluation metrics", "results",
    "applications"})
_VERBS = (r"introduces?|presents?|proposes?|demonstrates?|shows?|addresses|address|tackles?|"
          r"explores?|investigates?|achieves?|leverages?|uses?|develops?|developed|highlights?|"
          r"reveals?|extends?|offers?|provides?|emphasizes?|solves?|integrates?|employs?|"
          r"utilizes?|finds?|argues?|outperforms?|combines?|enables?|is|are|builds?|marks?")
_VERB_RE = re.compile(rf"\s+(?:{_VERBS})\b")


def _clean_title(t: str) -> str:
    t = t.strip().strip("“”\"‘’").strip()
    t = re.sub(r"[,;.]+$", "", t).strip()
    return t


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
        if len(words) >= 6 and cap_ratio([w.group() for w in words]) >= 0.8:
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
