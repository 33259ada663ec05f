"""Corpus: read a folder of digests (.txt .md .html .pdf) and the papers' own texts into records.

Every file passes :mod:`~rag.corpus.safe_read` before a parser (:mod:`~rag.corpus.readers`) sees
it, in a worker process under a time limit (:mod:`~rag.corpus.parse_pool`), with each parse
cached by the file's content hash (:mod:`~rag.corpus.parse_cache`). :mod:`~rag.corpus.ingest`
turns the blocks into Digest records and passages; :mod:`~rag.corpus.paper_texts` reads
abstracts and PDFs of the papers; :mod:`~rag.corpus.arxiv` fetches abstracts into ``corpus/``.
"""
