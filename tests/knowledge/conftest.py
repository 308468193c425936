"""Fixtures for the knowledge/ tests: the seed article, the real tokenizer, small file writers."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from index.embedder import SentenceTransformerEmbedder, bundled_model_path
from knowledge.chunking import TokenCounter
from tests.conftest import SEED_ARTICLE
from tests.web_server import LocalServer, start_server, stop_server


@pytest.fixture(scope="session")
def seed_path() -> Path:
    """The seed article as the project ships it (its built-in knowledge)."""
    return SEED_ARTICLE


@pytest.fixture(scope="session")
def count_tokens() -> TokenCounter:
    """The real model's word-piece counter; loads only the fast tokenizer, not torch."""
    return SentenceTransformerEmbedder(bundled_model_path(), "all-MiniLM-L6-v2").count_tokens


@pytest.fixture
def write_file(tmp_path: Path) -> Callable[[str, str | bytes], Path]:
    """Write text (UTF-8) or raw bytes to `tmp_path/name` and return the path."""

    def write(name: str, content: str | bytes) -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_bytes(content.encode("utf-8"))
        return path

    return write


def jsonl(*records: object) -> str:
    """One JSON value a line, as a JSONL file holds them."""
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)


def record(id: str, text: str = "Some text about the war.", **extra: object) -> dict[str, object]:
    """A valid JSONL record with a title derived from the id."""
    return {"id": id, "title": f"Title {id}", "text": text, **extra}


@pytest.fixture
def server() -> Iterator[LocalServer]:
    """A fresh stand-in web server on an ephemeral 127.0.0.1 port, for one test."""
    httpd, thread = start_server()
    yield httpd
    stop_server(httpd, thread)
