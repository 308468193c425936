"""The sentence-transformers pipeline of the bundled model, run by ONNX Runtime instead of torch.

Only the transformer itself is in the ONNX graph (exported once by `index.onnx_export`); the
tokenizer is the model's own fast tokenizer and pooling + L2 normalisation happen here in
numpy, exactly as the model folder's modules.json describes. The vectors are meant to be
interchangeable with the torch embedder's, so `name` is the same and stored indexes stay
valid; `index.embedder_choice` only accepts this embedder after checking that claim on
`VALIDATION_TEXTS`.

Importing this module is cheap: onnxruntime is imported when a session is opened.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from knowledge.errors import ConfigError

if TYPE_CHECKING:
    from onnxruntime import InferenceSession
    from tokenizers import Tokenizer

log = logging.getLogger(__name__)

# A fixed mix of short questions and news passages of paragraph length: the ONNX output must
# agree with torch on every one of them (cosine >= the threshold) before it is used.
VALIDATION_TEXTS: tuple[str, ...] = (
    "What did Zelensky say to Trump?",
    "How many refugees have left Ukraine?",
    "Is the Zaporizhzhia nuclear plant safe?",
    "Who shelled the train station in Kramatorsk?",
    "When did the grain deal start?",
    "Are there power cuts in Kyiv tonight?",
    "what sanctions did the EU adopt",
    "Kherson",
    "Did Russia annex four regions?",
    "How much military aid has Germany sent?",
    "Is the story about the bio-labs true?",
    "Where can I find shelter in Lviv?",
    "Which countries supply HIMARS?",
    "ceasefire talks Istanbul",
    "Why did gas prices rise in Europe last winter?",
    "The International Atomic Energy Agency said on Thursday that its inspectors had regained "
    "access to the plant after a week without contact, and that one of the two remaining power "
    "lines had been repaired overnight.",
    "Ukraine's grain exports through the Black Sea corridor reached 3.9 million tonnes in October, "
    "the highest monthly figure since the deal was signed in Istanbul in July, according to the "
    "joint coordination centre.",
    "Officials in Kharkiv reported that a missile strike hit an industrial district early on "
    "Sunday, damaging a power substation and leaving several neighbourhoods without heating as "
    "temperatures fell below freezing.",
    "The European Commission proposed a ninth package of sanctions that would add nearly 200 "
    "individuals and entities to its list, including members of the armed forces and officials "
    "accused of deporting children.",
    "A video shared widely on social media that claims to show a staged evacuation was filmed in "
    "2019 in another country, fact-checkers found; the same clip had circulated with different "
    "captions before the invasion.",
    "Power engineers worked through the night to restore electricity after the grid operator "
    "announced emergency outages in the capital and five regions. Hospitals switched to "
    "generators, and the city opened heated tents where residents could charge phones and get "
    "hot drinks.",
    "The UN refugee agency said more than 7.8 million people from Ukraine had been recorded "
    "across Europe, while about 6.5 million were displaced inside the country. Poland hosts the "
    "largest number, followed by Germany and the Czech Republic.",
    "Germany's defence ministry confirmed that the first IRIS-T air defence system had arrived "
    "and was already in use, and said three more would follow next year under a contract signed "
    "with the manufacturer.",
    "In a televised address the president thanked the partners who had delivered air defence "
    "systems and said that the country would not negotiate while its territory was occupied. He "
    "called on the G7 to set a price cap on Russian oil.",
    "Inflation in the euro area rose to a record 10.7 percent in October, driven by energy "
    "prices, and the central bank signalled further interest rate increases despite growing "
    "fears of a recession.",
    "Satellite images taken on Tuesday show a convoy of military vehicles stretching for several "
    "kilometres north of the capital, along with damaged bridges and burning buildings in the "
    "suburbs of Irpin and Bucha.",
    "Journalists who reached the liberated villages found destroyed houses, mined fields and "
    "residents who had spent months in basements. Volunteers brought food, medicine and "
    "generators, and deminers began clearing the roads. Local officials asked people not to "
    "return until the area is declared safe, warning that booby traps had been found in homes, "
    "cars and even children's toys.",
    "Ministers of the alliance agreed to increase support for Ukraine's air defences after a "
    "wave of strikes on energy infrastructure, but stopped short of committing to supply "
    "fighter jets. Officials said the decision would be revisited at the next summit.",
    "Zelensky: we will rebuild every city.",
    "Mobilisation: who has to register, and what documents do men of draft age need to leave?",
)


@dataclass(frozen=True)
class Pipeline:
    """What the model folder says happens after the transformer."""

    max_seq_length: int
    pooling: str  # "mean" or "cls"
    dimension: int


def read_pipeline(model_path: Path) -> Pipeline:
    """The pooling and truncation of a sentence-transformers folder; `ConfigError` for any
    module this embedder does not reproduce (a Dense layer, max pooling, ...)."""
    config = json.loads((model_path / "config.json").read_text())
    modules_file = model_path / "modules.json"
    modules = json.loads(modules_file.read_text()) if modules_file.is_file() else []
    known = {"Transformer", "Pooling", "Normalize"}
    for module in modules:
        kind = str(module.get("type", "")).rsplit(".", 1)[-1]
        if kind not in known:
            raise ConfigError(f"{model_path}: module {kind} is not supported by the ONNX embedder")
    pooling, dimension = "mean", int(config["hidden_size"])
    pooling_file = model_path / "1_Pooling" / "config.json"
    if pooling_file.is_file():
        pooling_config = json.loads(pooling_file.read_text())
        dimension = int(pooling_config["word_embedding_dimension"])
        modes = [key for key, on in pooling_config.items() if key.startswith("pooling_mode") and on]
        if modes == ["pooling_mode_mean_tokens"]:
            pooling = "mean"
        elif modes == ["pooling_mode_cls_token"]:
            pooling = "cls"
        else:
            raise ConfigError(f"{model_path}: pooling {modes} is not supported by the ONNX embedder")
    st_config = model_path / "sentence_bert_config.json"
    if st_config.is_file():
        max_seq_length = int(json.loads(st_config.read_text())["max_seq_length"])
    else:
        max_seq_length = int(config.get("max_position_embeddings", 512))
    return Pipeline(max_seq_length=max_seq_length, pooling=pooling, dimension=dimension)


class OnnxEmbedder:
    """An `Embedder` over an exported model file, on the CPU with one thread per core.

    `name` is the torch embedder's name for the same model on purpose: the vectors agree
    (checked before use), so passages indexed by one are searched by the other.
    """

    def __init__(self, onnx_file: Path, model_path: Path, name: str, batch_size: int = 32,
                 threads: int | None = None) -> None:
        self.path = onnx_file
        self.model_path = model_path
        self.name = name
        self.batch_size = batch_size
        self.pipeline = read_pipeline(model_path)
        self.dimension = self.pipeline.dimension
        self._session = _open_session(onnx_file, threads or os.cpu_count() or 1)
        self._inputs = {node.name for node in self._session.get_inputs()}
        self._counter = _load_tokenizer(model_path, None)
        self._tokenizer = _load_tokenizer(model_path, self.pipeline.max_seq_length)

    def count_tokens(self, text: str) -> int:
        return len(self._counter.encode(text, add_special_tokens=False).ids)

    def embed(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        if not texts:
            return out
        encodings = self._tokenizer.encode_batch(list(texts), add_special_tokens=True)
        # Longest first, as sentence-transformers does, so each batch pads to similar lengths.
        order = sorted(range(len(texts)), key=lambda i: -len(encodings[i].ids))
        for first in range(0, len(order), self.batch_size):
            rows = order[first : first + self.batch_size]
            out[rows] = self._embed_batch([encodings[i] for i in rows])
        return out

    def _embed_batch(self, encodings: list) -> np.ndarray:  # type: ignore[type-arg]
        length = max(len(e.ids) for e in encodings)
        ids = np.zeros((len(encodings), length), dtype=np.int64)
        types = np.zeros_like(ids)
        mask = np.zeros_like(ids)
        for row, encoding in enumerate(encodings):
            n = len(encoding.ids)
            ids[row, :n] = encoding.ids
            types[row, :n] = encoding.type_ids
            mask[row, :n] = 1
        feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
        hidden = self._session.run(None, {k: v for k, v in feed.items() if k in self._inputs})[0]
        return pool(hidden, mask, self.pipeline.pooling)


def pool(hidden: np.ndarray, mask: np.ndarray, mode: str) -> np.ndarray:
    """sentence-transformers' Pooling then Normalize: the masked mean (or the CLS token),
    divided by its L2 norm (with the same epsilons, 1e-9 and 1e-12)."""
    if mode == "cls":
        pooled = hidden[:, 0, :].astype(np.float32)
    else:
        weights = mask[:, :, None].astype(np.float32)
        summed = (hidden * weights).sum(axis=1)
        pooled = summed / np.maximum(weights.sum(axis=1), 1e-9)
    norms = np.linalg.norm(pooled, axis=1, keepdims=True)
    return (pooled / np.maximum(norms, 1e-12)).astype(np.float32)


def _open_session(onnx_file: Path, threads: int) -> InferenceSession:
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3  # errors only: ORT's warnings go to stderr, not to logging
    # Idle pool threads sleep instead of spinning: a question and an import embed side by side
    # in one process, and spinning threads steal the cores the other one needs (a question
    # took 60 ms instead of 15-37 ms beside a busy machine, measured).
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return onnxruntime.InferenceSession(str(onnx_file), options, providers=["CPUExecutionProvider"])


def _load_tokenizer(model_path: Path, max_length: int | None) -> Tokenizer:
    """The model's fast tokenizer; with `max_length`, truncating (special tokens included)
    as sentence-transformers does, otherwise untouched for counting."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(model_path / "tokenizer.json"))
    tokenizer.no_padding()
    if max_length is None:
        tokenizer.no_truncation()
    else:
        tokenizer.enable_truncation(max_length=max_length)
    return tokenizer
