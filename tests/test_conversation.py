"""Follow-up questions are rewritten from the previous Answer; standalone ones are left alone."""

from __future__ import annotations

import pytest

from rag import Answer, Assistant, Item, Paper, Query
from rag.answer.query import parse
from ui.conversation import needs_subject, rewrite_followup, subject


@pytest.fixture(scope="module")
def zacaf(seed_fake: Assistant) -> Answer:
    return seed_fake.ask("Where is the code for ZACAF?")


def ask_after(a: Assistant, previous: Answer | None, question: str) -> str:
    return rewrite_followup(a.read(question), previous)


@pytest.mark.parametrize(("question", "expected"), [
    ("and where is its code?", "Where is ZACAF's code?"),
    ("Is it open source?", "Is ZACAF open source?"),
    ("who wrote this paper?", "Who wrote ZACAF?"),
    ("and the code?", "The code of ZACAF?"),
    ("what about the authors?", "What about the authors of ZACAF?"),
    ("And what about TimeMAE?", "Where is the code for TimeMAE?"),
])
def test_followups_name_the_previous_paper(seed_fake: Assistant, zacaf: Answer, question: str,
                                           expected: str) -> None:
    assert ask_after(seed_fake, zacaf, question) == expected


@pytest.mark.parametrize("question", [
    "Which papers use transfer learning for peatland fires?",
    "Is TimeMAE open source?",
    "What did the digests say about physics-informed neural networks since May?",
    "Which work distils large models into small ones?",
    "How can causal reasoning make medical image models hold up when they move between "
    "hospitals?",
    "How do models transfer their knowledge across domains in medical imaging?",
])
def test_standalone_questions_are_unchanged(seed_fake: Assistant, zacaf: Answer,
                                            question: str) -> None:
    q = seed_fake.read(question)
    assert not q.refers_back
    assert rewrite_followup(q, zacaf) == q.text


def test_a_followup_with_nothing_before_it_asks_what_it_refers_to(seed_fake: Assistant) -> None:
    q = seed_fake.read("Did they release code?")
    assert needs_subject(q, None)
    abstained = seed_fake.ask("What's a good sourdough feeding schedule?")
    assert abstained.abstained and needs_subject(q, abstained)
    assert rewrite_followup(q, None) == "Did they release code?"
    assert not needs_subject(seed_fake.read("Did ZACAF release code?"), None)


def test_long_titles_and_names_before_a_colon() -> None:
    title = ("Specializing Foundation Models via Mixture of Low-Rank Experts for Comprehensive "
             "Head CT Analysis")
    p = Paper("molre", title)
    prev = Answer("Which papers adapt foundation models to head CT?", "From the digest:",
                  (Item(p, title),), query=parse("Which paper adapts foundation models?"))
    assert rewrite_followup(parse("and where is its code?"), prev) == (
        f"Where is the code of {title}?")
    mp = Paper("mp", "MP-ISMoE: Mixed-Precision Interactive Side Mixture-of-Experts")
    prev = Answer("Which mixture of experts paper?", "", (Item(mp, mp.title),),
                  query=parse("Which mixture of experts paper?"))
    assert subject(prev) == ("MP-ISMoE", False)
    assert rewrite_followup(parse("who wrote it?"), prev) == "Who wrote MP-ISMoE?"


def test_a_list_answer_is_referred_to_by_its_papers_or_topic(seed_fake: Assistant) -> None:
    papers = [Paper(f"p{i}", f"Paper number {i} on EEG decoding") for i in range(4)]
    q = parse("Which works deal with EEG signals?")
    assert q.wants_set
    prev = Answer(q.text, "4 papers ...", tuple(Item(p, p.title) for p in papers), query=q)
    out = rewrite_followup(parse("Did they release code?"), prev)
    assert out == "Did the papers on EEG signals release code?"
    named = [Paper("a", "A long title", short_name="TimeMAE"), Paper("b", "B", short_name="ZACAF")]
    prev = Answer(q.text, "", tuple(Item(p, p.title) for p in named), query=q)
    assert rewrite_followup(parse("Did they release code?"), prev) == (
        "Did TimeMAE and ZACAF release code?")


def test_llm_rewriter_hook_is_used_and_falls_back_to_rules(seed_fake: Assistant,
                                                           zacaf: Answer) -> None:
    seen = []

    def llm(question: str, previous: Answer) -> str:
        seen.append((question, previous.question))
        return "Where is the ZACAF repository?"

    q = seed_fake.read("and its code?")
    assert rewrite_followup(q, zacaf, llm) == "Where is the ZACAF repository?"
    assert seen == [("and its code?", "Where is the code for ZACAF?")]

    def broken(question: str, previous: Answer) -> str:
        raise RuntimeError("model unavailable")

    q = seed_fake.read("and where is its code?")
    assert rewrite_followup(q, zacaf, broken) == "Where is ZACAF's code?"
    assert rewrite_followup(q, zacaf, lambda q, p: " ") == "Where is ZACAF's code?"


def test_query_is_a_frozen_record() -> None:
    q = parse("Where is the code for ZACAF?")
    assert isinstance(q, Query) and q.intent == "code" and q.names == ("ZACAF",)
    with pytest.raises(AttributeError):
        q.text = "x"  # type: ignore[misc]
