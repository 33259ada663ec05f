"""Paper texts beside the digests: arXiv abstracts, PDFs, JSONL and BibTeX abstract files,
indexed and cited with labelled two-level evidence."""

from __future__ import annotations

import json
from pathlib import Path

from rag import Assistant
from rag.corpus.paper_texts import load_paper_texts
from rag.index.build import build_index
from rag.index.embed import HashingEmbedder
from tests.test_ingest import make_pdf

MOLRE = "Specializing Foundation Models via Mixture of Low-Rank Experts for Comprehensive Head CT Analysis"
ABSTRACT = ("We calibrate the expert router with a temperature schedule learned on 41 hospitals. "
            "Quokka-shaped lesions were excluded from the evaluation protocol entirely.")


def write_abstract(corpus: Path) -> None:
    (corpus / "arxiv" / "abstracts.jsonl").write_text(json.dumps(
        {"arxiv_id": "2603.00675", "title": MOLRE, "authors": ["Youngjin Yoo"],
         "abstract": ABSTRACT}) + "\n", encoding="utf-8")


def test_abstract_the_digest_never_paraphrases_is_retrieved_and_cited(fake_assistant) -> None:
    write_abstract(Path(fake_assistant.settings.corpus_dir))
    ans = fake_assistant.ask("How many hospitals were used to calibrate the router "
                             "temperature schedule?")
    assert not ans.abstained
    c = ans.citations[0]
    assert c.paper.arxiv_id == "2603.00675" and c.paper.abstract_source == "arXiv"
    quoted = [e for e in c.evidence if e.sentences]
    assert quoted and quoted[0].source == "arxiv" and quoted[0].label == \
        "arXiv abstract 2603.00675"
    assert all(s in c.text for s in c.sentences) and "41 hospitals" in ans.text


def test_digest_citation_carries_the_papers_own_words(fake_assistant) -> None:
    write_abstract(Path(fake_assistant.settings.corpus_dir))
    ans = fake_assistant.ask("Which papers adapt foundation models to head CT with low-rank "
                             "experts?")
    c = next(c for c in ans.citations if c.paper and c.paper.short_name == "MoLRE")
    labels = [(e.source, e.label) for e in c.evidence]
    assert labels[0][0] == "digest" and labels[0][1].startswith("Digest: Transfer Learning")
    assert ("arxiv", "arXiv abstract 2603.00675") in labels  # backing from the paper itself
    assert "Paper text: arXiv abstract 2603.00675" in ans.text


def test_pdf_jsonl_bibtex_sources(tmp_path: Path) -> None:
    papers = tmp_path / "papers"
    papers.mkdir()
    (papers / "glacier.pdf").write_bytes(make_pdf([
        "Glacier Melt Transfer Forecasting", "Abstract",
        "We forecast glacier melt in the Alps with gradient boosting models transferred from "
        "Greenland observations and reach a correlation of 0.93 on held-out valleys.",
        "1 Introduction", "Glaciers matter. arXiv:2605.99999"]))
    (papers / "scan.pdf").write_bytes(make_pdf([]))  # no text layer
    (papers / "broken.pdf").write_bytes(b"%PDF-1.4 nonsense")
    (papers / "mine.jsonl").write_text(json.dumps({"title": "Tiny Paper", "abstract": "Short."})
                                       + "\n{bad json\n", encoding="utf-8")
    (papers / "refs.bib").write_text(
        "@article{kim2026, title = {Sparse {Graph} Things}, author = {Kim, A. and Lee, B.},\n"
        "  abstract = {We sparsify graphs.}, eprint = {2604.00001}}\n"
        "@misc{noabs, title={No Abstract Here}}\n", encoding="utf-8")
    texts, warnings = load_paper_texts(tmp_path)
    by_title = {t.title: t for t in texts}
    pdf = by_title["Glacier Melt Transfer Forecasting"]
    assert pdf.source == "pdf" and pdf.pages[0][0] == 1 and pdf.arxiv_id == "2605.99999"
    assert pdf.abstract.startswith("We forecast glacier melt")
    bib = by_title["Sparse Graph Things"]
    assert bib.abstract == "We sparsify graphs." and bib.arxiv_id == "2604.00001"
    assert bib.authors == ("Kim, A.", "Lee, B.")
    assert by_title["Tiny Paper"].abstract == "Short."
    joined = " | ".join(warnings)
    for name in ("scan.pdf", "broken.pdf", "mine.jsonl line 2", "refs.bib entry noabs"):
        assert name in joined


def test_pdf_pages_are_indexed_cited_with_page_and_only_new_chunks_embedded(
        fake_settings) -> None:
    emb = HashingEmbedder(256)
    first = build_index(fake_settings, emb, progress=False)
    papers = Path(fake_settings.corpus_dir) / "papers"
    papers.mkdir()
    (papers / "glacier.pdf").write_bytes(make_pdf([
        "Glacier Melt Transfer Forecasting", "Alpine glacier melt is forecast with gradient "
        "boosting transferred from Greenland observations."]))
    second = build_index(fake_settings, emb, progress=False)
    assert second.chunks == first.chunks + 1 and second.embedded == 1  # only the PDF page
    a = Assistant(settings=fake_settings, embedder=emb)
    ans = a.ask("glacier melt forecasting with gradient boosting from Greenland")
    ev = ans.citations[0].evidence[0]
    assert ev.source == "pdf" and ev.label == "PDF glacier.pdf, page 1"
