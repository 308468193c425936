"""Summaries and digests: only verbatim, cited sentences; distinct points; several voices; dates.

The real model throughout (choosing distinct points is the model's judgement). The news corpus
of `../shared/corpus` is ingested once per session for the realistic checks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timezone

import numpy as np
import pytest

from bot.core.actors import NotAllowed
from bot.core.answer import Answer
from bot.core.errors import SummaryError
from bot.core.render import NO_DIGEST, NO_SUMMARY, render_digest_plain, render_summary_plain
from bot.runtime.service import CrisisBot
from bot.runtime.settings import Settings, load_settings
from bot.core.summary import SummaryPolicy, Summarizer, _Sentence, standalone
from index.embedder import SentenceTransformerEmbedder
from knowledge.documents import Document, Passage, StoredPassage
from knowledge.readers import read_jsonl
from tests.conftest import shared_file
from tests.factories import document_info


@pytest.fixture(scope="session")
def news_bot(tmp_path_factory: pytest.TempPathFactory, real_embedder: SentenceTransformerEmbedder) -> Iterator[CrisisBot]:
    """The 397 articles of news-2022 (The Guardian, The New York Times), read-only."""
    corpus = shared_file("corpus/news-2022.jsonl")
    bot = CrisisBot(load_settings(data_dir=tmp_path_factory.mktemp("news"), load_builtin_knowledge=False),
                    real_embedder)
    bot.ingest(read_jsonl(corpus, "corpus"))
    yield bot
    bot.close()


@pytest.fixture
def make_bot(make_backend_settings: Callable[..., Settings], real_embedder: SentenceTransformerEmbedder) -> Iterator[Callable[..., CrisisBot]]:
    made: list[CrisisBot] = []

    def make(documents: list[Document], **overrides: object) -> CrisisBot:
        overrides.setdefault("load_builtin_knowledge", False)
        bot = CrisisBot(make_backend_settings(**overrides), real_embedder)
        bot.ingest(documents)
        made.append(bot)
        return bot

    yield make
    for bot in made:
        bot.close()


def check_quotes(bot: CrisisBot, answer: Answer, embedder: SentenceTransformerEmbedder) -> None:
    """Every quote verbatim from its cited passage; no two at cosine >= 0.9; dates in order."""
    for quote in answer.quotes:
        document = answer.source(quote.source).document
        passage = bot.store.stored_passages([quote.passage_id])[quote.passage_id]
        assert passage.document.id == document.id
        assert quote.text in passage.passage.text
        assert bot.store.document_text(document.id)[quote.start : quote.end] == quote.text
    vectors = np.asarray(embedder.embed([q.text for q in answer.quotes]))
    similarity = vectors @ vectors.T - 2 * np.eye(len(vectors))
    assert similarity.max(initial=-1.0) < 0.9
    dates = [answer.source(q.source).document.published or "9999" for q in answer.quotes]
    assert dates == sorted(dates)
    assert [s.number for s in answer.sources] == list(range(1, len(answer.sources) + 1))
    assert [answer.source(q.source).number for q in answer.quotes] == [q.source for q in answer.quotes]


# -- summaries over the news corpus ---------------------------------------------------------------


@pytest.mark.parametrize("topic", ["grain exports from Odesa", "Zaporizhzhia nuclear power plant",
                                   "sanctions on Russian gas"])
def test_a_topic_summary_cites_several_sources_verbatim_in_date_order(
    news_bot: CrisisBot, real_embedder: SentenceTransformerEmbedder, topic: str
) -> None:
    summary = news_bot.summarize(topic)
    answer = summary.answer
    assert summary.found and 4 <= len(answer.quotes) <= 6
    check_quotes(news_bot, answer, real_embedder)
    assert len(answer.sources) >= 3  # documents (the corpus has only two publishers)
    first, last = summary.span
    assert summary.heading == f"What the knowledge base says about “{topic}”, {first} to {last}"
    text = render_summary_plain(summary)
    assert text.startswith(summary.heading) and text.count("[1") >= 1


def test_a_date_range_keeps_to_its_sources(news_bot: CrisisBot, real_embedder: SentenceTransformerEmbedder) -> None:
    summary = news_bot.summarize("Ukrainian grain", since="2022-07-23", until="2022-07-31", max_sentences=4)
    assert summary.found and len(summary.answer.quotes) <= 4
    assert all("2022-07-23" <= (s.document.published or "") <= "2022-07-31" for s in summary.answer.sources)
    check_quotes(news_bot, summary.answer, real_embedder)
    nothing = news_bot.summarize("Ukrainian grain", since="2023-01")
    assert not nothing.found and render_summary_plain(nothing) == NO_SUMMARY


def test_without_a_topic_a_range_is_summarised_by_its_central_points(
    news_bot: CrisisBot, real_embedder: SentenceTransformerEmbedder
) -> None:
    summary = news_bot.summarize(None, since="2022-07-18", until="2022-07-24")
    answer = summary.answer
    assert summary.found and len(answer.quotes) == 6
    assert summary.heading.startswith("What the knowledge base says overall, 2022-07-")
    check_quotes(news_bot, answer, real_embedder)
    # No quote leans on a sentence the reader cannot see ("But they said…").
    assert not any(q.text.split()[0].strip("“\"").lower() in {"but", "and", "it", "they", "he", "she", "this"}
                   for q in answer.quotes)
    assert len({answer.source(q.source).document.id for q in answer.quotes}) >= 4


# -- choosing: voices, repeats ------------------------------------------------------------------


CORRIDOR = "2024-11-0{}"


def corridor_documents() -> list[Document]:
    """Three reports of one outlet and one of another, all on the grain corridor."""
    wire = [
        ("The Black Sea grain corridor carried four million tonnes of wheat in October, the ministry said.",
         "Insurers cut war-risk premiums for ships using the grain corridor after a quiet month."),
        ("Ships using the grain corridor now sail in convoys escorted by Ukrainian navy patrol boats.",
         "Port officials in Odesa said grain exports through the corridor reached a record in November."),
        ("Grain exports through the Black Sea corridor rose for a third month as new terminals opened.",
         "Traders said freight rates for the grain corridor fell to their lowest level since the war began."),
    ]
    documents = [
        Document(id=f"wire-{n}", title=f"Corridor report {n}", text=" ".join(pair), publisher="Kyiv Wire",
                 published=CORRIDOR.format(n + 1))
        for n, pair in enumerate(wire)
    ]
    documents.append(Document(
        id="ledger", title="Farmers and the corridor", publisher="Odesa Ledger", published="2024-11-05",
        text=("Farmers in the south said the grain corridor let them sell last year's harvest at last. "
              "Many still store grain in tents because silos near the front were destroyed."),
    ))
    return documents


def test_a_second_publisher_is_heard_before_one_is_heard_again(real_embedder: SentenceTransformerEmbedder) -> None:
    """Four unrelated points (orthogonal vectors): three from one outlet, a slightly less
    relevant one from another. The outlet's second sentence costs it the penalty, so the
    other voice comes second; without the penalty the outlet fills all three places."""
    sentences = []
    for number, (publisher, document_id) in enumerate([("Kyiv Wire", "w1"), ("Kyiv Wire", "w2"),
                                                       ("Kyiv Wire", "w3"), ("Odesa Ledger", "l1")]):
        info = document_info(id=document_id, publisher=publisher)
        passage = StoredPassage(Passage(number, document_id, 0, f"Point {number} is made here.", 0, 22), info)
        sentences.append(_Sentence(passage, 0, 22, f"Point {number} is made here.", 0.5))
    vectors = np.eye(4, dtype=np.float32)
    relevance = np.array([0.60, 0.58, 0.56, 0.52], dtype=np.float32)
    eligible = np.ones(4, dtype=bool)

    def pick(penalty: float) -> list[int]:
        summarizer = Summarizer(None, None, real_embedder, policy=SummaryPolicy(publisher_penalty=penalty))  # type: ignore[arg-type]
        return summarizer._pick(sentences, vectors, relevance, eligible, 3)

    assert pick(SummaryPolicy().publisher_penalty) == [0, 3, 1]
    assert pick(0.0) == [0, 1, 2]


def test_topic_summaries_of_the_news_corpus_quote_both_outlets(news_bot: CrisisBot) -> None:
    for topic in ("grain exports from Odesa", "sanctions on Russian gas"):
        sources = news_bot.summarize(topic).answer.sources
        assert {s.document.publisher for s in sources} == {"The Guardian", "The New York Times"}, topic


MOD_FIRST = ("The UK's Ministry of Defence has raised concerns about the security and safety of the "
             "Zaporizhzhia nuclear power plant, which is under Russian control.")
MOD_AGAIN = ("The UK's Ministry of Defence has raised concerns about the security and safety of the "
             "Zaporizhzhia nuclear plant, saying Russia has used artillery units based there to target "
             "Ukrainian territory on the western bank of the Dnipro.")


@pytest.mark.parametrize("run_words", [8, 1000])
def test_a_report_repeated_in_the_next_briefing_is_quoted_once(
    make_bot: Callable[..., CrisisBot], monkeypatch: pytest.MonkeyPatch, run_words: int
) -> None:
    """Daily briefings copy yesterday's sentence and add a clause: the cosine stays below 0.9,
    the shared run of words gives it away. (With the run rule off, both are quoted.)"""
    monkeypatch.setattr("bot.core.summary.SHARED_RUN_WORDS", run_words)
    bot = make_bot([
        Document(id="day-163", title="What we know on day 163", publisher="The Guardian", published="2022-08-05",
                 text=MOD_FIRST + " Ukraine said shelling damaged a power line near the plant."),
        Document(id="day-164", title="What we know on day 164", publisher="The Guardian", published="2022-08-06",
                 text=MOD_AGAIN + " Energoatom said three strikes hit the site of the plant."),
    ])
    texts = [q.text for q in bot.summarize("safety of the Zaporizhzhia nuclear plant").answer.quotes]
    repeats = sum(t.startswith("The UK's Ministry of Defence") for t in texts)
    assert repeats == (1 if run_words == 8 else 2), texts


# -- requests that cannot be served -------------------------------------------------------------


def test_bad_requests_are_refused_clearly(make_bot: Callable[..., CrisisBot]) -> None:
    bot = make_bot(corridor_documents())
    for kwargs, message in [
        ({"since": "last week"}, "bad since date 'last week'"),
        ({"until": "2024-13"}, "bad until date '2024-13'"),
        ({"since": "2024-11-05", "until": "2024-11-01"}, r"the range ends \(2024-11-01\) before it starts \(2024-11-05\)"),
        ({"max_sentences": 0}, "between 1 and 20"),
        ({"topic": "x" * 1001}, "The topic is too long"),
    ]:
        with pytest.raises(SummaryError, match=message):
            bot.summarize(kwargs.pop("topic", "grain"), **kwargs)  # type: ignore[arg-type]
    assert bot.summarize("grain", since="2024-11", until="2024-11").found  # partial dates compare by month
    member = bot.actor("telegram", 1, "Petro")
    with pytest.raises(NotAllowed, match="Only moderators may do that."):
        bot.summarize("grain", actor=member)
    with pytest.raises(NotAllowed):
        bot.digest(actor=member)
    moderator = bot.actor("telegram", 2, "Mod", platform_moderator=True)
    assert bot.summarize("grain", actor=moderator).found


# -- digests -----------------------------------------------------------------------------------


def added(document: Document, when: str) -> Document:
    from dataclasses import replace

    return replace(document, added_at=when)


NUCLEAR = [
    Document(id="znpp-1", title="Power cut at Zaporizhzhia plant", published="2024-11-18", publisher="Energy Desk",
             text=("The Zaporizhzhia nuclear power plant lost its last external power line for five hours on Monday. "
                   "Diesel generators kept the reactor cooling pumps running, the IAEA said.")),
    Document(id="znpp-2", title="IAEA inspectors rotate at Zaporizhzhia", published="2024-11-19", publisher="Atom Watch",
             text=("A new team of IAEA inspectors arrived at the Zaporizhzhia nuclear plant after crossing the front line. "
                   "The inspectors reported shelling near the plant's training centre.")),
]


def test_a_digest_groups_what_was_added_into_topics_and_starts_after_the_last_one(
    make_bot: Callable[..., CrisisBot], real_embedder: SentenceTransformerEmbedder
) -> None:
    this_week = "2024-11-20T10:00:00+00:00"
    old = [added(d, "2024-11-01T10:00:00+00:00") for d in corridor_documents()[:1]]
    new = [added(d, this_week) for d in corridor_documents()[1:] + NUCLEAR]
    bot = make_bot(old + new, load_builtin_knowledge=True)  # background: the seed article
    now = datetime(2024, 11, 22, 12, 0, tzinfo=timezone.utc)

    digest = bot.digest(key="telegram:-100", now=now)  # no digest yet: the last 7 days
    assert digest.documents == 5 and not digest.empty
    groups = sorted(sorted(t.document_ids) for t in digest.topics)
    assert groups == [["ledger", "wire-1", "wire-2"], ["znpp-1", "znpp-2"]]
    for topic in digest.topics:
        assert 1 <= len(topic.answer.quotes) <= 2
        check_quotes(bot, topic.answer, real_embedder)
        assert topic.label in {d.title for d in new}
    text = render_digest_plain(digest)
    assert text.startswith("What's new: 5 documents added 2024-11-15 to 2024-11-22, in 2 topics")

    bot.mark_digest_posted("telegram:-100", digest)
    later = bot.digest(key="telegram:-100", now=datetime(2024, 11, 29, tzinfo=timezone.utc))
    assert later.empty and render_digest_plain(later) == NO_DIGEST
    bot.mark_digest_posted("telegram:-100", later)
    bot.mark_digest_posted("telegram:-100", digest)  # an old preview posted late: no step back
    assert bot.store.get_meta("digest:telegram:-100") == later.until
    assert bot.digest(key="discord:7", now=now).documents == 5  # each target keeps its own place
    assert bot.digest(since="2024-11-01", now=now).documents == 6


def test_a_digest_with_nothing_new_is_empty(make_bot: Callable[..., CrisisBot]) -> None:
    bot = make_bot([added(d, "2024-11-01T10:00:00+00:00") for d in corridor_documents()])
    digest = bot.digest(now=datetime(2024, 11, 22, tzinfo=timezone.utc))
    assert digest.empty and digest.documents == 0 and digest.topics == []


@pytest.mark.parametrize(
    ("sentence", "alone"),
    [
        ("The ministry said the corridor would stay open through the winter.", True),
        ("“We will rebuild every port,” the minister said on Monday.", True),
        ('"Ships are moving again," a port official said.', True),
        ("But they said the talks had failed.", False),
        ("It was the third strike on the terminal this month.", False),
        ("“Russia can't afford not to engage with Turkey.", False),  # the quotation goes on
        ("That is why we are here,” he added.", False),
        ('The official said "nothing has changed.', False),
        ("Thereafter the convoy sailed south.", True),  # "There" only as a whole word
    ],
)
def test_only_sentences_that_stand_alone_are_quoted(sentence: str, alone: bool) -> None:
    assert standalone(sentence) is alone
