"""Retriever.search_encoded: BM25 scored in a worker thread while the question is encoded gives
the same hits, and the same vector, as encoding first (issue 13: one search per question)."""

from __future__ import annotations

import numpy as np

from rag.answer.retrieve import Filters


def test_lexical_ahead_gives_the_same_hits_and_vector(seed_fake) -> None:  # noqa: ANN001
    r = seed_fake.retriever
    calls: list[str] = []
    real = r.engine.lexical

    def counted(text, where):  # noqa: ANN001, ANN202
        calls.append(text)
        return real(text, where)

    r.engine.lexical = counted
    try:
        for q, f in [("transfer learning for wildfire detection", None),
                     ("which papers have code?", Filters(has_code=True))]:
            hits, vector = r.search_encoded(q, k=10, filters=f)
            assert calls[-1] == q  # the lexical half ran ahead, for this question
            expected_vector = seed_fake.embedder.encode([q])[0]
            assert np.array_equal(vector, expected_vector)
            before = len(calls)
            again = r.search(q, k=10, filters=f, query_vector=expected_vector)
            assert len(calls) == before + 1  # given a vector: run inside hybrid, not ahead
            assert [h.chunk.id for h in hits] == [h.chunk.id for h in again]
            assert [h.score for h in hits] == [h.score for h in again]
    finally:
        del r.engine.lexical


def test_a_filter_mask_is_made_once_per_question_and_read_only(seed_fake) -> None:  # noqa: ANN001
    r = seed_fake.retriever
    where = r.resolve(Filters(has_code=True))
    first = r.facets.mask(where)
    assert first is not None and r.facets.mask(where) is first  # the lexical and dense halves
    assert not first.flags.writeable
    other = r.facets.mask(r.resolve(Filters(has_code=False)))
    assert other is not None and np.array_equal(other, ~first)
