"""Follow-up questions are rewritten with the previous turn; standalone ones are left alone."""

from __future__ import annotations

import pytest

from rag.conversation import is_followup, main_subject, message_text, rewrite_followup

ZACAF_TURN = [
    {"role": "user", "content": "Where is the code for ZACAF?"},
    {"role": "assistant", "content": [{"type": "text", "text": (
        "From the digest:\n\n- **Towards Precision Cardiovascular Analysis in Zebrafish: The "
        "ZACAF Paradigm** (Amir Mohammad Naderi et al.): ... [\\[1\\]](#src-1-1)")}]},
]
HEAD_CT_TURN = [
    {"role": "user", "content": "Which papers adapt foundation models to head CT?"},
    {"role": "assistant", "content": (
        "From the digests:\n\n- **Specializing Foundation Models via Mixture of Low\\-Rank "
        "Experts for Comprehensive Head CT Analysis** (Yoo et al.): ... [\\[1\\]](#src-1-1)\n"
        "- **MP\\-ISMoE: Mixed\\-Precision Interactive Side Mixture\\-of\\-Experts** ...")},
]


@pytest.mark.parametrize(("question", "expected"), [
    ("and where is its code?", "Where is ZACAF's code?"),
    ("Is it open source?", "Is ZACAF open source?"),
    ("who wrote this paper?", "Who wrote ZACAF?"),
    ("where are they from?", "Where are ZACAF from?"),
    ("and the code?", "The code of ZACAF?"),
    ("what about the authors?", "What about the authors of ZACAF?"),
    ("And what about TimeMAE?", "Where is the code for TimeMAE?"),
])
def test_followups_name_the_previous_paper(question: str, expected: str) -> None:
    assert rewrite_followup(question, ZACAF_TURN) == expected


@pytest.mark.parametrize("question", [
    "Which papers use transfer learning for peatland fires?",
    "Is TimeMAE open source?",
    "What did the digests say about physics-informed neural networks since May?",
    "Which work distils large models into small ones?",
])
def test_standalone_questions_are_unchanged(question: str) -> None:
    assert not is_followup(question)
    assert rewrite_followup(question, ZACAF_TURN) == question


def test_without_history_nothing_changes() -> None:
    assert rewrite_followup("and where is its code?", []) == "and where is its code?"


def test_long_titles_and_names_before_a_colon() -> None:
    title = ("Specializing Foundation Models via Mixture of Low-Rank Experts for Comprehensive "
             "Head CT Analysis")
    assert main_subject(HEAD_CT_TURN) == title  # markdown escapes removed
    assert rewrite_followup("and where is its code?", HEAD_CT_TURN) == (
        f"Where is the code of {title}?")
    mp = [{"role": "user", "content": "Which mixture of experts papers are there?"},
          {"role": "assistant", "content": "- **MP\\-ISMoE: Mixed\\-Precision Interactive** x"}]
    assert main_subject(mp) == "MP-ISMoE"
    assert rewrite_followup("who wrote it?", mp) == "Who wrote MP-ISMoE?"


def test_message_text_accepts_every_content_shape() -> None:
    assert message_text({"role": "user", "content": "hi"}) == "hi"
    assert message_text({"content": [{"type": "text", "text": "a"}, "b"]}) == "a b"
    assert message_text({"content": None}) == ""


def test_llm_rewriter_hook_is_used_and_falls_back_to_rules() -> None:
    seen = []

    def llm(question: str, history: list[dict]) -> str:
        seen.append((question, len(history)))
        return "Where is the ZACAF repository?"

    assert rewrite_followup("and its code?", ZACAF_TURN, llm) == "Where is the ZACAF repository?"
    assert seen == [("and its code?", 2)]

    def broken(question: str, history: list[dict]) -> str:
        raise RuntimeError("model unavailable")

    assert rewrite_followup("and where is its code?", ZACAF_TURN, broken) == (
        "Where is ZACAF's code?")
    assert rewrite_followup("and where is its code?", ZACAF_TURN, lambda q, h: " ") == (
        "Where is ZACAF's code?")


def test_question_with_its_own_topic_is_not_rewritten() -> None:
    """A pronoun that points inside a question with its own topic is not a follow-up (seen in
    the UI benchmark: the previous answer's paper replaced "they")."""
    history = [{"role": "user", "content": "Where is the code for ZACAF?"},
               {"role": "assistant", "content": "**ZACAF** code is on GitHub [1]."}]
    q = ("How can causal reasoning make medical image models hold up when they move between "
         "hospitals?")
    assert rewrite_followup(q, history) == q
    q2 = "How do models transfer their knowledge across domains in medical imaging?"
    assert rewrite_followup(q2, history) == q2
    assert "ZACAF" in rewrite_followup("What dataset did they train on?", history)
    assert "ZACAF" in rewrite_followup("and where is its code?", history)
