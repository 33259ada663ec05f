"""Calibrate abstention: fit the coverage model of ``rag.answer.compose`` on the tuning questions.

The tuning questions are the seed set (eval/data/digest_questions.jsonl and the seed list
questions) and the tuning halves of the unseen corpus (eval/data/unseen/dev, test and test2,
see ``eval.unseen.TUNING``), each asked over its own corpus; the sealed half
(``eval.unseen.SEALED``) is never read here. For every question (answerable or not) it
retrieves as ``ask()`` does and computes the answerer's coverage features (``COVERAGE_FEATURES``: the idf
share of question terms in the best passage, the cosine of the question's topic words, and how
far the best passage's cosine stands above the question's mean cosine to all passages). A logistic
regression (L2, standardised features) predicts "unanswerable"; the cut-off is the highest that
keeps wrongly abstained answerable questions at or under ``--max-wrong`` (default 4 %, under
the 5 % target). Leave-one-out cross-validation (refitting weights and cut-off without each
question) estimates how the rule does on questions it was not fitted on. Both figures count a
question that names a retrieved paper (author, institution, short name) as answered, as
``ask()`` answers it whatever its score.

    python -m eval.calibrate            # prints the constants for rag/answer/compose.py
    -> eval/results/abstention.json     # features, weights, in-sample and LOO figures
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402
from tqdm.auto import tqdm  # noqa: E402

from rag import Assistant  # noqa: E402
from rag.answer.compose import COVERAGE_FEATURES  # noqa: E402
from rag.answer.lists import is_bare_code_list  # noqa: E402

from .core import question_filters  # noqa: E402
from .embcache import CachedEmbedder  # noqa: E402
from .unseen import TUNING, make_corpus  # noqa: E402

OUT = Path(__file__).parent / "results" / "abstention.json"


def features(a: Assistant, questions: list[dict]) -> tuple[np.ndarray, np.ndarray]:
    """One row of coverage features per question, computed as ``ask()`` computes them, and
    whether ``ask()`` answers it whatever the score (it names a retrieved paper, or asks which
    papers released code)."""
    rows, named = [], []
    for q in tqdm(questions, desc="coverage features"):
        f = question_filters(q)  # as eval.core's abstention check asks
        r = a.retrieve(a.read(q["question"], f.since, f.until, f.digest))
        cov = a.answerer.coverage(r.query, r.hits, r.vector)
        rows.append(cov.features())
        # answered whatever the score: it names a retrieved paper, or asks for every paper
        # with code (rag.answer.lists)
        named.append(cov.named or is_bare_code_list(r.query))
    return np.asarray(rows, dtype=float), np.asarray(named, dtype=bool)


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float = 0.1) -> np.ndarray:
    """Weights (last = bias) of an L2-regularised logistic regression, by Newton's method."""
    xb = np.c_[x, np.ones(len(x))]
    w = np.zeros(xb.shape[1])
    reg = l2 * np.diag(np.r_[np.ones(len(w) - 1), 0.0])
    for _ in range(50):
        p = 1 / (1 + np.exp(-xb @ w))
        grad = xb.T @ (p - y) + reg @ w
        hess = (xb * (p * (1 - p))[:, None]).T @ xb + reg
        w -= np.linalg.solve(hess, grad)
    return w


def cutoff(scores: np.ndarray, y: np.ndarray, max_wrong: float) -> float:
    """The lowest "unanswerable" score cut that abstains on at most ``max_wrong`` of the
    answerable questions (abstain when score > cut), halfway to the next higher score."""
    answerable = np.sort(scores[y == 0])[::-1]
    kept = float(answerable[int(np.floor(max_wrong * len(answerable)))])
    above = scores[scores > kept]  # cut halfway to the next score: a margin for rounding
    return (kept + float(above.min())) / 2 if above.size else kept


def fit_rule(x: np.ndarray, y: np.ndarray, max_wrong: float) -> tuple[np.ndarray, float, float]:
    """(raw-feature weights, bias, cut) of the "unanswerable" score."""
    mu, sd = x.mean(0), x.std(0) + 1e-9
    w = fit_logistic((x - mu) / sd, y)
    w_raw = w[:-1] / sd
    bias = float(w[-1] - np.sum(w[:-1] * mu / sd))
    return w_raw, bias, cutoff(x @ w_raw + bias, y, max_wrong)


def rates(pred: np.ndarray, y: np.ndarray) -> dict:
    return {"unanswerable_abstained": float(pred[y == 1].mean()),
            "answerable_wrongly_abstained": float(pred[y == 0].mean()),
            "unanswerable": int((y == 1).sum()), "answerable": int((y == 0).sum())}


def calibrate(x: np.ndarray, y: np.ndarray, max_wrong: float,
              named: np.ndarray | None = None) -> dict:
    """In-sample fit and a leave-one-out estimate of the abstention rule; questions that name
    a retrieved paper (``named``) are answered whatever their score, as ``ask()`` does."""
    named = np.zeros(len(y), dtype=bool) if named is None else named
    w, b, cut = fit_rule(x, y, max_wrong)
    loo = np.zeros(len(y), dtype=bool)
    for i in range(len(y)):
        keep = np.arange(len(y)) != i
        wi, bi, ci = fit_rule(x[keep], y[keep], max_wrong)
        loo[i] = float(x[i] @ wi + bi) > ci and not named[i]
    # rag.answer.compose's score is "covered" log-odds minus the cut: abstain when score < 0
    covered_w, covered_b = -w, -(b - cut)
    return {"features": list(COVERAGE_FEATURES), "weights": [round(float(v), 4) for v in covered_w],
            "bias": round(float(covered_b), 4), "max_wrong": max_wrong,
            "in_sample": rates((x @ w + b > cut) & ~named, y), "leave_one_out": rates(loo, y),
            "named": int(named.sum())}


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--max-wrong", type=float, default=0.05)
    p.add_argument("--out", type=Path, default=OUT)
    args = p.parse_args(argv)
    from rag import Settings
    from rag.index.embed import embedder_from_settings

    emb = CachedEmbedder(embedder_from_settings(Settings()))
    questions: list[dict] = []
    xs, nameds = [], []
    with tempfile.TemporaryDirectory(prefix="calibrate-") as tmp:
        for part in TUNING:
            _, qs = make_corpus([part], Path(tmp) / part / "corpus")
            a = Assistant(settings=Settings(corpus_dir=Path(tmp) / part / "corpus",
                                            index_dir=Path(tmp) / part / "index"), embedder=emb)
            a.index  # noqa: B018 - build now
            x, named = features(a, qs)
            questions += qs
            xs.append(x)
            nameds.append(named)
    emb.save()
    x, named = np.vstack(xs), np.concatenate(nameds)
    y = np.array([0 if q["answerable"] else 1 for q in questions])
    result = calibrate(x, y, args.max_wrong, named)
    result["rows"] = [{"id": q["id"], "answerable": q["answerable"], "named": bool(n),
                       **dict(zip(COVERAGE_FEATURES, map(float, r)))}
                      for q, r, n in zip(questions, x, named)]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1))
    print(f"COVERAGE_WEIGHTS = {tuple(result['weights'])}\nCOVERAGE_BIAS = {result['bias']}")
    print("in-sample:", result["in_sample"], "\nleave-one-out:", result["leave_one_out"])
    return result


if __name__ == "__main__":
    main()
