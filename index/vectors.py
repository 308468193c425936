"""A FAISS inner-product index keyed by passage id, saved atomically with what it was built from.

The file carries a small header (model name, dimension, store generation, kind of index) in
front of the serialised index, in one file, so that a single rename replaces both together and
a crash leaves either the old file or the new one, never a mix. The header also holds the
SHA-256 of the serialised index, checked at every load: a damaged vector would otherwise load
as a valid index whose scores are nonsense (questions declined or matched to the wrong
passages, without a word), since the store's ids still match. Hashing costs about 1.6 s per
GB read (0.6 s for a million sq8 vectors, the default storage at that size; docs/testing.md);
a mismatch makes the search index rebuild the copy from the store.

Two kinds share the code: "exact" (`IndexIDMap2` over a flat index) and "ivf" (`IndexIVF` with
an inner-product flat quantizer), which is approximate but holds its own int64 ids, so it can
still be mended by id (add, remove, list) against the store. HNSW cannot remove ids, hence IVF.

Either kind stores its vectors as "float32", "float16" (half the memory; recall 1.000 on the
benchmarks) or "sq8" (8-bit scalar quantisation, a quarter; trained on stored vectors). A
smaller copy is also faster to scan exactly: exact search reads every vector per question, so
it is bound by memory bandwidth (README, "Speed").
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import struct
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from index.read_write_lock import ReadWriteLock
from knowledge.crash_test_hook import crash_test_point

if TYPE_CHECKING:
    import faiss

log = logging.getLogger(__name__)

_MAGIC = b"CRISISBOT-FAISS\x01"
_PENDING_DIGEST = "0" * 64  # same length as the digest that replaces it once the index is written
_PARALLEL_QUERIES = 16  # fewer queries than this are searched on one thread


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
    # Added with the storage option; a file written before them holds float32.
    storage: str = "float32"
    trained_on: int = 0  # vectors the copy was trained on (IVF centroids, sq8 ranges)
    # Added with the checksum: SHA-256 (hex) of the serialised index after the header. A
    # file written before it is loaded unchecked (and gains one at its next save).
    sha256: str | None = None

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
FLOAT32 = "float32"
FLOAT16 = "float16"
SQ8 = "sq8"
STORAGES = (FLOAT32, FLOAT16, SQ8)
AUTO = "auto"  # a setting, not a storage: the search index picks float32 or sq8 by size
TRAINED_STORAGES = (SQ8,)  # need stored vectors before the first add


def scalar_quantizer_type(storage: str) -> int:
    """FAISS's code for a quantised storage (float16 or sq8)."""
    import faiss

    types = {FLOAT16: faiss.ScalarQuantizer.QT_fp16, SQ8: faiss.ScalarQuantizer.QT_8bit}
    if storage not in types:
        raise ValueError(f"unknown vector storage {storage!r} (expected {', '.join(STORAGES)})")
    return types[storage]


def exact_index(dimension: int, storage: str = FLOAT32, training: np.ndarray | None = None) -> Any:
    """An empty exact inner-product index keyed by int64 ids. sq8 learns each component's
    range from `training` (stored vectors), widened by a fifth so later vectors rarely clip."""
    import faiss

    if storage == FLOAT32:
        return faiss.IndexIDMap2(faiss.IndexFlatIP(dimension))
    flat = faiss.IndexScalarQuantizer(dimension, scalar_quantizer_type(storage), faiss.METRIC_INNER_PRODUCT)
    if storage in TRAINED_STORAGES:
        if training is None or len(training) == 0:
            raise ValueError(f"{storage} storage needs stored vectors to train on")
        flat.sq.rangestat = faiss.ScalarQuantizer.RS_minmax
        flat.sq.rangestat_arg = 0.2
        flat.train(np.ascontiguousarray(training, dtype=np.float32))
    return faiss.IndexIDMap2(flat)


def storage_of(index: Any) -> str:
    """Which storage a (deserialised) exact or IVF index uses."""
    import faiss

    inner = faiss.downcast_index(index.index) if isinstance(index, faiss.IndexIDMap2) else index
    if isinstance(inner, (faiss.IndexFlatIP, faiss.IndexIVFFlat)):
        return FLOAT32
    if isinstance(inner, (faiss.IndexScalarQuantizer, faiss.IndexIVFScalarQuantizer)):
        by_type = {scalar_quantizer_type(s): s for s in (FLOAT16, SQ8)}
        if inner.sq.qtype in by_type:
            return by_type[inner.sq.qtype]
    raise CorruptIndexError(f"unsupported vector storage {type(inner).__name__}")


class FaissVectorStore:
    """Inner-product search over unit vectors (so scores are cosine similarities).

    Exact float32 by default; `index` may instead be another `exact_index` or a trained,
    inner-product IVF index (see `index.approximate.build_ivf`), whose `nprobe` and measured
    recall travel in the header.
    """

    def __init__(self, dimension: int, model: str, index: faiss.Index | None = None,
                 recall_at_10: float | None = None, trained_on: int = 0) -> None:
        self.dimension = dimension
        self.model = model
        self.generation = 0
        # Any: IndexIDMap2 or IndexIVF*, whose attributes the faiss stubs do not share.
        self._index: Any = index if index is not None else exact_index(dimension)
        self.storage = storage_of(self._index)
        self.recall_at_10 = recall_at_10
        self.trained_on = trained_on
        # Searches and saves read side by side; add, remove and nprobe changes write alone.
        self._lock = ReadWriteLock()

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
        with self._lock.writing():
            self._index.nprobe = int(value)

    def ids(self) -> np.ndarray:
        import faiss

        with self._lock.reading():
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
        with self._lock.writing():
            self._index.add_with_ids(vectors, np.ascontiguousarray(ids, dtype=np.int64))

    def remove(self, ids: np.ndarray) -> int:
        if len(ids) == 0:
            return 0
        with self._lock.writing():
            # faiss's Python wrapper accepts an id array here as well as an IDSelector.
            ids = np.ascontiguousarray(ids, dtype=np.int64)
            return int(self._index.remove_ids(ids))  # type: ignore[arg-type]

    def search(self, vector: np.ndarray, k: int) -> list[tuple[int, float]]:
        """Best `k` (passage id, cosine) pairs; FAISS pads with -1 when there are fewer."""
        return self.search_many(vector.reshape(1, -1), k)[0]

    def search_many(self, vectors: np.ndarray, k: int) -> list[list[tuple[int, float]]]:
        """`search` for each row of `vectors`, in one FAISS call."""
        import faiss

        queries = np.ascontiguousarray(vectors, dtype=np.float32)
        # FAISS spreads a search over its OpenMP threads by query: one question gains nothing
        # from a second thread, and on a busy machine the threads' barrier cost 27 ms where the
        # search itself took 0.15 ms (measured). The setting is this thread's own (OpenMP's
        # per-thread nthreads), so builds elsewhere keep every core.
        faiss.omp_set_num_threads(1 if len(queries) < _PARALLEL_QUERIES else os.cpu_count() or 1)
        with self._lock.reading():
            if self._index.ntotal == 0:
                return [[] for _ in range(len(queries))]
            scores, ids = self._index.search(queries, min(k, int(self._index.ntotal)))
        return [[(int(i), float(s)) for i, s in zip(row_ids, row_scores) if i != -1]
                for row_ids, row_scores in zip(ids, scores)]

    # -- persistence ----------------------------------------------------------------------

    def save(self, path: Path) -> None:
        """Write to a temporary file in the same folder, fsync, then rename over `path`.

        The index streams straight into the file (no in-memory copy, which would double the
        memory of a large index) under the read lock, so searches go on while it writes.
        """
        import faiss

        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as out, self._lock.reading():
                header = IndexHeader(self.model, self.dimension, self.generation, len(self),
                                     self.kind, self.nprobe, self.recall_at_10, self.storage,
                                     self.trained_on, _PENDING_DIGEST)
                header_bytes = json.dumps(header.__dict__).encode()
                out.write(_MAGIC + struct.pack("<I", len(header_bytes)) + header_bytes)
                digest = hashlib.sha256()

                def write(chunk: bytes) -> None:
                    digest.update(chunk)
                    out.write(chunk)
                    crash_test_point("faiss.write")

                writer = faiss.PyCallbackIOWriter(write)  # type: ignore[attr-defined]
                faiss.write_index(self._index, writer)
                del writer  # flushes its buffer into `write`
                # The digest is known only now: it overwrites its placeholder, same length.
                final = json.dumps({**header.__dict__, "sha256": digest.hexdigest()}).encode()
                assert len(final) == len(header_bytes)
                out.seek(len(_MAGIC) + 4)
                out.write(final)
                out.flush()
                os.fsync(out.fileno())
            crash_test_point("faiss.rename.before")
            os.replace(tmp_name, path)
            crash_test_point("faiss.rename.after")
        except BaseException:
            Path(tmp_name).unlink(missing_ok=True)
            raise
        _fsync_folder(path.parent)

    @classmethod
    def load(cls, path: Path) -> FaissVectorStore:
        import faiss

        try:
            with path.open("rb") as data:
                if data.read(len(_MAGIC)) != _MAGIC:
                    raise CorruptIndexError(f"{path}: not a crisisbot index file")
                (size,) = struct.unpack("<I", data.read(4))
                header = IndexHeader.from_json(data.read(size))
                digest = hashlib.sha256()

                def read(size: int) -> bytes:
                    chunk = data.read(size)
                    digest.update(chunk)
                    return chunk

                index = faiss.read_index(faiss.PyCallbackIOReader(read))  # type: ignore[attr-defined]
                if data.read(1):
                    raise CorruptIndexError(f"{path}: unexpected bytes after the index")
            if header.sha256 is not None and digest.hexdigest() != header.sha256:
                raise CorruptIndexError(f"{path}: checksum mismatch (the file was damaged on disk)")
            expected = {EXACT: faiss.IndexIDMap2, IVF: faiss.IndexIVF}.get(header.kind)
            if expected is None or not isinstance(index, expected):
                raise CorruptIndexError(f"{path}: holds a {type(index).__name__}, not a {header.kind} index")
            if index.metric_type != faiss.METRIC_INNER_PRODUCT:
                raise CorruptIndexError(f"{path}: the index does not use inner product")
            if storage_of(index) != header.storage:
                raise CorruptIndexError(f"{path}: header says {header.storage}, the index differs")
        except (CorruptIndexError, FileNotFoundError):
            raise
        except Exception as exc:  # faiss raises RuntimeError, json ValueError, struct error...
            raise CorruptIndexError(f"{path}: unreadable index ({exc})") from exc
        if index.d != header.dimension or index.ntotal != header.count:
            raise CorruptIndexError(f"{path}: header does not match the index it carries")
        store = cls(header.dimension, header.model, index, header.recall_at_10, header.trained_on)
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
