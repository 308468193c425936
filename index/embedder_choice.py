"""Which engine embeds: torch (sentence-transformers) or ONNX Runtime, from the settings.

`make_embedder` returns at once without loading anything heavy. The choice is made on the
first `embed` (commands that only read the index's name never pay for it):

- "torch": the `SentenceTransformerEmbedder`, as before.
- "onnx" / "auto": the exported model (`index.onnx_export`, made once), int8 when asked,
  accepted only if it agrees with torch on `VALIDATION_TEXTS` (every cosine >= `AGREEMENT`).
  The torch vectors of those texts are computed once, at the first export, and kept beside the
  export; a later start re-checks a sixth of the texts against them (about 0.1 s instead of
  0.6 s for all 30) without loading torch. A stored export that no longer
  agrees (a damaged file) is exported again once; int8 that fails falls back to fp32.
  When ONNX cannot be used, "auto" logs a warning and uses torch; "onnx" raises `ConfigError`.

Both engines have the same `name`: their vectors are interchangeable in a stored index.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from index import onnx_export as export
from index.embedder import Embedder, SentenceTransformerEmbedder
from index.onnx_embedder import VALIDATION_TEXTS, OnnxEmbedder, read_pipeline
from knowledge.errors import ConfigError

log = logging.getLogger(__name__)

BACKENDS = ("auto", "torch", "onnx")
AGREEMENT = 0.99  # least cosine to torch on every validation text


class OnnxUnavailable(Exception):
    """ONNX cannot be used here; the message says why (for the fallback's warning)."""


class OnnxNotInstalled(OnnxUnavailable):
    """onnxruntime is absent: an install without the extra, not a fault worth a warning."""


def make_embedder(model_path: Path, model_name: str, backend: str = "auto", quantize: bool = False,
                  cache_dir: Path | None = None) -> Embedder:
    """The embedder the settings ask for. `cache_dir` holds exports (`<data_dir>/onnx`)."""
    if backend not in BACKENDS:
        raise ConfigError(f"unknown embedding backend {backend!r} (expected {', '.join(BACKENDS)})")
    torch_embedder = SentenceTransformerEmbedder(model_path, model_name)
    if backend == "torch":
        return torch_embedder
    if cache_dir is None:
        raise ConfigError("the ONNX embedding backend needs a folder for its export")
    return ChosenEmbedder(torch_embedder, cache_dir, quantize, required=backend == "onnx")


class ChosenEmbedder:
    """An `Embedder` that picks ONNX or torch on first use, then delegates to it."""

    def __init__(self, torch_embedder: SentenceTransformerEmbedder, cache_dir: Path, quantize: bool,
                 required: bool, threshold: float = AGREEMENT) -> None:
        self.torch = torch_embedder
        self.cache_dir = cache_dir
        self.quantize = quantize
        self.required = required
        self.threshold = threshold
        self.name = torch_embedder.name
        self.dimension = torch_embedder.dimension
        self._chosen: Embedder | None = None
        self.backend: str | None = None  # "onnx", "onnx-int8" or "torch" once chosen
        self._lock = threading.Lock()

    def count_tokens(self, text: str) -> int:
        # The same tokenizer.json either way, and it loads without torch or onnxruntime.
        return self.torch.count_tokens(text)

    def embed(self, texts: list[str]) -> np.ndarray:
        return self.resolve().embed(texts)

    def resolve(self) -> Embedder:
        with self._lock:
            if self._chosen is None:
                self._chosen = self._choose()
            return self._chosen

    def _choose(self) -> Embedder:
        started = time.perf_counter()
        try:
            chosen = load_onnx(self.torch, self.cache_dir, self.quantize, self.threshold)
        except OnnxUnavailable as exc:
            if self.required:
                raise ConfigError(f"the ONNX embedding backend cannot be used: {exc}") from None
            level = logging.INFO if isinstance(exc, OnnxNotInstalled) else logging.WARNING
            log.log(level, "embedding with torch: the ONNX backend cannot be used: %s", exc)
            self.backend = "torch"
            return self.torch
        self.backend = "onnx-int8" if chosen.path.name.endswith(".int8.onnx") else "onnx"
        log.info("embedding with %s (%s), ready in %.2f s", self.backend, chosen.path,
                 time.perf_counter() - started)
        return chosen


def load_onnx(torch_embedder: SentenceTransformerEmbedder, cache_dir: Path, quantize: bool,
              threshold: float = AGREEMENT) -> OnnxEmbedder:
    """A validated `OnnxEmbedder`, exporting (and quantising) first when needed."""
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        raise OnnxNotInstalled("onnxruntime is not installed (pip install 'crisisbot[onnx]')") from None
    model_path, name = torch_embedder.path, torch_embedder.name
    try:
        read_pipeline(model_path)
    except ConfigError as exc:
        raise OnnxUnavailable(str(exc)) from None
    directory = export.export_dir(cache_dir, name)
    try:
        with export.export_lock(directory):
            identity = export.source_identity(model_path, name, directory)
            reference = _reference(directory, identity, torch_embedder)
            loader = _Loader(directory, identity, torch_embedder, reference, threshold)
            if quantize:
                try:
                    return loader.load(quantized=True)
                except OnnxUnavailable as exc:
                    log.warning("int8 ONNX model rejected, trying fp32: %s", exc)
            return loader.load(quantized=False)
    except OSError as exc:  # an unwritable data folder, a full disk
        raise OnnxUnavailable(f"{directory}: {exc}") from None


def cosines(vectors: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Row-wise cosine of two sets of vectors (normalised again, in float64)."""
    a = vectors.astype(np.float64)
    b = reference.astype(np.float64)
    dots = (a * b).sum(axis=1)
    return dots / np.maximum(np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1), 1e-12)


def _reference(directory: Path, identity: dict[str, Any], torch_embedder: Embedder) -> np.ndarray:
    """torch's vectors of the validation texts: stored, or computed (loading torch) and stored."""
    key = hashlib.sha256(
        "\n".join([identity["weights_sha256"], identity["torch"],
                   export._version("sentence-transformers"), *VALIDATION_TEXTS]).encode()
    ).hexdigest()
    stored = export.load_reference(directory, key)
    if stored is not None and stored.shape == (len(VALIDATION_TEXTS), torch_embedder.dimension):
        return stored
    vectors = torch_embedder.embed(list(VALIDATION_TEXTS))
    export.save_reference(directory, key, vectors)
    return vectors


class _Loader:
    """Opens one variant (fp32 or int8), rebuilding it when stale, unreadable or wrong."""

    def __init__(self, directory: Path, identity: dict[str, Any], torch_embedder: SentenceTransformerEmbedder,
                 reference: np.ndarray, threshold: float) -> None:
        self.directory = directory
        self.identity = identity
        self.torch = torch_embedder
        self.reference = reference
        self.threshold = threshold

    def load(self, quantized: bool) -> OnnxEmbedder:
        path = export.onnx_path(self.directory, quantized)
        manifest = export.read_manifest(export.manifest_path(self.directory, quantized)) or {}
        if export.is_current(self.directory, quantized, self._identity(quantized)):
            if manifest.get("accepted") is False and manifest.get("threshold") == self.threshold:
                raise OnnxUnavailable(f"{path} disagreed with torch when it was made "
                                      f"(least cosine {manifest.get('min_cosine')})")
            try:
                embedder = self._open(path)
                # A spot check (6 of the texts, ~0.1 s): the whole set was checked at export.
                spot = slice(None, None, 5)
                vectors = embedder.embed(list(VALIDATION_TEXTS[spot]))
                low = float(cosines(vectors, self.reference[spot]).min())
                if low >= self.threshold:
                    return embedder
                log.warning("%s disagrees with torch (least cosine %.4f): exporting again", path, low)
            except OnnxUnavailable as exc:
                log.warning("%s: exporting again", exc)
        return self._rebuild(quantized)

    def _rebuild(self, quantized: bool) -> OnnxEmbedder:
        path = export.onnx_path(self.directory, quantized)
        export.forget(self.directory, quantized)
        started = time.perf_counter()
        try:
            if quantized:
                source = self._fp32_file()
                export.quantize_int8(source, path)
                exporter = f"onnxruntime.quantization.quantize_dynamic ({export.INT8_SETTINGS})"
            else:
                exporter = export.export_fp32(self.torch.path, path)
        except Exception as exc:  # any failure of torch.onnx or the quantiser: fall back, logged
            log.warning("ONNX export of %s failed", self.torch.path, exc_info=True)
            raise OnnxUnavailable(f"export failed: {exc}") from None
        seconds = time.perf_counter() - started
        embedder = self._open(path)
        found = cosines(embedder.embed(list(VALIDATION_TEXTS)), self.reference)
        accepted = bool(found.min() >= self.threshold)
        export.write_manifest(self.directory, quantized, self._identity(quantized), self.torch.path,
                              exporter=exporter, export_seconds=round(seconds, 2),
                              threshold=self.threshold, accepted=accepted,
                              min_cosine=round(float(found.min()), 6), mean_cosine=round(float(found.mean()), 6))
        log.info("exported %s in %.1f s (least cosine to torch %.4f)", path, seconds, found.min())
        if not accepted:
            raise OnnxUnavailable(f"{path} disagrees with torch (least cosine {found.min():.4f} "
                                  f"< {self.threshold})")
        return embedder

    def _identity(self, quantized: bool) -> dict[str, Any]:
        """The int8 file also depends on the quantisation recipe."""
        return {**self.identity, "quantization": export.INT8_SETTINGS if quantized else None}

    def _fp32_file(self) -> Path:
        """The fp32 export that int8 is made from: current, or made now."""
        if not export.is_current(self.directory, False, self._identity(False)):
            self._rebuild(False)
        return export.onnx_path(self.directory, False)

    def _open(self, path: Path) -> OnnxEmbedder:
        try:
            return OnnxEmbedder(path, self.torch.path, self.torch.name)
        except Exception as exc:  # onnxruntime's own exception types for a damaged file
            raise OnnxUnavailable(f"{path} cannot be loaded ({type(exc).__name__})") from None
