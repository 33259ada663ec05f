"""Forms the test4 half showed were mishandled (issue 11), in sentences of our own: a coined
name heading a title in a bullet, a topic word before a bullet's label, authors after a dash
or joined by "&", "Guided by X" inside a title, titles holding "x86-64", "2,000" or "1.3B",
question titles and "From ...: ..." titles kept whole, and things that are not papers ("the
X et al. suite", "Work from X", a bullet label that is a sentence, a run of figures)."""

from __future__ import annotations

from pathlib import Path

from rag.extract.mentions import sentence_mentions
from tests.test_extraction_phrasing import HEAD, extract


def _found(text: str) -> list[tuple[str, str | None, str | None, list[str]]]:
    return [(m.kind, m.title, m.authors, list(m.institutions))
            for m in sentence_mentions(text, "d", 0)]


def _papers(folder: Path, name: str, text: str) -> dict[str, tuple[str | None, tuple, tuple]]:
    ps = extract(folder, {name: text})
    return {p.title: (p.short_name, p.authors, p.institutions) for p in ps.papers.values()}


def test_a_coined_name_heads_the_title_of_a_numbered_or_topic_bullet(tmp_path: Path) -> None:
    got = _papers(tmp_path, "d.md", "# Weekly Notes on Robots\n\n*Saturday, March 14, 2026*\n\n"
                  "## Planning\n\n"
                  "1. **GraspNet-3: Learning Dexterous Grasps from Simulated Clutter**, by Ana "
                  "Lopez and Bo Chen (ETH Zurich). It trains in simulation.\n"
                  "2. **SkillBank: A Library of Reusable Manipulation Skills**, by Karl Weiss "
                  "and Lea Roth (TU Munich). It stores skills.\n\n"
                  "- **Legged robots.** StepWise: Terrain-Aware Footstep Planning with "
                  "Diffusion Policies — by Maria Rossi & Jin Park (KAIST). It plans steps.\n"
                  "- **Drones.** AeroMap-2 : Onboard Mapping for Micro Aerial Vehicles — Lucas "
                  "Meyer and Sara Kim, Georgia Institute of Technology. Maps are built onboard.\n")
    assert got == {
        "GraspNet-3: Learning Dexterous Grasps from Simulated Clutter":
            ("GraspNet-3", ("Ana Lopez and Bo Chen",), ("ETH Zurich",)),
        "SkillBank: A Library of Reusable Manipulation Skills":
            ("SkillBank", ("Karl Weiss and Lea Roth",), ("TU Munich",)),
        "StepWise: Terrain-Aware Footstep Planning with Diffusion Policies":
            ("StepWise", ("Maria Rossi & Jin Park",), ("KAIST",)),
        "AeroMap-2: Onboard Mapping for Micro Aerial Vehicles":
            ("AeroMap-2", ("Lucas Meyer and Sara Kim",), ("Georgia Institute of Technology",))}


def test_authors_after_a_dash_and_a_team_that_proposes_a_laboratory() -> None:
    assert _found("Pour Planning with Liquid Models (Ines Hal, Musa Obi — University of "
                  "Leeds). A protocol is compiled.") == [
        ("title", "Pour Planning with Liquid Models", "Ines Hal, Musa Obi", ["University of Leeds"])]
    got = _found("Researchers from the University of Ghent and the Flux Consortium propose A "
                 "Self-Driving Laboratory for Perovskite Films Guided by Multi-Fidelity "
                 "Surrogates. It saves runs.")
    assert got == [("title", "A Self-Driving Laboratory for Perovskite Films Guided by "
                    "Multi-Fidelity Surrogates", None,
                    ["University of Ghent", "Flux Consortium"])]
    # a participle before "by" in prose is not a title's word: those are still the authors
    assert _found("Sparse Routing for Long Documents, by Ana Lopez and Bo Chen (MIT).") == [
        ("title", "Sparse Routing for Long Documents", "Ana Lopez and Bo Chen", ["MIT"])]


def test_title_boundaries_numbers_questions_heads_and_the_next_subject() -> None:
    cases = {
        "Researchers from Purdue University propose Fast Lifting of Stripped x86-64 Binaries "
        "with Rerun Checks. It recompiles.":
            "Fast Lifting of Stripped x86-64 Binaries with Rerun Checks",
        "Can Models Read Ledgers? A Benchmark of 3,500 Scanned Invoices, by Ana Lopez and Bo "
        "Chen (MIT), tests models.": "Can Models Read Ledgers? A Benchmark of 3,500 Scanned "
                                     "Invoices",
        "Full title: SmallCoder: Distilling a 2.7B Code Model from Tested Synthetic Programs.":
            "SmallCoder: Distilling a 2.7B Code Model from Tested Synthetic Programs",
        "Is Attention Enough? Probing Band Structure Predictors Against Measurements — Ana "
        "Lopez and Bo Chen (NIMS). They collect gaps.":
            "Is Attention Enough? Probing Band Structure Predictors Against Measurements",
        "Their paper, From Comments to Proofs: Writing Loop Invariants for C Programs with "
        "LLMs, reports gains.": "From Comments to Proofs: Writing Loop Invariants for C "
                                "Programs with LLMs",
        "Crop Yield Forecasting Is Mostly Weather: A Second Look at Field Trial Datasets -- "
        "Ana Lopez & Bo Chen, University of Leeds. They rerun trials.":
            "Crop Yield Forecasting Is Mostly Weather: A Second Look at Field Trial Datasets",
        "In Counterfactual Outcome Estimation with Pretrained Table Models, GridPFN is used "
        "as the outcome model.": "Counterfactual Outcome Estimation with Pretrained Table Models",
    }
    for text, title in cases.items():
        assert [t for k, t, *_ in _found(text) if k == "title"] == [title], text


def test_things_named_after_papers_introductions_clauses_and_figures_are_not_papers(
        tmp_path: Path) -> None:
    assert _found("Suites used: OpenML-CC18 and the Okafor et al. suite of shift tasks.") == []
    got = _papers(tmp_path, "d.txt", HEAD + "\n".join([
        "Work from IIT Delhi by Ravi Rao et al., Grid-Constrained Decoding for Table Structure "
        "Recognition, emits cells that always form a grid.",
        "- PairRank (our March issue) has become the usual retrieval baseline: two papers this "
        "week use it.",
        "Field-level F1 is 91.2 on FUNSD and 88.7 on XFUND for the largest model."]) + "\n")
    assert list(got) == ["Grid-Constrained Decoding for Table Structure Recognition"]
    assert got["Grid-Constrained Decoding for Table Structure Recognition"][1] == ("Ravi Rao et al.",)


def test_titles_set_in_bold_or_italics_keep_exactly_their_words(tmp_path: Path) -> None:
    """Emphasis delimits a title (issue 11, the test5 half's most common miss): markdown
    **bold** and *italics*, HTML <b>/<em>; a lowercase first letter is allowed; bold labels
    and page furniture with dates are not titles; the parse cache keeps the spans."""
    from rag.corpus.ingest import parse_digest
    from rag.corpus.parse_cache import decode, encode

    md = ("# Imaging Notes\n\n*Saturday, March 14, 2026*\n\n## Faster scans\n\n"
          "*q-Space Sampling for Faster Diffusion MRI at Eight Shells* — Ana Lopez & Bo Chen, "
          "University of Leeds. The sampler picks shells.\n\n"
          "Wei Zhang and Ona Ruiz (KTH) ask **Do Segmenters Remember Patients? Membership "
          "Tests on Synthetic CT**. They find leaks.\n\n"
          "**Datasets this week:** BraTS, LIDC\n\n"
          "**Next issue: March 28, 2026. Corrections are on the archive page**\n")
    html = ("<html><head><title>Scan Digest</title></head><body><h1>Scan Digest</h1>"
            "<time datetime='2026-03-21'>March 21, 2026</time>"
            "<p>Lea Vogel &amp; Ivo Kral (Charit&eacute;) &mdash; <b>Wait Less, Scan More: "
            "Adaptive Stopping for Cardiac MRI Acquisition</b>. A policy stops early.</p>"
            "</body></html>")
    ps = extract(tmp_path, {"a.md": md, "b.html": html})
    titles = {p.title: p.authors for p in ps.papers.values()}
    assert titles == {
        "q-Space Sampling for Faster Diffusion MRI at Eight Shells": ("Ana Lopez & Bo Chen",),
        "Do Segmenters Remember Patients? Membership Tests on Synthetic CT":
            ("Wei Zhang and Ona Ruiz",),
        "Wait Less, Scan More: Adaptive Stopping for Cardiac MRI Acquisition":
            ("Lea Vogel & Ivo Kral",)}
    doc, warnings = parse_digest(tmp_path / "a.md", (tmp_path / "a.md").read_bytes())
    emphasised = [p.emphasis for p in doc.passages if p.emphasis]
    assert emphasised[0] == ("q-Space Sampling for Faster Diffusion MRI at Eight Shells",)
    assert decode(encode(doc, warnings))[1] == doc.passages


def test_linked_and_emphasised_titles_with_hospital_a_question_or_a_label_head() -> None:
    """An arXiv link's Title Case text is a title even with "Hospital" in it; one emphasised
    question title is one paper, not two; "**4D-Flow: Title**" opening a bullet keeps its
    head (a label)."""
    from rag.extract.mentions import passage_mentions
    from rag.records import Link, Passage

    title = "A Slide Encoder Distilled to 40 Million Parameters for Hospital Servers"
    text = f"{title} — Ana Lopez and Bo Chen, University of Leeds. Teachers are too big."
    p = Passage("d", 0, "", "paragraph", text, (Link(title, "https://arxiv.org/abs/2601.00001"),))
    assert [(m.kind, m.title, m.authors) for m in passage_mentions(p)] == [
        ("title", title, "Ana Lopez and Bo Chen")]
    question = "Do Segmenters Leak Their Patients? Membership Tests on Synthetic CT"
    p = Passage("d", 0, "", "paragraph", f"Researchers from ETH Zurich propose {question}. "
                "Scans leak.", emphasis=(question,))
    assert [m.title for m in passage_mentions(p) if m.kind == "title"] == [question]
    head = "3D-Walk: Monocular Human Motion Capture with Scene-Aware Priors"
    p = Passage("d", 0, "", "bullet", f"{head} (Ravi Rao & Ona Ruiz, University of Oxford). "
                "It tracks.", label="3D-Walk", emphasis=(head,))
    assert [(m.title, m.authors) for m in passage_mentions(p) if m.kind == "title"] == [
        (head, "Ravi Rao & Ona Ruiz")]


def test_question_dates_since_the_start_of_two_months_and_quarters() -> None:
    """How test4's time questions were misread, in other words: "since the start of"
    (open end), "in June and July", quarters."""
    import datetime as dt

    from rag.dates import read_dates

    def span(q: str) -> tuple:
        f = read_dates(q)
        return (f.since, f.until) if f else None

    d = dt.date
    assert span("Anything on audio since the start of June 2026?") == (d(2026, 6, 1), None)
    assert span("Which works came out in June and July 2026?") == (d(2026, 6, 1),
                                                                     d(2026, 7, 31))
    assert span("What appeared in the third quarter of 2026?") == (d(2026, 7, 1),
                                                                     d(2026, 9, 30))
    assert span("Papers from Q4 2025 on retrieval") == (d(2025, 10, 1), d(2025, 12, 31))


def test_a_code_generation_topic_is_not_a_request_for_code_and_a_digest_overview_answers(
        seed_fake) -> None:  # noqa: ANN001
    from rag.answer.query import parse

    assert parse("Which code-generation papers came out?").intent == "list"
    assert parse("Where is the code for the wildfire paper?").intent == "code"
    a = seed_fake.ask("What papers were in the latest digest?")
    newest = max(d.date for d in seed_fake.index.digests.values() if d.date)
    assert not a.abstained and len(a.citations) >= 5
    assert {c.digest.date for c in a.citations} == {newest}
    assert a.lead.startswith(f"{len(a.citations)} papers in the digests (")


def test_a_title_on_its_own_line_and_an_author_line_under_a_linked_heading(
        tmp_path: Path) -> None:
    """test6's forms, in other words: a plain-text bullet whose first line is the title and
    whose next lines are its authors and summary; an <h3> arXiv-linked title over a byline
    "A and B · Institution" or "A and B — Institution"."""
    txt = ("Field Notes on Robots\nSaturday, March 14, 2026\n\n"
           "* Switchback Trials with Spillover: Optimal Block Lengths for Delivery Fleets\n"
           "  Ana Lopez and Bo Chen (Columbia University)\n"
           "  Alternating treatment over time blocks cuts variance by a third.\n")
    html = ("<html><head><title>Rank Notes</title></head><body><h1>Rank Notes</h1>"
            "<time datetime='2026-03-21'>March 21, 2026</time><h2>Rerankers</h2>"
            "<h3><a href='https://arxiv.org/abs/2603.00001'>Pairwise Reranking with Tiny "
            "Models: Distilling a Large Ranker into Few Parameters</a></h3>"
            "<p class='byline'>Ivo Kral and Lea Vogel &middot; Trinity College Dublin</p>"
            "<p>The student keeps most of the teacher's quality.</p></body></html>")
    ps = extract(tmp_path, {"a.txt": txt, "b.html": html})
    got = {p.title: (p.authors, p.institutions) for p in ps.papers.values()}
    assert got == {
        "Switchback Trials with Spillover: Optimal Block Lengths for Delivery Fleets":
            (("Ana Lopez and Bo Chen",), ("Columbia University",)),
        "Pairwise Reranking with Tiny Models: Distilling a Large Ranker into Few Parameters":
            (("Ivo Kral and Lea Vogel",), ("Trinity College Dublin",))}
