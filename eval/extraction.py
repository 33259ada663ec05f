"""Paper extraction against a gold list: precision, recall and exact-title rate of
:func:`rag.extract.papers.extract_papers` against a gold paper list.

Usage::

    .venv/bin/python -m eval.extraction            # seeds, and the dev set if present
    .venv/bin/python -m eval.extraction -v         # also list every miss
    .venv/bin/python -m eval.extraction --corpus DIR --gold FILE [--arxiv DIR]

A gold paper is matched by title, title variants or short name only (``eval.gold.match_score``
of 0.9 or more: same normalised title, a title prefix of 2+ words, similarity >= 0.9 or the
same short name); the author-only fallback that ``eval.gold.align`` also allows (0.8) is not
used. Precision and recall are micro-averaged over digests, each digest counted as
:func:`eval.gold.precision_recall` counts it (an extracted paper is right in a digest when it
aligns with a gold paper that digest mentions), so a paper split into two records costs
precision. Exact title: an aligned paper whose normalised title equals the gold title (and,
looser, the gold title or one of its variants).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from rag.corpus.ingest import load_corpus
from rag.extract.papers import extract_papers
from rag.extract.metadata import load_metadata
from rag.records import Paper
from rag.text import normalize_title

from .gold import DATA, align, load_jsonl, match_score, precision_recall

DEV = DATA / "unseen" / "dev"


def align_by_name(papers: list[Paper], golds: list[dict], at_least: float = 0.9
                  ) -> dict[str, str]:
    """One-to-one map paper id -> gold key, greedily by title/short-name match score."""
    pairs = sorted(((match_score(p, g), p.id, g["key"]) for p in papers for g in golds),
                   reverse=True)
    out: dict[str, str] = {}
    used: set[str] = set()
    for score, pid, key in pairs:
        if score < at_least or pid in out or key in used:
            continue
        out[pid] = key
        used.add(key)
    return out


def measure(corpus: Path, golds: list[dict], arxiv: Path | None, verbose: bool = False) -> dict:
    """Extract the papers of ``corpus`` and score them against ``golds``."""
    docs, warnings = load_corpus(corpus)
    meta = load_metadata(arxiv)[0] if arxiv else []
    t0 = time.perf_counter()
    ps = extract_papers(docs, meta or None)
    seconds = time.perf_counter() - t0
    papers = list(ps.papers.values())
    amap = align_by_name(papers, golds)
    by_key = {g["key"]: g for g in golds}
    tp = n_pred = n_gold = 0
    rows = []
    for d in docs:
        did = d.digest.id
        pred = [p for p in papers if did in p.digest_ids]
        gold = [g for g in golds if did in g["digests"]]
        hit = sum(1 for p in pred if p.id in amap and did in by_key[amap[p.id]]["digests"])
        tp, n_pred, n_gold = tp + hit, n_pred + len(pred), n_gold + len(gold)
        rows.append((did, len(gold), hit / max(1, len(pred)), hit / max(1, len(gold))))
    exact = loose = 0
    for pid, key in amap.items():
        g, t = by_key[key], normalize_title(ps.papers[pid].title)
        exact += t == normalize_title(g["title"])
        loose += t in {normalize_title(x) for x in [g["title"], *g.get("title_variants", [])]}
    full = align(papers, golds)  # eval.core's alignment (author fallback allowed)
    pr = [precision_recall(papers, full, golds, d.digest.id) for d in docs]
    res = {"digests": len(docs), "eval_core_min_pr": min(min(x) for x in pr),
           "gold": len(golds), "extracted": len(papers),
           "precision": tp / max(1, n_pred), "recall": tp / max(1, n_gold),
           "exact_title": exact / max(1, len(amap)), "exact_or_variant": loose / max(1, len(amap)),
           "seconds": seconds, "per_digest": rows, "warnings": warnings}
    res["fields"] = {name: sum(_field(ps.papers[pid], by_key[key], name)[0] ==
                               _field(ps.papers[pid], by_key[key], name)[1]
                               for pid, key in amap.items()) / max(1, len(amap))
                     for name in FIELDS}
    if verbose:
        _show_misses(ps.papers, golds, amap, by_key)
        for name in FIELDS:
            for pid, key in amap.items():
                got, want = _field(ps.papers[pid], by_key[key], name)
                if got != want:
                    print(f"  -- {name} of {key}: got {sorted(got)} want {sorted(want)}")
    return res


FIELDS = ("authors", "institutions", "code_urls", "data_urls", "digests", "arxiv_id")


def _field(paper: Paper, gold: dict, name: str) -> tuple[set, set]:
    """(extracted, gold) values of one field, as sets (as tests/test_papers.py compares them)."""
    if name == "authors":
        return set(paper.authors), {a for a in gold["authors_as_written"].values() if a}
    if name == "digests":
        return set(paper.digest_ids), set(gold["digests"])
    if name == "arxiv_id":
        return {paper.arxiv_id} - {None}, {gold.get("arxiv_id")} - {None}
    return set(getattr(paper, name)), set(gold.get(name) or [])


def _show_misses(papers: dict[str, Paper], golds: list[dict], amap: dict[str, str],
                 by_key: dict[str, dict]) -> None:
    found = set(amap.values())
    print("  -- gold papers not found:")
    for g in golds:
        if g["key"] not in found:
            print(f"     [{','.join(g['digests'])}] {g['title']!r} short={g.get('short_name')}")
    print("  -- extracted papers matching no gold paper:")
    for pid, p in papers.items():
        if pid not in amap:
            print(f"     [{','.join(p.digest_ids)}] {p.title!r} short={p.short_name} "
                  f"authors={p.authors}")
    print("  -- aligned but the title differs:")
    for pid, key in amap.items():
        p, g = papers[pid], by_key[key]
        if normalize_title(p.title) != normalize_title(g["title"]):
            print(f"     got {p.title!r}\n     want {g['title']!r}")


def report(name: str, res: dict) -> None:
    print(f"{name}: {res['digests']} digests, {res['gold']} gold, {res['extracted']} extracted"
          f" | precision {res['precision']:.3f} recall {res['recall']:.3f} exact title "
          f"{res['exact_title']:.3f} (or variant {res['exact_or_variant']:.3f}) | "
          f"extract {res['seconds']:.2f} s | eval.core min per-digest P/R "
          f"{res['eval_core_min_pr']:.2f}")
    print("   fields equal to gold: " + ", ".join(f"{k} {v:.2f}" for k, v in res["fields"].items()))
    for did, n, p, r in res["per_digest"]:
        if p < 1 or r < 1:
            print(f"   {did}: gold {n} precision {p:.2f} recall {r:.2f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpus", type=Path)
    ap.add_argument("--gold", type=Path)
    ap.add_argument("--arxiv", type=Path)
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args()
    root = Path(__file__).resolve().parents[1]
    if args.corpus:
        report(str(args.corpus), measure(args.corpus, load_jsonl(args.gold), args.arxiv,
                                         args.verbose))
        return
    report("seed", measure(root / "corpus", load_jsonl(DATA / "gold_papers.jsonl"),
                           root / "corpus" / "arxiv", args.verbose))
    if (DEV / "gold_papers.jsonl").exists():
        report("dev", measure(DEV / "digests", load_jsonl(DEV / "gold_papers.jsonl"),
                              DEV / "arxiv", args.verbose))


if __name__ == "__main__":
    main()
