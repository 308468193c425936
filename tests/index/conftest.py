from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bot.runtime.backends import Backend, EmbeddedBackend, PostgresBackend
from bot.runtime.settings import load_settings
from index.interfaces import TextIndex
from index.writer import KnowledgeWriter
from knowledge.documents import Document, Kind
from tests.fakes import HashingEmbedder


class Folder:
    """A store, index and writer over one data folder (or, with `database_url`, one PostgreSQL
    database: a second Folder on it is a second process), using the fast fake embedder."""

    def __init__(self, root: Path, embedder: HashingEmbedder | None = None, database_url: str | None = None) -> None:
        self.root = root
        self.database_url = database_url
        self.embedder = embedder or HashingEmbedder(dimension=384 if database_url else 64)
        settings = load_settings(data_dir=root, database_url=database_url)
        self.backend: Backend = PostgresBackend(settings) if database_url else EmbeddedBackend(settings)
        self.store = self.backend.open_store()
        self.index = self.backend.open_index(self.store, self.embedder.name, self.embedder.dimension)
        self.writer = KnowledgeWriter(self.store, self.index, self.embedder, self.backend.write_lock())

    def lexical(self) -> TextIndex:
        """This backend's lexical half (BM25 in memory, or PostgreSQL's text search)."""
        return self.backend.open_lexical(self.store)

    def reopen(self) -> Folder:
        self.close()
        return Folder(self.root, self.embedder, self.database_url)

    def close(self) -> None:
        self.store.close()
        self.backend.close()


class HeldBuild:
    """A `before_swap` hook: each background build waits there until the test lets it go, so a
    test can ask and write while a "slow" build is under way, without sleeping."""

    def __init__(self) -> None:
        self.held = threading.Event()
        self.release = threading.Event()
        self.builds = 0
        self.timed_out = False

    def __call__(self) -> None:
        self.builds += 1
        self.held.set()
        self.timed_out |= not self.release.wait(10)

    def let_go(self, wait_for_build: Callable[[float], bool]) -> None:
        """Let the held build swap in and wait for it; ready to hold the next one."""
        self.release.set()
        assert wait_for_build(10) and not self.timed_out
        self.held.clear()
        self.release.clear()


def doc(doc_id: str, text: str, url: str | None = None, title: str = "A title") -> Document:
    return Document(id=doc_id, title=title, text=text, url=url, kind=Kind.NEWS, published="2022-03")


@pytest.fixture
def folder(tmp_path: Path) -> Folder:
    return Folder(tmp_path)


@pytest.fixture
def any_folder(tmp_path: Path, database_url: str | None) -> Iterator[Folder]:
    """A Folder on each backend, for the backend-neutral tests."""
    opened = Folder(tmp_path, database_url=database_url)
    yield opened
    opened.close()
