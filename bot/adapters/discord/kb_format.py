"""How `/kb` output looks on Discord: the core's plain-text reports in code blocks inside
embeds, cut to Discord's limits (2000 characters of content, 4096 of an embed description).

Kept apart from the commands so that the look can be tested without a running client.
"""

from __future__ import annotations

from collections.abc import Sequence

import discord

from bot.adapters.discord.formatting import COLOUR, CONTENT_LIMIT, DESCRIPTION_LIMIT, escape_markdown
from bot.core.messages import MORE_LINES

LINE_WIDTH = 190  # a listing line longer than this is cut: 20 lines still fit in 4096


def plain(text: str, limit: int = CONTENT_LIMIT) -> str:
    """Escaped text (a URL or an id must not turn into markdown) within `limit` characters."""
    escaped = escape_markdown(text)
    if len(escaped) <= limit:
        return escaped
    return escape_markdown(text[: limit // 2 - 1]) + "…"  # escaping at most doubles a text


def code_block(lines: Sequence[str], limit: int = DESCRIPTION_LIMIT, width: int = LINE_WIDTH) -> str:
    """The core's plain-text lines in a code block of at most `limit` characters.

    Inside a code block Discord shows text as written (no markdown, no mention rendering), so
    nothing but a "```" that would close it early needs breaking. Long lines are cut at
    `width`; lines that do not fit are counted in a last "… N more lines".
    """
    budget = limit - len("```\n\n```")
    reserve = len(MORE_LINES.format(count=100000)) + 1
    kept: list[str] = []
    used = 0
    for number, line in enumerate(lines):
        line = line.replace("```", "`\u200b`\u200b`")
        line = line if len(line) <= width else line[: width - 1] + "…"
        cost = len(line) + (1 if kept else 0)
        last = number == len(lines) - 1
        if used + cost + (0 if last else reserve) > budget:
            kept.append(MORE_LINES.format(count=len(lines) - number))
            break
        kept.append(line)
        used += cost
    return "```\n" + "\n".join(kept) + "\n```"


def lines_embed(title: str, lines: Sequence[str], footer: str | None = None) -> discord.Embed:
    """One embed: a fixed title, the lines in a code block; well within 6000 in all."""
    embed = discord.Embed(title=title, description=code_block(lines), colour=COLOUR)
    if footer:
        embed.set_footer(text=footer)
    return embed
