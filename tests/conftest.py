"""Shared fixtures: the seed corpus, assistants over it with the fake (hashing) embedder and,
for a few tests, with the real bundled MiniLM model. Everything runs offline."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from rag import Assistant, Settings  # noqa: E402
from rag.index.embed import HashingEmbedder  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test on the real bundled model is marked real_model (the seed_real fixture), so
    `make test-fast` leaves them out without each test having to say so."""
    for item in items:
        if "seed_real" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.real_model)
CORPUS = ROOT / "corpus"


def copy_corpus(dest: Path) -> Path:
    """A private copy of the seed corpus (tests may edit it)."""
    shutil.copytree(CORPUS, dest)
    return dest


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    return copy_corpus(tmp_path / "corpus")


@pytest.fixture
def fake_settings(corpus: Path, tmp_path: Path) -> Settings:
    return Settings(corpus_dir=corpus, index_dir=tmp_path / "index", model="hashing-256")


@pytest.fixture
def fake_assistant(fake_settings: Settings) -> Assistant:
    """A fresh assistant with the hashing embedder over a private corpus copy."""
    return Assistant(settings=fake_settings, embedder=HashingEmbedder(256))


@pytest.fixture(scope="session")
def seed_fake(tmp_path_factory: pytest.TempPathFactory) -> Assistant:
    """A shared, read-only assistant with the hashing embedder over the seed corpus."""
    idx = tmp_path_factory.mktemp("seed-fake-index")
    s = Settings(corpus_dir=CORPUS, index_dir=idx, model="hashing-256")
    a = Assistant(settings=s, embedder=HashingEmbedder(256))
    a.index  # noqa: B018
    return a


@pytest.fixture(scope="session")
def seed_real(tmp_path_factory: pytest.TempPathFactory) -> Assistant:
    """A shared assistant with the real bundled MiniLM over the seed corpus (built once)."""
    idx = tmp_path_factory.mktemp("seed-real-index")
    a = Assistant(settings=Settings(corpus_dir=CORPUS, index_dir=idx))
    a.index  # noqa: B018
    return a
