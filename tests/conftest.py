"""Shared fixtures: the real model (loaded once per session), settings in temporary folders."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
# Embedding answer sentences in the background after every import would only add CPU and timing
# noise to tests about other things; tests/bot/test_answer_sentences.py turns it on.
os.environ.setdefault("CRISISBOT_WARM_ANSWER_SENTENCES", "false")
# The default embedding backend ("auto": ONNX) exports the model once per data folder, a few
# seconds each time in a suite that makes hundreds of folders; tests use torch unless they
# are about ONNX (tests/index/test_onnx_embedder.py checks the default itself).
os.environ.setdefault("CRISISBOT_EMBEDDING_BACKEND", "torch")

from hypothesis import HealthCheck, settings  # noqa: E402

# Fuzz tests (tests/**/test_*_fuzz.py): `make test` runs a short, fixed-seed budget and writes no
# example database into the checkout; `make fuzz` (HYPOTHESIS_PROFILE=long) runs many more.
# Each example's time is bounded by tests/fuzzing.py, not by hypothesis's 200 ms deadline,
# which two busy cores would turn into flaky failures.
settings.register_profile(
    "fast", max_examples=25, derandomize=True, database=None, deadline=None, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(  # seeded by `make fuzz` (--hypothesis-seed); FUZZ_EXAMPLES per test
    "long", max_examples=int(os.environ.get("FUZZ_EXAMPLES", "400")), derandomize=False, database=None,
    deadline=None, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "fast"))

from bot.runtime.service import CrisisBot  # noqa: E402
from bot.runtime.settings import Settings, load_settings  # noqa: E402
from index.embedder import SentenceTransformerEmbedder, bundled_model_path  # noqa: E402
from tests.postgres import postgres_server, postgres_url  # noqa: E402,F401  (a real PostgreSQL)
from tests.web_server import LocalServer, start_server, stop_server  # noqa: E402

PROJECT = Path(__file__).resolve().parent.parent
SHARED = PROJECT.parent / "shared"
SEED_ARTICLE = PROJECT / "knowledge" / "builtin" / "turning-tides-2024-11.md"


@pytest.fixture(scope="session")
def real_embedder() -> SentenceTransformerEmbedder:
    return SentenceTransformerEmbedder(bundled_model_path(), "all-MiniLM-L6-v2")


@pytest.fixture
def make_settings(tmp_path: Path) -> Callable[..., Settings]:
    def make(**overrides: object) -> Settings:
        overrides.setdefault("data_dir", tmp_path / "data")
        return load_settings(**overrides)

    return make


BACKENDS = ["sqlite", "postgres"]


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """Each backend-neutral test runs on the embedded store and on PostgreSQL."""
    return str(request.param)


@pytest.fixture
def database_url(backend: str, request: pytest.FixtureRequest) -> str | None:
    """None for the embedded store, else the URL of a new, empty PostgreSQL database."""
    return None if backend == "sqlite" else str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def make_backend_settings(make_settings: Callable[..., Settings], database_url: str | None) -> Callable[..., Settings]:
    """`make_settings` on the test's backend (the data folder still holds the local files)."""

    def make(**overrides: object) -> Settings:
        if database_url is not None:
            overrides.setdefault("database_url", database_url)
        return make_settings(**overrides)

    return make


@pytest.fixture(scope="session")
def seeded_bot(tmp_path_factory: pytest.TempPathFactory, real_embedder: SentenceTransformerEmbedder) -> CrisisBot:
    """A bot over the built-in knowledge only, shared by read-only tests."""
    settings = load_settings(data_dir=tmp_path_factory.mktemp("seeded"))
    bot = CrisisBot(settings, real_embedder)
    bot.open()
    return bot


def shared_file(relative: str) -> Path:
    path = SHARED / relative
    if not path.exists():
        pytest.skip(f"{path} is not available")
    return path


@pytest.fixture
def web() -> Iterator[LocalServer]:
    """A stand-in web server on an ephemeral 127.0.0.1 port (pages, PDFs, feeds), for one test."""
    httpd, thread = start_server()
    yield httpd
    stop_server(httpd, thread)
