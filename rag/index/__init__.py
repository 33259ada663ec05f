"""Index: chunk, embed and store a corpus (the build side), and load it for queries.

Build side: :mod:`~rag.index.chunk` (retrieval units), :mod:`~rag.index.embed` (the
``Embedder`` interface; :mod:`~rag.index.embed_onnx`), :mod:`~rag.index.build` (reuse, write a
build folder atomically; :mod:`~rag.index.lexical_cache`, :mod:`~rag.index.integrity`).
Query side: :mod:`~rag.index.load` (``load_index`` -> :class:`~rag.index.loaded.Index`),
:mod:`~rag.index.table` (lazy chunk records), :mod:`~rag.index.stores` (FAISS and BM25 behind
``add/search/save/load``) and :mod:`~rag.index.engines` (hybrid search; FAISS+BM25 or
:mod:`~rag.index.qdrant`). The query side imports nothing from the build side.
"""
