"""The context a quoted sentence needs: its antecedent, its speaker, the rebuttal next to it."""

from __future__ import annotations

from bot.core.quote_context import Context, is_caption, quote_context, refers_back

SEED = [  # the seed article, abridged
    "The initial shock stems from the arrival of at least 10,000 North Korean troops in Russia.",
    "This marks a striking internationalization of the Ukrainian conflict.",
    "This form of military support prompted U.S. President Joe Biden to allow Ukraine to target "
    "Russian positions with ATACMS long-range missiles.",
    "Trump's election raises questions about continued support.",
]
KREMINNA = [
    "Haidai said it was “impossible” to know how many civilians had been killed: “We have official "
    "statistics – about 200 dead – but in reality there are many more.”",
    "“Kreminna is under the control of the ‘Orcs’ [Russians].",
    "They have entered the city,” Serhiy Haidai, the governor of the Luhansk region, told a briefing.",
    "The city had already been pulverised by extensive Russian shelling.",
]
BUCHA_DEBUNKED = [
    "On 21 April, an article published by the Guardian revealed how civilians who died in Bucha were "
    "killed by flechettes fired by Russian artillery.",
    "“The UK Guardian published the first postmortem findings of the Bucha incidents: they were caused "
    "by Ukraine shelling Bucha,” reads the article from South Review.",
    "On Weibo, a military-focused account added that the report turned out to be the exact opposite.",
]
OLENIVKA = [
    "Russia’s defense minister claimed that Ukraine had used a HIMARS to strike the prison.",
    "Ukraine rejected the claim, accusing Russia of bombing the facility to hide evidence of torture.",
]


def test_a_referring_sentence_brings_its_antecedents_as_far_as_the_chain_goes() -> None:
    context = quote_context(SEED, 2)
    assert (context.first, context.last) == (0, 2)
    assert context.reasons == ("brings its antecedent",) and context.quotable


def test_a_plain_sentence_stands_alone() -> None:
    assert quote_context(SEED, 0) == Context(0, 0)


def test_a_referring_sentence_that_opens_its_passage_is_an_orphan() -> None:
    context = quote_context(KREMINNA[3:], 0)  # "The city..." with its city in another passage
    assert context.orphan and not context.quotable
    assert refers_back(KREMINNA[3]) and not refers_back(KREMINNA[0])


def test_a_quotation_split_by_the_splitter_keeps_its_speaker() -> None:
    context = quote_context(KREMINNA, 1)  # the quote opens here, its speaker comes at its end
    assert (context.first, context.last) == (1, 2)
    assert "keeps the speaker" in context.reasons
    context = quote_context(KREMINNA, 2)  # "They have entered the city,” ...: its opening comes too
    assert (context.first, context.last) == (1, 2)


def test_a_bare_quote_brings_the_sentence_that_names_its_speaker() -> None:
    sentences = ["Serhiy Haidai, the governor of the Luhansk region, spoke to reporters on Monday.",
                 "“We have official statistics – about 200 dead – but in reality there are many more.”"]
    context = quote_context(sentences, 1)
    assert (context.first, context.last) == (0, 1) and context.reasons == ("keeps the speaker",)


def test_a_claim_next_to_its_rebuttal_brings_it() -> None:
    context = quote_context(OLENIVKA, 0)
    assert (context.first, context.last) == (0, 1) and context.reasons == ("keeps the rebuttal",)
    assert context.quotable


def test_a_claim_in_a_debunking_article_without_its_rebuttal_is_not_quotable() -> None:
    context = quote_context(BUCHA_DEBUNKED, 1, disputed_source=True)
    assert context.rebutted and not context.quotable
    # The article's own report of what happened is not a claim: it may be quoted.
    assert quote_context(BUCHA_DEBUNKED, 0, disputed_source=True).quotable


def test_a_span_never_exceeds_the_limit() -> None:
    chain = ["Kherson was occupied in March."] + ["This mattered to the region."] * 6
    context = quote_context(chain, 6)
    assert context.last - context.first + 1 == 4
    assert not context.quotable  # it still refers back at the limit's edge: no faithful span


def test_captions_are_recognised() -> None:
    assert is_caption("01:34 Bucha resident recounts finding husband dead in basement – video")
    assert not is_caption("Bucha residents recounted finding bodies in basements.")


def test_rebuttal_words_inside_the_claimants_own_quotation_do_not_rebut_it() -> None:
    """"Western propaganda is lying", in the mouth of the man the article says lied, is the
    claim: the article's rebuttal ("falsely claimed") comes with it."""
    sentences = [
        "The Russian man appeared in a livestream in March and falsely claimed that it was not an invasion.",
        "“Western propaganda is lying when they say that Russia invaded Ukraine,” he said through an interpreter.",
        "His name was Aleksandr Ionov.",
    ]
    context = quote_context(sentences, 1)
    assert (context.first, context.last) == (0, 1) and "keeps the rebuttal" in context.reasons
    assert quote_context(sentences[1:], 0).quotable  # with no rebuttal beside it, a plain quote
    assert not quote_context(sentences[1:], 0, disputed_source=True).quotable
