"""Questions that name a paper by short name, author or institution (rag.answer.name_keys), and the
answers they get (fake hashing embedder: the names are all the answer can go on)."""

from __future__ import annotations

from rag import Assistant
from rag.answer.name_keys import institution_keys, person_names
from rag.answer.query import Catalog
from rag.records import Paper


def test_institution_keys_and_person_names() -> None:
    assert institution_keys("Duke-NUS Medical School") == (frozenset({"duke-nus"}),)
    assert institution_keys("University of California, Irvine") == (
        frozenset({"california", "irvine"}),)
    assert frozenset({"DLR"}) in institution_keys("German Aerospace Center (DLR)")
    assert institution_keys("University of Science and Technology") == ()  # nothing distinctive
    assert person_names("Jing Li et al.") == ("Jing Li",)
    assert person_names("Nada Shahin and Leila Ismail") == ("Nada Shahin", "Leila Ismail")
    assert person_names("J. Z. Kolter and his team") == ("J. Z. Kolter",)


def test_naming_a_paper_is_strict() -> None:
    p = Paper("p", "A Title", authors=("Zaghouani", "Jing Li et al."),
              arxiv_authors=("Pavlos Protopapas",), short_name="DRUM",
              institutions=("MIT", "Duke-NUS Medical School", "University of California, Irvine"))
    catalog = Catalog.build([], {"p": p})

    def names_paper(question: str, paper: Paper) -> bool:
        return paper.id in {i for ids in catalog.named(question) for i in ids}

    for q in ("What did Jing Li work on?", "What did jing li work on?",
              "Papers co-authored by Pavlos Protopapas?", "What did Zaghouani argue?",
              "Which papers list MIT?", "What research from Duke-NUS was mentioned?",
              "Anything from the University of California, Irvine?", "Where is drum's code?"):
        assert names_paper(q, p), q
    for q in ("Welche Arbeit überträgt RGB-Modelle mit Tensorzerlegungen?",  # German "mit"
              "What did Li work on?",  # a surname alone is not a full name
              "Which work from California?",  # Irvine is part of the name
              "zaghouani?",  # a one-word name matches as written
              "Does the drummer transfer?"):
        assert not names_paper(q, p), q
    titled = Paper("t", "Towards Precision Cardiovascular Analysis in Zebrafish")
    cat = Catalog.build([], {"t": titled})
    assert cat.named("Who wrote 'Towards Precision Cardiovascular Analysis in Zebrafish'?")[0] \
        == ["t"]
    assert cat.named("Towards precision medicine?") == ([], [], [])


def test_a_question_naming_an_institution_is_answered_with_its_papers(seed_fake: Assistant
                                                                      ) -> None:
    """The hashing embedder knows no names: the answer comes from naming. Every cited paper
    carries the institution, and a question naming an institution is not abstained on."""
    for question, inst in (("What research from Duke-NUS was mentioned?", "Duke-NUS"),
                           ("What did Raytheon BBN Technologies publish?", "Raytheon BBN")):
        ans = seed_fake.ask(question)
        assert not ans.abstained and ans.citations, question
        assert all(any(inst in i for i in c.paper.institutions) for c in ans.citations), \
            [c.paper.institutions for c in ans.citations]
