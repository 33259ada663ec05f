"""Attribution check: digest authors and institutions against the arXiv metadata."""

from __future__ import annotations

from rag.corpus.ingest import load_corpus
from rag.extract.attribution import attribution_issues
from rag.extract.papers import extract_papers
from rag.extract.metadata import load_metadata
from rag.records import Paper
from tests.conftest import CORPUS


def _seed_papers() -> dict[str, Paper]:
    docs, _ = load_corpus(CORPUS)
    meta, _ = load_metadata(CORPUS / "arxiv")
    return {p.title: p for p in extract_papers(docs, meta).papers.values()}


def test_seed_corpus_flags_the_two_known_cases_and_not_matching_papers() -> None:
    papers = _seed_papers()
    align = next(p for t, p in papers.items() if t.startswith("Align then Adapt"))
    assert any("Author A, B, and C" in i and "placeholder" in i and "Yiding Sun" in i
               for i in align.attribution_issues)
    assert any("University of Example" in i for i in align.attribution_issues)
    nilm = papers["Lightweight and Scalable Transfer Learning Framework for Load Disaggregation"]
    assert any("Kolter" in i and "Garcia-Marrero" in i for i in nilm.attribution_issues)
    # digest authors that match the arXiv list raise no flag
    molre = next(p for p in papers.values() if p.short_name == "MoLRE")
    assert molre.arxiv_authors and molre.authors == ("Yoo et al.",)
    assert molre.attribution_issues == ()
    quantum = next(p for p in papers.values() if p.title.startswith("Hybrid Classical-Quantum"))
    assert quantum.arxiv_authors and quantum.attribution_issues == ()  # MARTÍN-PÉREZ matches
    flagged = {t for t, p in papers.items() if p.attribution_issues}
    assert len(flagged) <= 4  # no flood of false alarms


def test_issue_sentences_name_both_sides() -> None:
    p = Paper("x", "T", authors=("Ann Smith and Bo Chen",), arxiv_authors=("Carla Diaz",))
    (issue,) = attribution_issues(p)
    assert "Ann Smith and Bo Chen" in issue and "Carla Diaz" in issue
    assert attribution_issues(Paper("y", "T", authors=("Diaz et al.",),
                                    arxiv_authors=("Carla Díaz", "E. F."))) == ()
    assert attribution_issues(Paper("z", "T", authors=("Smith et al.",))) == ()  # no metadata
