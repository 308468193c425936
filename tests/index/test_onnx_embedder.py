"""The ONNX Runtime embedder against the torch one, on the real bundled model."""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from index import onnx_export
from index.embedder import SentenceTransformerEmbedder
from index.embedder_choice import AGREEMENT, ChosenEmbedder, cosines, make_embedder
from index.onnx_embedder import VALIDATION_TEXTS, OnnxEmbedder
from knowledge.errors import ConfigError

pytest.importorskip("onnxruntime")
pytestmark = pytest.mark.slow

NAME = "all-MiniLM-L6-v2"
# int8 (per channel, feed-forward outputs in fp32) measured 0.9948 on VALIDATION_TEXTS and
# 0.993-0.996 on these; fp32 measures 1.0000.
INT8_AGREEMENT = 0.99

_WORDS = ("the regional administration said that repair crews restored power to most of the "
          "city after overnight strikes damaged two substations and a water pumping station while "
          "residents queued for bread and fuel near the central market ").split()
LONG_PASSAGE = " ".join(_WORDS[i % len(_WORDS)] for i in range(300))  # ~330 word pieces: truncated
UNSEEN = [
    "What happened at the Crimean bridge?",
    "Are Ukrainian ports open for grain ships?",
    "How many civilians died in Mariupol?",
    "kyiv metro shelter",
    "Prisoner exchange announced after talks mediated by Turkey and Saudi Arabia brought home "
    "more than two hundred soldiers, including defenders of the steel plant.",
    "Rising fertiliser prices worry farmers in Africa, where many countries depend on imports "
    "from the Black Sea region; aid agencies warned of food shortages in the coming months.",
    LONG_PASSAGE,
]


@pytest.fixture(scope="module")
def exports(tmp_path_factory: pytest.TempPathFactory, real_embedder: SentenceTransformerEmbedder) -> Path:
    """One export folder (fp32 and int8) made once for the module; tests copy it."""
    root = tmp_path_factory.mktemp("onnx")
    chosen = make_embedder(real_embedder.path, NAME, "onnx", quantize=True, cache_dir=root)
    assert isinstance(chosen, ChosenEmbedder)
    chosen.resolve()
    assert chosen.backend == "onnx-int8"
    return root


@pytest.fixture
def cache_dir(exports: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "onnx"
    shutil.copytree(exports, copy)
    return copy


@pytest.fixture
def count_exports(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    made: list[str] = []
    original_fp32, original_int8 = onnx_export.export_fp32, onnx_export.quantize_int8

    def fp32(model_path: Path, target: Path) -> str:
        made.append("fp32")
        return original_fp32(model_path, target)

    def int8(source: Path, target: Path) -> None:
        made.append("int8")
        original_int8(source, target)

    monkeypatch.setattr(onnx_export, "export_fp32", fp32)
    monkeypatch.setattr(onnx_export, "quantize_int8", int8)
    return made


def choose(real_embedder: SentenceTransformerEmbedder, cache_dir: Path, backend: str = "auto",
           quantize: bool = False) -> ChosenEmbedder:
    chosen = make_embedder(real_embedder.path, NAME, backend, quantize=quantize, cache_dir=cache_dir)
    assert isinstance(chosen, ChosenEmbedder)
    chosen.resolve()
    return chosen


def model_dir(cache_dir: Path) -> Path:
    return onnx_export.export_dir(cache_dir, NAME)


def test_fp32_agrees_with_torch_on_unseen_texts(real_embedder: SentenceTransformerEmbedder, cache_dir: Path) -> None:
    chosen = choose(real_embedder, cache_dir)
    assert chosen.backend == "onnx"
    assert (chosen.name, chosen.dimension) == (real_embedder.name, real_embedder.dimension)
    vectors = chosen.embed(UNSEEN)
    assert vectors.dtype == np.float32 and vectors.shape == (len(UNSEEN), 384)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    found = cosines(vectors, real_embedder.embed(UNSEEN))
    assert found.min() >= 0.9999, found


def test_truncation_matches_torch(real_embedder: SentenceTransformerEmbedder, cache_dir: Path) -> None:
    chosen = choose(real_embedder, cache_dir)
    assert real_embedder.count_tokens(LONG_PASSAGE) > 256
    cut_early = " ".join(LONG_PASSAGE.split()[:200])  # differs from the passage after ~250 pieces
    torch_vectors = real_embedder.embed([LONG_PASSAGE, LONG_PASSAGE + " and more words at the end"])
    onnx_vectors = chosen.embed([LONG_PASSAGE, LONG_PASSAGE + " and more words at the end", cut_early])
    assert cosines(onnx_vectors[:2], torch_vectors).min() >= 0.9999
    assert float(onnx_vectors[0] @ onnx_vectors[1]) > 0.99999  # words past the window are ignored
    assert float(onnx_vectors[0] @ onnx_vectors[2]) < 0.9999  # but the window is not shorter


def test_batches_and_order_do_not_change_vectors(real_embedder: SentenceTransformerEmbedder, cache_dir: Path) -> None:
    directory = model_dir(cache_dir)
    small = OnnxEmbedder(onnx_export.onnx_path(directory, False), real_embedder.path, NAME, batch_size=2)
    together = small.embed(UNSEEN)
    alone = np.vstack([small.embed([text]) for text in UNSEEN])
    assert cosines(together, alone).min() >= 0.99999
    assert small.embed([]).shape == (0, 384)


def test_count_tokens_equals_torch(real_embedder: SentenceTransformerEmbedder, cache_dir: Path) -> None:
    directory = model_dir(cache_dir)
    onnx = OnnxEmbedder(onnx_export.onnx_path(directory, False), real_embedder.path, NAME)
    chosen = choose(real_embedder, cache_dir)
    for text in [*UNSEEN, "", "Зеленський сказав", "naïve café — 3.9 million tonnes!"]:
        assert onnx.count_tokens(text) == real_embedder.count_tokens(text) == chosen.count_tokens(text)


def test_export_is_reused(real_embedder: SentenceTransformerEmbedder, cache_dir: Path,
                          count_exports: list[str]) -> None:
    model = onnx_export.onnx_path(model_dir(cache_dir), False)
    before = model.stat().st_mtime_ns
    choose(real_embedder, cache_dir)
    choose(real_embedder, cache_dir, quantize=True)
    assert count_exports == []
    assert model.stat().st_mtime_ns == before


def test_first_use_exports_once(real_embedder: SentenceTransformerEmbedder, tmp_path: Path,
                                count_exports: list[str]) -> None:
    cache = tmp_path / "onnx"
    assert choose(real_embedder, cache).backend == "onnx"
    assert choose(real_embedder, cache).backend == "onnx"
    assert count_exports == ["fp32"]
    manifest = json.loads(onnx_export.manifest_path(model_dir(cache), False).read_text())
    assert manifest["model_name"] == NAME and manifest["quantized"] is False and manifest["accepted"]
    assert manifest["weights_sha256"] == onnx_export.file_sha256(real_embedder.path / "model.safetensors")
    assert manifest["min_cosine"] >= 0.9999


@pytest.mark.parametrize("damage", ["garbage", "truncated", "weights"])
def test_corrupt_model_is_rebuilt(real_embedder: SentenceTransformerEmbedder, cache_dir: Path,
                                  count_exports: list[str], damage: str) -> None:
    model = onnx_export.onnx_path(model_dir(cache_dir), False)
    data = bytearray(model.read_bytes())
    if damage == "garbage":
        data = bytearray(b"not a model" * 100)
    elif damage == "truncated":
        data = data[: len(data) // 2]
    else:  # same size, wrong weights: only the check against torch notices
        middle = len(data) // 2
        data[middle : middle + 4_000_000] = np.random.default_rng(0).bytes(4_000_000)
    model.write_bytes(bytes(data))
    chosen = choose(real_embedder, cache_dir)
    assert chosen.backend == "onnx"
    assert count_exports == ["fp32"]
    assert cosines(chosen.embed(UNSEEN[:3]), real_embedder.embed(UNSEEN[:3])).min() >= 0.9999


@pytest.mark.parametrize("change", [("opset", 11), ("weights_sha256", "0" * 64), ("torch", "1.0"), None])
def test_mismatched_manifest_is_rebuilt(real_embedder: SentenceTransformerEmbedder, cache_dir: Path,
                                        count_exports: list[str], change: tuple[str, object] | None) -> None:
    manifest = onnx_export.manifest_path(model_dir(cache_dir), False)
    if change is None:
        manifest.write_text("{not json")
    else:
        data = json.loads(manifest.read_text())
        data[change[0]] = change[1]
        data.pop("weights_mtime_ns")  # so the checksum is computed, not taken from the manifest
        manifest.write_text(json.dumps(data))
    assert choose(real_embedder, cache_dir).backend == "onnx"
    assert count_exports == ["fp32"]
    assert json.loads(manifest.read_text())["opset"] == onnx_export.OPSET


def test_int8_loads_and_agrees(real_embedder: SentenceTransformerEmbedder, cache_dir: Path) -> None:
    chosen = choose(real_embedder, cache_dir, quantize=True)
    assert chosen.backend == "onnx-int8"
    int8 = onnx_export.onnx_path(model_dir(cache_dir), True)
    # The word-embedding table (47 MB) stays fp32: only the MatMul weights are int8.
    assert int8.stat().st_size < onnx_export.onnx_path(model_dir(cache_dir), False).stat().st_size * 0.8
    found = cosines(chosen.embed(UNSEEN), real_embedder.embed(UNSEEN))
    assert found.min() >= INT8_AGREEMENT, found


def test_falls_back_to_torch_when_validation_fails(real_embedder: SentenceTransformerEmbedder, cache_dir: Path,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    strict = ChosenEmbedder(real_embedder, cache_dir, quantize=False, required=False, threshold=1.01)
    with caplog.at_level(logging.WARNING):
        vectors = strict.embed(UNSEEN[:2])
    assert strict.backend == "torch"
    assert "embedding with torch" in caplog.text
    assert cosines(vectors, real_embedder.embed(UNSEEN[:2])).min() > 0.99999
    manifest = json.loads(onnx_export.manifest_path(model_dir(cache_dir), False).read_text())
    assert manifest["accepted"] is False  # remembered: the next start does not export again


def test_falls_back_when_outputs_are_wrong(real_embedder: SentenceTransformerEmbedder, cache_dir: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    original: Callable[..., np.ndarray] = OnnxEmbedder.embed

    def shuffled(self: OnnxEmbedder, texts: list[str]) -> np.ndarray:
        return original(self, texts)[::-1].copy()

    monkeypatch.setattr(OnnxEmbedder, "embed", shuffled)
    chosen = choose(real_embedder, cache_dir)
    assert chosen.backend == "torch"


def test_required_onnx_raises_instead_of_falling_back(real_embedder: SentenceTransformerEmbedder,
                                                      cache_dir: Path) -> None:
    strict = ChosenEmbedder(real_embedder, cache_dir, quantize=False, required=True, threshold=1.01)
    with pytest.raises(ConfigError, match="ONNX"):
        strict.resolve()


def test_torch_backend_and_bad_names(real_embedder: SentenceTransformerEmbedder, tmp_path: Path) -> None:
    embedder = make_embedder(real_embedder.path, NAME, "torch", cache_dir=tmp_path)
    assert isinstance(embedder, SentenceTransformerEmbedder)
    assert not (tmp_path / NAME).exists()
    with pytest.raises(ConfigError, match="unknown embedding backend"):
        make_embedder(real_embedder.path, NAME, "tensorflow", cache_dir=tmp_path)


def test_validation_set_is_a_mix() -> None:
    assert 25 <= len(VALIDATION_TEXTS) <= 40 and len(set(VALIDATION_TEXTS)) == len(VALIDATION_TEXTS)
    assert sum(len(text) < 80 for text in VALIDATION_TEXTS) >= 10
    assert sum(len(text) > 200 for text in VALIDATION_TEXTS) >= 10
    assert AGREEMENT == 0.99


def test_by_default_the_service_answers_with_onnx_as_it_does_with_torch(
        tmp_path: Path, seeded_bot: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """With no setting (the suite's conftest pins torch for speed; a user's install does not),
    the export lands in the data folder and the seed question is answered with the same
    quotes as with torch."""
    from bot.runtime.service import CrisisBot
    from bot.runtime.settings import load_settings

    monkeypatch.delenv("CRISISBOT_EMBEDDING_BACKEND", raising=False)
    question = "How many North Korean troops arrived in Russia?"
    settings = load_settings(data_dir=tmp_path / "data")
    assert settings.embedding_backend == "auto"
    bot = CrisisBot(settings)
    try:
        answer = bot.ask(question)
        assert (tmp_path / "data" / "onnx").is_dir()
        assert getattr(bot.embedder, "backend") == "onnx"
        assert [q.text for q in answer.quotes] == [q.text for q in seeded_bot.ask(question).quotes]
    finally:
        bot.close()


def test_int8_needs_an_onnx_backend() -> None:
    from bot.runtime.settings import load_settings

    with pytest.raises(ConfigError, match="CRISISBOT_EMBEDDING_QUANTIZE"):
        load_settings(embedding_backend="torch", embedding_quantize=True)
    assert load_settings(embedding_backend="auto", embedding_quantize=True).embedding_quantize
