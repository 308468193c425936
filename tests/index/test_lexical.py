from __future__ import annotations

import numpy as np

from index.lexical import LexicalIndex
from tests.index.conftest import Folder, doc


def scores_by_document(folder: Folder, lexical: LexicalIndex, question: str) -> dict[str, float]:
    result = lexical.scores(question)
    stored = folder.store.stored_passages(result.ids.tolist())
    return {stored[int(i)].document.id: float(s) for i, s in zip(result.ids, result.scores)}


def test_rare_term_and_stemmed_forms_rank_their_passage_first(folder: Folder) -> None:
    folder.writer.ingest([
        doc("atacms", "Kyiv used ATACMS missiles against an airfield."),
        doc("grain", "Grain exports left Odesa by ship."),
        doc("troops", "Thousands of troops moved towards the border."),
    ])
    lexical = LexicalIndex(folder.store)
    scores = scores_by_document(folder, lexical, "Were ATACMS used?")
    assert max(scores, key=lambda d: scores[d]) == "atacms" and scores["grain"] == 0
    # "troop" is stemmed like "troops"; the stop word "the" matches nothing.
    scores = scores_by_document(folder, lexical, "the troop movements")
    assert max(scores, key=lambda d: scores[d]) == "troops" and scores["grain"] == 0


def test_titles_count_as_text(folder: Folder) -> None:
    folder.writer.ingest([doc("titled", "Officials gave no figures.", title="Zaporizhzhia plant"),
                          doc("other", "Officials gave some figures.")])
    scores = scores_by_document(folder, LexicalIndex(folder.store), "Zaporizhzhia")
    assert scores["titled"] > 0 and scores["other"] == 0


def test_index_follows_the_store_after_writes_and_removals(folder: Folder) -> None:
    lexical = LexicalIndex(folder.store)
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


def test_a_write_by_another_process_is_picked_up(folder: Folder) -> None:
    lexical = LexicalIndex(folder.store)
    folder.writer.ingest([doc("a", "Kherson was liberated in November.")])
    assert lexical.scores("Mariupol").top(3).size == 0
    other = Folder(folder.root, folder.embedder)  # a second process on the same folder
    other.writer.ingest([doc("m", "Mariupol was besieged for months.")])
    top = lexical.scores("Mariupol").top(3)
    assert [folder.store.stored_passages(top.tolist())[int(top[0])].document.id] == ["m"]


def test_question_of_unknown_words_scores_nothing(folder: Folder) -> None:
    folder.writer.ingest([doc("a", "Kherson was liberated in November.")])
    result = LexicalIndex(folder.store).scores("qwertyuiop zxcvb")
    assert len(result.ids) == len(result.scores) == 1 and not np.any(result.scores)
