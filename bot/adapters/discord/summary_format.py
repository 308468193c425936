"""Discord embeds for summaries and digests, split to fit Discord's limits.

A summary's body is an ordinary `Answer`, and a digest is a list of them (one a topic), so
both are rendered by the answer renderer of `bot.adapters.discord.formatting`: the same verbatim,
escaped quotes with their markers, the same numbered source fields, the same splitting. Only
the title changes (the summary's heading, a topic's label), and a digest's embeds are packed
into as few messages as the limits allow. Pure functions, tested offline like the answers.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import date

import discord

from bot.adapters.discord.formatting import (
    COLOUR, CONTENT_LIMIT, EMBED_TOTAL_LIMIT, MAX_EMBEDS, TITLE_LIMIT, answer_messages, embed_length,
    escape_markdown,
)
from bot.core.messages import MORE_TOPICS
from bot.core.previews import A_MODERATOR, POSTED_BY
from bot.core.render import NO_DIGEST, NO_SUMMARY, digest_heading, display_line
from bot.core.summary import Digest, Summary
from bot.core.text_split import one_line

Messages = list[list[discord.Embed]]


def summary_messages(summary: Summary, today: date | None = None) -> Messages:
    """The embeds of each message: the heading as the first embed's title, then the quotes
    (in date order, each with its marker) and the numbered sources, as an answer shows them."""
    if not summary.found:
        return [[discord.Embed(description=NO_SUMMARY, colour=COLOUR)]]
    return answer_messages(replace(summary.answer, question=summary.heading), today)


def digest_messages(digest: Digest, today: date | None = None) -> Messages:
    """The heading embed, then per topic its label (as a title), its quotes and its sources.

    Each topic is rendered on its own as an answer (so its sources keep their own numbers),
    and the embeds are then packed in order into messages of at most 10 embeds and 6000
    characters; `answer_messages` keeps every single embed within those limits.
    """
    if digest.empty:
        return [[discord.Embed(description=NO_DIGEST, colour=COLOUR)]]
    embeds = [discord.Embed(title=_title(digest_heading(digest)), colour=COLOUR)]
    for number, topic in enumerate(digest.topics, 1):
        label = f"{number}. {display_line(topic.label, 'Untitled')}"
        for message in answer_messages(replace(topic.answer, question=label), today):
            embeds.extend(message)
    if digest.more_topics:
        more = digest.more_topics
        embeds.append(discord.Embed(
            description=MORE_TOPICS.format(more=more, plural="s" if more != 1 else ""), colour=COLOUR))
    return pack(embeds)


def pack(embeds: Iterable[discord.Embed]) -> Messages:
    """Consecutive embeds into messages, a new one whenever 10 embeds or 6000 characters
    would be crossed. Each embed must fit a message on its own."""
    messages: Messages = []
    used = EMBED_TOTAL_LIMIT + 1
    for embed in embeds:
        size = embed_length(embed)
        if size > EMBED_TOTAL_LIMIT:
            raise ValueError(f"an embed of {size} characters cannot be sent")
        if not messages or len(messages[-1]) >= MAX_EMBEDS or used + size > EMBED_TOTAL_LIMIT:
            messages.append([])
            used = 0
        messages[-1].append(embed)
        used += size
    return messages


def posted_by(name: str) -> str:
    """The line that says which moderator posted a summary; the name shows as written (no
    markdown), and `AllowedMentions.none()` on the send keeps an "@everyone" name silent."""
    return POSTED_BY.format(name=escape_markdown(one_line(name) or A_MODERATOR))[:CONTENT_LIMIT]


def _title(text: str) -> str:
    escaped = escape_markdown(one_line(text))
    return escaped if len(escaped) <= TITLE_LIMIT else escaped[: TITLE_LIMIT - 1].rstrip("\\") + "…"
