"""Titles: find what a digest sentence calls a paper: its title, a coined short name, or a
bullet label.

Titles are quoted (“Title”, ‘Title’, markdown *Title*), follow a cue ("in their paper Title,",
"Authors from X in Title,", "introduce Title, a ..."), sit in parentheses after authors, come
before their authors ("Title by Authors", "Title (Authors, Inst)"), or run as long Title Case
spans, a "Name:" head included ("FedX: Handling Label Skew in ..."); a cue inside such a run
("... and Its Application in Medical ...") does not cut it. Short names are coined names a
sentence defines ("introduces HATL, which", "PolicyDistill by ..."); bullet labels ("-
DeepCORO-CLIP: ...") give a title, a short name or nothing ("Benchmarks", "Robotics Datasets").
Used by :mod:`rag.extract.mentions`; :func:`similar_title_keys` gives the blocking keys by which
:mod:`rag.extract.papers` and :mod:`rag.extract.metadata` find near-identical titles without
comparing all pairs.
"""

from __future__ import annotations

import re
from difflib import SequenceMatcher
from functools import lru_cache

import numpy as np

from rag.dates import MONTH
from rag.extract.authors import NAME_LIST, TITLE_PARTICIPLE_BY, institutions_after
from rag.lexicon import CONNECTORS, INSTITUTION_WORDS, cap_ratio, is_name_like, looks_like_title

# Section-like bullet labels ("- Datasets & Benchmarks: ...") that name no paper.
GENERIC_LABELS = frozenset({
    "models", "model", "datasets", "dataset", "benchmarks", "benchmark", "code", "frameworks",
    "framework", "datasets & benchmarks", "datasets and benchmarks", "medical imaging",
    "scientific machine learning", "reinforcement learning", "efficient transfer learning",
    "language models", "resources", "tools", "metrics", "evaluation metrics", "results",
    "applications", "simulators", "environments", "libraries", "toolkits", "baselines",
    "hardware", "platforms", "software", "backbones", "compute", "corpora", "tasks"})
# Plural nouns that end a label listing things ("Vision Datasets", "Baseline Models").
_COLLECTIONS = frozenset("benchmarks datasets models tools metrics baselines frameworks resources "
                         "libraries toolkits corpora results applications data simulators "
                         "environments platforms backbones tasks".split())
_VERBS = (r"introduces?|presents?|proposes?|demonstrates?|shows?|addresses|address|tackles?|"
          r"explores?|investigates?|achieves?|leverages?|uses?|develops?|developed|highlights?|"
          r"reveals?|extends?|offers?|provides?|emphasizes?|solves?|integrates?|employs?|"
          r"utilizes?|finds?|argues?|outperforms?|combines?|enables?|is|are|builds?|marks?")
_VERB_RE = re.compile(rf"\s+(?:{_VERBS})\b")


def _clean_title(t: str) -> str:
    t = t.strip().strip("“”\"‘’*").strip()
    t = re.sub(r"[,;.:]+$", "", t).strip()
    words = t.split(" ")
    while len(words) > 1 and words[-1].lower() in CONNECTORS:
        words.pop()  # "... under Participation Drift and" (then "show that ...")
    return " ".join(words)


_BY = re.compile(r"\s+by\s+")
# prepositions that open sentences ("In Title: Sub, the authors ..."): never a title's first word
_SENTENCE_PREPOSITIONS = frozenset("In On At By With For Via Using And Of Or As Into Under Over "
                                   "Through Across Between Toward Towards Without".split())


def _delimited_title(s: str, start: int, authors: list[tuple[int, int, str]]) -> tuple[int, str]:
    """Text from ``start`` up to the first terminator: ', ' + lowercase words, ' by ', a verb,
    an author group or the sentence end."""
    stops = [len(s)]
    for pat in (re.compile(r",\s+[a-z][\w\-]*\s+(?=[a-z(0-9])"), re.compile(r",\s+[a-z]+[.]?$"),
                re.compile(r";"), re.compile(r",\s+\d"),  # ", 410 hours of driving"
                re.compile(r",\s+(?:a|an|the|which|where|who|that|available)\b"),
                _BY, _VERB_RE, re.compile(r"[“”\"*]"), re.compile(r"\s\("),
                re.compile(r"\s[—–]\s")):  # "in March — through ...": an aside
        m = pat.search(s, start)
        while m and pat is _BY and TITLE_PARTICIPLE_BY.search(s[:m.end()].rstrip() + " "):
            m = pat.search(s, m.end())  # "... Synthesis Guided by ...": the title goes on
        if m:
            stops.append(m.start())
    stops.extend(a for a, _, _ in authors if a > start)
    end = min(stops)
    caps = 0  # Title Case that turns into a lowercase verb: "Sparse Uplinks for Phones halves"
    for w in re.finditer(r"[^\s,;:]+", s[start:end]):
        word = w.group()
        if word[0].isupper() or any(ch.isdigit() for ch in word):  # "x86-64" too
            caps += 1
        elif word.lower() not in CONNECTORS:
            if caps >= 3:
                end = start + w.start()
            break
    subject = re.search(r",\s+\S+\s*$", s[start:end])
    if subject and re.match(r"\s*[a-z]", s[end:]):  # "In Long Title, TabPrior-XL is used"
        end = start + subject.start()  # the verb's subject is no part of the title
    return end, _clean_title(s[start:end])


# A title in “quotes”, "quotes", ‘quotes’ (group 1) or markdown *emphasis* (group 2).
_QUOTED = re.compile(r"[“\"‘]([^”\"‘’]{3,300})[”\"’](?!\w)"
                     r"|(?<![\w*])\*(?![\s*])([^*]{3,300}?)(?<!\s)\*(?![\w*])")
_CUE = re.compile(
    r"(?:\b(?i:in their (?:paper|work)|detailed in their paper|in the paper|the paper|their paper|"
    r"paper titled|work titled|in their study)\s+)|(?:’\s+(?=[A-Z]))")


def _title_runs(s: str, stops: tuple[int, ...] = ()) -> list[tuple[int, int, str]]:
    """Long Title Case runs outside parentheses ("Cultural Adaptation in Large Language
    Models for Political Discourse"): six or more words, mostly capitalised. A run ends
    where an author group starts (``stops``): "Title Words by Aisha Bello et al.". A colon
    after a capitalised head continues the run ("Concept Erasure That Sticks: Robust ...")."""
    out = []
    run: list[re.Match] = []
    depth = 0

    def flush() -> None:
        words = list(run)
        while words and (words[-1].group().lower() in CONNECTORS or words[-1].group() in ":?"):
            words.pop()
        marks = {w.group() for w in words}
        while words and words[0].group().lower() in CONNECTORS and not (
                marks & {":", "?"} and words[0].group()[0].isupper()
                and words[0].group() not in _SENTENCE_PREPOSITIONS):
            words.pop(0)  # but "From Docstrings to Contracts: ...", "Is DFT Enough? ..." stay
        content = [w.group() for w in words if w.group() not in ":?"]
        # a run of figures ("3% across 64 Danish and German plants") is no title: four of
        # its words start with a capital letter, and none names the people who wrote it
        if len(content) >= 6 and cap_ratio(content) >= 0.8 and \
                sum(w.lower() not in CONNECTORS for w in content) >= 4 and \
                sum(w[:1].isupper() for w in content) >= 4 and \
                not any(w.lower() in _PEOPLE for w in content) and \
                sum(bool(re.fullmatch(r"[\d.,%]+", w)) for w in content) < 2:  # "95.4 on X"
            out.append((words[0].start(), words[-1].end(),
                        s[words[0].start():words[-1].end()]))
        run.clear()

    toks = list(re.finditer(r"\d+(?:[.,]\d+)+[^\s,;:.!?()“”\"*]*|[^\s,;:.!?()“”\"*]+|"
                            r"[,;:.!?()“”\"*]", s))  # "2,000" and "1.3B" are one word
    for i, w in enumerate(toks):
        tok = w.group()
        if tok == "(":
            depth += 1
        if tok == ")":
            depth = max(0, depth - 1)
        if w.start() in stops:
            flush()
        nxt = toks[i + 1].group() if i + 1 < len(toks) else ""
        if tok == ":" and run and len(run) <= 7 and nxt[:1].isupper() and \
                nxt.lower() not in _PEOPLE and \
                ":" not in [x.group() for x in run] and cap_ratio([x.group() for x in run]) == 1:
            run.append(w)  # "Head: Rest of the Title"
        elif tok == "?" and run and len(run) <= 12 and nxt[:1].isupper() and \
                not {":", "?"} & {x.group() for x in run} and \
                cap_ratio([x.group() for x in run]) == 1:
            run.append(w)  # "Do We Still Need HD Maps? Online Vectorized Map Construction"
        elif depth == 0 and (tok[0].isupper() or tok[0].isdigit() or
                             (tok.lower() in CONNECTORS and run)):
            run.append(w)
        else:
            flush()
    flush()
    return out


# a date to the day (or month) ending a title, or right after a quoted one: a post, an issue
_DATED = re.compile(rf"(?i:\b\d{{1,2}}\s+{MONTH}\s+\d{{4}}|\b{MONTH}\s+\d{{1,2}},?\s+\d{{4}})$")
_DATED_AFTER = re.compile(rf"\W?\s*\((?i:\d{{1,2}}\s+{MONTH}\s+\d{{4}}|{MONTH}\s+\d{{1,2}},?\s+"
                          rf"\d{{4}})\)")

# "Researchers from A and B", "Scientists at X": who did the work, never part of a title
_PEOPLE = frozenset("researchers scientists engineers authors team teams group groups "
                    "colleagues collaborators".split())
# "On Task-X from the Y Benchmark it reaches ...": where a result was measured, not a title
_MEASURED_ON = re.compile(r"(?:^|[.;:!?]\s*|,\s+)\W*(?i:on|across|against)\s+$")

_CONNECTOR_ALT = "|".join(CONNECTORS)
# a Title Case run right before the authors: "..., in Title by", "Title, by", "Title (Authors"
_TITLE_BEFORE_AUTHORS = re.compile(
    r"(?:^|[(,:]\s*|\b(?:in|of|is|are|was|were)\s+|\b(?!(?:" + _CONNECTOR_ALT + r")\b)[a-z]+\s+)"
    r"((?:[A-Z0-9][\w\-’']*:?)"
    r"(?:\s+(?:[A-Z0-9][\w\-’']*:?|(?:" + _CONNECTOR_ALT + r")))+)(?:,?\s+(?:by|from)\s+|\s+\()$")


# unnamed researchers and where they work, then what they present: a title follows, even one
# with "Laboratory" or "Hospital" in it
_TEAM_PRESENTS = re.compile(
    r"\b(?:[Rr]esearchers|[Ss]cientists|[Ee]ngineers|[Tt]eams?|[Gg]roups?)\s+(?:from|at)\s+"
    r"[^.;:()]{2,160}?\s+(?:propose|introduce|present|develop|describe)s?\s+(?=[A-Z0-9])")


def find_titles(s: str, authors: list[tuple[int, int, str]]) -> list[tuple[int, int, str, str]]:
    """Title spans in a sentence as (start, end, title, how), how being 'quoted', 'paren',
    'cue' (after "in their paper", "Authors from X in", "introduce") or 'run'."""
    out: list[tuple[int, int, str, str]] = []
    told: set[int] = set()  # title starts right after "Authors (from X) present"

    def add(a: int, b: int, t: str, strict: bool, how: str) -> None:
        t = _clean_title(t)
        if not t or not (looks_like_title(t, strict=strict) or a in told and looks_like_title(
                INSTITUTION_WORDS.sub("Work", t))) or re.search(r"[·|•]", t):
            return  # "Published 3 May · Digest Name · 9 min read": a byline
        if how == "cue" and t.count(",") >= 2:
            return  # "in Finnish, Danish, Norwegian": a list
        if how == "cue" and strict and "," in t and t.split()[-1][:1].islower():
            return  # "than in FP16, LongBench drops by ...": a clause, not a title
        if how == "run" and _MEASURED_ON.search(s[:a]):
            return  # "On Task-X from the Y Benchmark it reaches ...": a test set
        if _DATED.search(t) or (how == "quoted" and _DATED_AFTER.match(s, a + len(t) + 1)):
            return  # "The Ranking Room: 25 April 2026", "Earlier: “X” (7 March 2026)": a post
        if "@" in t:
            return  # "NDCG@5 on the Mafengwo and CAMRa2011": a metric and its test sets
        if re.match(r"(?:Work|Research|Papers?|Studies|Study)\s+(?:from|by|at|of)\s", t):
            return  # "Work from IIT Bombay by A et al., Title": who, not what
        b = a + len(t)
        paren = re.match(r" \(([^()\s]*)\)?", s[b:])
        if paren and not any(x[0] == b + 2 for x in authors) and (
                abbreviates(paren.group(1), t) or (how == "cue" and len(t.split()) <= 3)) \
                and not (len(t.split()) >= 6 and any(  # "Long Title (LT), by A and B": a paper
                    re.fullmatch(r",?\s*(?:by|from)\s+", s[b + paren.end():x[0]])
                    for x in authors)):
            return  # "Causal Transfer Learning (CTL)": a method name, not a title
        head = re.search(r"(?<![\w-])([\w\-]+):\s+$", s[:a])
        if head and re.search(r"[a-z][A-Z]|[A-Z]{2}|\d", head.group(1)) and \
                not re.search(r"\w", s[:head.start()][-3:]):
            a = head.start(1)  # "arXiv:2602.24019 — StreamBEV: Temporal ...": the head too
            t = s[a:b]
        if any(not (b <= x[0] or a >= x[1]) for x in out) or \
                any(not (b <= x[0] or a >= x[1]) for x in authors):
            return
        out.append((a, b, t, how))

    for m in _QUOTED.finditer(s):  # “Title”, "Title" or markdown *Title*
        inner = m.group(1) or m.group(2)
        if len(inner.split()) >= 4 or looks_like_title(inner):
            g = 1 if m.group(1) else 2
            add(m.start(g), m.end(g), inner, len(inner.split()) < 4, "quoted")
    strong = [m.end() for m in _CUE.finditer(s)]
    weak = [m.end() for m in re.finditer(r"(?<![\w-])(?:in|introduces?|presents?|proposes?|"
                                         r"developed|describes?|analy[sz]es?|revisits?|"
                                         r"stud(?:y|ies))\s+(?=[A-Z0-9])|^\W*In\s+(?=[A-Z0-9])", s)]
    for _a, b, _ in authors:  # "Authors (Inst) in Title,", "Authors from X introduce Title, a"
        pm = re.match(r"\s*\(([^()]+)\)", s[b:])  # "Yoo et al. (Specializing ...)"
        if pm and looks_like_title(pm.group(1)) and len(pm.group(1).split()) >= 4 \
                and not INSTITUTION_WORDS.search(pm.group(1)) \
                and not NAME_LIST.fullmatch(pm.group(1)):  # "(Adyen and TU Delft)"
            add(b + pm.start(1), b + pm.end(1), pm.group(1), True, "paren")
        _, after = institutions_after(s, b)
        verb = re.match(r",?\s*(?:in|introduces?|presents?|proposes?|developed|develops?|"
                        r"describes?)\s+(?=[A-Z0-9])", s[after:])
        if verb:  # what authors present is a title even with "Hospital" in it
            strong.append(after + verb.end())
            told.add(after + verb.end())
    for team in _TEAM_PRESENTS.finditer(s):  # "Researchers from A and B propose Title"
        strong.append(team.end())
        told.add(team.end())
    for a, _, _ in authors:
        # "..., in Title by", "highlight is Title by", "Title, by", "Title (Authors, ...)"
        # (not "..., with Title by": a title part)
        before = _TITLE_BEFORE_AUTHORS.search(s[:a])
        if before and len(before.group(1).split()) >= 4:
            add(before.start(1), before.end(1), before.group(1), True, "paren")
    runs = [r for r in _title_runs(s, tuple(a for a, _, _ in authors))
            if not INSTITUTION_WORDS.search(r[2])]
    for c in strong + weak:
        if s[c:c + 1] in "“\"*":
            continue
        if c not in strong and any(a < c < b for a, b, _ in runs):
            continue  # "... and Its Application in Medical ...": "in" inside a title
        end, t = _delimited_title(s, c, authors)
        if len(t.split()) >= 3:
            add(c, end, t, c not in strong, "cue")
    for a, b, t in runs:
        add(a, b, t, True, "run")
    return sorted(out)


def find_short_names(s: str) -> list[tuple[int, str]]:
    """Coined names a sentence defines: 'introduces HATL, which', 'the CPMoE framework',
    'Mixture of Low-Rank Experts (MoLRE) approach', 'TJAP (“Title” ...)'."""
    out: list[tuple[int, str]] = []
    for m in re.finditer(r"\b(?:introduces?|presents?|proposes?|called|named|details?|"
                         r"describes?|unveils?|releases?|develops?|offers?|builds?)\s+"
                         r"([A-Za-z][\w\-]+)(?=,|\s+\(|\s+which|\s+in\b)", s):
        if is_name_like(m.group(1)):
            out.append((m.start(1), m.group(1)))
    for m in re.finditer(r"\b(?:the|their|its|this|our)\s+([A-Za-z][\w\-]+)\s+(?:framework|"
                         r"approach|method|model|algorithm|system|architecture|package|"
                         r"paradigm|scheme|pipeline|library|toolkit|policy|estimator|technique|"
                         r"module|recipe)\b", s):
        if is_name_like(m.group(1)):
            out.append((m.start(1), m.group(1)))
    for m in re.finditer(r"\(([A-Z][A-Za-z0-9\-]{1,15})\)\s+(?:framework|approach|method|model|"
                         r"algorithm|network)", s):
        out.append((m.start(1), m.group(1)))
    # anchored at a word start: no quadratic backtracking inside one long word
    for m in re.finditer(r"(?<![\w-])([A-Za-z][\w\-]+)\s+\([“\"]?([^”\")]+)", s):
        if is_name_like(m.group(1)) and abbreviates(m.group(1), m.group(2)):
            out.append((m.start(1), m.group(1)))
    # "PolicyDistill by Ravi Shah", "HydroFormer (arXiv:2603.04567)"
    for m in re.finditer(r"(?<![\w-])([A-Za-z][\w\-]+)"
                         r"(?=\s+by\s+[A-Z]|\s+\((?:arXiv:|https?://arxiv))", s):
        if is_name_like(m.group(1)) and m.group(1) not in {x[1] for x in out}:
            out.append((m.start(1), m.group(1)))
    return sorted(out)


def abbreviates(name: str, title: str) -> bool:
    """True when ``name``'s letters and digits appear in order in ``title`` ("TJAP" in
    "Transfer Learning for Contextual Joint Assortment-Pricing"; not "ResNet18")."""
    letters = iter(re.sub(r"[^a-z0-9]", "", title.lower()))
    return all(ch in letters for ch in re.sub(r"[^a-z0-9]", "", name.lower()))


def initials_in(name: str, title: str) -> bool:
    """True when a coined name's capitals (two or more) are initials of the title's words, in
    order: "VLTeach" of "Vision-Language Models as Domain-Agnostic Teachers", not "ResNet"."""
    caps = [c for c in name if c.isupper()]
    initials = iter(w[0] for w in re.split(r"[\s\-/]+", title) if w[:1].isupper())
    return len(caps) >= 2 and all(c in initials for c in caps)


def label_name(label: str) -> tuple[str | None, str | None]:
    """(title, short name) a bullet label gives, or (None, None) for generic labels.

    "MoLRE Framework for Medical Imaging" -> (None, "MoLRE"); "ASEN (Any-Subgroup Equivariant
    Networks)" -> ("Any-Subgroup Equivariant Networks", "ASEN"); "MuCTaL Code and Datasets" ->
    (None, "MuCTaL"); "Neural Network Conversion" -> ("Neural Network Conversion", None).
    """
    core = label.strip()
    if core.lower() in GENERIC_LABELS or not core[:1].isalnum():
        return None, None
    words = core.split()
    if words[-1].lower() in _COLLECTIONS and not any(is_name_like(w) for w in words):
        return None, None  # "Navigation Benchmarks: HM3D, Gibson": a list, not a paper
    m = re.match(r"^(\S+)\s+\(([^)]+)\)$", core)
    if m and is_name_like(m.group(1)):
        return m.group(2).strip(), m.group(1)
    core = re.sub(r"^(?:Open-Source|The|A|An)\s+", "", core)
    bare = re.sub(r"\s+(?i:code(?: and data(?:sets?)?)?|data(?:sets?)?|framework|model|weights|"
                  r"implementation|repo(?:sitory)?|release)$", "", core)
    core = bare if len(bare.split()) == 1 else core  # "FedX code", not "... on Road Datasets"
    words = core.split()
    if words and is_name_like(words[0]) and (len(words) == 1 or re.match(
            r"^(?:for|Framework|Dataset)\b", " ".join(words[1:]))):
        return None, words[0]
    if len(words) == 1:
        return (None, core) if core[0].isupper() and len(core) >= 4 else (None, None)
    if looks_like_title(core) or any(is_name_like(w) for w in words):
        return core, None
    return None, None


def similar_title_keys(normalized: str, at_least: float, band: bool = False) -> list[str]:
    """Blocking keys that two near-identical titles (``rag.text.title_similarity`` of
    ``at_least`` or more) share, so candidates are found by look-up instead of comparing every
    pair. A key is three of the four longest words of the normalised title (a word changed,
    added or dropped in a title of four or more words still leaves three in common; a shorter
    title's key is all its words) and a length band: the keys to index a title under
    (``band=False``: its own band) or to look one up by (``band=True``: every band a title that
    similar can have, since 2 min/(sum of lengths) >= at_least bounds the ratio of lengths)."""
    words = sorted(sorted({w for w in normalized.split() if w not in CONNECTORS},
                          key=lambda w: (-len(w), w))[:4])
    sets = [" ".join(words[:i] + words[i + 1:]) for i in range(len(words))] \
        if len(words) == 4 else [" ".join(words)]
    n = len(normalized)
    if band:
        low, high = int(n * at_least / (2 - at_least)), int(n * (2 - at_least) / at_least) + 1
        bands = range(low // _BAND, high // _BAND + 1)
    else:
        bands = range(n // _BAND, n // _BAND + 1)
    return [f"{words}|{b}" for words in sets for b in bands]


_BAND = 8  # characters per length band of similar_title_keys


def similar_normalized(na: str, nb: str, at_least: float) -> bool:
    """``rag.text.title_similarity(na, nb, at_least) >= at_least`` for titles already
    normalised (``normalize_title``): the same bounds and ratio, without normalising again."""
    if not na or not nb:
        return False
    if na == nb:
        return True
    if 2 * min(len(na), len(nb)) / (len(na) + len(nb)) < at_least:
        return False
    shared = int(np.minimum(_char_counts(na), _char_counts(nb)).sum())  # difflib's quick_ratio
    if 2 * shared / (len(na) + len(nb)) < at_least:
        return False
    return SequenceMatcher(None, na, nb, autojunk=False).ratio() >= at_least


@lru_cache(maxsize=1 << 16)
def _char_counts(text: str) -> np.ndarray:
    """Counts of each character of a normalised (ASCII) title."""
    return np.bincount(np.frombuffer(text.encode("ascii", "replace"), np.uint8), minlength=128)
