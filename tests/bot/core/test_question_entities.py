"""Names in questions, found without a gazetteer, and matched in their inflected forms."""

from __future__ import annotations

from bot.core.question_entities import mentions_any, question_entities, required_entities


def names(question: str) -> list[str]:
    return [e.name for e in question_entities(question)]


def test_capitalised_words_after_the_first_are_names() -> None:
    assert names("How many were killed in Bucha?") == ["Bucha"]
    assert names("What did Joe Biden say about Kherson?") == ["Joe Biden", "Kherson"]
    assert names("What happened in Bucha?") == ["Bucha"]
    assert names("What happened to the Azovstal defenders?") == ["Azovstal"]


def test_acronyms_count_anywhere_and_month_names_do_not() -> None:
    assert names("NATO summit: what did Zelensky say in June?") == ["NATO", "Zelensky"]
    assert names("Why did Biden allow ATACMS?") == ["Biden", "ATACMS"]


def test_a_possessive_ends_a_name() -> None:
    assert names("What is Biden's Ukraine policy?") == ["Biden", "Ukraine"]


def test_inflected_and_derived_forms_are_found() -> None:
    [korea] = question_entities("Did North Korea send troops?")
    assert korea.found_in("at least 10,000 North Korean troops arrived")
    [zelensky] = question_entities("What did Zelensky say?")
    assert zelensky.found_in("Volodymyr Zelenskiy said") and zelensky.found_in("Zelenskyy’s office")
    [bucha] = question_entities("Що сталося в Бучі?")
    assert bucha.found_in("Вбивства у Бучі") and bucha.found_in("місто Буча")


def test_another_place_is_not_a_mention() -> None:
    [bucha] = question_entities("How many were killed in Bucha?")
    assert not bucha.found_in("“We have official statistics – about 200 dead – but in reality there are many more.”")
    assert not bucha.found_in("Kreminna is under the control of the ‘Orcs’.")
    [crimea] = question_entities("What is happening in Crimea?")
    assert not crimea.found_in("investigators documented war crimes")


def test_the_background_names_are_required_only_alone() -> None:
    assert [e.name for e in required_entities(question_entities("Did Russia shell Kharkiv?"))] == ["Kharkiv"]
    assert [e.name for e in required_entities(question_entities("What does Russia want?"))] == ["Russia"]


def test_a_name_inside_a_longer_name_is_not_a_mention() -> None:
    [kyiv] = question_entities("Is it safe to return to Kyiv?")
    assert not kyiv.found_in("Russia and Ukraine have carried out a prisoner exchange, the Kyiv Independent reports.")
    assert not kyiv.found_in("— The Independent (@KyivIndependent) July 12, 2022")
    assert kyiv.found_in("South Korean ambassador Kim Hyung-tae has returned to Kyiv along with some embassy staff.")
    assert kyiv.found_in("Shelling continued in Kyiv Oblast.") and kyiv.found_in("Kyiv’s mayor said")


def test_a_name_that_narrows_what_is_asked_for_is_not_required() -> None:
    assert [e.name for e in required_entities(question_entities("Which US state legalised marijuana?"))] == []
    assert [e.name for e in required_entities(question_entities(
        "The leader of which southeast Asian country is handing power to his son?"))] == []
    assert [e.name for e in required_entities(question_entities("What did Joe Biden say?"))] == ["Joe Biden"]


def test_a_name_of_several_words_is_found_whole_or_by_its_last_word() -> None:
    [university] = question_entities("What did scientists at the University of California find?")
    assert university.name == "University of California" and university.found_in("researchers in California")
    [show] = question_entities("Who will perform at the Super Bowl Halftime Show?")
    assert show.found_in("the Super Bowl halftime show")


def test_a_name_of_several_words_is_also_found_by_its_initials() -> None:
    [states] = question_entities("In which country did the United States reopen its embassy?")
    assert states.found_in("the US embassy in Kyiv") and states.found_in("the U.S. embassy")
    assert not states.found_in("USA Today")


def test_nationalities_and_short_acronyms_set_the_scene() -> None:
    assert required_entities(question_entities("The Dutch food safety regulator warned about which brand?")) == []
    assert [e.name for e in required_entities(question_entities("What did the UN say about Bucha?"))] == ["Bucha"]


def places_in(question: str) -> list[str]:
    return [e.name for e in question_entities(question) if e.place]


def test_a_place_is_what_follows_in_to_at() -> None:
    assert places_in("How many were killed in Bucha?") == ["Bucha"]
    assert places_in("Is it safe to return to Kyiv?") == ["Kyiv"]


def test_only_a_name_the_gazetteer_knows_is_a_place() -> None:
    assert places_in("How many hours has Macron spent talking to Putin?") == []
    assert places_in("Which London council fell to Labour in the local elections?") == []
    assert places_in("Which products were removed from Target this week?") == []
    [bucha] = [e for e in question_entities("How many were killed in Bucha?") if e.place]
    assert bucha.where is not None and bucha.where.countries == frozenset({"UA"})


def test_an_owner_or_a_numbered_event_is_not_a_place() -> None:
    assert places_in("How many stations will be on Crossrail’s delayed Elizabeth line?") == []
    assert places_in("How many seats did the BJP win in India's latest elections?") == []
    assert places_in("Which country got the most fines at Euro 2024?") == []
    assert places_in("Which country hosted the leaders at the Group of 7 summit?") == []
    assert places_in("Who won at the 2023 Laureus World Sports Awards?") == []


def test_the_other_spelling_of_a_place_is_a_mention() -> None:
    [kiev] = question_entities("Who would lead a puppet regime in Kiev?")
    assert kiev.place and kiev.found_in("a puppet government in Kyiv")
    [odesa] = question_entities("Was the port in Odesa hit?")
    assert odesa.found_in("missiles struck Odessa")


def test_an_event_an_institution_or_a_quoted_phrase_is_not_a_place() -> None:
    assert places_in("How long is London Cocktail Week running in London?") == ["London"]
    assert places_in("Which official faces impeachment proceedings in the House?") == []
    assert places_in('An event billed as "the showdown on Earth" was launched in which state?') == []


def test_a_country_is_found_by_its_other_names_and_adjective_but_not_inside_another_word() -> None:
    britain = question_entities("How many people died in Britain?")
    assert mentions_any(britain, "The UK said 30 people died.") and mentions_any(britain, "British officials said")
    assert not mentions_any(britain, "Ukrainian forces advanced.")  # "UK" is not the start of "Ukrainian"
    assert not mentions_any(britain, "the Uk said")
    greece = question_entities("What happened in Greece?")
    assert mentions_any(greece, "Greek police said") and not mentions_any(greece, "Turkish police said")
