"""A FAISS inner-product index keyed by passage id, saved atomically with what it was built from.

The file carries a small header (model name, dimension, store generation) in front of the
serialised index, in one file, so that a single rename replaces both together and a crash
leaves either the old file or the new one, never a mix.
"""

from __future__ import annotations

import json
import logging
import os
import struct
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import faiss

log = logging.getLogger(__name__)

_MAGIC = b"CRISISBOT-FAISS\x01"


@dataclass(frozen=True)
class IndexHeader:
    """What the saved index reflects; compared with the store at start."""

    model: str
    dimension: int
    generation: int
    count: int


class CorruptIndexError(Exception):
    """The saved index cannot be read; it is rebuilt from the store."""


class FaissVectorStore:
    """Exact inner-product search over unit vectors (so scores are cosine similarities)."""

    def __init__(self, dimension: int, model: str) -> None:
        import faiss

        self.dimension = dimension
        self.model = model
        self.generation = 0
        self._index: faiss.IndexIDMap2 = faiss.IndexIDMap2(faiss.IndexFlatIP(dimension))
        self._lock = threading.RLock()

    def __len__(self) -> int:
        return int(self._index.ntotal)

    def ids(self) -> np.ndarray:
        import faiss

        with self._lock:
            return faiss.vector_to_array(self._index.id_map).astype(np.int64)

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        if len(ids) == 0:
            return
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.shape != (len(ids), self.dimension):
            raise ValueError(f"expected {len(ids)} vectors of {self.dimension}, got {vectors.shape}")
        with self._lock:
            self._index.add_with_ids(vectors, np.ascontiguousarray(ids, dtype=np.int64))

    def remove(self, ids: np.ndarray) -> int:
        if len(ids) == 0:
            return 0
        with self._lock:
            # faiss's Python wrapper accepts an id array here as well as an IDSelector.
            ids = np.ascontiguousarray(ids, dtype=np.int64)
            return int(self._index.remove_ids(ids))  # type: ignore[arg-type]

    def search(self, vector: np.ndarray, k: int) -> list[tuple[int, float]]:
        """Best `k` (passage id, cosine) pairs; FAISS pads with -1 when there are fewer."""
        return self.search_many(vector.reshape(1, -1), k)[0]

    def search_many(self, vectors: np.ndarray, k: int) -> list[list[tuple[int, float]]]:
        """`search` for each row of `vectors`, in one FAISS call."""
        queries = np.ascontiguousarray(vectors, dtype=np.float32)
        with self._lock:
            if self._index.ntotal == 0:
                return [[] for _ in range(len(queries))]
            scores, ids = self._index.search(queries, min(k, int(self._index.ntotal)))
        return [[(int(i), float(s)) for i, s in zip(row_ids, row_scores) if i != -1]
                for row_ids, row_scores in zip(ids, scores)]

    # -- persistence ----------------------------------------------------------------------

    def save(self, path: Path) -> None:
        """Write to a temporary file in the same folder, fsync, then rename over `path`."""
        import faiss

        with self._lock:
            header = IndexHeader(self.model, self.dimension, self.generation, len(self))
            payload = faiss.serialize_index(self._index).tobytes()
        header_bytes = json.dumps(header.__dict__).encode()
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(_MAGIC + struct.pack("<I", len(header_bytes)) + header_bytes)
                out.write(payload)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp_name, path)
        except BaseException:
            Path(tmp_name).unlink(missing_ok=True)
            raise
        _fsync_folder(path.parent)

    @classmethod
    def load(cls, path: Path) -> FaissVectorStore:
        import faiss

        try:
            data = path.read_bytes()
            if not data.startswith(_MAGIC):
                raise CorruptIndexError(f"{path}: not a crisisbot index file")
            offset = len(_MAGIC)
            (size,) = struct.unpack_from("<I", data, offset)
            header = IndexHeader(**json.loads(data[offset + 4 : offset + 4 + size]))
            index = faiss.deserialize_index(np.frombuffer(data[offset + 4 + size :], dtype=np.uint8))
            if not isinstance(index, faiss.IndexIDMap2):
                raise CorruptIndexError(f"{path}: holds a {type(index).__name__}, not an id-mapped index")
        except (CorruptIndexError, FileNotFoundError):
            raise
        except Exception as exc:  # faiss raises RuntimeError, json ValueError, struct error...
            raise CorruptIndexError(f"{path}: unreadable index ({exc})") from exc
        if index.d != header.dimension or index.ntotal != header.count:
            raise CorruptIndexError(f"{path}: header does not match the index it carries")
        store = cls(header.dimension, header.model)
        store._index = index
        store.generation = header.generation
        return store


def _fsync_folder(folder: Path) -> None:
    """Make the rename itself durable (POSIX): without it a power cut may undo it."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
