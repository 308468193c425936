"""Buttons that survive a restart: their state lives in the custom id, parsed by a template.

discord.py routes a click on any message, old or new, to these classes once they are
registered with `Client.add_dynamic_items`, so votes on yesterday's answers still count.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import discord

if TYPE_CHECKING:
    from bot.adapters.discord.client import CrisisDiscordClient


class VoteButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=r"crisisbot:vote:(?P<answer>[0-9]+):(?P<value>-?1)"):
    """👍 / 👎 under an answer; the click is stored through the core's `vote`."""

    def __init__(self, answer_id: int, value: int) -> None:
        super().__init__(
            discord.ui.Button(
                emoji="👍" if value > 0 else "👎",
                style=discord.ButtonStyle.secondary,
                custom_id=f"crisisbot:vote:{answer_id}:{value}",
            )
        )
        self.answer_id = answer_id
        self.value = value

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> VoteButton:
        return cls(int(match["answer"]), int(match["value"]))

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        client: CrisisDiscordClient = interaction.client  # type: ignore[assignment]
        await client.record_vote(interaction, self.answer_id, self.value)


class SourcesPageButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=r"crisisbot:sources:(?P<page>[0-9]+):(?P<label>prev|next)"):
    """Paging of `/sources`; the page to show is in the id."""

    def __init__(self, page: int, label: str) -> None:
        super().__init__(
            discord.ui.Button(
                label="‹ Previous" if label == "prev" else "Next ›",
                style=discord.ButtonStyle.secondary,
                custom_id=f"crisisbot:sources:{page}:{label}",
            )
        )
        self.page = page

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> SourcesPageButton:
        return cls(int(match["page"]), match["label"])

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        client: CrisisDiscordClient = interaction.client  # type: ignore[assignment]
        await client.show_sources_page(interaction, self.page)


def vote_view(answer_id: int) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    view.add_item(VoteButton(answer_id, 1))
    view.add_item(VoteButton(answer_id, -1))
    return view


def pager_view(page: int, pages: int) -> discord.ui.View | None:
    if pages <= 1:
        return None
    view = discord.ui.View(timeout=None)
    if page > 0:
        view.add_item(SourcesPageButton(page - 1, "prev"))
    if page < pages - 1:
        view.add_item(SourcesPageButton(page + 1, "next"))
    return view
