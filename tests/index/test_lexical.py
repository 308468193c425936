from __future__ import annotations

import numpy as np

from index.interfaces import TextIndex
from tests.index.conftest import Folder, doc


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
