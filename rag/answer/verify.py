"""Verify the citations of an LLM-written answer against the passages it was given.

Models get ``[n]`` markers wrong (off by one, out of range, missing, on the wrong sentence).
:class:`Verifier` splits the answer into sentences (and clauses at marker groups) and scores
every (claim, passage) pair by *support*: the idf-weighted share of the claim's terms found in
the passage plus the embedding similarity of the claim to the passage's closest sentence. Then:

* a number outside ``1..len(passages)`` is dropped, or replaced by the best supporting passage;
* a number whose passage does not support its claim (or far less than another passage) is
  re-pointed to the passage that does, or dropped; numbers cited together must support the
  claim together, each adding terms of its own;
* a factual sentence with no citation gets the passage that supports it, or is reported in
  ``unsupported`` and marked in the text;
* a sentence naming something (a quoted or bold title, an acronym, a run of capitalised words)
  that no passage and not the question contains, or crediting a paper to people who are not its
  authors (:mod:`rag.answer.authorship`), is unsupported whatever it cites;
* the passages a sentence cites must hold what it adds to the question (links verbatim, most new
  terms), each topic term it repeats from the question and every number it states (digits or
  words; a year only if a passage or the question gives it; a percentage as a percentage) ...
* ... within one *window* of each cited passage (a sentence, two adjacent ones, or the heading
  line with one), where nothing may negate it, turn round a "from A to B" or give its numbers
  for other things; a sentence saying a run of words twice is unsupported
  (:class:`rag.answer.claims.Grounding`);
* strict mode (small models): every term a sentence adds must be in that window (a near-copy),
  and its cited passages must be about the question (a name it gives, a share of its terms).

The text is renumbered ``[1]..[k]`` in order of first citation (:attr:`Verification.cited`
holds exactly the passages it cites); :mod:`rag.answer.claims` reads what a sentence asserts.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from rag.answer.authorship import miscredited
from rag.answer.claims import (
    MARKER_GROUP,
    UNSUPPORTED_MARK,
    Grounding,
    found_in,
    named_things,
    numbers_in,
    parse_numbers,
    strip_markers,
)
from rag.index.embed import Embedder
from rag.records import Paper
from rag.text import sentences, split_sentences, tokenize

# Support = W_LEX * lexical + W_EMB * embedding; SUPPORT_THRESHOLD calibrated on the scripted
# answers of eval/llm_verify.py with both the hashing and the bundled MiniLM embedder.
W_LEX, W_EMB = 0.6, 0.4
SUPPORT_THRESHOLD = 0.42
CO_CITED_FACTOR = 0.7  # a passage cited alongside others need only support part of the claim,
COMPLEMENT = 0.2  # ... as long as it holds this idf share of the claim's terms the other lacks
ANSWER_SHARE = 0.6  # idf share of a claim's new terms one window of each cited passage holds
REPOINT_MARGIN = 0.08  # a re-pointed passage must beat the cited one by this much
KEEP_MARGIN = 0.2  # a supporting citation is still re-pointed when another passage is this much
# better (two passages about one paper: the one the claim comes from wins)


# Words that describe the act of reporting, not the content: ignored in lexical support.
_META = frozenset(tokenize(
    "according propose proposes proposed introduce introduces introduced present presents "
    "presented show shows shown demonstrate demonstrates demonstrated report reports reported "
    "describe describes described find finds found approach method methods model models "
    "author authors et al new novel passage passages source sources mention mentions mentioned "
    "also additionally furthermore moreover however both another one two use uses used using "
    "highlight highlights highlighted note notes noted discuss discusses discussed work "
    "answer question available call called name named title titled design designed aim aims "
    "aimed provide provides provided include includes included",
    stem=True)) - {"not"}  # "noted" stems to "not": a negation is content
# what the passages do not say is not a claim about the papers (a negated claim is one)
_NOT_A_CLAIM = re.compile(
    r"\b(?:no\s+(?:information|passage|mention|details?)|(?:can\s*not|can'?t)\s+(?:be\s+)?"
    r"(?:tell|determin|infer|answer|find)\w*|not\s+(?:mention|say|cover|contain|answer|"
    r"specif|provide|include|discuss|give|state|describe)\w*|unclear|unknown)\b", re.I)


@dataclass(frozen=True)
class Claim:
    """One sentence of the answer and what verification did with its citations."""

    sentence: str  # without markers
    cited: tuple[int, ...]  # passage numbers the model wrote (prompt numbering)
    kept: tuple[int, ...]  # passage numbers after verification (prompt numbering)
    supported: bool | None  # None: not a factual claim (a heading, "the passages don't say")
    groups: tuple[tuple[tuple[int, ...], tuple[int, ...]], ...] = ()  # (cited, kept) per group
    fabricated: tuple[str, ...] = ()  # names found in no passage


@dataclass(frozen=True)
class Verification:
    """The verified answer text and what changed."""

    text: str  # markers renumbered 1..k in order of first citation; unsupported ones marked
    cited: tuple[int, ...]  # prompt numbers of the cited passages, in display order
    claims: tuple[Claim, ...]
    unsupported: tuple[str, ...]
    evidence: dict[int, tuple[str, ...]] = field(default_factory=dict)  # prompt n -> sentences
    repointed: int = 0
    dropped: int = 0
    added: int = 0


@dataclass
class _Group:
    start: int
    end: int
    nums: list[int]
    claim: str
    kept: list[int] = field(default_factory=list)


@dataclass
class _Sentence:
    line: int
    start: int
    end: int
    text: str
    groups: list[_Group] = field(default_factory=list)
    supported: bool | None = None
    added: list[int] = field(default_factory=list)
    fabricated: list[str] = field(default_factory=list)


class Verifier:
    """Checks and repairs the ``[n]`` citations of an answer written from numbered passages."""

    def __init__(self, embedder: Embedder, idf: Callable[[str], float] | None = None,
                 threshold: float = SUPPORT_THRESHOLD, strict: bool = False) -> None:
        self.embedder = embedder
        self.idf = idf or (lambda _t: 1.0)
        self.threshold = threshold
        self.strict = strict  # small-model mode: near-copies of passages about the question

    def _parse(self, text: str) -> tuple[list[str], list[_Sentence]]:
        lines = text.split("\n")
        out: list[_Sentence] = []
        for li, line in enumerate(lines):
            spans = [(a, b) for a, b in split_sentences(line) if line[a:b].strip()]
            sents = [_Sentence(li, a, b, strip_markers(line[a:b])) for a, b in spans]
            for m in MARKER_GROUP.finditer(line):
                # the last sentence starting at or before the group: a group between two
                # sentences trails the first, and so does one opening a sentence ("x. [2] Y")
                owner = max((si for si, s in enumerate(sents) if s.start <= m.start()),
                            default=0 if sents else None)
                if owner is None:
                    continue
                if owner > 0 and not line[sents[owner].start:m.start()].strip():
                    owner -= 1
                s = sents[owner]
                prev_end = s.groups[-1].end if s.groups else s.start
                claim = strip_markers(line[prev_end:m.start()])
                if len(self._terms(claim)) < 3:
                    claim = s.text
                s.groups.append(_Group(m.start(), m.end(), parse_numbers(m.group(0)), claim))
            out.extend(s for s in sents if s.text)
        return lines, out

    @staticmethod
    def _terms(text: str) -> list[str]:
        return [t for t in dict.fromkeys(tokenize(text)) if t not in _META]

    def _share(self, claim: str, terms: frozenset[str], minus: frozenset[str] = frozenset()
               ) -> float:
        """idf-weighted share of the claim's terms found in ``terms`` but not in ``minus``."""
        t = self._terms(claim)
        total = sum(self.idf(x) for x in t)
        return sum(self.idf(x) for x in t if x in terms and x not in minus) / total \
            if total else 0.0

    def verify(self, text: str, passages: Sequence[str], question: str = "",
               topic: Sequence[str] | None = None, papers: Sequence[Paper] = ()
               ) -> Verification:
        """Check every citation of ``text`` against ``passages`` (numbered from 1) and repair.
        ``topic``: the question's content terms (:attr:`rag.records.Query.terms`, date phrases
        and question words out; default: the question's terms), for strict mode. ``papers``:
        the passages' papers, against which authorship claims are checked
        (:func:`rag.answer.authorship.miscredited`)."""
        lines, sents = self._parse(text)
        claims = list(dict.fromkeys([s.text for s in sents] + [g.claim for s in sents
                                                                 for g in s.groups]))
        sup = _Support(self, passages, claims, question, topic)
        n_p, t_ = len(passages), self.threshold
        repointed = dropped = added = 0
        for s in sents:
            s.fabricated = [nm for nm in named_things(s.text) if not sup.known(nm)] + \
                miscredited(s.text, papers)
            factual = len(self._terms(s.text)) >= 3 and not s.text.rstrip().endswith(":") \
                and not _NOT_A_CLAIM.search(s.text) and sup.adds(s.text)
            for g in s.groups:
                if s.fabricated:
                    dropped += len(g.nums)
                    continue
                sc, raw = sup.scores(g.claim), sup.raw(g.claim)
                best = int(np.argmax(sc)) + 1 if n_p else 0
                valid = [n for n in g.nums if 1 <= n <= n_p]
                if len(valid) > 1:  # co-cited: together they must support it, each adding terms
                    chosen: list[int] = []
                    for n in sorted(valid, key=lambda n: -raw[n - 1]):
                        if raw[n - 1] >= CO_CITED_FACTOR * t_ and (not chosen or self._share(
                                g.claim, sup.terms[n - 1], sup.union(chosen)) >= COMPLEMENT):
                            chosen.append(n)
                    if chosen and sup.joint(g.claim, chosen) >= t_:
                        g.kept = chosen
                for n in g.nums:
                    if n in g.kept:
                        continue
                    if 1 <= n <= n_p and sc[n - 1] >= t_ and \
                            sc[n - 1] >= sc[best - 1] - KEEP_MARGIN:
                        g.kept.append(n)
                    elif best and sc[best - 1] >= t_ and best not in g.kept and (
                            not 1 <= n <= n_p or sc[best - 1] >= sc[n - 1] + REPOINT_MARGIN):
                        g.kept.append(best)
                        repointed += 1
                    else:
                        dropped += 1
                g.kept = sorted(dict.fromkeys(g.kept), key=g.kept.index)
            kept = [n for g in s.groups for n in g.kept]
            if kept and not (factual and sup.answers(s.text, kept)):
                dropped += len(kept)
                for g in s.groups:
                    g.kept = []
            if s.fabricated:
                s.supported = False
            elif any(g.kept for g in s.groups):
                s.supported = True
            elif factual:
                sc = sup.scores(s.text)
                best = int(np.argmax(sc)) + 1 if n_p else 0
                if best and sc[best - 1] >= t_ and sup.answers(s.text, [best]):
                    s.added, s.supported = [best], True
                    added += 1
                else:
                    s.supported = False
            else:
                s.supported = None
        return self._write(lines, sents, sup, repointed, dropped, added)

    def _write(self, lines: list[str], sents: list[_Sentence], sup: _Support, repointed: int,
               dropped: int, added: int) -> Verification:
        """The verified text, renumbered in order of first citation, and its record."""
        # display numbering: order of first citation
        order: list[int] = []
        for s in sents:
            for n in [n for g in s.groups for n in g.kept] + s.added:
                if n not in order:
                    order.append(n)
        display = {n: i + 1 for i, n in enumerate(order)}
        evidence: dict[int, list[str]] = {}
        for s in sents:
            for g in s.groups:
                for n in g.kept:
                    evidence.setdefault(n, []).append(sup.evidence(g.claim, n))
            for n in s.added:
                evidence.setdefault(n, []).append(sup.evidence(s.text, n))

        edits: dict[int, list[tuple[int, int, str]]] = {}
        for s in sents:
            for g in s.groups:
                rep = " " + "".join(f"[{display[n]}]" for n in g.kept) if g.kept else ""
                edits.setdefault(s.line, []).append((g.start, g.end, rep))
            line = lines[s.line]
            # additions go before the sentence's closing punctuation (and before any markers
            # right in front of it), so the sentence stays one sentence for later splitting
            at = s.end - 1 if line[s.end - 1:s.end] in ".!?;" else s.end
            if s.added:
                edits.setdefault(s.line, []).append(
                    (at, at, " " + "".join(f"[{display[n]}]" for n in s.added)))
            if s.supported is False:
                edits.setdefault(s.line, []).append((at, at, UNSUPPORTED_MARK))
        for li, eds in edits.items():
            line = lines[li]
            for a, b, rep in sorted(eds, key=lambda e: (e[0], e[1]), reverse=True):
                line = line[:a] + rep + line[b:]
            lines[li] = line
        claims_out = tuple(Claim(
            s.text, tuple(n for g in s.groups for n in g.nums),
            tuple(dict.fromkeys([n for g in s.groups for n in g.kept] + s.added)), s.supported,
            tuple((tuple(g.nums), tuple(g.kept)) for g in s.groups), tuple(s.fabricated))
            for s in sents)
        return Verification(
            text="\n".join(lines).strip(), cited=tuple(order), claims=claims_out,
            unsupported=tuple(s.text for s in sents if s.supported is False),
            evidence={n: tuple(dict.fromkeys(v)) for n, v in evidence.items()},
            repointed=repointed, dropped=dropped, added=added)


_VECTORS: dict[tuple[str, str], np.ndarray] = {}  # (embedder, passage sentence) -> vector


def _encode(embedder: Embedder, texts: list[str]) -> np.ndarray:
    """Vectors of ``texts``; passage sentences seen before (the same passages come back for
    similar questions) are taken from a small cache instead of being encoded again."""
    name = getattr(embedder, "name", type(embedder).__name__)
    todo = [t for t in dict.fromkeys(texts) if (name, t) not in _VECTORS]
    if todo:
        if len(_VECTORS) + len(todo) > 20000:
            _VECTORS.clear()
        for t, v in zip(todo, embedder.encode(todo)):
            _VECTORS[(name, t)] = v
    return np.stack([_VECTORS[(name, t)] for t in texts])


class _Support:
    """How well each passage supports each claim of one answer (embeddings computed once)."""

    def __init__(self, verifier: Verifier, passages: Sequence[str], claims: list[str],
                 question: str, topic: Sequence[str] | None = None) -> None:
        self.v = verifier
        self.n = len(passages)
        self.g = Grounding(passages, question, topic or verifier._terms(question),
                           verifier.idf, verifier.strict)
        self.terms, self.norm, self.q_norm = self.g.terms, self.g.norm, self.g.q_norm
        self.q_terms = frozenset(tokenize(question))
        self.q_numbers = numbers_in(question)
        self.sents = [sentences(p) or [p] for p in passages]
        flat = [x for ps in self.sents for x in ps]
        if claims and passages:
            self.cvec = dict(zip(claims, verifier.embedder.encode(claims)))
            self.svec = _encode(verifier.embedder, flat)
        else:
            self.cvec, self.svec = {}, np.zeros((0, 1), dtype=np.float32)
        self.owner = np.repeat(np.arange(self.n), [len(ps) for ps in self.sents])
        self._cache: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}

    def known(self, name: str) -> bool:
        """Whether a passage or the question mentions ``name``."""
        return any(found_in(name, t) for t in (*self.norm, self.q_norm))

    def union(self, ns: Sequence[int]) -> frozenset[str]:
        return frozenset().union(*(self.terms[n - 1] for n in ns))

    def novel(self, claim: str) -> list[str]:
        """The claim's terms the question lacks (numbers apart: Grounding.local checks them)."""
        return [t for t in self.v._terms(claim) if t not in self.q_terms and not t.isdigit()]

    def adds(self, claim: str) -> bool:
        """Whether ``claim`` says something the question does not: a term or a number (a
        sentence that only restates the question answers nothing and cites nothing)."""
        return bool(self.novel(claim) or numbers_in(claim) - self.q_numbers)

    def answers(self, claim: str, ns: Sequence[int]) -> bool:
        """Whether passages ``ns`` hold what ``claim`` adds to the question: every number and
        link, and ANSWER_SHARE (idf-weighted) of its terms the question lacks, in the passages
        and within one window of each, the claim not a loop; in strict mode a near-copy, from
        passages about what the question asks (:class:`rag.answer.claims.Grounding`)."""
        novel = self.novel(claim)  # numbers and links: checked per window (Grounding.local)
        return self.g.held(novel, self.union(ns)) >= ANSWER_SHARE and not self.g.loops(
            claim, ns) and (not self.v.strict or self.g.about_question(ns)) and self.g.local(
            claim, novel, ns, ANSWER_SHARE, self.g.given(self.v._terms(claim)))

    def _compute(self, claim: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if claim not in self._cache:
            if not self.n:
                z = np.zeros(0)
                self._cache[claim] = (z, z, z)
            else:
                vec = self.cvec.get(claim)
                if vec is None:
                    vec = self.cvec[claim] = self.v.embedder.encode([claim])[0]
                sims = self.svec @ vec
                emb = np.array([float(sims[self.owner == i].max())
                                for i in range(self.n)]).clip(0.0, 1.0)
                lex = np.array([self.v._share(claim, t) for t in self.terms])
                names = named_things(claim)
                # a claim naming something the passage lacks is not (only) from that passage
                ok = np.array([all(found_in(nm, self.norm[i]) for nm in names)
                               for i in range(self.n)])
                self._cache[claim] = (lex, emb, ok)
        return self._cache[claim]

    def raw(self, claim: str) -> np.ndarray:
        """Support of ``claim`` by each passage (index 0 = passage 1), names not checked."""
        lex, emb, _ = self._compute(claim)
        return W_LEX * lex + W_EMB * emb

    def scores(self, claim: str) -> np.ndarray:
        """Support of ``claim`` by each passage, halved where the passage lacks a name."""
        return self.raw(claim) * np.where(self._compute(claim)[2], 1.0, 0.5)

    def joint(self, claim: str, ns: Sequence[int]) -> float:
        """Support of ``claim`` by passages ``ns`` together."""
        _, emb, _ = self._compute(claim)
        sc = W_LEX * self.v._share(claim, self.union(ns)) + W_EMB * max(emb[n - 1] for n in ns)
        text = " ".join(self.norm[n - 1] for n in ns)
        return sc if all(found_in(nm, text) for nm in named_things(claim)) else sc * 0.5

    def evidence(self, claim: str, n: int) -> str:
        """The sentence of passage ``n`` closest to ``claim``."""
        vec = self.cvec.get(claim)
        if vec is None:
            return self.sents[n - 1][0]
        sims = self.svec[self.owner == n - 1] @ vec
        return self.sents[n - 1][int(np.argmax(sims))]
