"""Chunking: passages are exact slices of whole sentences that fit the model's window."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from knowledge.chunking import ChunkingPolicy, TokenCounter, chunk_document
from knowledge.documents import Document, Passage
from knowledge.readers import read_jsonl, read_markdown
from knowledge.sentences import split_sentences
from tests.conftest import shared_file
from tests.fakes import HashingEmbedder

LIMIT = ChunkingPolicy().max_tokens
fake_count: TokenCounter = HashingEmbedder().count_tokens


def doc(text: str, id: str = "d") -> Document:
    return Document(id=id, title="T", text=text)


def check_invariants(document: Document, passages: list[Passage], count: TokenCounter) -> None:
    text = document.text
    assert passages, document.id
    assert [p.ordinal for p in passages] == list(range(len(passages)))
    for passage in passages:
        assert passage.document_id == document.id
        assert passage.id is None
        assert passage.text == text[passage.start : passage.end]
        assert passage.text == passage.text.strip()
        assert count(passage.text) <= LIMIT, (document.id, passage.ordinal)
    for before, after in zip(passages, passages[1:]):
        assert before.end <= after.start, "passages overlap or are out of order"
        assert text[before.end : after.start].strip() == "", "text between passages was dropped"
    assert text[: passages[0].start].strip() == "" and text[passages[-1].end :].strip() == ""
    for span in split_sentences(text):
        holders = [p for p in passages if p.start <= span.start and span.end <= p.end]
        if count(text[span.start : span.end]) <= LIMIT:
            assert len(holders) == 1, f"{document.id}: sentence at {span.start} not in one passage"
        else:  # an over-long sentence is cut: its pieces fill passages that lie inside it
            inside = [p for p in passages if p.start < span.end and span.start < p.end]
            assert len(inside) >= 2


@pytest.fixture(scope="module")
def statements(tmp_path_factory: pytest.TempPathFactory) -> list[Document]:
    """The first 200 official statements, read by the real JSONL reader from a temporary file."""
    source = shared_file("corpus/official-statements-2021-2022.jsonl")
    with source.open(encoding="utf-8") as lines:
        head = [next(lines) for _ in range(200)]
    sample = tmp_path_factory.mktemp("corpus") / "statements-200.jsonl"
    sample.write_text("".join(head), encoding="utf-8")
    documents = read_jsonl(sample, "tester")
    assert len(documents) == 200
    return documents


def test_seed_article_invariants(seed_path: Path, count_tokens: TokenCounter) -> None:
    document = read_markdown(seed_path, "t")
    passages = chunk_document(document, count_tokens)
    check_invariants(document, passages, count_tokens)
    assert len(passages) > 3
    troops = [p for p in passages if "10,000 North Korean troops" in p.text]
    assert len(troops) == 1 and "weaponry from Pyongyang." in troops[0].text


def test_official_statements_invariants(statements: list[Document], count_tokens: TokenCounter) -> None:
    total = 0
    for document in statements:
        passages = chunk_document(document, count_tokens)
        check_invariants(document, passages, count_tokens)
        total += len(passages)
    assert total > len(statements)


def test_real_tokenizer_counts_word_pieces(count_tokens: TokenCounter) -> None:
    assert count_tokens("") == 0
    assert count_tokens("war") == 1
    assert count_tokens("Zaporizhzhia") > 1  # split into word pieces, no [CLS]/[SEP]


def long_sentence(words: int, seed: int = 7) -> str:
    rng = random.Random(seed)
    vocabulary = ["war", "Kyiv", "sanctions", "negotiations", "humanitarian", "corridor",
                  "Zaporizhzhia", "artillery", "counteroffensive", "Mykolaiv", "grain", "drones"]
    return " ".join(rng.choice(vocabulary) for _ in range(words))


def test_over_long_sentence_is_cut_without_losing_words(count_tokens: TokenCounter) -> None:
    text = long_sentence(600)
    assert count_tokens(text) > 3 * LIMIT
    document = doc(text)
    passages = chunk_document(document, count_tokens)
    check_invariants(document, passages, count_tokens)
    assert len(passages) >= 4
    assert all(count_tokens(p.text) <= LIMIT for p in passages)
    assert [w for p in passages for w in p.text.split()] == text.split()
    # Pieces are cut at word boundaries: no word is split between passages.
    for passage in passages:
        assert passage.start == 0 or text[passage.start - 1] == " "
        assert passage.end == len(text) or text[passage.end] == " "


def test_over_long_sentence_between_short_ones(count_tokens: TokenCounter) -> None:
    text = f"It began at dawn. {long_sentence(400)} ended. Calm returned by noon."
    document = doc(text)
    passages = chunk_document(document, count_tokens)
    check_invariants(document, passages, count_tokens)
    assert [w for p in passages for w in p.text.split()] == text.split()
    assert passages[-1].text.endswith("Calm returned by noon.")


def test_word_longer_than_the_window_is_cut_inside_keeping_every_character(count_tokens: TokenCounter) -> None:
    url = "https://www.example.org/report?" + "&".join(f"id{i}=x{i}" for i in range(60))
    assert count_tokens(url) > LIMIT
    document = doc(f"See the report at {url} for details. It is long.", id="long-url")
    passages = chunk_document(document, count_tokens)
    check_invariants(document, passages, count_tokens)
    assert len(passages) >= 2
    assert all(count_tokens(p.text) <= LIMIT for p in passages)
    assert "".join("".join(p.text.split()) for p in passages) == "".join(document.text.split())


def test_tiny_document_is_one_passage(count_tokens: TokenCounter) -> None:
    document = doc("Kyiv stands.", id="tiny")
    assert chunk_document(document, count_tokens) == [Passage(None, "tiny", 0, "Kyiv stands.", 0, 12)]


def test_empty_text_gives_no_passages() -> None:
    assert chunk_document(doc("   "), fake_count) == []


def numbered(n: int) -> str:
    return " ".join(f"Sentence number {i} is short." for i in range(n))


@pytest.mark.parametrize("max_sentences", [1, 2, 3, 5])
def test_max_sentences_is_respected(max_sentences: int) -> None:
    document = doc(numbered(12))
    policy = ChunkingPolicy(max_sentences=max_sentences, target_tokens=1000, max_tokens=1000)
    passages = chunk_document(document, fake_count, policy)
    assert [len(split_sentences(p.text)) for p in passages][:-1] == [max_sentences] * (len(passages) - 1)
    assert sum(len(split_sentences(p.text)) for p in passages) == 12


def test_target_tokens_closes_a_passage() -> None:
    # Each sentence is 6 fake tokens: "Sentence number 3 is short ."
    policy = ChunkingPolicy(target_tokens=13, max_sentences=50, min_tokens=0)
    passages = chunk_document(doc(numbered(6)), fake_count, policy)
    assert [fake_count(p.text) for p in passages] == [12, 12, 12]


def test_short_passage_continues_across_paragraph_break() -> None:
    text = "Short one.\n\nShort two.\n\n" + numbered(3) + "\n\nTail here."
    policy = ChunkingPolicy(min_tokens=8, target_tokens=100, max_sentences=10)
    passages = chunk_document(doc(text), fake_count, policy)
    # "Short one." (3) < 8: continues; 6 tokens then still < 8; the rest is one paragraph.
    assert passages[0].text.startswith("Short one.\n\nShort two.\n\nSentence number 0")
    assert passages[-1].text == "Tail here."
    check_invariants(doc(text), passages, fake_count)


def test_paragraph_break_closes_a_long_enough_passage() -> None:
    text = numbered(2) + "\n\n" + numbered(2)
    passages = chunk_document(doc(text), fake_count, ChunkingPolicy(min_tokens=5, target_tokens=100))
    assert [p.text for p in passages] == [numbered(2), numbered(2)]
