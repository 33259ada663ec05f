"""Gold data for the seed digests: the hand-made paper list and question set, and the
mapping from extracted papers to gold papers that the tests and benchmarks share.

Files (made by hand from reading the digests, see eval/data/README.md):
``eval/data/gold_papers.jsonl`` and ``eval/data/digest_questions.jsonl``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from rag.records import Paper
from rag.text import normalize_title, strip_accents, title_similarity

DATA = Path(__file__).resolve().parent / "data"


def load_jsonl(path: Path) -> list[dict]:
    """Read a JSON-lines file into a list of dicts."""
    return [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines()
            if line.strip()]


def gold_papers() -> list[dict]:
    return load_jsonl(DATA / "gold_papers.jsonl")


def digest_questions() -> list[dict]:
    return load_jsonl(DATA / "digest_questions.jsonl")


def _surnames(authors: str | None) -> set[str]:
    if not authors:
        return set()
    a = strip_accents(authors).lower()
    a = re.sub(r"\bet al\.?|\band (colleagues|co-authors|his team|her team)\b", " ", a)
    names = re.split(r",|\band\b", a)
    return {n.split()[-1] for n in names if n.split() and len(n.split()[-1]) > 2}


def match_score(paper: Paper, gold: dict) -> float:
    """How surely an extracted paper is a gold paper: 1.0 same title, 0.9 same short name or
    title prefix, 0.8 same digest and first author; 0 otherwise."""
    titles = [gold["title"], *gold.get("title_variants", [])]
    best = 0.0
    for t in titles:
        for mine in filter(None, (paper.title, paper.short_name, paper.arxiv_title)):
            nm, nt = normalize_title(mine), normalize_title(t)
            if not nm or not nt:
                continue
            if nm == nt:
                best = max(best, 1.0)
            elif len(min(nm, nt, key=len).split()) >= 2 and (nm.startswith(nt) or
                                                              nt.startswith(nm)) or title_similarity(mine, t) >= 0.9:
                best = max(best, 0.9)
    if gold.get("short_name") and paper.short_name and \
            gold["short_name"].lower() == paper.short_name.lower():
        best = max(best, 0.9)
    if best < 0.8:
        for m in paper.mentions:
            gold_auth = (gold.get("authors_as_written") or {}).get(m.digest_id)
            if m.authors and gold_auth and _surnames(m.authors) & _surnames(gold_auth):
                best = max(best, 0.8)
    return best


def align(papers: list[Paper], golds: list[dict]) -> dict[str, str]:
    """One-to-one map paper id -> gold key, greedily by match score."""
    pairs = sorted(((match_score(p, g), p.id, g["key"]) for p in papers for g in golds),
                   reverse=True)
    out: dict[str, str] = {}
    used: set[str] = set()
    for score, pid, key in pairs:
        if score <= 0 or pid in out or key in used:
            continue
        out[pid] = key
        used.add(key)
    return out


def precision_recall(papers: list[Paper], amap: dict[str, str], golds: list[dict],
                     digest_id: str) -> tuple[float, float]:
    """Paper-extraction precision and recall on one digest: an extracted paper counts when
    it aligns (``amap``) with a gold paper that this digest mentions."""
    pred = [p for p in papers if digest_id in p.digest_ids]
    gold = [g for g in golds if digest_id in g["digests"]]
    by_key = {g["key"]: g for g in golds}
    tp = sum(1 for p in pred if p.id in amap and digest_id in by_key[amap[p.id]]["digests"])
    return tp / max(1, len(pred)), tp / max(1, len(gold))
