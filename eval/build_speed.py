"""Build speed: a first build against a pure encode of the same texts, in one run.

    python -m eval.build_speed                 # 5 and 50 distinct digests, the bundled MiniLM
    python -m eval.build_speed --digests 5     # one size only

Issue 13's target: a first build takes at most 1.1x the time the model needs to encode the
build's texts on their own (model load excluded from both). For each size, a corpus of N
distinct digests (:mod:`eval.scale_corpus`) is built from scratch into an empty index folder
with the product's ``build_index`` (parsing, extraction, chunking, one encode call over all
new texts, FAISS and BM25, atomic write), and the same texts, in the same order, are encoded
by the same loaded model with a bare ``encode`` call before and after the build (the mean of the
two is the baseline: the machine is shared, so the build is bracketed by its baseline). The
model is loaded once, before anything is timed. Writes eval/results/build_speed.json and the
"Build speed" section of eval/RESULTS.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from rag import Settings  # noqa: E402
from rag.index.build import build_index  # noqa: E402
from rag.index.embed import embedder_from_settings  # noqa: E402
from rag.index.load import load_index  # noqa: E402

from .report import publish  # noqa: E402
from .scale_corpus import distinct_corpus  # noqa: E402

HERE = Path(__file__).resolve().parent
OUT = HERE / "results" / "build_speed.json"
SECTION = "## Build speed"
TARGET = 1.1


def measure(n_digests: int, embedder: object, settings: Settings, work: Path) -> dict:
    """Pure encode, first build, pure encode again, of one corpus of ``n_digests`` digests."""
    corpus = distinct_corpus(n_digests, work / f"corpus-{n_digests}")
    s = settings.model_copy(update={"corpus_dir": corpus,
                                    "index_dir": work / f"index-{n_digests}"})
    # the texts the build will encode: build once with a throwaway index to learn them
    report = build_index(s, embedder, progress=False)
    texts = list(dict.fromkeys(c.embed_text for c in load_index(s).chunks))
    pure = []
    t = time.perf_counter()
    embedder.encode(texts)
    pure.append(time.perf_counter() - t)
    s2 = s.model_copy(update={"index_dir": work / f"index-{n_digests}-timed"})
    report = build_index(s2, embedder, progress=False)
    t = time.perf_counter()
    embedder.encode(texts)
    pure.append(time.perf_counter() - t)
    baseline = sum(pure) / 2
    return {"digests": n_digests, "chunks": report.chunks, "texts_encoded": report.embedded,
            "distinct_texts": len(texts), "build_s": round(report.seconds, 3),
            "build_encode_s": round(report.encode_seconds, 3),
            "pure_encode_s": [round(x, 3) for x in pure],
            "ratio": round(report.seconds / baseline, 3),
            "ratio_vs_slower_pure": round(report.seconds / max(pure), 3)}


def markdown(res: dict) -> str:
    """The RESULTS.md section."""
    rows = [SECTION, "",
            f"Command: `python -m eval.build_speed` ({res['when']}, {res['cpus']} CPUs, model "
            f"`{res['model']}`, loaded before anything is timed; timings on these machines "
            "are noisy, so each build is bracketed by a pure encode of the same texts just "
            "before and just after it). A first build into an empty index folder: parsing, "
            "paper extraction, chunking, one encode call over every distinct text, FAISS + BM25, "
            "checksums and the atomic write. Target: build <= 1.1x pure encode. 1-minute load "
            f"average at the end: {res.get('load_avg_end', ['?'])[0]:.1f} on {res['cpus']} "
            "CPUs (an idle machine encodes about 45 texts/s; a loaded one far fewer, and then "
            "the ratio says only that parsing, extraction and writing are small beside "
            "encoding).", "",
            "| digests | chunks | texts encoded | first build s | of which encode s | "
            "pure encode s (before, after) | build / pure |",
            "|---|---|---|---|---|---|---|"]
    for r in res["sizes"]:
        ok = "" if r["ratio"] <= TARGET else " ✗"
        rows.append(f"| {r['digests']} | {r['chunks']} | {r['texts_encoded']} | {r['build_s']} | "
                    f"{r['build_encode_s']} | {r['pure_encode_s'][0]}, {r['pure_encode_s'][1]} | "
                    f"**{r['ratio']}**{ok} |")
    return "\n".join(rows) + "\n"


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(prog="python -m eval.build_speed",
                                description=__doc__.split("\n")[0])
    p.add_argument("--digests", type=int, nargs="*", default=[5, 50])
    p.add_argument("--no-write", action="store_true", help="print only")
    args = p.parse_args(argv)
    settings = Settings()
    embedder = embedder_from_settings(settings)
    prepare = getattr(embedder, "prepare", None)
    if callable(prepare):
        prepare()
    embedder.encode(["warm up the model"])
    with tempfile.TemporaryDirectory(prefix="build-speed-") as tmp:
        sizes = [measure(n, embedder, settings, Path(tmp)) for n in args.digests]
    res = {"when": f"{dt.datetime.now():%Y-%m-%d %H:%M}", "cpus": os.cpu_count(),
           "model": settings.model, "load_avg_end": os.getloadavg(), "sizes": sizes}
    print(json.dumps(res, indent=1))
    if not args.no_write:
        publish(res, OUT, SECTION, markdown(res))
    return res


if __name__ == "__main__":
    main()
