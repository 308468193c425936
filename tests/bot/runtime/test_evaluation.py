"""`crisisbot eval`: metric functions on hand-computed cases, a tiny BEIR set end to end, errors."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from bot.adapters.cli.app import main
from bot.runtime.evaluation import load_dataset, mrr_at, ndcg_at, rank_documents, recall_at


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRISISBOT_DATA_DIR", str(tmp_path / "user-data"))
    monkeypatch.delenv("CRISISBOT_CONFIG", raising=False)


# -- metrics ---------------------------------------------------------------------------------


def test_ndcg_graded_by_hand() -> None:
    qrels = {"a": 2, "b": 1}
    # ranking: x (0), a (gain 3) at rank 2, b (gain 1) at rank 3
    dcg = 3 / math.log2(3) + 1 / math.log2(4)
    ideal = 3 / math.log2(2) + 1 / math.log2(3)
    assert ndcg_at(["x", "a", "b"], qrels, 10) == pytest.approx(dcg / ideal)
    assert ndcg_at(["a", "b", "x"], qrels, 10) == pytest.approx(1.0)
    # the ideal comes from the grades, not from what was retrieved: only b found
    assert ndcg_at(["b"], qrels, 10) == pytest.approx(1 / ideal)
    # cut at k
    assert ndcg_at(["x", "a"], qrels, 1) == 0.0


def test_recall_counts_relevant_share_in_top_k() -> None:
    qrels = {"a": 1, "b": 3, "c": 1, "z": 0}  # z judged, not relevant
    assert recall_at(["a", "z", "b", "q"], qrels, 10) == pytest.approx(2 / 3)
    assert recall_at(["a", "z", "b", "q"], qrels, 2) == pytest.approx(1 / 3)
    assert recall_at([], qrels, 10) == 0.0


def test_mrr_is_reciprocal_rank_of_first_relevant() -> None:
    qrels = {"a": 1, "b": 2}
    assert mrr_at(["x", "y", "b", "a"], qrels, 10) == pytest.approx(1 / 3)
    assert mrr_at(["a"], qrels, 10) == 1.0
    assert mrr_at(["x", "y", "b"], qrels, 2) == 0.0


def test_query_with_no_relevant_retrieved_scores_zero() -> None:
    qrels = {"a": 2}
    ranking = ["x", "y", "z"]
    assert ndcg_at(ranking, qrels, 10) == 0.0
    assert recall_at(ranking, qrels, 100) == 0.0
    assert mrr_at(ranking, qrels, 10) == 0.0


def test_documents_ranked_by_best_passage_and_duplicates_share_the_hit() -> None:
    hits = [("a", 0.9), ("b", 0.8), ("a", 0.95), ("c", 0.1), ("b", 0.3)]
    assert rank_documents(hits, {}, 10) == ["a", "b", "c"]
    assert rank_documents(hits, {}, 2) == ["a", "b"]
    assert rank_documents(hits, {"b": ["b2"], "a": ["a"]}, 10) == ["a", "b", "b2", "c"]


# -- a tiny BEIR set -------------------------------------------------------------------------

CORPUS = [
    ("d1", "Grain corridor", "Ships carrying Ukrainian wheat left Odesa through the Black Sea grain corridor."),
    ("d2", "", "The power grid was hit by drones and missiles, causing blackouts in Kyiv during winter."),
    ("d3", "Refugees", "Millions of refugees from Ukraine found shelter in Poland, Germany and Czechia."),
    ("d4", "Chess", "The chess world championship match ended in a tie-break won with the black pieces."),
    ("d5", "Bread recipe", "Knead the sourdough, let it rise overnight and bake it in a hot oven."),
    ("d6", "Volcano", "A volcano in Iceland erupted, sending lava towards a fishing town."),
]
QUERIES = [
    {"_id": "q1", "text": "Which ships exported wheat from Odesa across the Black Sea?",
     "metadata": {"date": "2024/05/08", "answers": ["Odesa"], "language": "en"}},
    {"_id": "q2", "text": "Why were there blackouts in Kyiv?", "metadata": {"topic": "ukraine-russia", "language": "en"}},
    {"_id": "q3", "text": "Where did refugees from Ukraine find shelter?", "metadata": {"answers": ["Spain"]}},
    {"_id": "q4", "text": "How do I bake sourdough bread?"},
]
QRELS = [("q1", "d1", 2), ("q2", "d2", 2), ("q3", "d3", 2), ("q3", "d1", 0), ("q4", "d5", 1)]


def write_dataset(folder: Path) -> Path:
    (folder / "qrels").mkdir(parents=True)
    (folder / "corpus.jsonl").write_text("".join(
        json.dumps({"_id": i, "title": t, "text": x, "metadata": {"date": "2024/05/01", "source": "Test"}}) + "\n"
        for i, t, x in CORPUS), encoding="utf-8")
    (folder / "queries.jsonl").write_text("".join(json.dumps(q) + "\n" for q in QUERIES), encoding="utf-8")
    (folder / "qrels" / "test.tsv").write_text(
        "query-id\tcorpus-id\tscore\n" + "".join(f"{q}\t{d}\t{s}\n" for q, d, s in QRELS), encoding="utf-8")
    return folder


def test_dataset_is_read_as_news_documents(tmp_path: Path) -> None:
    dataset = load_dataset(write_dataset(tmp_path / "tiny"))
    by_id = {d.id: d for d in dataset.documents}
    assert by_id["d1"].kind.value == "news" and by_id["d1"].published == "2024-05-01"
    assert by_id["d1"].publisher == "Test"
    assert by_id["d2"].title.startswith("The power grid was hit")  # no title: the text's start
    assert [q.id for q in dataset.queries] == ["q1", "q2", "q3", "q4"]
    assert dataset.queries[1].topic == "ukraine-russia"


def test_eval_end_to_end_through_the_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    dataset = write_dataset(tmp_path / "tiny")
    assert main(["eval", str(dataset), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert set(result) == {"dataset", "queries", "documents", "passages", "metrics", "topics", "languages"}
    assert result["dataset"] == "tiny"
    assert (result["queries"], result["documents"]) == (4, 6)
    assert result["passages"] >= 6
    metrics = result["metrics"]
    assert set(metrics) == {"nDCG@10", "Recall@10", "Recall@100", "MRR@10"}
    assert metrics["nDCG@10"] > 0.8 and metrics["MRR@10"] > 0.8
    assert metrics["Recall@100"] == 1.0  # every document is ranked on a corpus this small
    assert set(result["topics"]) == {"ukraine-russia"}
    assert result["topics"]["ukraine-russia"]["queries"] == 1
    assert {x: m["queries"] for x, m in result["languages"].items()} == {"en": 2}  # metadata.language
    # The user's knowledge base is not touched; only its embedding cache is used.
    assert not (tmp_path / "user-data" / "knowledge.sqlite3").exists()
    assert (tmp_path / "user-data" / "embeddings.sqlite3").exists()


def test_second_eval_embeds_only_the_queries(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    from index.embedder import SentenceTransformerEmbedder

    embedded: list[str] = []
    real_embed = SentenceTransformerEmbedder.embed

    def counting(self: SentenceTransformerEmbedder, texts: list[str]) -> object:
        embedded.extend(texts)
        return real_embed(self, texts)

    monkeypatch.setattr(SentenceTransformerEmbedder, "embed", counting)
    dataset = write_dataset(tmp_path / "tiny")
    assert main(["eval", str(dataset), "--json"]) == 0
    first = len(embedded)
    assert first >= len(CORPUS) + len(QUERIES)
    embedded.clear()
    assert main(["eval", str(dataset), "--json"]) == 0  # a new throwaway knowledge base
    assert sorted(embedded) == sorted(q["text"] for q in QUERIES)
    capsys.readouterr()


def test_answers_are_scored_when_asked(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    dataset = write_dataset(tmp_path / "tiny")
    assert main(["eval", str(dataset), "--json", "--answers"]) == 0
    metrics = json.loads(capsys.readouterr().out)["metrics"]
    assert {"answered", "cites relevant", "contains answer"} <= set(metrics)
    assert metrics["answered"] == 1.0 and metrics["cites relevant"] == 1.0
    # Only q1 and q3 carry quiz answers: "Odesa" is quoted, "Spain" is not.
    assert metrics["contains answer"] == 0.5


def test_answer_metrics_by_hand() -> None:
    from bot.runtime.evaluation import Query, answer_metrics
    from tests.factories import document_info, quoted_answer

    answer = quoted_answer(["Ships left Odesa’s port on Monday."],
                           [document_info(id="stored")])
    query = Query("q", "Which port?", answers=["odesa's port", "Kherson"])
    metrics = answer_metrics(answer, query, {"copy": 1}, {"stored": ["copy"]})
    assert metrics == {"answered": 1.0, "cites relevant": 1.0, "contains answer": 1.0}
    missed = answer_metrics(answer, Query("q", "?", answers=["Mykolaiv"]), {"other": 2}, {})
    assert missed == {"answered": 1.0, "cites relevant": 0.0, "contains answer": 0.0}
    assert "contains answer" not in answer_metrics(answer, Query("q", "?"), {}, {})


def test_dated_queries_are_asked_on_their_date(tmp_path: Path) -> None:
    from bot.runtime.evaluation import load_dataset as load

    folder = write_dataset(tmp_path / "tiny")
    dataset = load(folder)
    assert dataset.queries[0].asked_at is not None and dataset.queries[0].asked_at.isoformat() == "2024-05-08"
    assert dataset.queries[1].asked_at is None


def test_eval_text_table_limit_and_keep(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    dataset = write_dataset(tmp_path / "tiny")
    keep = tmp_path / "kb"
    assert main(["eval", str(dataset), "--limit", "2", "--keep", str(keep)]) == 0
    out = capsys.readouterr().out
    assert "tiny: 6 documents" in out and "nDCG@10" in out and "ukraine-russia" in out
    assert (keep / "knowledge.sqlite3").exists()
    assert main(["eval", str(dataset), "--keep", str(keep), "--json"]) == 0  # reused as it is
    assert json.loads(capsys.readouterr().out)["queries"] == 4


# -- errors ----------------------------------------------------------------------------------


def error_of(args: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    assert main(args) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("crisisbot: error: ") and "\n" not in err
    return err


def test_missing_folder_and_qrels(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert "no such folder" in error_of(["eval", str(tmp_path / "nowhere")], capsys)
    dataset = write_dataset(tmp_path / "tiny")
    (dataset / "qrels" / "test.tsv").unlink()
    err = error_of(["eval", str(dataset)], capsys)
    assert "test.tsv: no such file" in err


def test_malformed_corpus_line_names_its_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    dataset = write_dataset(tmp_path / "tiny")
    with (dataset / "corpus.jsonl").open("a", encoding="utf-8") as f:
        f.write("{not json\n")
    err = error_of(["eval", str(dataset)], capsys)
    assert f"corpus.jsonl:{len(CORPUS) + 1}: not valid JSON" in err


def test_qrels_naming_unknown_ids(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    dataset = write_dataset(tmp_path / "tiny")
    with (dataset / "qrels" / "test.tsv").open("a", encoding="utf-8") as f:
        f.write("q1\td99\t1\n")
    assert "'d99'" in error_of(["eval", str(dataset)], capsys)
    dataset = write_dataset(tmp_path / "tiny2")
    with (dataset / "qrels" / "test.tsv").open("a", encoding="utf-8") as f:
        f.write("q9\td1\t1\n")
    assert "'q9'" in error_of(["eval", str(dataset)], capsys)
    with (dataset / "qrels" / "test.tsv").open("a", encoding="utf-8") as f:
        f.write("q1\td1\n")
    assert "test.tsv:8:" in error_of(["eval", str(dataset)], capsys)


def test_eval_never_writes_to_the_database_of_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], postgres_url: str
) -> None:
    """A throwaway knowledge base must not land in the shared database CRISISBOT_DATABASE_URL
    names; only an explicit `database_url` (benchmarks/quality/backends.py) builds one there, empty."""
    import psycopg

    from bot.core.errors import CrisisbotError
    from bot.runtime.evaluation import evaluate

    monkeypatch.setenv("CRISISBOT_DATABASE_URL", postgres_url)
    dataset = write_dataset(tmp_path / "tiny")
    assert main(["eval", str(dataset), "--json"]) == 0
    embedded = json.loads(capsys.readouterr().out)
    with psycopg.connect(postgres_url) as connection:  # never even migrated
        assert connection.execute("SELECT to_regclass('documents')").fetchone() == (None,)

    on_postgres = evaluate(dataset, database_url=postgres_url)
    assert (on_postgres["documents"], on_postgres["queries"]) == (embedded["documents"], embedded["queries"])
    assert on_postgres["metrics"]["Recall@100"] == 1.0 and on_postgres["metrics"]["nDCG@10"] > 0.8
    with pytest.raises(CrisisbotError, match="must be empty"):
        evaluate(dataset, database_url=postgres_url)
