from __future__ import annotations

import json
import math

import numpy as np
import pytest

import index.lexical as lexical
from index.bm25 import Bm25Builder, QuestionTokenizer
from index.interfaces import LexicalScores, TextIndex
from index.lexical import LexicalIndex
from tests.conftest import shared_file
from tests.index.conftest import Folder, HeldBuild, doc


def scores_by_document(folder: Folder, lexical: TextIndex, question: str) -> dict[str, float]:
    result = lexical.scores(question)
    stored = folder.store.stored_passages(result.ids.tolist())
    return {stored[int(i)].document.id: float(s) for i, s in zip(result.ids, result.scores)}


def test_rare_term_and_stemmed_forms_rank_their_passage_first(any_folder: Folder) -> None:
    folder = any_folder
    folder.writer.ingest([
        doc("atacms", "Kyiv used ATACMS missiles against an airfield."),
        doc("grain", "Grain exports left Odesa by ship."),
        doc("troops", "Thousands of troops moved towards the border."),
    ])
    lexical = folder.lexical()
    scores = scores_by_document(folder, lexical, "Were ATACMS used?")
    assert max(scores, key=lambda d: scores[d]) == "atacms" and scores.get("grain", 0) == 0
    # "troop" is stemmed like "troops"; the stop word "the" matches nothing.
    scores = scores_by_document(folder, lexical, "the troop movements")
    assert max(scores, key=lambda d: scores[d]) == "troops" and scores.get("grain", 0) == 0


def test_titles_count_as_text(any_folder: Folder) -> None:
    folder = any_folder
    folder.writer.ingest([doc("titled", "Officials gave no figures.", title="Zaporizhzhia plant"),
                          doc("other", "Officials gave some figures.")])
    scores = scores_by_document(folder, folder.lexical(), "Zaporizhzhia")
    assert scores["titled"] > 0 and scores.get("other", 0) == 0


def test_index_follows_the_store_after_writes_and_removals(any_folder: Folder) -> None:
    folder = any_folder
    lexical = folder.lexical()
    assert len(lexical.scores("anything").ids) == 0 and lexical.scores("x").top(5).size == 0
    folder.writer.ingest([doc("a", "Kherson was liberated in November.")])
    assert scores_by_document(folder, lexical, "Kherson")["a"] > 0
    folder.writer.ingest([doc("b", "Bakhmut fell after a long battle.")])
    assert scores_by_document(folder, lexical, "Bakhmut")["b"] > 0
    folder.writer.remove("a")
    result = lexical.scores("Kherson")
    assert set(folder.store.stored_passages(result.ids.tolist())) == set(result.ids.tolist())
    assert all(p.document.id == "b" for p in folder.store.stored_passages(result.ids.tolist()).values())
    assert result.top(5).size == 0  # nothing left mentions Kherson


def test_a_write_by_another_process_is_picked_up(any_folder: Folder) -> None:
    folder = any_folder
    lexical = folder.lexical()
    folder.writer.ingest([doc("a", "Kherson was liberated in November.")])
    assert lexical.scores("Mariupol").top(3).size == 0
    other = Folder(folder.root, folder.embedder, folder.database_url)  # a second process on the same knowledge
    other.writer.ingest([doc("m", "Mariupol was besieged for months.")])
    top = lexical.scores("Mariupol").top(3)
    assert [folder.store.stored_passages(top.tolist())[int(top[0])].document.id] == ["m"]


def test_question_of_unknown_words_scores_nothing(any_folder: Folder) -> None:
    folder = any_folder
    folder.writer.ingest([doc("a", "Kherson was liberated in November.")])
    result = folder.lexical().scores("qwertyuiop zxcvb")
    assert len(result.ids) == len(result.scores) <= 1 and not np.any(result.scores) and result.top(5).size == 0


def test_words_inside_links_and_hyphenated_names_count(any_folder: Folder) -> None:
    """BM25's tokenizer and PostgreSQL's `lexical_vector` both split at punctuation, so the
    words of a link or a hyphenated name match on their own."""
    folder = any_folder
    folder.writer.ingest([
        doc("linked", "Read more at https://news.example/2022/elizabeth-holmes-verdict today."),
        doc("other", "Officials gave no figures about the trial."),
    ])
    scores = scores_by_document(folder, folder.lexical(), "Holmes verdict")
    assert scores["linked"] > 0 and scores.get("other", 0) == 0


def test_rarer_terms_weigh_more(any_folder: Folder) -> None:
    """A passage holding the question's rare term outranks ones holding only its common term."""
    folder = any_folder
    folder.writer.ingest([doc(f"common{n}", f"Ukraine said on day {n} that shelling continued.") for n in range(8)]
                         + [doc("rare", "Ukraine received HIMARS launchers.")])
    scores = scores_by_document(folder, folder.lexical(), "Ukraine HIMARS")
    assert max(scores, key=lambda d: scores[d]) == "rare"
    assert all(scores["rare"] > 2 * scores[f"common{n}"] for n in range(8))


def test_other_alphabets_are_words_too(any_folder: Folder) -> None:
    folder = any_folder
    folder.writer.ingest([doc("uk", "Київ обстріляли вночі; енергетики працюють."), doc("en", "Kyiv was shelled.")])
    scores = scores_by_document(folder, folder.lexical(), "обстріляли")
    assert scores["uk"] > 0 and scores.get("en", 0) == 0


# -- the streaming build scores as bm25s ------------------------------------------------------

ODD_TEXTS = [
    "", "a I s x", "the and of to", "Київ обстріляли вночі; енергетики працюють.",
    "İstanbul’s “grain” deal – signed… ‘at last’", "snake_case, CamelCase x2 42 1e6 __init__",
    "Zaporizhzhia\u00a0plant\u200bnews £5 €6 — ‘quoted’", "Ünïcödé straße STRASSE Straße",
    "naïve café's façade — résumé; 東京 and Zürich", "troops troops troops TROOPS troop",
]


def real_passages(count: int) -> list[tuple[str, str]]:
    """(title, text) of the first `count` ~150-word passages of the shared news: curly quotes,
    dashes and names included."""
    passages: list[tuple[str, str]] = []
    for line in shared_file("corpus/news-2022.jsonl").read_text().splitlines():
        row = json.loads(line)
        words = row["text"].split()
        passages += [(row["title"], " ".join(words[i : i + 150])) for i in range(0, len(words), 150)]
        if len(passages) >= count:
            break
    return passages[:count]


def questions(count: int) -> list[str]:
    lines = shared_file("eval/realtimeqa-dev/queries.jsonl").read_text().splitlines()[:count]
    return [json.loads(line)["text"] for line in lines] + [
        "Київ енергетики", "istanbul grain deal", "snake_case camelcase x2 42 __init__",
        "straße strasse", "café façade zürich 東京", "troop", "the of and", "Zaporizhzhia news",
    ]


def bm25s_scores(texts: list[str], asked: list[str]) -> list[np.ndarray]:
    """What the index computed before it streamed: bm25s, lucene, k1 1.2, b 0.75."""
    import bm25s
    import Stemmer

    stemmer = Stemmer.Stemmer("english")
    model = bm25s.BM25(k1=1.2, b=0.75, method="lucene")
    model.index(bm25s.tokenize(texts, stopwords="en", stemmer=stemmer, show_progress=False),
                show_progress=False)
    out = []
    for question in asked:
        tokens = bm25s.tokenize([question], stopwords="en", stemmer=stemmer, show_progress=False,
                                return_ids=False)[0]
        known = [t for t in tokens if t in model.vocab_dict]
        scores = model.get_scores(known) if known else np.zeros(len(texts))
        out.append(np.asarray(scores, dtype=np.float32))
    return out


def test_chunked_build_scores_as_bm25s() -> None:
    texts = [f"{title}\n{text}" for title, text in real_passages(300)] + ODD_TEXTS
    asked = questions(60)
    builder = Bm25Builder(k1=1.2, b=0.75)
    for first in range(0, len(texts), 37):  # chunks that split the odd texts between them
        builder.add(list(range(10 + first, 10 + first + len(texts[first : first + 37]))),
                    texts[first : first + 37])
    matrix = builder.finish()
    assert matrix.ids.tolist() == list(range(10, 10 + len(texts)))
    tokenizer = QuestionTokenizer()
    matched = 0
    for question, expected in zip(asked, bm25s_scores(texts, asked)):
        np.testing.assert_allclose(matrix.scores(tokenizer.stems(question)), expected, rtol=1e-6, atol=1e-7,
                                   err_msg=question)
        matched += int(np.count_nonzero(expected))
    assert matched > 2000  # the comparison is not between two rows of zeros


def test_index_read_from_the_store_in_chunks_scores_as_bm25s(folder: Folder, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lexical, "READ_CHUNK", 16)
    passages = real_passages(120)
    folder.writer.ingest([doc(f"n{i}", text, title=title) for i, (title, text) in enumerate(passages)])
    rows = folder.store.titled_passage_texts()
    assert len(rows) > 3 * 16
    index = LexicalIndex(folder.store)
    asked = questions(30)
    for question, expected in zip(asked, bm25s_scores([f"{t}\n{x}" for _, t, x in rows], asked)):
        result = index.scores(question)
        assert result.ids.tolist() == [r[0] for r in rows]
        np.testing.assert_allclose(result.scores, expected, rtol=1e-6, atol=1e-7, err_msg=question)


# -- rebuilding in the background ---------------------------------------------------------------


def top_documents(folder: Folder, index: LexicalIndex, question: str) -> list[str]:
    top = index.scores(question).top(5).tolist()
    stored = folder.store.stored_passages(top)
    return [stored[i].document.id for i in top if i in stored]


def test_a_write_during_a_slow_build_is_answered_from_the_old_build(folder: Folder) -> None:
    folder.writer.ingest([doc("a", "Kherson was liberated in November.")])
    hold = HeldBuild()
    index = LexicalIndex(folder.store, slow_after=0.0, before_swap=hold)  # every rebuild is "slow"
    assert top_documents(folder, index, "Kherson") == ["a"]  # the first build is synchronous
    folder.writer.ingest([doc("b", "Bakhmut fell after a long battle.")])
    assert index.scores("Bakhmut").top(5).size == 0  # the old build answers; the new one starts
    assert hold.held.wait(10)  # built, not yet swapped in: questions still get the old build
    assert index.scores("Bakhmut").top(5).size == 0 and top_documents(folder, index, "Kherson") == ["a"]
    folder.writer.ingest([doc("c", "Mariupol was besieged for months.")])
    assert index.scores("Mariupol").top(5).size == 0  # no second build while one runs
    assert not index.wait_for_build(0)
    hold.let_go(index.wait_for_build)
    assert hold.builds == 1
    assert top_documents(folder, index, "Bakhmut") == ["b"]  # swapped in
    # That build read the store before "c" was written: the next question starts another.
    assert index.scores("Mariupol").top(5).size == 0
    assert hold.held.wait(10)
    hold.let_go(index.wait_for_build)
    assert hold.builds == 2 and top_documents(folder, index, "Mariupol") == ["c"]


def test_a_small_index_is_rebuilt_at_once(folder: Folder) -> None:
    index = LexicalIndex(folder.store, before_swap=lambda: pytest.fail("rebuilt in the background"))
    for n, place in enumerate(["Kherson", "Bakhmut", "Mariupol", "Avdiivka"]):
        folder.writer.ingest([doc(place, f"{place} was in the news on day {n}.")])
        assert top_documents(folder, index, place) == [place]
    folder.writer.remove("Kherson")
    assert top_documents(folder, index, "Kherson") == [] and index.wait_for_build(0)


# -- what the retriever takes from the scores ------------------------------------------------


def test_top_and_spread_of_many_scores_match_a_full_sort() -> None:
    rng = np.random.default_rng(7)
    ids = np.arange(100_000, dtype=np.int64) * 3 + 1
    for matched in (0.9, 0.01, 0.0005):  # many matches, few, fewer than asked for
        scores = np.where(rng.random(len(ids)) < matched, rng.gamma(2.0, 2.0, len(ids)), 0.0).astype(np.float32)
        scores[rng.choice(len(ids), 50)] = scores.max()  # ties at the top
        result = LexicalScores(ids, scores)
        top = result.top(100)
        expected = np.sort(scores[scores > 0])[::-1][:100]
        assert np.array_equal(scores[(top - 1) // 3], expected)
        assert len(set(top.tolist())) == len(top)
        values = scores.astype(np.float64)
        mean, spread = result.mean_and_spread()
        assert mean == pytest.approx(values.mean(), rel=1e-9) and spread == pytest.approx(values.std(), rel=1e-6)
    # Exactly the best 100 on every 32nd position, where top() samples its bound: the 100th
    # best is the bound itself and must be kept.
    scores = np.zeros(len(ids), dtype=np.float32)
    scores[np.arange(100) * 32 * 7] = np.arange(1, 101, dtype=np.float32)
    scores[1::32] = 0.5  # below the bound elsewhere
    assert LexicalScores(ids, scores).top(100).tolist() == ids[np.arange(99, -1, -1) * 32 * 7].tolist()


def test_idf_of_the_questions_stems_comes_from_the_knowledge_base(any_folder: Folder) -> None:
    """Both backends report BM25's idf of each question stem some passage holds (the relevance
    gate weighs the question's terms by it): rarer is higher, a stem nowhere is left out."""
    folder = any_folder
    folder.writer.ingest([doc(f"common{n}", f"Ukraine said on day {n} that shelling continued.") for n in range(8)]
                         + [doc("rare", "Ukraine received HIMARS launchers.")])
    idf = folder.lexical().scores("Did Ukraine get HIMARS or Eurovision?").idf
    assert set(idf) == {"ukrain", "himar"}
    assert idf["himar"] == pytest.approx(math.log(1 + (9 - 1 + 0.5) / 1.5), rel=1e-6)
    assert idf["ukrain"] == pytest.approx(math.log(1 + 0.5 / 9.5), rel=1e-6)
