"""Synthetic corpora of N distinct digests grown from the seed digests, for scale benchmarks.

Copy 0 is the seed corpus itself; every further copy renames, consistently inside the copy,
each word that a paper title, short name, bullet label, author name, arXiv title or URL path of
the seeds uses (``"ZACAF" -> "QBRTM"``, ``"Robustness" -> "Xkqwfnamzp"``: same capitals, digits
and length, at least five letters so that every copy's words are new), maps every arXiv id to
an id of its own, and puts a per-copy folder into every URL. Words the extraction heuristics
name (cue words, connectors, institution words, months: every word written in the source of
the extraction modules) are kept, so each copy reads like its seed digest and yields the same
papers, yet no paper of one copy merges with a paper of another. The arXiv snapshot is copied
the same way. Used by :mod:`eval.extraction_scale` and ``tests/test_extraction_scale.py``.
"""

from __future__ import annotations

import ast
import hashlib
import json
import re
from functools import lru_cache
from pathlib import Path

from rag.code_version import module_file
from rag.corpus.ingest import load_corpus
from rag.extract.mentions import passage_mentions
from rag.extract.titles import label_name
from rag.extract.papers import extract_papers
from rag.extract.metadata import load_metadata
from rag.lexicon import CONNECTORS, INSTITUTION_WORDS
from rag.text import STOPWORDS

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "corpus"
_HEURISTIC_SOURCES = ("rag.extract.authors", "rag.extract.titles", "rag.extract.mentions",
                      "rag.lexicon", "rag.urls", "rag.extract.papers", "rag.extract.paper_links",
                      "rag.extract.metadata", "rag.text", "rag.dates", "rag.corpus.ingest",
                      "rag.corpus.readers")
_LETTERS = re.compile(r"[A-Za-z]+")
_ARXIV_ID = re.compile(r"(?<![\d.])\d{4}\.\d{4,5}(?![\d])")
_URL_HOST = re.compile(r"(https?://(?!(?:www\.)?arxiv\.org/)[^/\s\"'<>]+/)")


@lru_cache(maxsize=1)
def _protected() -> frozenset[str]:
    """Lowercase words the extraction heuristics name: never renamed."""
    words: set[str] = set()
    for name in _HEURISTIC_SOURCES:
        words |= {w.lower() for s in _literals(module_file(name))
                  for w in _LETTERS.findall(s)}
    return frozenset(words | set(CONNECTORS) | set(STOPWORDS))


def _literals(path: Path) -> list[str]:
    """The string literals of a module's code: not its docstrings or comments."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docs = {id(n.body[0].value) for n in ast.walk(tree)
            if isinstance(n, (ast.Module, ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef))
            and n.body and isinstance(n.body[0], ast.Expr)}
    return [n.value for n in ast.walk(tree) if isinstance(n, ast.Constant)
            and isinstance(n.value, str) and id(n) not in docs]


def _renamable(word: str) -> bool:
    low = word.lower()
    return len(word) >= 3 and low not in _protected() and not INSTITUTION_WORDS.search(word)


@lru_cache(maxsize=1)
def seed_vocabulary(seed: Path = SEED) -> tuple[frozenset[str], tuple[str, ...]]:
    """(lowercase words to rename, arXiv ids to remap) of the seed corpus."""
    docs = load_corpus(seed)[0]
    meta = load_metadata(seed / "arxiv")[0]
    texts: list[str] = []
    for p in extract_papers(docs, meta).papers.values():
        texts += [p.title, p.short_name or "", *p.authors, p.arxiv_title or "", *p.arxiv_authors,
                  *p.code_urls, *p.data_urls]
    for d in docs:
        for p in d.passages:
            texts += [m.title or "" for m in passage_mentions(p)]
            texts += [m.short_name or "" for m in passage_mentions(p)]
            if p.label:
                texts += [x or "" for x in label_name(p.label)]
            texts += [link.url for link in p.links]
    for rec in meta:
        texts += [rec["title"], *rec.get("authors", [])]
    words: set[str] = set()
    for t in texts:
        body = t.split("://", 1)[1].split("/", 1)[-1] if "://" in t else t  # URL path only
        words |= {w.lower() for w in _LETTERS.findall(body) if _renamable(w)}
    ids = set()
    for d in docs:
        ids |= {x for p in d.passages for x in _ARXIV_ID.findall(p.text)}
    ids |= {str(r["arxiv_id"]) for r in meta}
    return frozenset(words), tuple(sorted(ids))


class _Renamer:
    """The word map of one copy: injective across all copies (a global set of used words)."""

    used: set[str] = set()
    memo: dict[tuple[int, str], str] = {}

    def __init__(self, copy: int, vocab: frozenset[str], ids: tuple[str, ...]) -> None:
        self.copy, self.vocab = copy, vocab
        self.ids = {x: f"{2000 + copy:04d}.{j:05d}" for j, x in enumerate(ids)} if copy else {}
        self.code = "c" + "".join(chr(97 + (copy // 26 ** i) % 26) for i in range(3))

    def word(self, low: str) -> str:
        key = (self.copy, low)
        if key not in self.memo:
            n, salt = max(5, len(low)), 0
            while True:
                h = hashlib.sha256(f"{self.copy}:{low}:{salt}".encode()).digest()
                new = "".join(chr(97 + b % 26) for b in h[:n])
                if new not in self.used and new not in _protected():
                    break
                salt += 1
            self.used.add(new)
            self.memo[key] = new
        return self.memo[key]

    def _case(self, m: re.Match) -> str:
        w = m.group()
        if w.lower() not in self.vocab:
            return w
        new = self.word(w.lower())
        caps = [c.isupper() for c in w] + [w[-1].isupper()] * (len(new) - len(w))
        return "".join(c.upper() if up else c for c, up in zip(new, caps))

    def text(self, s: str) -> str:
        """``s`` with this copy's words, arXiv ids and URL folders."""
        if self.copy == 0:
            return s
        s = _URL_HOST.sub(lambda m: f"{m.group(1)}{self.code}/", s)
        s = _ARXIV_ID.sub(lambda m: self.ids.get(m.group(), m.group()), s)
        return _LETTERS.sub(self._case, s)


def distinct_corpus(n_digests: int, out: Path, seed: Path = SEED) -> Path:
    """Write ``n_digests`` distinct digests (copies of the seed digests, see the module doc) and
    their arXiv snapshot into ``out``; returns ``out``."""
    vocab, ids = seed_vocabulary(seed)
    files = sorted(p for p in seed.glob("*.txt"))
    records = [json.loads(line) for f in sorted((seed / "arxiv").glob("*.jsonl"))
               for line in f.read_text(encoding="utf-8").splitlines() if line.strip()]
    (out / "arxiv").mkdir(parents=True, exist_ok=True)
    meta_lines = []
    for k in range((n_digests + len(files) - 1) // len(files)):
        r = _Renamer(k, vocab, ids)
        for i, src in enumerate(files):
            if k * len(files) + i >= n_digests:
                break
            text = src.read_text(encoding="utf-8")
            (out / f"c{k:04d}-{src.name}").write_text(r.text(text), encoding="utf-8")
        for rec in records:
            new = {key: (r.text(v) if isinstance(v, str) and key != "arxiv_id" else
                         [r.text(x) for x in v] if isinstance(v, list) else v)
                   for key, v in rec.items()}
            new["arxiv_id"] = r.ids.get(str(rec["arxiv_id"]), str(rec["arxiv_id"]))
            meta_lines.append(json.dumps(new, ensure_ascii=False))
    (out / "arxiv" / "metadata.jsonl").write_text("\n".join(meta_lines) + "\n",
                                                  encoding="utf-8")
    return out
