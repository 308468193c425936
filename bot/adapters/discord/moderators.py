"""The moderators' cog: `/summary` and `/digest`, their "Post to channel" button, and the
scheduled digest.

Translation only: the core makes the summary or digest and decides who may ask for one (the
`Actor` from `actor_of`); this cog shows it and posts it. A moderator first sees a private
(ephemeral) preview, because a summary is made of quotes picked by a model and someone should
read it before a whole channel does; "Post to channel" then posts it with a line naming them.

Who may post a preview, and when it has expired, is decided by the core (`bot.core.previews`,
the same flow as Telegram's); this cog finds the presser's roles from the interaction of the
press (so a moderator demoted since the preview posts nothing) and shows the outcome. The
preview waits keyed by a random token in the button's custom id. The button is a `DynamicItem`,
so a click on a preview made before a restart still reaches this code and gets a clear
"expired" answer instead of Discord's "This interaction failed".

The commands are shown to members with Manage Messages by default, but that is only a display
hint (a server can change it): the core's role check decides. Errors (the core's refusal, bad
dates) reach the command tree's `on_error`, which answers privately after the deferral.

Every message goes out with `AllowedMentions.none()`: quoted article text or a display name
containing @everyone must never ping anyone.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import partial
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands, tasks

from bot.adapters.discord.core_calls import NO_MENTIONS, CoreCalls, cog_of, tell
from bot.adapters.discord.digest_post import digest_key, post_digest, send_messages
from bot.adapters.discord.summary_format import Messages, digest_messages, posted_by, summary_messages
from bot.core.messages import APOLOGY, NO_DIGEST, NO_SUMMARY, PREVIEW_NOTE, THE_CHANNEL
from bot.core.previews import POST_BUTTON, POST_FAILED, POSTED_TO, Kind, Pending, Refused
from bot.core.previews import Previews as CorePreviews
from bot.core.scheduled_digest import DigestPlace, deliver_digest
from bot.core.summary import Digest
from bot.runtime.sections import DiscordSection
from knowledge.errors import CrisisbotError

log = logging.getLogger(__name__)

POSTED = POSTED_TO.format(place=THE_CHANNEL)
DATE_HELP = "YYYY, YYYY-MM or YYYY-MM-DD"
POST_HELP = "Post to the channel at once, without a private preview"


@dataclass(frozen=True)
class Made:
    """What a command produced: the messages, and for a digest of "what is new here" the
    channel's digest key, so that once posted the next digest starts after it."""

    messages: Messages
    mark: tuple[str, Digest] | None = None


class Previews(CorePreviews[Messages]):
    """The client's pending previews (the core's store); each waits with its messages' embeds,
    exactly as the moderator saw them."""


class Moderators(commands.Cog):
    """`bot` sends to channels by id and tells the digest loop when it is ready; `previews`
    is the client's store, so a test (or a restart) sees what waits."""

    def __init__(self, bot: discord.Client, core: CoreCalls, config: DiscordSection, previews: Previews) -> None:
        self.bot = bot
        self.core = core
        self.config = config
        self.previews = previews
        self.digest_loop = digest_loop(self) if config.schedules.run_schedules else None

    async def cog_load(self) -> None:
        if self.digest_loop is not None:
            self.digest_loop.start()

    async def cog_unload(self) -> None:
        if self.digest_loop is not None:
            self.digest_loop.cancel()

    @app_commands.command(name="summary")
    @app_commands.default_permissions(manage_messages=True)
    @app_commands.describe(topic="What to summarise; empty for everything published in the period",
                           since=f"Published on or after ({DATE_HELP})", until=f"Published up to ({DATE_HELP})",
                           post=POST_HELP)
    async def summary(self, interaction: discord.Interaction[Any], topic: str | None = None, since: str | None = None,
                      until: str | None = None, post: bool = False) -> None:
        """Moderators: what the knowledge base says about a topic, only in quotes, each cited."""
        await interaction.response.defer(ephemeral=True, thinking=True)
        await self.deliver(interaction, Kind.SUMMARY, self._summary(interaction, topic, since, until), post)

    @app_commands.command(name="digest")
    @app_commands.default_permissions(manage_messages=True)
    @app_commands.describe(since=f"Added on or after ({DATE_HELP}); default: since the last digest here",
                           post=POST_HELP)
    async def digest(self, interaction: discord.Interaction[Any], since: str | None = None, post: bool = False) -> None:
        """Moderators: what was added to the knowledge base recently, by topic, in quotes."""
        await interaction.response.defer(ephemeral=True, thinking=True)
        await self.deliver(interaction, Kind.DIGEST, self._digest(interaction, since), post)

    async def deliver(self, interaction: discord.Interaction[Any], kind: Kind, make: Awaitable[Made | str],
                      post: bool) -> None:
        """The common flow after the deferral: a text (nothing found) privately; else posted at
        once (`post`), or a private preview with "Post to channel" under its last message."""
        made = await make
        if isinstance(made, str):
            await interaction.followup.send(made, ephemeral=True, allowed_mentions=NO_MENTIONS)
            return
        channel_id = interaction.channel_id
        assert channel_id is not None  # slash commands always come from a channel
        if post:
            await send_messages(self._channel(channel_id), made.messages, posted_by(interaction.user.display_name))
            await self._mark(made.mark)
            await interaction.followup.send(POSTED, ephemeral=True, allowed_mentions=NO_MENTIONS)
            return
        pending = Pending.of(kind, await self.core.actor_of(interaction), str(channel_id), made.messages, made.mark)
        token = self.previews.add(pending)
        for number, embeds in enumerate(made.messages):
            extra: dict[str, Any] = {}
            if number == len(made.messages) - 1:
                extra = {"content": PREVIEW_NOTE.format(button=POST_BUTTON), "view": post_view(kind.value, token)}
            await interaction.followup.send(embeds=embeds, ephemeral=True, allowed_mentions=NO_MENTIONS, **extra)

    async def _summary(self, interaction: discord.Interaction[Any], topic: str | None, since: str | None,
                       until: str | None) -> Made | str:
        actor = await self.core.actor_of(interaction)
        summary = await self.core.run_core(partial(self.core.service.summarize, topic, since, until, actor=actor))
        return Made(summary_messages(summary)) if summary.found else NO_SUMMARY

    async def _digest(self, interaction: discord.Interaction[Any], since: str | None) -> Made | str:
        """Without `since`: what is new since this channel's last digest (else 7 days); once it is
        posted here the channel's place moves on, so the next digest (scheduled or not) does not
        repeat it. With `since`, nothing moves: the range may start before the channel's place."""
        actor = await self.core.actor_of(interaction)
        assert interaction.channel_id is not None  # slash commands always come from a channel
        key = digest_key(interaction.channel_id)
        digest = await self.core.run_core(partial(self.core.service.digest, actor=actor, since=since, key=key))
        if digest.empty:
            return NO_DIGEST
        return Made(digest_messages(digest), (key, digest) if since is None else None)

    async def _mark(self, mark: tuple[str, Digest] | None) -> None:
        if mark is not None:
            await self.core.run_core(self.core.service.mark_digest_posted, *mark)

    def _channel(self, channel_id: int) -> discord.PartialMessageable:
        """A sendable handle without a fetch: posting needs only the id."""
        return self.bot.get_partial_messageable(channel_id)

    async def post_preview(self, interaction: discord.Interaction[Any], command: str, token: str) -> None:
        """Post a pending preview to the channel if the core says the presser may (with the roles
        this interaction carries, not those of the preview), then turn the preview into "Posted".
        If Discord refuses the post, the preview is put back and the moderator may press again."""
        outcome = self.previews.claim(token, await self.core.actor_of(interaction), Kind(command))
        if isinstance(outcome, Refused):
            await tell(interaction, outcome.text)
            return
        pending = outcome.pending
        await interaction.response.defer()  # several messages may take longer than Discord's 3 s
        try:
            await send_messages(self._channel(int(pending.target)), pending.payload, posted_by(pending.name))
        except discord.HTTPException as exc:
            self.previews.put_back(outcome)
            log.warning("posting a preview to channel %s failed: %s", pending.target, exc)
            await tell(interaction, POST_FAILED.format(place=THE_CHANNEL, reason=exc.text or exc.status))
            return
        await self._mark(pending.mark)
        await interaction.edit_original_response(content=POSTED, view=None, allowed_mentions=NO_MENTIONS)


class PostButton(discord.ui.DynamicItem[discord.ui.Button[Any]],
                 template=r"crisisbot:post:(?P<command>summary|digest):(?P<token>[A-Za-z0-9_-]+)"):
    """"Post to channel" under a preview; the preview itself waits in the cog's `previews`."""

    def __init__(self, command: str, token: str) -> None:
        super().__init__(discord.ui.Button(
            label=POST_BUTTON, style=discord.ButtonStyle.primary,
            custom_id=f"crisisbot:post:{command}:{token}",
        ))
        self.command, self.token = command, token

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any],
                             match: re.Match[str], /) -> PostButton:
        return cls(match["command"], match["token"])

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        try:
            await cog_of(interaction, Moderators).post_preview(interaction, self.command, self.token)
        except CrisisbotError as exc:  # a server that is not the community's
            await tell(interaction, str(exc))
        except Exception:  # a view swallows it otherwise, and the moderator sees a spinner fail
            log.exception("posting preview %s failed", self.token)
            await tell(interaction, APOLOGY)


BUTTONS = (PostButton,)


def post_view(command: str, token: str) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    view.add_item(PostButton(command, token))
    return view


# -- the scheduled digest -----------------------------------------------------------------------


def digest_loop(cog: Moderators) -> tasks.Loop[Any] | None:
    """Daily at the schedule's time (in its zone) when a digest channel is configured; the body
    skips the days the schedule leaves out, since `tasks.loop(time=...)` has no weekdays.

    The loop's coroutine takes an optional `now`, so tests can drive one run at a chosen time.
    """
    channel_id = cog.config.digest_channel_id
    if channel_id is None:
        return None
    schedule = cog.config.schedules.digest
    place = DigestPlace(digest_key(channel_id), f"channel {channel_id}",
                        lambda digest: post_digest(cog._channel(channel_id), digest))

    async def scheduled_digest(now: datetime | None = None) -> None:
        moment = now or datetime.now(timezone.utc)
        if not schedule.runs_on(moment):
            return
        # Caught here: an exception would end the tasks.loop, and with it every later digest.
        # Made as the process (no actor), posted, and only then marked (see deliver_digest).
        try:
            await deliver_digest(cog.core.service.summaries, place, cog.core.run_core, moment)
        except Exception:
            log.exception("scheduled digest for channel %s failed", channel_id)

    loop: tasks.Loop[Any] = tasks.loop(time=schedule.at)(scheduled_digest)

    @loop.before_loop
    async def wait_until_ready() -> None:
        await cog.bot.wait_until_ready()

    return loop
