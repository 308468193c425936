"""Choosing the spans to quote: about what the question names, in context, typed, newest first.

The passages are short texts written from situations in news-2022.jsonl; cosines are given
(the composer computes them with the model), so each rule is seen on its own.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import numpy as np

from bot.core.answer_sentences import answer_sentence_spans
from bot.core.composer import read_question
from bot.core.quote_selection import (
    ChosenSpan,
    PassageSentences,
    QuoteSelection,
    SelectionPolicy,
    candidate_passages,
)
from index.retriever import ScoredPassage
from knowledge.documents import Kind, Passage, StoredPassage
from tests.factories import document_info

KREMINNA = ("Haidai said it was impossible to know how many civilians had been killed in Kreminna. "
            "“We have official statistics – about 200 dead – but in reality there are many more,” he said.")
BUCHA = ("Witnesses of alleged atrocities in Bucha told the Guardian that Russian soldiers had fired on men "
         "fleeing the town. Local officials said more than 400 bodies had been found in Bucha and nearby towns.")
BUCHA_DEBUNKED = ("“The UK Guardian published the first postmortem findings of the Bucha incidents: they were "
                  "caused by Ukraine shelling Bucha,” reads the article from South Review. On Weibo, a "
                  "military-focused account with millions of followers shared it. Civilians in Bucha were killed "
                  "by flechettes from shells of a type fired by Russian artillery, a Guardian investigation found.")
KHERSON_OLD = ("Recapturing Kherson could help restore momentum to Ukraine, analysts said on Wednesday. "
               "A counteroffensive around Kherson may come within weeks.")
KHERSON_NEW = ("Ukrainian forces struck a Russian ammunition train in Kherson oblast on Sunday. "
               "The rail link between Kherson and Crimea is highly unlikely to be operational.")

_ids = iter(range(1, 1000))


def hit(text: str, score: float, title: str = "War report", published: str = "2022-05-01",
        kind: Kind = Kind.NEWS, start: int = 0) -> ScoredPassage:
    """`start`: the passage's offset in its document (0: it opens the document)."""
    number = next(_ids)
    document = document_info(id=f"d{number}", title=title, published=published, kind=kind)
    passage = Passage(number, document.id, 1 if start else 0, text, start, start + len(text))
    return ScoredPassage(StoredPassage(passage, document), score)


def select(question: str, hits: list[ScoredPassage], cosines: list[list[float]]) -> tuple[list[ChosenSpan], list[str]]:
    """Chosen spans for `question`, and their texts; `cosines[i]` are passage i's sentences' cosines."""
    reading = read_question(question)
    kept = candidate_passages(hits, reading, 8)
    passages = [PassageSentences(h, answer_sentence_spans(h.stored.passage.text)) for h in kept]
    by_passage = {id(h): c for h, c in zip(hits, cosines)}
    for passage in passages:
        assert len(by_passage[id(passage.hit)]) == len(passage.spans)
    selection = QuoteSelection(reading, passages, SelectionPolicy())
    # Only quotable sentences are refs (and would be embedded): their cosines, in order.
    scores = np.array([by_passage[id(passages[r.passage].hit)][r.index] for r in selection.refs])
    vectors = np.eye(len(scores))  # no two sentences are duplicates
    chosen = selection.choose(scores, vectors)
    texts = []
    for span in chosen:
        passage = passages[span.passage]
        texts.append(passage.hit.stored.passage.text[passage.spans[span.first][0]:passage.spans[span.last][1]])
    return chosen, texts


def test_a_sentence_about_another_place_is_not_an_answer() -> None:
    kreminna, bucha = hit(KREMINNA, 0.62), hit(BUCHA, 0.48)
    chosen, texts = select("How many were killed in Bucha?", [kreminna, bucha], [[0.6, 0.7], [0.45, 0.5]])
    assert texts and all("Bucha" in t for t in texts)
    assert not any("200 dead" in t for t in texts)
    assert "has a quantity" in chosen[0].reasons or "has a quantity" in " ".join(r for c in chosen for r in c.reasons)


def test_no_passage_about_the_named_place_means_no_candidates() -> None:
    assert candidate_passages([hit(KREMINNA, 0.62)], read_question("How many were killed in Bucha?"), 8) == []


def test_a_rebutted_claim_is_not_the_answer_and_the_finding_is() -> None:
    debunk = hit(BUCHA_DEBUNKED, 0.57, title="China’s pro-Russia propaganda exposed by online activists")
    chosen, texts = select("What happened in Bucha?", [debunk], [[0.64, 0.2, 0.5]])
    assert texts == ["Civilians in Bucha were killed by flechettes from shells of a type fired by Russian "
                     "artillery, a Guardian investigation found."]
    assert chosen[0].reasons[0] == "best sentence (cosine 0.50)"


def test_a_claim_quoted_with_its_rebuttal_follows_the_plain_report() -> None:
    claim = hit("Russia’s defense minister claimed that Ukraine had used a HIMARS to strike the prison in Olenivka. "
                "Ukraine rejected the claim, accusing Russia of bombing the facility in Olenivka.", 0.55)
    report = hit("At least 40 captured fighters were killed in the blast at the prison in Olenivka, "
                 "according to both Ukrainian and Russian officials.", 0.5)
    chosen, texts = select("What happened at the prison in Olenivka?", [claim, report], [[0.6, 0.4], [0.58]])
    assert texts[0].startswith("At least 40 captured fighters")
    assert texts[1].endswith("bombing the facility in Olenivka.")  # the claim comes with its rebuttal
    assert "keeps the rebuttal" in chosen[1].reasons


def test_the_latest_question_leads_with_the_newest_source() -> None:
    old = hit(KHERSON_OLD, 0.6, published="2022-07-27")
    new = hit(KHERSON_NEW, 0.45, published="2022-07-31")
    chosen, texts = select("What is the latest on Kherson?", [old, new], [[0.55, 0.5], [0.4, 0.38]])
    assert texts[0].startswith("Ukrainian forces struck a Russian ammunition train")
    assert "newest source" in chosen[0].reasons


def test_sentences_that_touch_are_one_span_and_the_rest_are_separate() -> None:
    text = ("Russian forces shelled Kharkiv on Wednesday. At least 15 civilians were killed in Kharkiv. "
            "Snake Island was attacked on Monday. Kharkiv’s metro reopened in May.")
    chosen, texts = select("What happened in Kharkiv?", [hit(text, 0.6)], [[0.6, 0.55, 0.1, 0.4]])
    assert texts == ["Russian forces shelled Kharkiv on Wednesday. At least 15 civilians were killed in Kharkiv.",
                     "Kharkiv’s metro reopened in May."]
    assert [(c.first, c.last) for c in chosen] == [(0, 1), (3, 3)]


def test_a_how_many_question_prefers_the_sentence_with_a_number_on_a_near_tie() -> None:
    text = ("Russia said Ukrainian troops had surrendered at the Azovstal steelworks. "
            "Russia said a further 771 Ukrainian troops had surrendered at Azovstal.")
    chosen, texts = select("How many troops surrendered at Azovstal?", [hit(text, 0.6)], [[0.62, 0.6]])
    # The numbered sentence leads (cosine 0.60 beats 0.62 with its bonus); the other touches it,
    # so both are one span.
    assert chosen[0].reasons[:2] == ("best sentence (cosine 0.60)", "has a quantity")
    assert texts == [text]


def test_is_it_true_leads_with_a_fact_check_when_there_is_one() -> None:
    news = hit("Russian media said the Bucha images were staged by Kyiv, and Moscow repeated it.", 0.6)
    check = hit("Satellite images show bodies lay in a Bucha street while Russian troops held it; the claim "
                "that they were staged is false.", 0.58, kind=Kind.FACT_CHECK, title="Bucha images: fact check")
    chosen, texts = select("Is it true that the Bucha images were staged?", [news, check], [[0.7], [0.5]])
    assert texts[0].startswith("Satellite images") and "fact check" in chosen[0].reasons


def test_a_person_the_passages_do_not_name_is_preferred_not_insisted_on() -> None:
    # The quiz's evidence says "the company's founder", not her name: still an answer.
    evidence = hit("The founder of Theranos was found guilty of defrauding investors.", 0.6)
    other = hit("Elizabeth Holmes said she would appeal the verdict.", 0.5)
    reading = read_question("Was Elizabeth Holmes found guilty?")
    assert candidate_passages([evidence], reading, 8) == [evidence]
    assert candidate_passages([evidence, other], reading, 8) == [evidence, other]  # her name only lifts


def test_a_place_is_insisted_on_a_passage_set_elsewhere_is_not_a_candidate() -> None:
    elsewhere = hit("A court in Kreminna found the founder guilty of looting.", 0.6)
    unplaced = hit("The founder was found guilty of looting.", 0.55)
    there = hit("A court in Bucha found two soldiers guilty of looting.", 0.5)
    reading = read_question("Who was found guilty in Bucha?")
    assert candidate_passages([elsewhere, there], reading, 8) == [there]
    assert candidate_passages([elsewhere], reading, 8) == []
    # Nothing says where the second is set (and no document text is at hand): the benefit of the doubt.
    assert candidate_passages([elsewhere, unplaced], reading, 8) == [unplaced]


def test_a_paragraph_that_names_no_place_is_set_where_the_paragraphs_before_it_are() -> None:
    """The issue's case: "about 200 dead" follows paragraphs about Kreminna."""
    opening = ("Russian troops overran the city of Kreminna on Tuesday.\n\n"
               "“Kreminna is under the control of the Russians,” the governor of the Luhansk region said.\n\n")
    toll = "Haidai said it was impossible to know how many had been killed: “about 200 dead”."
    documents = {"d-kreminna": opening + toll}
    toll_hit = replace(hit(toll, 0.7, title="Russia takes Donbas town", start=len(opening)))
    toll_hit = replace(toll_hit, stored=replace(toll_hit.stored, passage=replace(
        toll_hit.stored.passage, document_id="d-kreminna")))
    bucha = read_question("How many were killed in Bucha?")
    kreminna = read_question("How many were killed in Kreminna?")
    assert candidate_passages([toll_hit], bucha, 8, documents.__getitem__) == []
    assert candidate_passages([toll_hit], kreminna, 8, documents.__getitem__) == [toll_hit]
    passages = [PassageSentences(toll_hit, answer_sentence_spans(toll))]
    assert QuoteSelection(bucha, passages, SelectionPolicy(), documents.__getitem__).refs == []
    selection = QuoteSelection(kreminna, passages, SelectionPolicy(), documents.__getitem__)
    [span] = selection.choose(np.array([0.6] * len(selection.refs)), np.eye(len(selection.refs)))
    assert "set there by the paragraphs before it" in span.reasons  # shown by `ask --explain`


def test_a_place_the_question_itself_names_is_not_elsewhere() -> None:
    distance = hit("Russian forces are now creeping towards the cities of Sloviansk and Kramatorsk, "
                   "40 miles (60km) south-east.", 0.7)
    reading = read_question("How far are Sloviansk and Kramatorsk from Kreminna?")
    assert [e.name for e in reading.places] == ["Kreminna"]
    assert candidate_passages([distance], reading, 8) == [distance]
    assert candidate_passages([distance], read_question("How far is the front from Kreminna?"), 8) == []


def test_a_place_within_the_one_asked_about_counts_and_a_name_that_is_no_place_is_not_insisted_on() -> None:
    crash = hit("Two trains collided near Larissa, killing 57 people; the stationmaster was arrested.", 0.6)
    assert candidate_passages([crash], read_question("What caused the train crash in Greece?"), 8) == [crash]
    talks = hit("Macron said he had spent 100 hours talking with the Russian leader.", 0.6)
    reading = read_question("How many hours has Macron spent talking to Putin?")
    assert reading.places == [] and candidate_passages([talks], reading, 8) == [talks]


def test_a_document_opening_with_the_ministry_is_quoted_but_a_later_passage_opening_so_is_not() -> None:
    """"The ministry said..." opening a document has no antecedent elsewhere; opening a later
    passage, which ministry is in the passage before, so it is not quoted on its own."""
    text = "The ministry said deliveries of fuel and food to Kherson resumed on Monday."
    question = "Did deliveries of fuel and food to Kherson resume?"
    _, texts = select(question, [hit(text, 0.8)], [[0.8]])
    assert texts == [text]
    _, texts = select(question, [hit(text, 0.8, start=400)], [[0.8]])
    assert texts == []


def test_the_best_sentence_brings_its_neighbours_within_the_word_budget() -> None:
    text = ("Ukrainian forces struck a Russian ammunition train in Kherson oblast on Sunday. "
            "The rail link between Kherson and Crimea is highly unlikely to be operational. "
            "Officials said the strike destroyed at least 20 wagons of shells.")
    passage = hit(text, 0.6)
    reading = read_question("Was the Kherson rail link hit?")
    passages = [PassageSentences(passage, answer_sentence_spans(text))]
    for budget, expected in ((0, (1, 1)), (80, (0, 2))):
        selection = QuoteSelection(reading, passages, SelectionPolicy(lead_words=budget))
        scores = np.array([0.2, 0.6, 0.1])[[r.index for r in selection.refs]]
        [span] = selection.choose(scores, np.eye(len(scores)))
        assert (span.first, span.last) == expected
    tight = QuoteSelection(reading, passages, SelectionPolicy(lead_words=27))
    [span] = tight.choose(np.array([0.2, 0.6, 0.1]), np.eye(3))
    assert (span.first, span.last) == (1, 2)  # the sentence after fits in 27 words, the one before no more


def test_a_further_span_brings_its_neighbours_within_its_own_budget() -> None:
    """The issue's Macron case: the sentence most like the question is followed by the one
    that holds the figure."""
    lead_text = "Macron has repeatedly called Putin, including on an 80-minute phone call last month."
    text = ("“I have lost count of the conversations I have had with Vladimir Putin since December,” "
            "Macron said. They amounted to 100 hours’ worth, he added.")
    lead, other = hit(lead_text, 0.7), hit(text, 0.6)
    reading = read_question("How many hours has Macron spent talking to Putin?")
    passages = [PassageSentences(h, answer_sentence_spans(h.stored.passage.text)) for h in (lead, other)]
    for budget, expected in ((0, "Macron said."), (40, "100 hours’ worth, he added.")):
        selection = QuoteSelection(reading, passages, SelectionPolicy(span_words=budget))
        scores = [[[0.6], [0.58, 0.3]][r.passage][r.index] for r in selection.refs]
        chosen = selection.choose(np.array(scores), np.eye(len(scores)))
        assert [c.passage for c in chosen] == [0, 1]
        quoted = text[passages[1].spans[chosen[1].first][0]:passages[1].spans[chosen[1].last][1]]
        assert quoted.endswith(expected)


def test_the_neighbours_stop_at_a_sentence_about_another_place() -> None:
    text = ("Local officials said more than 400 bodies had been found in Bucha. "
            "In Kreminna, the governor counted about 200 dead.")
    reading = read_question("How many were killed in Bucha?")
    passages = [PassageSentences(hit(text, 0.6), answer_sentence_spans(text))]
    selection = QuoteSelection(reading, passages, SelectionPolicy(lead_words=80))
    [span] = selection.choose(np.array([0.6] * len(selection.refs)), np.eye(len(selection.refs)))
    assert (span.first, span.last) == (0, 0)


def test_the_neighbours_stop_at_a_rebutted_claim() -> None:
    chosen, texts = select("Who killed the civilians in Bucha?",
                           [hit(BUCHA_DEBUNKED, 0.57, title="China’s pro-Russia propaganda exposed by online activists")],
                           [[0.6, 0.2, 0.5]])
    assert texts and not any("caused by Ukraine shelling" in t for t in texts)


def test_the_latest_is_the_newest_source_as_of_the_day_asked() -> None:
    old, new = hit(KHERSON_OLD, 0.55, published="2022-07-27"), hit(KHERSON_NEW, 0.5, published="2022-07-31")
    reading = replace(read_question("What is the latest on Kherson?"), known_by=date(2022, 7, 28))
    assert candidate_passages([old, new], reading, 1) == [old]
    assert candidate_passages([old, new], read_question("What is the latest on Kherson?"), 1) == [new]


def test_the_rankers_log_odds_order_the_sentences_and_the_cosines_still_set_the_floor() -> None:
    kherson = hit(KHERSON_NEW, 0.5)
    reading = read_question("What happened in Kherson?")
    passages = [PassageSentences(kherson, answer_sentence_spans(KHERSON_NEW))]
    selection = QuoteSelection(reading, passages, SelectionPolicy(max_sentences=1))
    cosines = np.array([0.6, 0.5])
    [by_cosine] = selection.choose(cosines, np.eye(2))
    [by_odds] = selection.choose(cosines, np.eye(2), ranking=np.array([-1.0, 0.5]))
    assert (by_cosine.first, by_odds.first) == (0, 1)
    assert by_odds.reasons[:2] == ("best sentence (cosine 0.50)", "log-odds +0.50")
    # A sentence below the cosine floor is never quoted, whatever its log-odds.
    assert selection.choose(np.array([0.2, 0.1]), np.eye(2), ranking=np.array([3.0, 2.0])) == []
