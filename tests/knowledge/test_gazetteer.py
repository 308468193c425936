"""The gazetteer: which capitalised names are places, and where they lie (GeoNames, offline)."""

from __future__ import annotations

import pytest

from knowledge.gazetteer import Gazetteer, gazetteer


@pytest.fixture(scope="module")
def places() -> Gazetteer:
    return gazetteer()


def names(places: Gazetteer, text: str) -> list[str]:
    return [p.name for p in places.places_in(text)]


def test_towns_of_the_war_are_known_in_their_spellings(places: Gazetteer) -> None:
    for name in ("Bucha", "Kreminna", "Kyiv", "Kiev", "Izium", "Izyum", "Sievierodonetsk", "Olenivka",
                 "Mariupol", "Zaporizhzhia", "Kharkiv", "Crimea", "Буча"):
        place = places.find(name)
        assert place is not None and "UA" in place.countries, name
    assert places.find("Kyiv's") == places.find("Kyiv")
    assert places.find("Kharkiv Oblast") == places.find("Kharkiv")


def test_people_parties_and_shops_are_not_places(places: Gazetteer) -> None:
    for name in ("Putin", "Biden", "Labour", "Target", "Stormont", "Haidai"):
        assert places.find(name) is None, name
    # "Austin" is a city, but "Lloyd Austin" is a whole name: runs are looked up whole.
    assert names(places, "The defence secretary, Lloyd Austin, said so.") == []


def test_a_run_is_found_after_the_words_that_open_it_and_with_its_kind(places: Gazetteer) -> None:
    assert names(places, "In Kyiv, sirens sounded.") == ["Kyiv"]
    assert names(places, "Russian-occupied Kherson was shelled.") == ["Kherson"]
    assert names(places, "the governor of the Luhansk region said") == ["Luhansk"]
    assert names(places, "The Kyiv Independent reported it.") == []  # a newspaper


def test_an_ordinary_word_opening_a_sentence_is_not_a_place(places: Gazetteer) -> None:
    assert places.find("Police") is not None  # a town in Poland
    assert names(places, "Police said two men were held. Most fled.") == []
    assert names(places, "Trains ran from Police to Szczecin.") == ["Police", "Szczecin"]


def test_a_place_lies_in_its_country_and_a_us_city_in_its_state(places: Gazetteer) -> None:
    larissa, greece = places.find("Larissa"), places.find("Greece")
    assert larissa is not None and greece is not None and larissa.within(greece)
    columbus, ohio = places.find("Columbus"), places.find("Ohio")
    assert columbus is not None and ohio is not None and columbus.within(ohio)
    bucha, kreminna = places.find("Bucha"), places.find("Kreminna")
    assert bucha is not None and kreminna is not None and not bucha.within(kreminna)
    britain, uk, london = places.find("Britain"), places.find("UK"), places.find("London")
    assert britain is not None and uk is not None and london is not None
    assert uk.within(britain) and london.within(britain) and not britain.within(london)


def test_the_table_is_read_by_a_child_that_gets_no_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    import subprocess

    from knowledge import gazetteer as module

    monkeypatch.setenv("CRISISBOT_TELEGRAM_TOKEN", "123:secret")
    seen: list[dict[str, str]] = []
    real_run = subprocess.run

    def run(*args: object, **kwargs: object) -> object:
        seen.append(dict(kwargs["env"]))  # type: ignore[call-overload]
        return real_run(*args, **kwargs)  # type: ignore[call-overload]

    monkeypatch.setattr(module.subprocess, "run", run)
    loaded = module._load()
    assert len(seen) == 1 and "CRISISBOT_TELEGRAM_TOKEN" not in seen[0]
    assert len(loaded) == len(gazetteer()) and loaded.find("Kreminna") == gazetteer().find("Kreminna")


def test_without_a_child_process_the_table_is_read_here(monkeypatch: pytest.MonkeyPatch,
                                                         caplog: pytest.LogCaptureFixture) -> None:
    from knowledge import gazetteer as module

    monkeypatch.setattr(module.sys, "executable", "/nonexistent/python")
    loaded = module._load()
    assert loaded.find("Bucha") is not None and len(loaded) == len(gazetteer())
    assert "place names read in this process" in caplog.text
