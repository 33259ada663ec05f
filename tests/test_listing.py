""""Which papers released code?": every paper with a code link in the filtered digests
(rag.answer.lists), with the fake hashing embedder."""

from __future__ import annotations

import datetime as dt
import re

from rag import Assistant
from rag.answer.lists import is_bare_code_list, subject_phrase
from rag.answer.query import parse


def test_a_bare_code_list_is_read_from_the_question() -> None:
    for q in ("Which papers released code on GitHub?",
              "Which digest papers shared code on GitHub in May 2026?",
              "List the works that open-sourced their implementation"):
        assert is_bare_code_list(parse(q)), q
    for q in ("Where is the code for ZACAF?",  # one paper's code: the normal answer
              "Which paper fine-tunes a code LLM for program repair?",
              "Which PINN papers released their code?",  # a topic: ranked list, code filter
              "Released code is great, isn't it?"):
        assert not is_bare_code_list(parse(q)), q
    topical = parse("Which PINN papers released their code?")
    assert topical.intent == "list" and topical.has_code


def test_which_papers_released_code_lists_every_one_in_the_dates_asked(seed_fake: Assistant
                                                                     ) -> None:
    index = seed_fake.index
    may = {d.id for d in index.digests.values() if d.date and d.date.month == 5}
    expected = {p.id for p in index.papers.values() if p.code_urls
                and any(c.digest_id in may and p.id in c.paper_ids
                        for c in index.chunks if c.source == "digest")}
    assert len(expected) >= 3
    ans = seed_fake.ask("Which digest papers shared code on GitHub in May 2026?")
    assert not ans.abstained and any("code link" in n for n in ans.notes)
    assert {c.paper.id for c in ans.citations} == expected
    for c in ans.citations:
        assert c.digest.date and c.digest.date.month == 5 and c.sentences[0] in c.text
        # the quote says what the paper does; the link is listed beside it
        assert len(re.sub(r"https?://\S+", "", c.sentences[0])) >= 40, c.sentences[0]
        assert any(u in ans.text for u in c.paper.code_urls)
    # an explicit filter still wins, and a topic keeps the normal ranked answer
    since = dt.date(2026, 5, 20)
    late = seed_fake.ask("Which papers released code?", since=since)
    assert late.citations and all(c.digest.date >= since for c in late.citations)
    topical = seed_fake.ask("Which PINN papers released their code?")
    assert topical.citations and all(c.paper and c.paper.code_urls for c in topical.citations)
    assert len(topical.citations) <= seed_fake.settings.list_max


def test_a_list_answer_leads_with_the_count_and_cites_every_item(seed_fake: Assistant) -> None:
    ans = seed_fake.ask("Which works deal with EEG signals?")
    assert not ans.abstained and ans.items
    assert ans.lead.startswith(f"{len(ans.items)} paper") and "EEG signals" in ans.lead
    cited = {c.n: c for c in ans.citations}
    for item in ans.items:
        assert item.paper is not None and item.quotes
        for q in item.quotes:  # every quote is backed by the citation it points to
            assert cited[q.n].paper == item.paper and q.text in cited[q.n].text
    assert subject_phrase("List the robotics work covered in the digests.") == "robotics"


def test_a_question_naming_an_author_lists_exactly_their_papers(seed_fake: Assistant) -> None:
    ans = seed_fake.ask("Which papers did Jing Li write?")
    assert ans.citations
    assert all(any("Jing Li" in a for a in c.paper.authors) for c in ans.citations)


def test_a_shortened_code_list_says_so(seed_fake: Assistant, monkeypatch) -> None:  # noqa: ANN001
    import rag.answer.lists

    monkeypatch.setattr(rag.answer.lists, "CODE_LIST_MAX", 3)
    ans = seed_fake.ask("Which papers released code?")
    assert len(ans.items) == 3 and "these are the first 3" in ans.lead
