"""The CLI, the public Python API (with the real bundled model), and safe rendering."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import rag
from rag import Assistant
from rag.cli import main
from rag.records import Answer, Citation, Digest, Item, Paper, Quote
from ui.render import answer_markdown, link, paper_card


@pytest.fixture
def cli_env(fake_settings, monkeypatch: pytest.MonkeyPatch):  # noqa: ANN001, ANN201
    monkeypatch.setenv("RAG_MODEL", "hashing-256")
    return ["--corpus", str(fake_settings.corpus_dir), "--index", str(fake_settings.index_dir)]


def test_cli_index_twice_embeds_nothing_second_time(cli_env, capsys) -> None:  # noqa: ANN001
    assert main([*cli_env, "index"]) == 0
    assert "embedded" in capsys.readouterr().out
    assert main([*cli_env, "index"]) == 0
    assert "embedded 0 chunks" in capsys.readouterr().out


def test_cli_ask_search_papers_json(cli_env, capsys) -> None:  # noqa: ANN001
    assert main([*cli_env, "ask", "Where is the code for TimeMAE?", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert not out["abstained"] and "github.com/Mingyue-Cheng/TimeMAE" in out["text"]
    assert out["citations"][0]["paper"]["short_name"] == "TimeMAE"
    assert main([*cli_env, "search", "zebrafish cardiac", "-k", "3", "--json"]) == 0
    hits = json.loads(capsys.readouterr().out)
    assert len(hits) == 3 and "ZACAF" in hits[0]["paper"]["title"]
    assert main([*cli_env, "papers", "--json"]) == 0
    papers = json.loads(capsys.readouterr().out)
    assert len(papers) >= 70
    molre = next(p for p in papers if p["short_name"] == "MoLRE")
    assert molre["arxiv_id"] == "2603.00675" and molre["mentions"]


def test_cli_errors_are_messages_not_tracebacks(cli_env, tmp_path: Path, capsys) -> None:  # noqa: ANN001
    assert main([*cli_env, "ask", "  "]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: The question is empty") and "Traceback" not in err
    assert main(["--corpus", str(tmp_path / "none"), "--index", str(tmp_path / "ix"),
                 "ask", "hi"]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_module_level_api_uses_env_dirs(fake_settings, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setenv("RAG_CORPUS_DIR", str(fake_settings.corpus_dir))
    monkeypatch.setenv("RAG_INDEX_DIR", str(fake_settings.index_dir))
    monkeypatch.setenv("RAG_MODEL", "hashing-256")
    monkeypatch.setattr(rag.assistant, "_default", None)
    hits = rag.search("peatland fire detection", k=3)
    assert hits and hits[0].digest.path.startswith(str(fake_settings.corpus_dir))
    assert Path(fake_settings.index_dir, "CURRENT").exists()
    monkeypatch.setattr(rag.assistant, "_default", None)


@pytest.mark.real_model
def test_real_model_search_and_ask(seed_real: Assistant) -> None:
    hits = rag.Assistant.search(seed_real, "peatland fire detection", k=10)
    assert "Peatland" in hits[0].paper.title
    assert hits[0].digest.title and hits[0].digest.date and hits[0].digest.path
    ans = seed_real.ask("Which papers adapt foundation models to head CT?")
    assert not ans.abstained
    assert ans.citations[0].paper.short_name == "MoLRE"
    assert ans.citations[0].paper.arxiv_id == "2603.00675"
    assert seed_real.ask("a good sourdough recipe?").abstained


@pytest.mark.real_model
def test_real_model_paraphrase_and_filters(seed_real: Assistant) -> None:
    ans = seed_real.ask("Which work pretrains interatomic potentials on cheap force-field data?")
    assert ans.citations and ans.citations[0].paper.short_name == "T-PaiNN"
    hits = seed_real.search("knowledge distillation", k=10, since="2026-05-01", has_code=True)
    assert hits and all(h.digest.date.month == 5 and h.paper.code_urls for h in hits)


def _answer_with(text: str, url: str = "javascript:alert(1)") -> Answer:
    d = Digest("d", "Digest <b>", None, None, "d.txt", "0")
    p = Paper("p", "Title <script>alert(1)</script>", authors=("[x](javascript:alert(1))",),
              code_urls=(url,))
    c = Citation(1, p, text, d, sentences=(text,))
    item = Item(p, p.title, (Quote(text, 1),), code_urls=(url,))
    return Answer("q", "From the digest:", (item,), (c,))


def test_corpus_text_is_rendered_as_text() -> None:
    ans = _answer_with("Evil <script>alert(1)</script> and [click](javascript:alert(1)).")
    card = paper_card(ans.citations[0])
    assert "<script>" not in card and "&lt;script&gt;" in card
    assert 'href="javascript' not in card
    md = answer_markdown(ans)
    assert "<script>" not in md and "](javascript" not in md
    assert link("https://github.com/x/y").startswith('<a href="https://github.com/x/y"')
    assert "<a" not in link("javascript:alert(1)")


def test_near_miss_abstention_renders_the_title_as_text() -> None:
    text = ("The digests do not cover this question, so I can't answer it from them. The "
            "nearest they come is “Evil <script>alert(1)</script> [x](javascript:alert(1))” "
            "(Digest, 2026-05-30); if that is the paper you mean, ask about it by name.")
    md = answer_markdown(Answer("q", text, abstained=True))
    assert "<script>" not in md and "](javascript" not in md and "nearest they come is “" in md


def test_app_public_api_is_ask_and_papers_and_answers_with_sources(seed_fake: Assistant) -> None:
    """The built app exposes exactly two public endpoints, named after their handlers, and the
    `ask` endpoint's function answers with the paper's code link and a cited source."""
    import app

    demo = app.build_app(seed_fake)
    public = {fn.api_name: fn for fn in demo.fns.values() if fn.api_name
              and getattr(fn, "api_visibility", "public") == "public"}
    assert sorted(public) == ["ask", "papers"]
    out = public["ask"].fn("Where is the code for TimeMAE?")
    assert out["question"] == "Where is the code for TimeMAE?" and not out["abstained"]
    assert "https://github.com/Mingyue-Cheng/TimeMAE" in out["answer"]
    assert any("TimeMAE" in c["title"] for c in out["citations"])


@pytest.mark.real_model
def test_real_model_abstains_on_near_domain_questions(seed_real: Assistant) -> None:
    """Questions in the digests' field but on topics they never cover abstain; words the
    corpus lacks and a best passage that barely stands out tell them apart from paraphrased
    answerable questions."""
    for q in ("Which paper classifies ECG arrhythmias with a pretrained network?",
              "Is there a paper on English-to-Swahili text translation?",
              "What did the April 2026 digests say about transfer learning?"):
        assert seed_real.ask(q).abstained, q
    for q in ("Which work speeds up interatomic potential training by pretraining on cheap "
              "classical force-field data?",
              "In the March 7 digest, which paper is about robotics?"):
        ans = seed_real.ask(q)
        assert not ans.abstained and ans.citations, q
    # a paraphrase in words the digests never use (DRUM: "structurally missing covariates")
    # abstains, but names the paper it nearly matched; a far-off question names none
    drum = seed_real.ask("How do you transfer a clinical risk model when some predictors are "
                         "never recorded at the new site?")
    assert drum.abstained and "nearest they come is “Distributionally Robust" in drum.text
    assert "nearest" not in seed_real.ask("a good sourdough recipe?").text
    r = seed_real.retrieve("Which paper detects Android malware?")
    cov = seed_real.answerer.coverage(r.query, r.hits, r.vector)
    assert cov.absent_share > 0 and cov.score < 0 and seed_real.answer(r).abstained


def test_cli_invalid_setting_is_a_message_naming_the_variable(cli_env, monkeypatch, capsys  # noqa: ANN001
                                                             ) -> None:
    monkeypatch.setenv("RAG_RRF_K", "zero")
    assert main(["status"]) == 2
    err = capsys.readouterr().err
    assert "RAG_RRF_K='zero'" in err and "Fix:" in err and "Traceback" not in err
