"""The bundled model exported to ONNX once, offline, and kept in the data folder.

Layout of `<cache_dir>/<model name>/`:

- `model.onnx` (fp32) and `model.int8.onnx` (dynamic int8 quantisation of it, when asked);
- `model.manifest.json` / `model.int8.manifest.json`: what each file was made from (model
  name, SHA-256 of the source weights, opset, exporter, torch and onnxruntime versions,
  quantised or not, size) and the agreement with torch measured when it was made;
- `reference.npz`: the torch embedder's vectors of `VALIDATION_TEXTS`, so that later starts
  check an export against torch without loading torch.

A file whose manifest is missing, unreadable or different from what this process would write
is rebuilt; every file is written to a temporary name, fsynced and renamed, and a manifest
only after its model, so a crash leaves either the old pair or a mismatch that is rebuilt.
Versions come from package metadata: reading them never imports torch.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import re
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

MANIFEST_VERSION = 1
OPSET = 18
_WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")
_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def export_dir(cache_dir: Path, model_name: str) -> Path:
    return cache_dir / re.sub(r"[^A-Za-z0-9._-]+", "_", model_name)


def onnx_path(directory: Path, quantized: bool) -> Path:
    return directory / ("model.int8.onnx" if quantized else "model.onnx")


def manifest_path(directory: Path, quantized: bool) -> Path:
    return directory / ("model.int8.manifest.json" if quantized else "model.manifest.json")


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "absent"


def weights_file(model_path: Path) -> Path:
    for name in _WEIGHT_FILES:
        if (model_path / name).is_file():
            return model_path / name
    raise FileNotFoundError(f"{model_path}: no model weights ({' or '.join(_WEIGHT_FILES)})")


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def source_identity(model_path: Path, model_name: str, directory: Path) -> dict[str, Any]:
    """What an export depends on; equal identities mean the stored export is still valid.

    Hashing the weights (90 MB) costs about 0.2 s, so the fp32 manifest's hash is reused
    while the weights file keeps the size and modification time recorded beside it.
    """
    weights = weights_file(model_path)
    stat = weights.stat()
    known = read_manifest(manifest_path(directory, False)) or {}
    if (known.get("weights_file"), known.get("weights_size"), known.get("weights_mtime_ns")) == (
        weights.name, stat.st_size, stat.st_mtime_ns
    ) and isinstance(known.get("weights_sha256"), str):
        checksum = known["weights_sha256"]
    else:
        checksum = file_sha256(weights)
    return {
        "manifest_version": MANIFEST_VERSION,
        "model_name": model_name,
        "weights_file": weights.name,
        "weights_sha256": checksum,
        "opset": OPSET,
        "torch": _version("torch"),
        "onnxruntime": _version("onnxruntime"),
    }


def read_manifest(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def is_current(directory: Path, quantized: bool, identity: dict[str, Any]) -> bool:
    """The file exists, has the size its manifest records, and was made from `identity`."""
    manifest = read_manifest(manifest_path(directory, quantized))
    if manifest is None or manifest.get("quantized") != quantized:
        return False
    if any(manifest.get(key) != value for key, value in identity.items()):
        return False
    try:
        return onnx_path(directory, quantized).stat().st_size == manifest.get("size")
    except OSError:
        return False


def write_manifest(directory: Path, quantized: bool, identity: dict[str, Any], model_path: Path,
                   **extra: Any) -> None:
    model = onnx_path(directory, quantized)
    weights = (model_path / identity["weights_file"]).stat()
    manifest = {**identity, "quantized": quantized, "size": model.stat().st_size,
                "weights_size": weights.st_size, "weights_mtime_ns": weights.st_mtime_ns,
                "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), **extra}
    atomic_write(manifest_path(directory, quantized),
                 lambda tmp: tmp.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8"))


def forget(directory: Path, quantized: bool) -> None:
    """Remove a manifest first, so a half-rebuilt file is never taken for a current one."""
    manifest_path(directory, quantized).unlink(missing_ok=True)


def atomic_write(target: Path, write: Callable[[Path], object]) -> None:
    """`write(tmp)` fills a temporary file beside `target`; fsync, then rename over it."""
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    os.close(handle)
    tmp = Path(name)
    try:
        write(tmp)
        os.chmod(tmp, 0o666 & ~current_umask())  # mkstemp makes 0600; give the usual permissions
        with tmp.open("rb+") as file:
            os.fsync(file.fileno())
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    directory = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def current_umask() -> int:
    """The process's umask (reading it means setting it; it is set straight back)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextmanager
def export_lock(directory: Path) -> Iterator[None]:
    """One exporter at a time per folder (two bots starting together export once)."""
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / ".lock", "a+b") as file:
        fcntl.flock(file.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(file.fileno(), fcntl.LOCK_UN)


def export_fp32(model_path: Path, target: Path) -> str:
    """torch.onnx.export of the transformer (last hidden state), dynamic batch and sequence
    axes; returns the exporter used. The TorchScript exporter is tried first: its graph runs
    15-25% faster under ONNX Runtime than the dynamo one's here and needs no onnxscript."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import torch
    from transformers import AutoModel
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()
    model = AutoModel.from_pretrained(str(model_path), local_files_only=True).eval()

    class LastHiddenState(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                    token_type_ids: torch.Tensor) -> torch.Tensor:
            return self.model(input_ids=input_ids, attention_mask=attention_mask,
                              token_type_ids=token_type_ids).last_hidden_state

    ids = torch.ones((2, 8), dtype=torch.long)
    example = (ids, torch.ones_like(ids), torch.zeros_like(ids))
    common: dict[str, Any] = {"input_names": list(_INPUTS), "output_names": ["last_hidden_state"],
                              "opset_version": OPSET}
    axes = {name: {0: "batch", 1: "sequence"} for name in (*_INPUTS, "last_hidden_state")}
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            atomic_write(target, lambda tmp: torch.onnx.export(
                LastHiddenState(), example, str(tmp), dynamo=False, dynamic_axes=axes, **common))
            return "torchscript"
        except Exception as exc:  # removed or broken in a later torch: the dynamo exporter
            log.info("TorchScript ONNX export failed (%s); trying the dynamo exporter", exc)
        batch, sequence = torch.export.Dim("batch"), torch.export.Dim("sequence", max=4096)
        shapes = {name: {0: batch, 1: sequence} for name in _INPUTS}
        atomic_write(target, lambda tmp: torch.onnx.export(
            LastHiddenState(), example, str(tmp), dynamo=True, dynamic_shapes=shapes,
            external_data=False, verbose=False, **common))
        return "dynamo"


# Dynamic int8 of every weight MatMul, per output channel, except each layer's feed-forward
# output projection (1536 -> 384, where BERT's activation outliers are). Measured on
# VALIDATION_TEXTS (least cosine to torch): plain per-tensor quantisation 0.946, per-channel
# 0.9856, per-channel MatMul only 0.9897, and with these six MatMuls left in fp32 0.9948.
INT8_SETTINGS = "QInt8, MatMul only, per channel, feed-forward output projections in fp32"
_INT8_KEEP_FLOAT = re.compile(r"layer\.\d+/output/dense/MatMul$")


def quantize_int8(source: Path, target: Path) -> None:
    """Dynamic int8 quantisation of the weights (activations stay float, scaled per batch)."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    graph = onnx.load(str(source), load_external_data=False).graph
    keep_float = [node.name for node in graph.node if _INT8_KEEP_FLOAT.search(node.name)]
    atomic_write(target, lambda tmp: quantize_dynamic(
        str(source), str(tmp), weight_type=QuantType.QInt8, per_channel=True,
        op_types_to_quantize=["MatMul"], nodes_to_exclude=keep_float))


def load_reference(directory: Path, key: str) -> np.ndarray | None:
    """The stored torch vectors of the validation texts, if they were made under `key`."""
    try:
        with np.load(directory / "reference.npz", allow_pickle=False) as data:
            if str(data["key"]) != key:
                return None
            return np.asarray(data["vectors"], dtype=np.float32)
    except (OSError, KeyError, ValueError, EOFError):
        return None


def save_reference(directory: Path, key: str, vectors: np.ndarray) -> None:
    def write(tmp: Path) -> None:
        with tmp.open("wb") as file:
            np.savez(file, key=np.array(key), vectors=vectors.astype(np.float32))

    atomic_write(directory / "reference.npz", write)
