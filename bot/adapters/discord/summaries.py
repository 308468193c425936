"""The moderators' `/summary` and `/digest` on Discord, their "Post to channel" button, and the
scheduled digest.

Translation only: the core makes the summary or digest and decides who may ask for one (the
`Actor` from `actor_of`); this module shows it and posts it. A moderator first sees a private
(ephemeral) preview, because a summary is made of quotes picked by a model and someone should
read it before a whole channel does; "Post to channel" then posts it with a line naming them.

Who may post a preview, and when it has expired, is decided by the core (`bot.core.previews`,
the same flow as Telegram's); this module finds the presser's roles from the interaction of the
press (so a moderator demoted since the preview posts nothing) and shows the outcome. The
preview waits keyed by a random token in the button's custom id. The button is a `DynamicItem`,
so a click on a preview made before a restart still reaches this code and gets a clear
"expired" answer instead of Discord's "This interaction failed".

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
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.ext import tasks

from bot.adapters.discord.digest_post import digest_key, post_digest, send_messages
from bot.adapters.discord.summary_format import Messages, digest_messages, posted_by, summary_messages
from bot.core.previews import POST_BUTTON, POST_FAILED, POSTED_TO, Kind, Pending, Refused
from bot.core.previews import Previews as CorePreviews
from bot.core.render import NO_DIGEST, NO_SUMMARY
from bot.core.scheduled_digest import DigestPlace, deliver_digest
from bot.core.summary import Digest

if TYPE_CHECKING:
    from bot.adapters.discord.client import CrisisDiscordClient

log = logging.getLogger(__name__)

NO_MENTIONS = discord.AllowedMentions.none()
APOLOGY = "Sorry, something went wrong. It has been logged; please try again in a moment."
PREVIEW_NOTE = f"Only you can see this preview. “{POST_BUTTON}” posts it here, with your name."
THE_CHANNEL = "the channel"  # where a preview goes: the channel it was asked in
POSTED = POSTED_TO.format(place=THE_CHANNEL)
DATE_HELP = "YYYY, YYYY-MM or YYYY-MM-DD"


@dataclass(frozen=True)
class Made:
    """What a command produced: the messages, and for a digest of "what is new here" the
    channel's digest key, so that once posted the next digest starts after it."""

    messages: Messages
    mark: tuple[str, Digest] | None = None


class Previews(CorePreviews[Messages]):
    """The client's pending previews (the core's store); each waits with its messages' embeds,
    exactly as the moderator saw them."""


def _client(interaction: discord.Interaction[Any]) -> CrisisDiscordClient:
    return interaction.client  # type: ignore[return-value]


# -- posting ----------------------------------------------------------------------------------


def _channel(client: CrisisDiscordClient, channel_id: int) -> discord.PartialMessageable:
    """A sendable handle without a fetch: posting needs only the id."""
    return client.get_partial_messageable(channel_id)


class PostButton(discord.ui.DynamicItem[discord.ui.Button[Any]],
                 template=r"crisisbot:post:(?P<command>summary|digest):(?P<token>[A-Za-z0-9_-]+)"):
    """"Post to channel" under a preview; the preview itself waits in the client's `previews`."""

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
            await post_preview(interaction, self.command, self.token)
        except Exception:  # a view swallows it otherwise, and the moderator sees a spinner fail
            log.exception("posting preview %s failed", self.token)
            await _tell(interaction, APOLOGY)


def post_view(command: str, token: str) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    view.add_item(PostButton(command, token))
    return view


async def _tell(interaction: discord.Interaction[Any], text: str) -> None:
    """A private line to whoever pressed, whether or not the press was acknowledged yet."""
    if interaction.response.is_done():
        await interaction.followup.send(text, ephemeral=True, allowed_mentions=NO_MENTIONS)
    else:
        await interaction.response.send_message(text, ephemeral=True, allowed_mentions=NO_MENTIONS)


async def post_preview(interaction: discord.Interaction[Any], command: str, token: str) -> None:
    """Post a pending preview to the channel if the core says the presser may (with the roles
    this interaction carries, not those of the preview), then turn the preview into "Posted".
    If Discord refuses the post, the preview is put back and the moderator may press again."""
    client = _client(interaction)
    outcome = client.previews.claim(token, client.actor_of(interaction.user), Kind(command))
    if isinstance(outcome, Refused):
        await _tell(interaction, outcome.text)
        return
    pending = outcome.pending
    await interaction.response.defer()  # several messages may take longer than Discord's 3 s
    try:
        await send_messages(_channel(client, int(pending.target)), pending.payload, posted_by(pending.name))
    except discord.HTTPException as exc:
        client.previews.put_back(outcome)
        log.warning("posting a preview to channel %s failed: %s", pending.target, exc)
        await _tell(interaction, POST_FAILED.format(place=THE_CHANNEL, reason=exc.text or exc.status))
        return
    await _mark(client, pending.mark)
    await interaction.edit_original_response(content=POSTED, view=None, allowed_mentions=NO_MENTIONS)


# -- the commands -----------------------------------------------------------------------------


async def deliver(interaction: discord.Interaction[Any], command: str, make: Awaitable[Made | str],
                  post: bool) -> None:
    """The common flow after the deferral: a text (nothing found) privately; else posted at
    once (`post`), or a private preview with "Post to channel" under its last message."""
    client = _client(interaction)
    made = await make
    if isinstance(made, str):
        await interaction.followup.send(made, ephemeral=True, allowed_mentions=NO_MENTIONS)
        return
    channel_id = interaction.channel_id
    assert channel_id is not None  # slash commands always come from a channel
    if post:
        await send_messages(_channel(client, channel_id), made.messages, posted_by(interaction.user.display_name))
        await _mark(client, made.mark)
        await interaction.followup.send(POSTED, ephemeral=True, allowed_mentions=NO_MENTIONS)
        return
    pending = Pending.of(Kind(command), client.actor_of(interaction.user), str(channel_id), made.messages, made.mark)
    token = client.previews.add(pending)
    for number, embeds in enumerate(made.messages):
        extra: dict[str, Any] = {}
        if number == len(made.messages) - 1:
            extra = {"content": PREVIEW_NOTE, "view": post_view(command, token)}
        await interaction.followup.send(embeds=embeds, ephemeral=True, allowed_mentions=NO_MENTIONS, **extra)


async def _summary(client: CrisisDiscordClient, interaction: discord.Interaction[Any], topic: str | None,
                   since: str | None, until: str | None) -> Made | str:
    actor = client.actor_of(interaction.user)
    summary = await client.run_core(partial(client.service.summarize, topic, since, until, actor=actor))
    return Made(summary_messages(summary)) if summary.found else NO_SUMMARY


async def _digest(client: CrisisDiscordClient, interaction: discord.Interaction[Any], since: str | None
                  ) -> Made | str:
    """Without `since`: what is new since this channel's last digest (else 7 days); once it is
    posted here the channel's place moves on, so the next digest (scheduled or not) does not
    repeat it. With `since`, nothing moves: the range may start before the channel's place."""
    actor = client.actor_of(interaction.user)
    assert interaction.channel_id is not None  # slash commands always come from a channel
    key = digest_key(interaction.channel_id)
    digest = await client.run_core(partial(client.service.digest, actor=actor, since=since, key=key))
    if digest.empty:
        return NO_DIGEST
    return Made(digest_messages(digest), (key, digest) if since is None else None)


async def _mark(client: CrisisDiscordClient, mark: tuple[str, Digest] | None) -> None:
    if mark is not None:
        await client.run_core(client.service.mark_digest_posted, *mark)


def add_moderator_commands(tree: app_commands.CommandTree[Any]) -> None:
    """`/summary` and `/digest`. Shown to members with Manage Messages by default, but that is
    only a display hint (a server can change it): the core's role check decides.

    Errors (the core's refusal, bad dates) reach the client's `on_app_command_error`, which
    answers privately after the ephemeral deferral.
    """
    hidden = discord.Permissions(manage_messages=True)

    @tree.command(name="summary")
    @app_commands.default_permissions(hidden)
    @app_commands.describe(topic="What to summarise; empty for everything published in the period",
                           since=f"Published on or after ({DATE_HELP})", until=f"Published up to ({DATE_HELP})",
                           post="Post to the channel at once, without a private preview")
    async def summary(interaction: discord.Interaction[Any], topic: str | None = None, since: str | None = None,
                      until: str | None = None, post: bool = False) -> None:
        """Moderators: what the knowledge base says about a topic, only in quotes, each cited."""
        client = _client(interaction)
        await interaction.response.defer(ephemeral=True, thinking=True)
        await deliver(interaction, "summary", _summary(client, interaction, topic, since, until), post)

    @tree.command(name="digest")
    @app_commands.default_permissions(hidden)
    @app_commands.describe(since=f"Added on or after ({DATE_HELP}); default: since the last digest here",
                           post="Post to the channel at once, without a private preview")
    async def digest(interaction: discord.Interaction[Any], since: str | None = None, post: bool = False) -> None:
        """Moderators: what was added to the knowledge base recently, by topic, in quotes."""
        client = _client(interaction)
        await interaction.response.defer(ephemeral=True, thinking=True)
        await deliver(interaction, "digest", _digest(client, interaction, since), post)


# -- the scheduled digest ---------------------------------------------------------------------


def digest_loop(client: CrisisDiscordClient) -> tasks.Loop[Any] | None:
    """Daily at the schedule's time (in its zone) when a digest channel is configured; the body
    skips the days the schedule leaves out, since `tasks.loop(time=...)` has no weekdays.

    The loop's coroutine takes an optional `now`, so tests can drive one run at a chosen time.
    """
    channel_id = client.config.digest_channel_id
    if channel_id is None:
        return None
    schedule = client.config.schedules.digest
    place = DigestPlace(digest_key(channel_id), f"channel {channel_id}",
                        lambda digest: post_digest(_channel(client, channel_id), digest))

    async def scheduled_digest(now: datetime | None = None) -> None:
        moment = now or datetime.now(timezone.utc)
        if not schedule.runs_on(moment):
            return
        # Caught here: an exception would end the tasks.loop, and with it every later digest.
        # Made as the process (no actor), posted, and only then marked (see deliver_digest).
        try:
            await deliver_digest(client.service.summaries, place, client.run_core, moment)
        except Exception:
            log.exception("scheduled digest for channel %s failed", channel_id)

    loop: tasks.Loop[Any] = tasks.loop(time=schedule.at)(scheduled_digest)

    @loop.before_loop
    async def wait_until_ready() -> None:
        await client.wait_until_ready()

    return loop

