"""Fuzzing every reader with Hypothesis, each case under a time bound.

The inputs (``eval/fuzz_inputs.py``) are those of ``python -m eval.robustness``: digest-like
lines, long repetitions, random bytes, mutations of real files, JSON nested or typed wrongly;
a few hundred per reader here, over 10,000 in the benchmark. Each case runs in a worker of
:class:`rag.corpus.parse_pool.ParsePool`, so a hang fails the test after ``CASE_TIMEOUT`` seconds
instead of hanging CI. A reader may accept a file or refuse it with a DocumentError that names
the file and the fix; any other exception, or a timeout, is a bug. Derandomized: CI sees the
same cases every run.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eval.fuzz_inputs import READERS, job
from rag.corpus.ingest import load_corpus
from rag.corpus.paper_texts import load_paper_texts
from rag.corpus.parse_pool import ParsePool
from rag.corpus.safe_read import Limits
from rag.extract.metadata import load_metadata

pytestmark = pytest.mark.slow  # hypothesis fuzzing: left out by `make test-fast`

CASE_TIMEOUT = 20.0
LIMITS = Limits(parse_timeout_s=CASE_TIMEOUT)
CORPUS = Path(__file__).resolve().parents[1] / "corpus"
FUZZ = settings(database=None, deadline=None, derandomize=True,
                suppress_health_check=list(HealthCheck))


@pytest.fixture(scope="module")
def pool() -> ParsePool:
    with ParsePool(workers=2, timeout_s=CASE_TIMEOUT) as p:
        yield p


@pytest.mark.parametrize("reader", list(READERS))
@settings(FUZZ, max_examples=150)
@given(data=st.data())
def test_reader_accepts_or_refuses_by_name_and_never_hangs(pool: ParsePool, reader: str,
                                                           data: st.DataObject) -> None:
    name, func, kind, strategy = READERS[reader]
    raw = data.draw(strategy, label="file bytes")
    (out,) = pool.run(func, [job(reader, raw, LIMITS)])
    assert out.status in ("ok", "refused"), f"{reader}: {out.status}: {out.reason}"
    if out.status == "refused":
        assert out.reason.startswith(f"{name}:") and "Fix:" in out.reason, out.reason
        return
    value, warnings = out.value
    assert all(name in w for w in warnings), warnings
    if kind == "digest":
        assert max(len(p.text) for p in value.passages) <= LIMITS.max_passage_chars
        assert value.passages and all(p.text.strip() for p in value.passages)


@settings(FUZZ, max_examples=20)
@given(data=st.data())
def test_loaders_never_raise_and_account_for_every_file(tmp_path_factory: pytest.TempPathFactory,
                                                        data: st.DataObject) -> None:
    corpus = tmp_path_factory.mktemp("fuzz") / "corpus"
    shutil.copytree(CORPUS, corpus)
    (corpus / "papers").mkdir()
    names = []
    for reader, (name, _, kind, strategy) in READERS.items():
        folder = {"digest": corpus, "paper": corpus / "papers", "meta": corpus / "arxiv"}[kind]
        (folder / f"x-{name}").write_bytes(data.draw(strategy, label=reader))
        names.append((kind, f"x-{name}"))
    docs, w1 = load_corpus(corpus, LIMITS)  # raises nothing: the seeds always load
    texts, w2 = load_paper_texts(corpus, LIMITS)
    _, w3 = load_metadata(corpus / "arxiv", LIMITS)
    said = " ".join(w1 + w2 + w3)
    loaded = {Path(d.digest.path).name for d in docs} | {t.origin for t in texts}
    assert len([d for d in docs if not d.digest.id.startswith("x-")]) == 5
    for kind, fname in names:
        if kind == "digest":
            assert fname in loaded or fname in said, fname
    assert "took longer" not in said and "could not be parsed" not in said, said
