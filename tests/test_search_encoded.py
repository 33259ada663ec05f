"""Retriever.search_encoded: one encoding and one search per question give the same hits as
searching with the vector encoded apart (issue 13), and a filter's mask is made once."""

from __future__ import annotations

import numpy as np

from rag.answer.retrieve import Filters


def test_search_encoded_returns_the_hits_and_the_vector_of_one_encoding(seed_fake  # noqa: ANN001
                                                                         ) -> None:
    r = seed_fake.retriever
    calls: list[list[str]] = []
    real = r.embedder.encode

    def counted(texts, progress=False):  # noqa: ANN001, ANN202
        calls.append(list(texts))
        return real(texts, progress)

    r.embedder.encode = counted
    try:
        for q, f in [("transfer learning for wildfire detection", None),
                     ("which papers have code?", Filters(has_code=True))]:
            hits, vector = r.search_encoded(q, k=10, filters=f)
            assert calls[-1] == [q] and len(calls) == 1  # encoded once, this question
            calls.clear()
            expected_vector = real([q])[0]
            assert np.array_equal(vector, expected_vector)
            again = r.search(q, k=10, filters=f, query_vector=expected_vector)
            assert calls == []  # given a vector: not encoded again
            assert [h.chunk.id for h in hits] == [h.chunk.id for h in again]
            assert [h.score for h in hits] == [h.score for h in again]
    finally:
        del r.embedder.encode


def test_a_filter_mask_is_made_once_per_question_and_read_only(seed_fake) -> None:  # noqa: ANN001
    r = seed_fake.retriever
    where = r.resolve(Filters(has_code=True))
    first = r.facets.mask(where)
    assert first is not None and r.facets.mask(where) is first  # the lexical and dense halves
    assert not first.flags.writeable
    other = r.facets.mask(r.resolve(Filters(has_code=False)))
    assert other is not None and np.array_equal(other, ~first)
