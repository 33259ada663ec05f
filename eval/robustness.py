"""Robustness benchmark: fuzzed and known-bad files against every reader and loader.

Hypothesis generates inputs for each reader (plain-text, Markdown, HTML and PDF digests;
paper PDFs, JSONL and BibTeX abstract files; arXiv metadata JSONL) with the strategies of
:mod:`eval.fuzz_inputs`. Each input is run three ways:

1. reader: the file's parser alone, in a worker of :class:`rag.corpus.parse_pool.ParsePool` with a
   per-case time bound (``--case-timeout``): ``ok``, ``refused`` (a DocumentError naming the
   file and the fix), ``failed`` (any other exception: a parser bug the loaders contain) or
   ``timeout`` (a hang);
2. loader: batches of inputs written into a corpus folder beside the seed digests, loaded by
   ``load_corpus``, ``load_paper_texts`` and ``load_metadata`` as a build does: an exception
   escaping them is an aborted build; every input must be loaded or named in a warning, and
   the seed digests must load unchanged;
3. downstream: every few batches' digests through paper extraction and chunking (in a worker,
   under ``DOWNSTREAM_TIMEOUT_S``): no chunk may be longer than ``max_chunk_chars``.

The bad-input table of ``tests/test_bad_inputs.py`` runs through the loaders too.

    python -m eval.robustness [--per-reader 1250] [--md]
        # writes eval/results/robustness.json; --md also replaces the "Robustness" section of
        # eval/RESULTS.md (needs the test extra: pip install -e '.[test]')
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st
from tqdm.auto import tqdm

from rag.corpus.ingest import load_corpus
from rag.corpus.paper_texts import load_paper_texts
from rag.corpus.parse_pool import ParsePool
from rag.corpus.safe_read import Limits
from rag.extract.metadata import load_metadata
from rag.extract.papers import extract_papers
from rag.index.chunk import chunk_corpus

from .fuzz_inputs import READERS, job

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "corpus"
RESULTS = ROOT / "eval" / "results"
SECTION = "## Robustness"
DOWNSTREAM_TIMEOUT_S = 300.0  # paper extraction and chunking of one batch

def generate(strategy: st.SearchStrategy[bytes], n: int, at: int) -> list[bytes]:
    """``n`` inputs drawn by Hypothesis (reproducible: seeded, no example database)."""
    out: list[bytes] = []

    @seed(at)
    @settings(max_examples=n, database=None, deadline=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(strategy)
    def draw(x: bytes) -> None:
        out.append(x)

    draw()
    return out


# ---------------------------------------------------------------- runs


def _content(reader: str, value: object) -> int | set[str]:
    """What a parse result should bring into the corpus: 1 for a digest, the number of paper
    texts, or the arXiv ids of the metadata records."""
    kind = READERS[reader][2]
    if kind == "digest":
        return 1
    if kind == "paper":
        return len(value[0])  # type: ignore[index]
    return {str(r["arxiv_id"]) for r in value[0]}  # type: ignore[index]


def run_readers(inputs: dict[str, list[bytes]], limits: Limits, case_timeout: float
                ) -> tuple[dict, dict[str, list]]:
    """Phase 1: every input through its parser alone, under the per-case bound. Returns
    (counts per reader, per input: (status, content it should bring))."""
    out: dict = {}
    seen: dict[str, list] = {}
    with ParsePool(workers=2, timeout_s=case_timeout) as pool:
        for reader, datas in inputs.items():
            _, func, _, _ = READERS[reader]
            counts: Counter = Counter()
            failures: list[str] = []
            seen[reader] = []
            for i in tqdm(range(0, len(datas), 50), desc=f"reader {reader}", unit="x50",
                          leave=False):
                chunk = datas[i:i + 50]
                for d, o in zip(chunk, pool.run(func, [job(reader, d, limits) for d in chunk])):
                    counts[o.status] += 1
                    seen[reader].append((o.status, _content(reader, o.value)
                                         if o.status == "ok" else 0))
                    if o.status in ("failed", "timeout") and len(failures) < 10:
                        failures.append(f"{o.status}: {o.reason} (input {d[:80]!r})")
            out[reader] = {"inputs": len(datas), **dict(counts), "examples": failures}
    return out, seen


def _downstream(corpus: str, max_chunk_chars: int) -> dict:
    """Phase 3 body (runs in a worker): load, extract papers, chunk; sizes of the result."""
    docs, _ = load_corpus(Path(corpus), Limits(parse_workers=0))
    chunks = chunk_corpus(docs, extract_papers(docs, []), max_chars=max_chunk_chars)
    return {"chunks": len(chunks), "longest": max((len(c.text) for c in chunks), default=0)}


def run_loaders(inputs: dict[str, list[bytes]], seen: dict[str, list], limits: Limits,
                case_timeout: float, batch: int, downstream_every: int) -> dict:
    """Phases 2 and 3: inputs in batches of ``batch`` files beside the seed corpus. An input
    is lost when its parser alone brought content (phase 1) that the loaders neither loaded
    nor named in a warning."""
    import importlib

    downstream = importlib.import_module("eval.robustness")._downstream  # picklable by name
    seed_docs, _ = load_corpus(CORPUS, limits)
    seed_passages = {d.digest.id: d.passages for d in seed_docs}
    stats: Counter = Counter()
    notes: list[str] = []
    longest = 0
    n = max(map(len, inputs.values()))  # interleaved: every batch holds every reader's inputs
    flat = [(r, i, inputs[r][i]) for i in range(n) for r in inputs if i < len(inputs[r])]
    with tempfile.TemporaryDirectory() as tmp, ParsePool(1, DOWNSTREAM_TIMEOUT_S) as pool:
        for b in tqdm(range(0, len(flat), batch), desc="loaders", unit="batch"):
            corpus = Path(tmp) / f"c{b}"
            shutil.copytree(CORPUS, corpus)
            (corpus / "papers").mkdir()
            names = []
            for reader, i, data in flat[b:b + batch]:
                name, _, kind, _ = READERS[reader]
                folder = {"digest": corpus, "paper": corpus / "papers",
                          "meta": corpus / "arxiv"}[kind]
                fname = f"f{i}-{name}"
                (folder / fname).write_bytes(data)
                names.append((fname, seen[reader][i]))
            t0 = time.perf_counter()
            warnings: list[str] = []
            origins: Counter = Counter()
            ids: set[str] = set()
            for what, load in (("digest", lambda: load_corpus(corpus, limits)),
                               ("paper", lambda: load_paper_texts(corpus, limits)),
                               ("meta", lambda: load_metadata(corpus / "arxiv", limits))):
                try:
                    got, warns = load()
                except Exception as err:  # an aborted build: what this benchmark counts
                    stats["aborted"] += 1
                    notes.append(f"batch {b} {what}: {type(err).__name__}: {err}"[:300])
                    continue
                warnings += warns
                if what == "digest":
                    origins.update(Path(d.digest.path).name for d in got)
                    stats["seed_changed"] += sum(
                        seed_passages.get(d.digest.id, d.passages) != d.passages for d in got)
                elif what == "paper":
                    origins.update(t.origin for t in got)
                else:
                    ids |= {str(r["arxiv_id"]) for r in got}
            stats["loader_seconds_max"] = max(stats["loader_seconds_max"],
                                              round(time.perf_counter() - t0, 2))
            said = " ".join(warnings)
            for fname, (status, content) in names:
                stats["inputs"] += 1
                warned = fname in said
                stats["warned"] += warned
                brought = (content <= ids) if isinstance(content, set) else (
                    origins[fname] == content)
                stats["loaded"] += bool(content) and brought
                if (status == "ok" and not brought) or (status != "ok" and not warned):
                    stats["lost"] += 1
                    notes.append(f"lost: {fname} ({status}, {content!r:.80})")
                stats["guard_timeouts"] += f"skipped {fname}: took longer" in said
                stats["contained_bugs"] += f"skipped {fname}: could not be parsed" in said
            if (b // batch) % downstream_every == 0:
                stats["downstream_batches"] += 1
                t1 = time.perf_counter()
                (down,) = pool.run(downstream, [(str(corpus), 1200)])
                stats["downstream_seconds_max"] = max(stats["downstream_seconds_max"],
                                                      round(time.perf_counter() - t1, 1))
                if down.status == "ok":
                    longest = max(longest, down.value["longest"])
                else:
                    stats[f"downstream_{down.status}"] += 1
                    notes.append(f"batch {b} downstream {down.status}: {down.reason}"[:300])
            shutil.rmtree(corpus)
    return {**dict(stats), "longest_chunk": longest, "notes": notes[:20]}


def run_table(limits: Limits) -> dict:
    """The bad-input table of tests/test_bad_inputs.py through the three loaders at once."""
    sys.path.insert(0, str(ROOT))
    from tests.test_bad_inputs import TABLE, load_all, make_corpus

    with tempfile.TemporaryDirectory() as tmp:
        try:
            docs, texts, meta, warnings = load_all(make_corpus(Path(tmp), TABLE), limits)
        except Exception as err:  # an aborted build
            return {"rows": len(TABLE), "aborted": 1, "error": f"{type(err).__name__}: {err}"}
    named = sum(sum(r.name in w and r.expect in w for w in warnings) == 1
                for r in TABLE if r.expect)
    return {"rows": len(TABLE), "aborted": 0, "rows_expecting_a_warning":
            sum(1 for r in TABLE if r.expect), "warned_once_as_expected": named,
            "digests_loaded": len(docs), "paper_texts": len(texts), "metadata_records": len(meta)}


def markdown(r: dict) -> str:
    """The "Robustness" section of eval/RESULTS.md."""
    import textwrap

    def para(text: str) -> str:
        return textwrap.fill(" ".join(text.split()), 96)

    rd, ld, tb = r["readers"], r["loaders"], r["table"]
    rows = "\n".join(
        f"| {k} | {v['inputs']} | {v.get('ok', 0)} | {v.get('refused', 0)} | "
        f"{v.get('failed', 0)} | {v.get('timeout', 0)} |" for k, v in rd.items())
    intro = para(f"""Produced by `python -m eval.robustness` on {r['at']} ({r['cpus']} CPUs) in
        {r['seconds']:.0f} s; every figure is in `eval/results/robustness.json`.
        {r['total_inputs']:,} inputs drawn by Hypothesis (seeded) for the eight readers:
        digest-like lines built from the tokens the parsers look for, long repetitions of them
        (up to {r['largest_input_bytes'] / 2**20:.1f} MB), random bytes, byte mutations of real
        digests and of a PDF, JSON nested up to 200,000 deep or of the wrong types. Each case
        runs alone in a parser process (`rag.corpus.parse_pool`) under a {r['case_timeout']:g} s
        bound.""")
    loaders = para(f"""Loaders (`load_corpus`, `load_paper_texts`, `load_metadata`, as a build
        calls them), the same inputs in batches of {r['batch']} files beside the seed corpus:
        **{ld.get('aborted', 0)} aborted builds, {ld.get('guard_timeouts', 0)} hangs** (files
        the per-file time limit had to stop), {ld.get('contained_bugs', 0)} parser exceptions
        caught by the per-file guard, {ld.get('lost', 0)} inputs lost (neither loaded nor named
        in a warning), {ld.get('seed_changed', 0)} seed digests changed; slowest batch
        {ld.get('loader_seconds_max', 0)} s. Paper extraction and chunking, which run after
        parsing and outside its time limit, on 1 batch in {r['downstream_every']}
        ({ld.get('downstream_batches', 0)} batches, bound {DOWNSTREAM_TIMEOUT_S:g} s each):
        {ld.get('downstream_timeout', 0)} over the bound, {ld.get('downstream_failed', 0)}
        failures, slowest {ld.get('downstream_seconds_max', 0)} s, longest chunk
        {ld.get('longest_chunk', 0)} characters (limit 1,200).""")
    table = para(f"""The bad-input table of `tests/test_bad_inputs.py` ({tb['rows']} files,
        all in one corpus): {tb['aborted']} aborted, {tb.get('warned_once_as_expected', 0)} of
        {tb.get('rows_expecting_a_warning', 0)} bad files named in exactly one warning with
        the reason and the fix; {tb.get('digests_loaded', 0)} digests loaded (the five seeds
        and the readable rows: UTF-16/32, a 1 MB line, text over the limit),
        {tb.get('paper_texts', 0)} paper texts and {tb.get('metadata_records', 0)} metadata
        records (the good entries and lines beside bad ones included).""")
    return (f"{SECTION}\n\n{intro}\n\n| reader | inputs | ok | refused (named, with a fix) "
            f"| failed (a bug, contained) | timeout |\n|---|---|---|---|---|---|\n{rows}\n\n"
            f"{loaders}\n\n{table}\n")


def main(argv: list[str] | None = None) -> dict:
    """Run the benchmark; write eval/results/robustness.json (and RESULTS.md with --md)."""
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--per-reader", type=int, default=1250, help="inputs per reader")
    p.add_argument("--case-timeout", type=float, default=20.0, help="seconds per case")
    p.add_argument("--batch", type=int, default=100, help="files per loader batch")
    p.add_argument("--downstream-every", type=int, default=4,
                   help="run paper extraction and chunking on every n-th batch")
    p.add_argument("--md", action="store_true", help="replace the section in RESULTS.md")
    args = p.parse_args(argv)
    t0 = time.perf_counter()
    limits = Limits(parse_timeout_s=args.case_timeout)
    inputs = {name: generate(strategy, args.per_reader, 1000 + i)
              for i, (name, (_, _, _, strategy)) in enumerate(
                  tqdm(READERS.items(), desc="drawing inputs", unit="reader"))}
    r = {"at": dt.datetime.now().isoformat(timespec="seconds"), "cpus": os.cpu_count(),
         "case_timeout": args.case_timeout, "batch": args.batch,
         "total_inputs": sum(map(len, inputs.values())),
         "largest_input_bytes": max(len(d) for v in inputs.values() for d in v)}
    r["readers"], seen = run_readers(inputs, limits, args.case_timeout)
    r["loaders"] = run_loaders(inputs, seen, limits, args.case_timeout, args.batch,
                               args.downstream_every)
    r["downstream_every"] = args.downstream_every
    r["table"] = run_table(Limits())
    r["seconds"] = round(time.perf_counter() - t0, 1)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "robustness.json").write_text(json.dumps(r, indent=1) + "\n", encoding="utf-8")
    md = markdown(r)
    if args.md:
        from .report import replace_section

        replace_section(ROOT / "eval" / "RESULTS.md", SECTION, md)
    print(md)
    return r


if __name__ == "__main__":
    main()
