"""Answer: read a question, retrieve, and compose a cited answer (optionally LLM-written).

:mod:`~rag.answer.query` reads a question once into a ``Query`` (dates, intent, the names it
gives; :mod:`~rag.answer.name_keys`); :mod:`~rag.answer.retrieve` runs hybrid search and ranks
papers (reranker hook); :mod:`~rag.answer.compose` writes the extractive answer and decides to
abstain; :mod:`~rag.answer.lists` answers list and topic questions. The optional LLM path:
:mod:`~rag.answer.llm` (prompt, streaming), :mod:`~rag.answer.llm_backends` and
:mod:`~rag.answer.local_llm` (chat models), :mod:`~rag.answer.budget` (small context windows),
:mod:`~rag.answer.draft`; every LLM answer passes :mod:`~rag.answer.verify`
(:mod:`~rag.answer.claims`).
"""
