"""Authors: find author groups in a digest sentence and the institutions written beside them.

Author groups: "Yoo et al.", "Smith and colleagues", "Nada Shahin and Leila Ismail (United Arab
Emirates University)", "by Aisha Bello, from ...", "A, B, and C propose", "Stanford
University’s A and B", "a team led by A". Institutions: in parentheses after the authors,
after "from"/"at"/"of", as a possessive before them ("Stanford University’s Jane Doe"), or for
unnamed authors ("researchers from A, B and C", "KAIST researchers", "a University of X
team"); never with a leading "from", never running on into a title ("from X, Title with
..."). Used by :mod:`rag.extract.titles` and :mod:`rag.extract.mentions`.
"""

from __future__ import annotations

import re

import regex

from rag.lexicon import INSTITUTION_WORDS, is_name_like, looks_like_title

_COUNTRIES = frozenset("India China USA US UK Germany France Italy Spain Japan Korea Canada "
                       "Brazil Australia Singapore Qatar Switzerland Netherlands".split())
_NAME_PARTICLES = frozenset("of and the de di i at für for del la le du da y von van der".split())

# A person's name token: capitalised word, initial, or all-caps surname ("MARTÍN-PÉREZ").
_NT = r"(?:\p{Lu}\.|\p{Lu}[\p{Ll}\p{Lu}’'\-]*(?<!’s)(?<!'s)\.?)"
_PARTICLE = r"(?:da|de|di|dos|das|van|von|der|del|la|le|du|bin|al)"
_PERSON = rf"{_NT}(?:\s+(?:{_PARTICLE}\s+)?{_NT}){{0,3}}"
_FULL = rf"{_NT}(?:\s+(?:{_PARTICLE}\s+)?{_NT}){{1,3}}"  # a name of two words or more
# Reporting verbs that follow the authors of a paper ("A and B propose ...").
_VERBS = (r"propose[sd]?|introduce[sd]?|present(?:s|ed)?|develop(?:s|ed)?|show(?:s|ed)?|"
          r"demonstrate[sd]?|stud(?:y|ies|ied)|describe[sd]?|explore[sd]?|investigate[sd]?|"
          r"report(?:s|ed)?|find|found|argue[sd]?|tackle[sd]?|address(?:es|ed)?|offer(?:s|ed)?|"
          r"buil[dt]s?|design(?:s|ed)?|examine[sd]?|analy[sz]e[sd]?|release[sd]?|revisit(?:s|ed)?|"
          r"unveil(?:s|ed)?|extend(?:s|ed)?|evaluate[sd]?|put(?:s)? forward|look(?:s|ed)? at|"
          r"treat(?:s|ed)?|use[sd]?|adapt(?:s|ed)?|appl(?:y|ies|ied)|train(?:s|ed)?|"
          r"learn(?:s|ed)?|compare[sd]?|combine[sd]?|improve[sd]?|reduce[sd]?|revise[sd]?|"
          r"benchmark(?:s|ed)?|measure[sd]?|model(?:s|ed)?|pair(?:s|ed)?|turn(?:s|ed)?|"
          r"teach(?:es)?|taught|bring(?:s)?|brought|rethink(?:s)?|question(?:s|ed)?")
_AUTHOR_PATTERNS = [
    # "Title (Ana Lopez, Bo Chen, Wei Zhang) ...", "Title (A B, C D; Institution)", "Title —
    # Ana Lopez, Bo Chen (Institution)": a comma list of full names, no "and" needed
    regex.compile(rf"(?:(?<=\()|(?<=[—–]\s))(?P<g>{_FULL}(?:,\s+{_FULL})+)"
                  rf"(?=\s*[;)]|\s+\(|\s+[—–]\s)"),
    regex.compile(rf"(?P<g>{_PERSON}\s+et\s+al\.?)"),
    regex.compile(rf"(?P<g>{_PERSON}\s+and\s+(?:colleagues|co-authors|coauthors|his team|"
                  rf"her team|their team|collaborators))"),
    regex.compile(rf"(?P<g>{_PERSON}(?:,\s+{_PERSON})*,?\s+(?:and|&)\s+{_PERSON})"
                  rf"(?=\s*\(|\s+from\b|\s+at\b|\s+of\s+(?:the\s+)?\p{{Lu}}|\s*\)"
                  rf"|,\s+[^,()]{{2,60}}\)|\s+[—–·]\s+\p{{Lu}})"),  # "A and B — Inst"
    # "Title — Ana Lopez and Bo Chen, University X.", "Title -- A & B, Inst.", "Title — A, B,
    # C — Institution": two or more full names right after a dash, up to a comma, a dash, a
    # parenthesis or the sentence's end
    regex.compile(rf"(?:(?<=[—–]\s)|(?<=--\s))(?P<g>{_FULL}(?:(?:,\s+{_FULL})+"
                  rf"(?:,?\s+(?:and|&)\s+{_FULL})?|,?\s+(?:and|&)\s+{_FULL}))"
                  rf"(?=,\s|\s+[—–]\s|\s*\(|\.(?:\s|$)|$)"),
    regex.compile(rf"(?<=\bby\s)(?P<g>{_PERSON})(?=\s*\(|\s+from\b|,|\.|\))"),
    regex.compile(rf"(?<=\bled by\s)(?P<g>{_PERSON})(?![\w’'-])"),  # "a team led by Ana Lopez"
    # "Ana Lopez's lab at X", "Ana Lopez, whose team at X", "Ana Lopez, who leads ...":
    # one person standing for the group that wrote the paper
    regex.compile(rf"(?P<g>{_FULL})(?=[’']s\s+(?:lab|team|group)\b|,\s+who(?:se)?\s)"),
    regex.compile(rf"(?P<g>{_PERSON})(?=\s+(?:from|at|of)\s+(?:the\s+)?(?=\p{{Lu}})"
                  rf"(?:(?:\p{{Lu}}[\w&\-’'.]*|of|for|and|de|di|the)\s+){{0,6}}"
                  rf"(?i:universit|"
                  rf"institut|school|college|lab\b|center|centre|politecnico|hospital)|\s*\([^)]*"
                  rf"(?i:universit|institut|school|college|lab|center|centre)[^)]*\))"),
    # "A, B and C propose": two or more full names (two words or more each) before a verb
    regex.compile(rf"(?P<g>{_FULL}(?:,\s+{_FULL})*,?\s+and\s+{_FULL})(?=\s+(?:{_VERBS})\b)"),
    # "Stanford University’s Ana Lopez and Wei Zhang": names after an institution's possessive
    # (kept only when the possessive names an institution, see find_author_groups)
    regex.compile(rf"(?<=[’']s\s)(?P<g>{_PERSON}(?:(?:,\s+{_PERSON})*,?\s+and\s+{_PERSON})?)"
                  rf"(?![\w’'-])"),
]
# "Guided by", "Driven by" inside a Title Case title (not sentence-initial): not its authors
TITLE_PARTICIPLE_BY = regex.compile(r"(?<=[\w,:]\s+)\p{Lu}\p{Ll}+(?:ed|en)\s+by\s*$")
_PEOPLE_LIST = regex.compile(rf"{_FULL}(?:,\s+{_FULL})+")
_POSSESSIVE_PATTERN = len(_AUTHOR_PATTERNS) - 1
_OF_WORDS = frozenset("of at de di du".split())
_TEAM_PATTERN = len(_AUTHOR_PATTERNS) - 2  # "A, B and C propose": full names before a verb
# Lowercase words that join a title's words, never a title to its authors ("... via X").
_TITLE_LINKS = frozenset("via for with using under across on to into without toward towards "
                         "through over between beyond against".split())
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


_QUOTED = re.compile(r"[“\"‘][^”\"‘’]{3,300}[”\"’](?!\w)"
                     r"|(?<![\w*])\*(?![\s*])[^*]{3,300}?(?<!\s)\*(?![\w*])")


def quoted_spans(s: str) -> list[tuple[int, int]]:
    """Spans of the quoted passages of a sentence (titles live there, authors never do)."""
    return [m.span() for m in _QUOTED.finditer(s)]


def find_author_groups(s: str) -> list[tuple[int, int, str]]:
    """Spans of author groups in a sentence, longest-first without overlaps."""
    found: list[tuple[int, int, str]] = []
    quotes = quoted_spans(s)
    for n, pat in enumerate(_AUTHOR_PATTERNS):
        for m in pat.finditer(s, overlapped=True):  # a rejected match hides no later one
            a, b = m.span("g")
            if a and (s[a - 1].isalnum() or s[a - 1] in "-’'"):
                continue  # "Scope" inside "DeepScope"
            if n == _POSSESSIVE_PATTERN and not possessive_institutions(s, a):
                continue
            text = m.group("g")
            # trim leading sentence words ("Similarly, The ...") that are not names
            toks = text.split()
            while toks and toks[0].lower().strip(",") in _NOT_NAME_WORDS:
                if toks[0] == "and":
                    break  # "University and Mila": the tail of a list, not a name
                a += len(toks[0]) + 1
                toks = toks[1:]
            text = " ".join(toks)
            if regex.fullmatch(r"\p{Lu}\.?", text):
                continue  # "Tanaka, A.": an initial, not an author
            before = s[:a].split()[-1:]
            if before == ["by"] and TITLE_PARTICIPLE_BY.search(s[:a]):
                continue  # "... Synthesis Guided by Multi-Fidelity Optimization": a title's words
            if before and re.fullmatch(r"the", before[0], re.I) and \
                    re.match(r"\s+[a-z]", s[b:]) and text.endswith(("et al.", "et al")):
                continue  # "the Grinsztajn et al. suite": a thing named after a paper
            if before and (before[0] in _TITLE_LINKS or (before[0] == "in" and "," in text) or (
                    before[0][0].isupper() and before[0][-1].isalnum()
                    and not re.search(r"[’']s$", before[0]))):
                continue  # "... via Logit Calibration, Wenjie Zhao and ...": a title's tail
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
            if s[:a].count("(") > s[:a].count(")") and before and before[0] in _OF_WORDS:
                continue  # "(University of Warsaw and IIT Bombay)": an institution's tail
            found.append((a, b, text.rstrip(",")))
    # "Carlos Mendes and Arun Pillai (Adyen and TU Delft)": names in parentheses right after
    # an author group are where those authors work, not more authors; but a comma list of
    # people there ("... Cloud Observations (Leila Moradi, Jakub Novak)") are the authors,
    # and what stands before them the end of a title
    people = [g for g in found if _PEOPLE_LIST.fullmatch(g[2])
              and s[:g[0]].rstrip().endswith("(")]
    found = [g for g in found if not any(re.fullmatch(r"\s*\(\s*", s[g[1]:o[0]])
                                         for o in people if o is not g)]
    return sorted(g for g in found if g in people or not any(
        re.fullmatch(r"\s*\(\s*", s[o[1]:g[0]]) for o in found if o is not g))


def _spells_initials(acronym: str, text: str) -> bool:
    """True when ``acronym`` is spelt by the initials of consecutive capitalised words of
    ``text`` ("PAROS" in "US-ROC and Pan-Asian Resuscitation Outcomes Study")."""
    letters = re.sub(r"[^A-Z]", "", acronym)
    initials = "".join(w[0] for w in re.split(r"[\s\-]+", text) if w[:1].isupper())
    return len(letters) >= 2 and letters in initials


# Fields that end institution names ("Institute of Science and Technology"): after "X of Y
# and" they continue the name, where another name starts a new institution ("University of
# Leeds and Arup").
_FIELDS = frozenset("technology technologies science sciences engineering medicine arts design "
                    "economics management health humanities letters mathematics business law "
                    "education agriculture innovation research telecommunications communications "
                    "information computing statistics physics chemistry biology finance commerce "
                    "languages culture environment forestry mines architecture planning policy "
                    "nursing pharmacy dentistry industry applied natural social".split())
_LEAD = re.compile(r"^(?:(?:the|primarily|mainly|both|all|from|at|with|of)\s+)+")


def _split_institutions(span: str) -> list[str]:
    """"MIT, Harvard University and the University of Oslo" -> one name per institution;
    leading "from", "at", "the" dropped, a trailing country kept with its institution."""
    span = _LEAD.sub("", span.strip())
    parts = re.split(r"(,\s*and\s+|,\s*|\s+and\s+)", span)
    out: list[str] = []
    sep = ""
    for i, part in enumerate(parts):
        if i % 2 == 1:
            sep = part
            continue
        part = _LEAD.sub("", part.strip()).strip(" ")
        if not re.search(r"\b(?:Inc|Ltd|Corp|Co)\.$", part):
            part = part.rstrip(".")
        if not part or part in _COUNTRIES:
            continue
        last = out[-1].split()[-1] if out else ""
        standalone = (INSTITUTION_WORDS.search(part) or re.fullmatch(r"[A-Z][A-Z&\-]{1,}", part)
                      or is_name_like(part.split()[0]) or "." in part
                      # "Carnegie Mellon University and Adobe Research", "EPFL and Inria"
                      # (but "Institute of Science and Technology" is one name)
                      or bool(out and (INSTITUTION_WORDS.fullmatch(last) or is_name_like(last)
                                       or len(out[-1].split()) == 1 or (
                                           re.search(r" (?:of|de|di|du|des|der|für) ",
                                                     out[-1]) and "and" in sep
                                           and part.split()[0].lower() not in _FIELDS))))
        if out and not standalone:
            out[-1] = out[-1] + sep + part if "and" in sep and "," not in sep else \
                out[-1] + ", " + part
        else:
            out.append(part)
    return [o for o in out if len(o) > 1]


# proper names joined by commas and "and", no other lowercase word: "(Zalando and TU Graz)"
# after authors is where they work, not a title
_NAME = r"[A-Z][\w&.\-’']*(?:\s+[A-Z0-9][\w&.\-’']*){0,3}"
NAME_LIST = re.compile(rf"{_NAME}(?:(?:,\s*|,?\s+and\s+){_NAME})+")


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
                len(inner.split()) >= 4 and not NAME_LIST.fullmatch(inner):
            return [], pos
        return _split_institutions(inner), pos + m.end()
    m = re.match(r"(?:[’']s\s+(?:lab|team|group)|,\s+whose\s+(?:lab|team|group))?"
                 r",?\s*(?:primarily\s+|mainly\s+)?(?:from|at|of|spanning|across)\s+", rest)
    if not m:
        m2 = re.match(r",\s+([^,()]{2,80}?)\)", rest)  # "et al., NYU)"
        if m2:
            return _split_institutions(m2.group(1)), pos + m2.end()
        # "— A and B, Georgia Institute of Technology.", "A, B — University of Glasgow)"
        m3 = re.match(r"(?:,|\s+[—–·])\s+((?:the\s+)?[A-Z][^,;()]{2,80}?)(?=\.(?:\s|$)|$|\)|;)",
                      rest)
        if m3 and INSTITUTION_WORDS.search(m3.group(1)):
            return _split_institutions(m3.group(1)), pos + m3.end()
        return [], pos
    # the institution list runs over capitalised words, name particles, commas and
    # parentheses, and stops at the first other lowercase word, a possessive, a period, a
    # quote, or a colon (then the words after the last comma are a title's short name:
    # "from Peking University, DiffRank: Diffusion ...")
    end = comma_end = m.end()
    depth = 0
    stop = ""  # the lowercase word the list stopped at
    for w in re.finditer(r"\S+", rest[m.end():]):
        tok = w.group()
        if tok.endswith(":") or tok.startswith(("“", '"')):
            if tok.endswith(":"):
                end = comma_end if comma_end > m.end() else (
                    end if tok == ":" else m.end() + w.end() - 1)
            break
        depth += tok.count("(") - tok.count(")")
        if depth < 0:
            end = m.end() + w.start() + tok.index(")")
            break
        core = tok.strip("(),;’'")
        if core and core[0].islower() and core not in _NAME_PARTICLES:
            stop = core
            break
        end = m.end() + w.end()
        if tok.endswith(","):
            comma_end = end
        if tok.endswith(("’", ";")) or (tok.endswith(".") and not re.fullmatch(r"\w+\.\w*\.?|"
                                                                               r"[A-Z]\.", core)):
            break
    span = _drop_title_tail(rest[m.end():end].rstrip(",;’.' "), stop)
    words = span.split()
    while words and words[-1].lower() in _NAME_PARTICLES:
        words.pop()
    span = " ".join(words)
    if not span or len(words) > 14:
        return [], pos
    return _split_institutions(span), pos + m.end() + len(span)


def _drop_title_tail(span: str, stop: str) -> str:
    """Cut a title written after the institutions: "KTH Royal Institute of Technology,
    Diffusion Policies for Dexterous Robot Manipulation" (then "with ..."). A comma part with
    no institution word is a title when it has four words or more, a lowercase word, or is
    the last part and the list stopped at a word that joins title words ("with", "via")."""
    parts = span.split(", ")
    for i, part in enumerate(parts[1:], 1):
        words = part.split()
        if INSTITUTION_WORDS.search(part) or re.fullmatch(r"[A-Z][A-Z&\-]+", part):
            continue
        if len(words) >= 4 or any(w[:1].islower() and w not in _NAME_PARTICLES for w in words) or (
                i == len(parts) - 1 and len(words) >= 2 and stop in _TITLE_LINKS | {"in"}):
            return ", ".join(parts[:i])
    return span


def possessive_institutions(s: str, author_start: int) -> list[str]:
    """Institutions written as a possessive just before an author group ("The University of
    X’s Jane Doe and ...", "Oxford’s Amelia Hart and Rohan Mehta describe ..."), or [] when
    the words before the authors name no institution. A bare proper name ("Oxford", "Google")
    counts only before two or more full names and a reporting verb: a team, not one person's
    "Smith’s Jane"."""
    m = re.search(r"((?:The\s+|the\s+)?[A-Z][\w\s&\-]+?)[’']s\s+$", s[:author_start])
    if not m:
        return []
    name = re.sub(r"^[Tt]he\s+", "", m.group(1))
    if not _is_institution(name) and not (
            _BARE_NAME.fullmatch(name) and _AUTHOR_PATTERNS[_TEAM_PATTERN].match(s, author_start)):
        return []
    return _split_institutions(name)


# a bare proper name of one to three capitalised words, not a sentence's opening word
_BARE_NAME = re.compile(r"(?!(?:This|That|These|Those|Our|Its|Their|His|Her|Each|Every|One|"
                        r"Another|Last|Next|Week|Today)\b)[A-Z][a-z]+(?:\s+[A-Z][a-z]+){0,2}")


_TEAM = re.compile(r"\b(?:[Rr]esearchers|[Ss]cientists|[Ee]ngineers|[Aa]uthors|[Tt]eams?|"
                   r"[Gg]roups?|[Cc]ollaborators|[Cc]olleagues|[Ww]ork|[Ss]tudy)"
                   r"(?=,?\s+(?:primarily\s+|mainly\s+)?(?:from|at|spanning|across)\s)")
_TEAM_OF = re.compile(r"((?:[A-Z][\w&’'\-]*\s+)(?:(?:of|for|and|de)\s+|[A-Z][\w&’'\-]*\s+)*?)"
                      r"(?:team|group|lab|consortium|researchers|scientists|engineers)\b")


def _is_institution(name: str) -> bool:
    """An institution's name: an institution word, or an acronym first ("ETH Zurich", "KAIST")."""
    first = name.split()[0] if name.split() else ""
    return bool(INSTITUTION_WORDS.search(name) or re.fullmatch(r"[A-Z][A-Za-z]*[A-Z][A-Za-z]*",
                                                                first))


def team_institutions(s: str) -> list[tuple[int, list[str]]]:
    """Institutions named for unnamed authors: "researchers from MIT, Harvard University and
    Tsinghua University", "a team at the University of Oslo". Returns (position, names)."""
    out = []
    for m in _TEAM.finditer(s):
        names, _ = institutions_after(s, m.end())
        if names:
            out.append((m.start(), names))
    for m in _TEAM_OF.finditer(s):  # "a University of Maryland team", "KAIST researchers"
        name = m.group(1).strip()
        if _is_institution(name) and not re.match(r"(?:The|A|An|Several|Many|Other)\b", name):
            out.append((m.start(), _split_institutions(name)))
    lead = re.match(r"\W*From\s+(?=(?:the\s+)?[A-Z])", s)  # "From the University of Tartu, ..."
    if lead:
        names, _ = institutions_after(" from " + s[lead.end():], 0)
        if names and all(_is_institution(n) for n in names):
            out.append((lead.start(), names))
    return out

