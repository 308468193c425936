from __future__ import annotations

from pathlib import Path

import pytest

from index.search_index import SearchIndex
from index.writer import KnowledgeWriter
from knowledge.documents import Document, Kind
from knowledge.store import SqliteStore
from tests.fakes import HashingEmbedder


class Folder:
    """A store, index and writer over one data folder, using the fast fake embedder."""

    def __init__(self, root: Path, embedder: HashingEmbedder | None = None) -> None:
        self.root = root
        self.embedder = embedder or HashingEmbedder()
        self.store = SqliteStore(root / "knowledge.sqlite3")
        self.index = SearchIndex(self.store, root / "passages.faiss", self.embedder.name, self.embedder.dimension)
        self.writer = KnowledgeWriter(self.store, self.index, self.embedder, root / "write.lock")

    def reopen(self) -> Folder:
        self.store.close()
        return Folder(self.root, self.embedder)


def doc(doc_id: str, text: str, url: str | None = None, title: str = "A title") -> Document:
    return Document(id=doc_id, title=title, text=text, url=url, kind=Kind.NEWS, published="2022-03")


@pytest.fixture
def folder(tmp_path: Path) -> Folder:
    return Folder(tmp_path)
