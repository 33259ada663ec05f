"""Forms the test3 half showed were mishandled (issue 11), in sentences of their own: question
titles, author lists in parentheses, citations of older works, "Name: Title" after an arXiv id,
posts and metrics that are not papers, and a year taken for coverage."""

from __future__ import annotations

from rag.extract.mentions import sentence_mentions
from rag.text import sentences


def _found(text: str) -> list[tuple[str, str | None, str | None]]:
    return [(m.kind, m.title, m.authors) for m in sentence_mentions(text, "d", 0)]


def test_a_question_title_is_one_title_and_a_question_is_two_sentences() -> None:
    assert _found("Can Tiny Models Plan? Search-Guided Decoding for Small Language Models "
                  "shows that they can.") == [
        ("title", "Can Tiny Models Plan? Search-Guided Decoding for Small Language Models", None)]
    assert sentences("Does it scale? The authors show it does.") == [
        "Does it scale?", "The authors show it does."]
    assert sentences("Why Does It Work? We find that it does.") == [
        "Why Does It Work?", "We find that it does."]
    quoted = _found("“Is Retrieval Enough? A Study of Forty Open Benchmarks” is the question "
                    "Ada Kovacs and Bo Lind (KTH) ask.")
    assert quoted == [("title", "Is Retrieval Enough? A Study of Forty Open Benchmarks",
                       "Ada Kovacs and Bo Lind")]


def test_authors_listed_in_parentheses_after_the_title() -> None:
    assert _found("GridMix: Mixing Weather Grids for Sparse Stations (Rita Alves, Tom Berg, "
                  "Ona Ruiz) trains on reanalysis.") == [
        ("title", "GridMix: Mixing Weather Grids for Sparse Stations",
         "Rita Alves, Tom Berg, Ona Ruiz")]
    # the names in parentheses are the authors; what comes before them ends the title
    got = _found("PairSet: A Corpus of Matched Radar and Gauge Observations (Lea Vogel, "
                 "Ivo Kral) pairs two sensors.")
    assert got == [("title", "PairSet: A Corpus of Matched Radar and Gauge Observations",
                    "Lea Vogel, Ivo Kral")]


def test_a_citation_of_an_older_work_is_not_a_paper() -> None:
    assert _found("Since FlowNet (Dosovitskiy et al., 2015) showed it, the field moved on.") == []


def test_a_coined_head_before_the_title_is_kept() -> None:
    got = _found("arXiv:2601.01234 — RadarBEV: Fusing Radar into Bird's-Eye-View Grids, from "
                 "Ana Lopez and Bo Chen at the University of Porto, adds radar.")
    assert got[0][1] == "RadarBEV: Fusing Radar into Bird's-Eye-View Grids"


def test_a_long_title_with_its_acronym_then_by_authors_is_a_paper() -> None:
    got = _found("Sparse Mixture Routing for Long Context Language Models (SMR), by Ana Lopez "
                 "and Bo Chen of Inria, routes tokens.")
    assert got == [("title", "Sparse Mixture Routing for Long Context Language Models",
                    "Ana Lopez and Bo Chen")]


def test_posts_dates_metrics_and_initials_are_not_papers() -> None:
    assert _found('Related posts: "Scaling notes for small labs" (January 31, 2026).') == []
    assert _found("Previously in The Model Desk: 25 April 2026 (LLM rankers).") == []
    assert _found("It reports a 7.5% gain in NDCG@5 on the Foursquare and Gowalla sets.") == []
    assert all(a != "A." for _, _, a in _found("Graph Proof Search (GPS), by Volkov, D. and "
                                              "Tanaka, A. (University of Tokyo), splits proofs."))


def test_the_digests_own_title_repeated_as_a_heading_is_not_a_paper(tmp_path) -> None:  # noqa: ANN001
    from rag.corpus.ingest import load_corpus
    from rag.extract.mentions import digest_finds

    (tmp_path / "post.md").write_text(
        "---\ntitle: \"The Model Desk: Sparse Routing, Honest Ensembles and Alpine Grids\"\n"
        "date: 2026-05-02\n---\n\n# The Model Desk: Sparse Routing, Honest Ensembles and Alpine "
        "Grids\n\nSparse Mixture Routing for Long Context Language Models, by Ana Lopez and Bo "
        "Chen (Inria), routes tokens to experts.\n", encoding="utf-8")
    doc = load_corpus(tmp_path)[0][0]
    titles = [m.title for m in digest_finds(doc).mentions if m.title]
    assert titles == ["Sparse Mixture Routing for Long Context Language Models"]


def test_a_year_in_the_question_is_no_evidence_of_coverage(seed_fake) -> None:  # noqa: ANN001
    """Every digest carries its year in dates and footers: "the 2026 World Cup" must not
    count "2026" as a question term the corpus covers (test3's off-topic question)."""
    import dataclasses

    r = seed_fake.retrieve("Who won the 2026 FIFA World Cup?")
    assert "2026" in r.query.terms
    with_year = seed_fake.answerer.coverage(r.query, list(r.hits), r.vector)
    without = dataclasses.replace(r.query, terms=tuple(t for t in r.query.terms if t != "2026"))
    plain = seed_fake.answerer.coverage(without, list(r.hits), r.vector)
    assert (with_year.term_coverage, with_year.absent_share) == \
        (plain.term_coverage, plain.absent_share)
