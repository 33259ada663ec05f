"""Paper extraction at scale: time per digest from 5 to 2,000 distinct digests, and a re-index
after one digest of 1,000 was edited.

    python -m eval.extraction_scale                       # everything below, ~5 min
    python -m eval.extraction_scale --sizes 5,50,150 --baseline-sizes 5,50 --edit-size 150
    python -m eval.extraction_scale --from-json           # RESULTS.md and plot from the JSON

* **extraction**: :func:`rag.papers.extract_papers` (arXiv snapshot joined) on corpora of N
  distinct digests (:mod:`eval.scale_corpus`: copies of the 5 seed digests whose papers never
  merge across copies), cold (every digest read) and warm (every digest's finds from the
  extraction cache, all papers merged again: what a re-index does), with the title
  comparisons counted; fitted exponent of time against N.
* **baseline**: the all-pairs extraction of git ``--baseline-ref`` (the commit before blocking
  and the cache), run from ``git archive`` in a subprocess on the same corpora.
* **edit**: ``build_index`` with the hashing embedder (256) on ``--edit-size`` digests: first
  build, unchanged re-index, then one digest edited (a paragraph naming a new paper added) and
  re-indexed, with where that build's time goes.

Writes ``eval/results/extraction_scale.json``, the "## Extraction at scale" section of
``eval/RESULTS.md`` and ``eval/plots/extraction_scale.png``.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402

import rag.extract_cache as extract_cache  # noqa: E402
import rag.index as rag_index  # noqa: E402
from rag.embed import HashingEmbedder  # noqa: E402
from rag.extract_cache import ExtractCache  # noqa: E402
from rag.index import build_index  # noqa: E402
from rag.ingest import load_corpus  # noqa: E402
from rag.papers import extract_papers, load_metadata  # noqa: E402
from rag.settings import Settings  # noqa: E402
from rag.store import LexicalIndex  # noqa: E402

from .report import replace_section  # noqa: E402
from .scale_corpus import distinct_corpus  # noqa: E402

EVAL = Path(__file__).resolve().parent
ROOT = EVAL.parent
SECTION = "## Extraction at scale"
BASELINE_REF = "15e40bd"  # last commit with all-pairs extraction and no extraction cache
EDIT = ("\nIn a follow-up study, Ana Quillfeather et al. (University of Lisbon) present "
        "“Zephyrine Probes for Edited Digest Benchmarks”, which re-reads one digest only.\n")
_BASELINE_SCRIPT = """
import json, sys, time
from pathlib import Path
import rag.papers as P
from rag.ingest import load_corpus
count = [0]
matches = P._Draft.matches
def counted(self, title, short):
    count[0] += 1
    return matches(self, title, short)
P._Draft.matches = counted
docs = load_corpus(Path(sys.argv[1]))[0]
meta = P.load_metadata(Path(sys.argv[1]) / "arxiv")[0]
t = time.perf_counter()
ps = P.extract_papers(docs, meta)
print(json.dumps({"seconds": time.perf_counter() - t, "papers": len(ps.papers),
                  "comparisons": count[0]}))
"""


def fit_exponent(ns: list[int], seconds: list[float]) -> float | None:
    """Slope of log(time) against log(N): 1 is linear, 2 quadratic."""
    if len(ns) < 2:
        return None
    return round(float(np.polyfit(np.log(ns), np.log(seconds), 1)[0]), 3)


def measure(n: int, corpus: Path) -> dict:
    """Cold and warm extraction of one corpus of ``n`` distinct digests."""
    docs = load_corpus(corpus)[0]
    meta = load_metadata(corpus / "arxiv")[0]
    cache = ExtractCache()
    t = time.perf_counter()
    cold = extract_papers(docs, meta, cache=cache)
    cold_s = time.perf_counter() - t
    t = time.perf_counter()
    warm = extract_papers(docs, meta, cache=cache)
    warm_s = time.perf_counter() - t
    assert warm.papers == cold.papers and warm.spans == cold.spans
    several = sum(len({m.digest_id.split("-")[0] for m in p.mentions}) > 1
                  for p in cold.papers.values())  # copy prefix "c0001-" of the digest ids
    stats = cold.stats
    return {"digests": len(docs), "papers": len(cold.papers), "records": len(meta),
            "papers_in_several_copies": several,
            "mentions": stats["mentions"], "comparisons": stats["comparisons"],
            "comparisons_per_mention": round(stats["comparisons"] / stats["mentions"], 3),
            "cold_s": round(cold_s, 3), "warm_s": round(warm_s, 3),
            "cold_ms_per_digest": round(1000 * cold_s / len(docs), 2),
            "warm_ms_per_digest": round(1000 * warm_s / len(docs), 2),
            "digests_read_warm": cache.misses - len(docs)}


def baseline(ref: str, corpora: dict[int, Path], work: Path) -> dict:
    """The extraction of git ``ref`` on each corpus, in a subprocess importing that commit."""
    src = work / "baseline"
    src.mkdir()
    archive = subprocess.run(["git", "archive", ref, "rag"], cwd=ROOT, capture_output=True,
                             check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(src)], input=archive, check=True)
    out = {}
    for n, corpus in corpora.items():
        run = subprocess.run([sys.executable, "-c", _BASELINE_SCRIPT, str(corpus)], cwd=src,
                             env={**os.environ, "PYTHONPATH": str(src)}, capture_output=True,
                             text=True, check=True, timeout=3600)
        r = json.loads(run.stdout.strip().splitlines()[-1])
        r["ms_per_digest"] = round(1000 * r["seconds"] / n, 2)
        r["seconds"] = round(r["seconds"], 3)
        out[n] = r
        print(f"  baseline {ref} N={n}: {r['seconds']:.2f} s, {r['comparisons']} comparisons")
    return out


@contextmanager
def _timing(acc: dict[str, float], calls: dict[str, int]) -> Iterator[None]:
    """Time build_index's stages (and count digests read) by wrapping what it calls."""
    targets = [(rag_index, n) for n in ("load_corpus", "load_metadata", "extract_papers",
                                        "chunk_corpus", "paper_profiles", "_previous_vectors",
                                        "_reusable", "folder_checksums", "_write_json")]
    targets += [(LexicalIndex, "build"), (LexicalIndex, "save"), (extract_cache, "digest_finds")]
    saved = [(obj, name, getattr(obj, name)) for obj, name in targets]

    def wrap(obj: object, name: str, f):
        name = f"{obj.__name__}.{name}" if isinstance(obj, type) else name
        @functools.wraps(f)
        def timed(*a, **k):
            t = time.perf_counter()
            try:
                return f(*a, **k)
            finally:
                acc[name] = acc.get(name, 0.0) + time.perf_counter() - t
                calls[name] = calls.get(name, 0) + 1
        return timed

    for obj, name, f in saved:
        setattr(obj, name, wrap(obj, name, f))
    try:
        yield
    finally:
        for obj, name, f in saved:
            setattr(obj, name, f)


def edit_benchmark(n: int, corpus: Path, work: Path) -> dict:
    """First build, unchanged re-index and one-edited-digest re-index of ``corpus``."""
    settings = Settings(corpus_dir=corpus, index_dir=work / "index", model="hashing-256")
    emb = HashingEmbedder(256)
    out: dict = {"digests": n}
    for step in ("first_build", "unchanged", "one_edited"):
        if step == "one_edited":
            target = sorted(corpus.glob("*.txt"))[n // 2]
            target.write_text(target.read_text(encoding="utf-8") + EDIT, encoding="utf-8")
        acc: dict[str, float] = {}
        calls: dict[str, int] = {}
        with _timing(acc, calls):
            t = time.perf_counter()
            rep = build_index(settings, emb, progress=False)
            seconds = time.perf_counter() - t
        out[step] = {"seconds": round(seconds, 2), "up_to_date": rep.up_to_date,
                     "embedded": rep.embedded, "digests_read": calls.get("digest_finds", 0),
                     "stages_s": {k: round(v, 2) for k, v in sorted(acc.items())
                                  if k != "digest_finds"}}
        print(f"  {step}: {seconds:.2f} s, {calls.get('digest_finds', 0)} digests read")
    out["cache_file_mb"] = round((work / "index" / extract_cache.CACHE_FILE).stat().st_size
                                 / 1e6, 2)
    return out


def markdown(r: dict) -> str:
    """The "## Extraction at scale" section of eval/RESULTS.md."""
    lines = [SECTION, "", "Command: `python -m eval.extraction_scale` "
             f"({r['machine']}, {r['date']}; the machine was shared with other jobs, so times "
             "are upper bounds). Corpora: N distinct digests from `eval/scale_corpus.py` (copies"
             " of the 5 seed digests with the words of every title, short name, author, arXiv "
             "id and URL renamed per copy, except words the extraction heuristics name; each "
             "copy yields the seed's 78 papers, none merges across copies) and their arXiv "
             "snapshot (74 records per copy). Cold: every digest read; warm: every digest's "
             "finds from the extraction cache and all papers merged anew, which is what a "
             "re-index after an edit pays. Comparisons per mention still grow slowly: title "
             "skeletons made of kept words (\"... Machine Learning Models for Medical "
             "Imaging\") recur in every copy and share a blocking key, as similar titles would "
             "in a real corpus; all pairs grows with every paper found.", "",
             "| digests | papers | comparisons / mention | cold s | cold ms / digest | "
             "warm s (cache) | warm ms / digest | all-pairs (before) s | all-pairs "
             "comparisons |", "|---|---|---|---|---|---|---|---|---|"]
    base = r.get("baseline", {})
    for row in r["extraction"]:
        b = base.get(str(row["digests"])) or base.get(row["digests"]) or {}
        lines.append(f"| {row['digests']} | {row['papers']} | {row['comparisons_per_mention']}"
                     f" | {row['cold_s']} | {row['cold_ms_per_digest']} | {row['warm_s']} | "
                     f"{row['warm_ms_per_digest']} | {b.get('seconds', '-')} | "
                     f"{b.get('comparisons', '-')} |")
    f = r["fit"]
    lines += ["", f"Fitted exponent of time against N: cold **{f['cold']}**, warm "
              f"{f['warm']}" + (f", all-pairs before {f['baseline']}" if f.get("baseline")
                                else "") + " (target: cold <= 1.1)."]
    e = r.get("edit")
    if e:
        one = e["one_edited"]
        lines += ["", f"`build_index` at {e['digests']} digests (hashing embedder, 256): first "
                  f"build {e['first_build']['seconds']} s, unchanged re-index "
                  f"{e['unchanged']['seconds']} s, **one edited digest {one['seconds']} s** "
                  f"({one['digests_read']} digest read again, {one['embedded']} chunks "
                  "embedded; target <= 10 s). Where the edited build's time goes (s): " +
                  ", ".join(f"{k} {v}" for k, v in one["stages_s"].items()) +
                  f". Extraction cache: {e['cache_file_mb']} MB."]
    return "\n".join(lines) + "\n\n"


def plot(r: dict, path: Path) -> None:
    """Time and time per digest against N, log-log, before and after."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = r["extraction"]
    ns = [x["digests"] for x in rows]
    base = sorted((int(k), v) for k, v in r.get("baseline", {}).items())
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 4))
    a.loglog(ns, [x["cold_s"] for x in rows], "o-", label="blocked, cold")
    a.loglog(ns, [x["warm_s"] for x in rows], "s-", label="blocked, warm (cache)")
    b.semilogx(ns, [x["cold_ms_per_digest"] for x in rows], "o-", label="blocked, cold")
    b.semilogx(ns, [x["warm_ms_per_digest"] for x in rows], "s-", label="blocked, warm")
    if base:
        a.loglog([k for k, _ in base], [v["seconds"] for _, v in base], "x--",
                 label="all-pairs (before)")
        b.semilogx([k for k, _ in base], [v["ms_per_digest"] for _, v in base], "x--",
                   label="all-pairs (before)")
    a.set(xlabel="digests", ylabel="extraction seconds", title="Paper extraction time")
    b.set(xlabel="digests", ylabel="ms per digest", title="Time per digest")
    for ax in (a, b):
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m eval.extraction_scale",
                                description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", default="5,50,150,500,1000,2000")
    p.add_argument("--baseline-sizes", default="5,50,150",
                   help="sizes the all-pairs extraction of --baseline-ref runs at ('' skips; "
                   "500 takes ~5 min)")
    p.add_argument("--baseline-ref", default=BASELINE_REF)
    p.add_argument("--edit-size", type=int, default=1000, help="0 skips the build benchmark")
    p.add_argument("--out", type=Path, default=EVAL / "results" / "extraction_scale.json")
    p.add_argument("--no-report", action="store_true", help="JSON only, no RESULTS.md / plot")
    p.add_argument("--from-json", action="store_true",
                   help="measure nothing: write RESULTS.md and the plot from --out")
    args = p.parse_args(argv)
    if args.from_json:
        r = json.loads(args.out.read_text(encoding="utf-8"))
        replace_section(EVAL / "RESULTS.md", SECTION, markdown(r))
        plot(r, EVAL / "plots" / "extraction_scale.png")
        return 0
    sizes = [int(x) for x in args.sizes.split(",") if x]
    base_sizes = [int(x) for x in args.baseline_sizes.split(",") if x]
    r: dict = {"machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} "
               "cores", "date": time.strftime("%Y-%m-%d"), "extraction": []}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        corpora = {n: distinct_corpus(n, work / f"corpus-{n}") for n in sorted(set(sizes) |
                                                                           set(base_sizes))}
        for n in sizes:
            row = measure(n, corpora[n])
            r["extraction"].append(row)
            print(f"N={n}: cold {row['cold_s']:.2f} s ({row['cold_ms_per_digest']} ms/digest), "
                  f"warm {row['warm_s']:.2f} s, {row['comparisons_per_mention']} "
                  "comparisons/mention")
        if base_sizes:
            r["baseline"] = baseline(args.baseline_ref, {n: corpora[n] for n in base_sizes},
                                     work)
        if args.edit_size:
            r["edit"] = edit_benchmark(args.edit_size, distinct_corpus(
                args.edit_size, work / "edit-corpus"), work / "edit")
    rows = r["extraction"]
    r["fit"] = {"cold": fit_exponent(sizes, [x["cold_s"] for x in rows]),
                "warm": fit_exponent(sizes, [x["warm_s"] for x in rows]),
                "baseline": fit_exponent(base_sizes, [r["baseline"][n]["seconds"]
                                                      for n in base_sizes]) if base_sizes
                else None}
    print("fitted exponents:", r["fit"])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(r, indent=1), encoding="utf-8")
    if not args.no_report:
        replace_section(EVAL / "RESULTS.md", SECTION, markdown(r))
        plot(r, EVAL / "plots" / "extraction_scale.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
