"""A FAISS inner-product index keyed by passage id, saved atomically with what it was built from.

The file carries a small header (model name, dimension, store generation, kind of index) in
front of the serialised index, in one file, so that a single rename replaces both together and
a crash leaves either the old file or the new one, never a mix.

Two kinds share the code: "exact" (`IndexIDMap2(IndexFlatIP)`) and "ivf" (`IndexIVFFlat` with
an inner-product flat quantizer), which is approximate but holds its own int64 ids, so it can
still be mended by id (add, remove, list) against the store. HNSW cannot remove ids, hence IVF.
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
from typing import TYPE_CHECKING, Any

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
    # Added with the approximate index; a file written before them is exact.
    kind: str = "exact"
    nprobe: int = 0
    recall_at_10: float | None = None

    @classmethod
    def from_json(cls, raw: bytes) -> IndexHeader:
        """Parse a header, ignoring fields a newer version may have added."""
        fields = json.loads(raw)
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in fields.items() if k in known})


class CorruptIndexError(Exception):
    """The saved index cannot be read; it is rebuilt from the store."""


EXACT = "exact"
IVF = "ivf"


class FaissVectorStore:
    """Inner-product search over unit vectors (so scores are cosine similarities).

    Exact by default; `index` may instead be a trained, inner-product `IndexIVFFlat` (see
    `index.approximate.build_ivf`), whose `nprobe` and measured recall travel in the header.
    """

    def __init__(self, dimension: int, model: str, index: faiss.Index | None = None,
                 recall_at_10: float | None = None) -> None:
        import faiss

        self.dimension = dimension
        self.model = model
        self.generation = 0
        # Any: IndexIDMap2 or IndexIVFFlat, whose attributes the faiss stubs do not share.
        self._index: Any = index if index is not None else faiss.IndexIDMap2(faiss.IndexFlatIP(dimension))
        self.recall_at_10 = recall_at_10
        self._lock = threading.RLock()

    def __len__(self) -> int:
        return int(self._index.ntotal)

    @property
    def kind(self) -> str:
        import faiss

        return IVF if isinstance(self._index, faiss.IndexIVF) else EXACT

    @property
    def nprobe(self) -> int:
        """Inverted lists visited per query (0 for the exact index)."""
        return int(self._index.nprobe) if self.kind == IVF else 0

    @nprobe.setter
    def nprobe(self, value: int) -> None:
        if self.kind != IVF:
            raise ValueError("only an IVF index has nprobe")
        with self._lock:
            self._index.nprobe = int(value)

    def ids(self) -> np.ndarray:
        import faiss

        with self._lock:
            if self.kind == EXACT:
                return faiss.vector_to_array(self._index.id_map).astype(np.int64)
            # IVF keeps the ids in its inverted lists; walking them costs O(n) but only the
            # mending (rare) asks, and a second id map would cost memory and could drift.
            lists = self._index.invlists
            parts = [np.zeros(0, dtype=np.int64)]
            for number in range(self._index.nlist):
                size = lists.list_size(number)
                if size:
                    parts.append(faiss.rev_swig_ptr(lists.get_ids(number), size).astype(np.int64))
            return np.concatenate(parts)

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
            header = IndexHeader(self.model, self.dimension, self.generation, len(self),
                                 self.kind, self.nprobe, self.recall_at_10)
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
            header = IndexHeader.from_json(data[offset + 4 : offset + 4 + size])
            index = faiss.deserialize_index(np.frombuffer(data[offset + 4 + size :], dtype=np.uint8))
            expected = {EXACT: faiss.IndexIDMap2, IVF: faiss.IndexIVFFlat}.get(header.kind)
            if expected is None or not isinstance(index, expected):
                raise CorruptIndexError(f"{path}: holds a {type(index).__name__}, not a {header.kind} index")
            if header.kind == IVF and index.metric_type != faiss.METRIC_INNER_PRODUCT:
                raise CorruptIndexError(f"{path}: the IVF index does not use inner product")
        except (CorruptIndexError, FileNotFoundError):
            raise
        except Exception as exc:  # faiss raises RuntimeError, json ValueError, struct error...
            raise CorruptIndexError(f"{path}: unreadable index ({exc})") from exc
        if index.d != header.dimension or index.ntotal != header.count:
            raise CorruptIndexError(f"{path}: header does not match the index it carries")
        store = cls(header.dimension, header.model, index, header.recall_at_10)
        store.generation = header.generation
        if header.kind == IVF and header.nprobe > 0:
            store.nprobe = header.nprobe
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
