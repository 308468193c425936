"""Hypothesis strategies for the renderers: answers, summaries, digests and listings whose text
holds everything that has broken chat markup somewhere (HTML and markdown specials, entities,
emoji counted twice by Telegram, long words and URLs, direction controls, "1." list starts).

Only what the core can produce is generated: quotes are non-empty trimmed sentences, dates are
valid partial dates (validated at ingest), every quote cites a listed source.
"""

from __future__ import annotations

from hypothesis import strategies as st

from bot.core.answer import Answer, Quote, Source
from bot.core.summary import Digest, DigestTopic, Summary
from knowledge.documents import DocumentInfo, Kind

SPECIALS = ["<", ">", "&", "&amp;", "&lt;", "\"", "'", "*", "_", "~", "`", "|", "#", "-", "[", "]", "(",
            ")", "\\", "<@123>", "<#1>", "@everyone", "1.", "\n1. ", "> ", "```", "😀", "👍🏽", "\u202e",
            "\u200b", "é", "e\u0301", "\u2028", "\t", "\n", "  ", "[1]", "](javascript:x)", "<b>", "</a>"]
WORDS = ["Kyiv", "said", "drone", "strike", "the", "power", "grid", "Odesa", "port", "U.S.", "No."]

fragment = st.one_of(st.sampled_from(SPECIALS), st.sampled_from(WORDS), st.text(max_size=10),
                     st.tuples(st.sampled_from(["x", "_", "\\", "😀", "&", "<"]), st.integers(1, 700))
                     .map(lambda pair: pair[0] * pair[1]))
text = st.lists(st.one_of(fragment, st.just(" ")), max_size=30).map("".join)
# Never empty or blank (the composer quotes whole sentences): something visible in the middle.
sentence = st.tuples(text, st.sampled_from(WORDS + [c for c in SPECIALS if c.strip()]), text).map(
    lambda parts: "".join(parts).strip())
published = st.one_of(st.none(), st.dates().map(lambda d: d.isoformat()[: 4 + 3 * (d.day % 3)]))
urls = st.one_of(
    st.none(),
    st.sampled_from(["https://example.org/a", "http://x.y/(a)", "javascript:alert(1)", "https://e.org/a b",
                     "https://e.org/\"><b>", "https://e.org/?a=1&b=2", "HTTPS://E.ORG/😀", "ftp://x/y"]),
    st.integers(1, 1200).map(lambda n: "https://example.org/" + "a" * n),
    text.map(lambda t: "https://example.org/" + t),
)


@st.composite
def documents(draw: st.DrawFn, number: int = 0) -> DocumentInfo:
    return DocumentInfo(
        id=f"d{number}", title=draw(text), url=draw(urls), publisher=draw(st.one_of(st.none(), text)),
        kind=draw(st.sampled_from(list(Kind))), published=draw(published), language="en",
        added_by="fuzz", added_at="2026-11-20T10:00:00+00:00", passage_count=draw(st.integers(0, 10**6)),
    )


@st.composite
def answers(draw: st.DrawFn, most: int = 12) -> Answer:
    """A found answer (up to `most` sources, a few more quotes) or, sometimes, no answer."""
    question = " ".join(draw(text).split()) or "question?"
    if draw(st.integers(0, 9)) == 0:
        return Answer(question)
    count = draw(st.integers(1, most))
    docs = [draw(documents(n)) for n in range(count)]
    texts = draw(st.lists(sentence, min_size=count, max_size=count + draw(st.integers(0, 3))))
    sources = [Source(n + 1, doc, 0.5) for n, doc in enumerate(docs)]
    quotes = [Quote(t, n % count + 1 if n < count else draw(st.integers(1, count)), n, 0, len(t), 0.5)
              for n, t in enumerate(texts)]
    return Answer(question, quotes, sources, 0.6)


@st.composite
def summaries(draw: st.DrawFn) -> Summary:
    return Summary(draw(st.one_of(st.none(), text)), None, None, draw(answers()))


@st.composite
def digests(draw: st.DrawFn) -> Digest:
    topics = [DigestTopic(draw(text), answer, []) for answer in draw(st.lists(answers(4), max_size=4))]
    topics = [topic for topic in topics if topic.answer.found]
    return Digest("2026-11-18T00:00:00+00:00", "2026-11-25T00:00:00+00:00", topics,
                  documents=draw(st.integers(0, 10**5)), more_topics=draw(st.integers(0, 30)))


listings = st.lists(st.integers(0, 10**6), max_size=30).flatmap(
    lambda ids: st.tuples(*[documents(n) for n in range(len(ids))]).map(list))
