""""Which papers released code?": every paper with a code link in the filtered digests
(rag.listing), with the fake hashing embedder."""

from __future__ import annotations

import datetime as dt
import re

from rag import Assistant
from rag.listing import code_list_request


def test_code_list_request_reads_only_list_questions_about_released_code() -> None:
    assert code_list_request("Which papers released code on GitHub?") == "Which papers?"
    assert code_list_request("Which digest papers shared code on GitHub in May 2026?") == \
        "Which digest papers in May 2026?"
    assert code_list_request("Which PINN papers released their code?") == "Which PINN papers?"
    for q in ("Where is the code for ZACAF?",  # one paper's code: the normal answer
              "Which paper fine-tunes a code LLM for program repair?",
              "Which papers have code generation models?",
              "Released code is great, isn't it?"):
        assert code_list_request(q) is None, q


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
    assert all(c.paper is None or c.paper.code_urls for c in topical.citations)
    assert len(topical.citations) <= seed_fake.settings.answer_papers
