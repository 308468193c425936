"""Whether a passage, or a span of it, is about the place a question names.

"How many were killed in Bucha?" once got "“We have official statistics – about 200 dead”",
a paragraph that names no place at all: the paragraphs before it are about Kreminna. And a
report on a train collision near Larissa answers a question about Greece without naming
Greece. So a text is judged by its *setting*, the way a reader would:

- it is about the place when it names it, or a place that lies in it (Larissa in Greece,
  Columbus in Ohio);
- it is about somewhere else when it names other towns, cities or regions and not the place
  (countries do not count: "Russia fired missiles at..." names an actor as often as a place);
- a text that names no place takes its setting from the text before it: the nearest sentence
  (or, for a passage, the nearest paragraph of its document) that names one; then the
  document's title;
- nothing anywhere says where: the text is given the benefit of the doubt.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

from bot.core.question_entities import Entity, known_places, mentions_any
from knowledge.gazetteer import Place, gazetteer

_PARAGRAPH = re.compile(r"\n\s*\n|\n")
LOOK_BACK_CHARS = 4000  # how far before a passage its setting is looked for


@lru_cache(maxsize=8192)
def _named(text: str) -> tuple[Place, ...]:
    """The places a text names (each passage's sentences are read again question after question)."""
    return tuple(gazetteer().places_in(text))


class PlaceSetting:
    """The question's places and how to tell whether a text is set there."""

    def __init__(self, entities: Sequence[Entity], named: Sequence[Entity] = ()) -> None:
        """`entities`: the places asked about; `named`: every name of the question ("How far
        are Sloviansk and Kramatorsk from Kreminna?": a text naming Sloviansk is not elsewhere)."""
        self.entities = list(entities)
        self._places = known_places(self.entities)
        self._named_keys = {place.key for e in named if (place := gazetteer().find(e.name)) is not None}

    def mentions(self, text: str) -> bool:
        """The text names the place, or a place within it."""
        if mentions_any(self.entities, text):
            return True
        return any(named.within(place) for named in _named(text) for place in self._places)

    def elsewhere(self, text: str) -> bool:
        """The text names a town, city or region unrelated to the place: neither in it nor
        containing it (a US state holding the city asked about)."""
        for named in _named(text):
            if named.country or named.key in self._named_keys:
                continue
            if not any(named.within(place) or place.within(named) for place in self._places):
                return True
        return False

    def verdict(self, text: str) -> bool | None:
        """True: set at the place; False: set elsewhere; None: the text does not say."""
        if self.mentions(text):
            return True
        if self.elsewhere(text):
            return False
        return None

    def nearest(self, texts_nearest_first: Sequence[str]) -> bool | None:
        """The verdict of the nearest text that says where it is set."""
        for text in texts_nearest_first:
            found = self.verdict(text)
            if found is not None:
                return found
        return None

    def before(self, document_text: str, start: int) -> bool | None:
        """The setting of a passage that starts at `start` of its document: the nearest
        paragraph before it that names a place."""
        window = document_text[max(0, start - LOOK_BACK_CHARS) : start]
        paragraphs = [p for p in _PARAGRAPH.split(window) if p.strip()]
        return self.nearest(paragraphs[::-1])
