"""How summaries and digests look in Telegram: escaped HTML messages within 4096 characters.

The body of a summary, and of each digest topic, is an ordinary `Answer`, so it is rendered by
the answer renderer of `formatting.py` (quotes with their markers, numbered sources, the same
splitting rules); this module only adds the bold headings around it and packs the pieces into
messages. Pure functions, so the look is tested without a running bot.

Every message keeps `FOOTER_ROOM` characters free: posting a preview appends "Posted by …" to its
last message, and the preview itself is then edited to say "Posted to …", and neither may push
a message over Telegram's limit (it would refuse the whole message).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from bot.core.answer import Answer
from bot.core.messages import MORE_TOPICS
from bot.core.previews import A_MODERATOR, POSTED_BY, POSTED_TO
from bot.core.render import NO_DIGEST, NO_SUMMARY, digest_heading, display_line
from bot.core.summary import Digest, Summary
from bot.adapters.telegram.formatting import MESSAGE_LIMIT, answer_messages, escape, visible_length
from bot.adapters.telegram.kb_format import clip

HEADING_MAX = 400  # a summary heading holds the topic, which may be long
LABEL_MAX = 200  # a digest topic's label is a document title
NAME_MAX = 64
CHAT_TITLE_MAX = 100
FOOTER_ROOM = 200  # > any footer: two newlines, POSTED_BY / POSTED_TO and a clipped name


def _titled(title_html: str, answer: Answer, limit: int, sep: str, today: date | None) -> list[str]:
    """The answer's messages with `title_html` opening the first; the title never stands alone."""
    room = visible_length(title_html) + len(sep)
    parts = answer_messages(answer, today, limit)
    if visible_length(parts[0]) + room > limit:
        parts = answer_messages(answer, today, limit - room)
    return [title_html + sep + parts[0], *parts[1:]]


def join_blocks(blocks: Sequence[str], limit: int, sep: str = "\n\n") -> list[str]:
    """Balanced HTML blocks (each within `limit`) joined into as few messages as fit."""
    messages: list[str] = []
    current, width = "", 0
    for block in blocks:
        block_width = visible_length(block)
        if current and width + len(sep) + block_width > limit:
            messages.append(current)
            current, width = "", 0
        current, width = (current + sep + block, width + len(sep) + block_width) if current else (block, block_width)
    if current:
        messages.append(current)
    return messages


def summary_messages(summary: Summary, today: date | None = None, limit: int = MESSAGE_LIMIT) -> list[str]:
    """The bold heading, then the quotes and sources as an answer shows them."""
    if not summary.found:
        return [escape(NO_SUMMARY)]
    heading = f"<b>{escape(clip(summary.heading, HEADING_MAX))}</b>"
    return _titled(heading, summary.answer, limit - FOOTER_ROOM, "\n\n", today)


def digest_messages(digest: Digest, today: date | None = None, limit: int = MESSAGE_LIMIT) -> list[str]:
    """The bold heading, then per topic its numbered bold label and its quotes and sources."""
    if digest.empty:
        return [escape(NO_DIGEST)]
    room = limit - FOOTER_ROOM
    blocks = [f"<b>{escape(clip(digest_heading(digest), HEADING_MAX))}</b>"]
    for number, topic in enumerate(digest.topics, 1):
        label = f"<b>{number}. {escape(clip(display_line(topic.label), LABEL_MAX))}</b>"
        blocks += _titled(label, topic.answer, room, "\n", today)
    if digest.more_topics:
        more = digest.more_topics
        blocks.append(f"<i>{escape(MORE_TOPICS.format(more=more, plural='s' if more != 1 else ''))}</i>")
    return join_blocks(blocks, room)


def posted_by(name: str) -> str:
    """The line a posted summary ends with, naming the moderator who posted it."""
    return f"\n\n<i>{escape(POSTED_BY.format(name=clip(' '.join(name.split()) or A_MODERATOR, NAME_MAX)))}</i>"


def posted_to(chat_title: str) -> str:
    """The line that replaces the Post button on a preview once it is posted."""
    return f"\n\n<i>{escape(POSTED_TO.format(place=clip(' '.join(chat_title.split()), CHAT_TITLE_MAX)))}</i>"


def with_footer(parts: Sequence[str], footer: str) -> list[str]:
    """`footer` (at most `FOOTER_ROOM` wide) appended to the last message."""
    return [*parts[:-1], parts[-1] + footer]
