"""The moderators' preview -> "Post to channel" flow, the same scenarios through both chat
platforms: the real python-telegram-bot Application against the stand-in Bot API, and the real
discord.py client against the stand-in Discord, each with the real model.

The decision at the press is the core's (`bot.core.previews`); each platform only finds the
presser's roles afresh (Telegram: the group's administrators asked again; Discord: the roles the
interaction carries) and shows the outcome its own way (Telegram: a callback answer or an edited
private preview; Discord: an ephemeral reply or an edited ephemeral preview).
"""

from __future__ import annotations

import asyncio
import copy
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import pytest
import pytest_asyncio

from bot.adapters.telegram.summaries import SummaryHandlers
from bot.core.messages import TELEGRAM_SENT_PREVIEW as SENT_PREVIEW
from bot.core.previews import (
    EXPIRED, NO_LONGER_MODERATOR, NOT_YOURS, POST_FAILED, POSTED_BY, POSTED_TO, POSTING, PREVIEW_SECONDS,
    Previews,
)
from bot.runtime.service import CrisisBot
from bot.runtime.settings import load_settings
from index.embedder import SentenceTransformerEmbedder
from tests.bot.adapters.discord.test_adapter import community, connect, disconnect
from tests.bot.adapters.discord.test_summaries import Moderated, post_button
from tests.bot.adapters.telegram.test_adapter import Running, buttons, start, stop
from tests.bot.adapters.telegram.test_summaries import TOPIC, add_reports, message_of
from tests.discord_server import FakeDiscord
from tests.discord_server.state import FLAG_EPHEMERAL, JSON, permissions
from tests.telegram_html import parse_html
from tests.telegram_server import FakeTelegram

pytestmark = pytest.mark.slow

WAIT = 60  # seconds: generous, for a slow machine; nothing sleeps that long
GROUP = -100777  # the Telegram stand-in's default group
TELEGRAM_MODERATOR, TELEGRAM_OTHER = 502, 504  # both administrators of the group
DISCORD_MODERATOR, DISCORD_OTHER = 611, 612  # both hold a role with Manage Messages
DISCORD_NAME = "Olena Moderator"


@dataclass(frozen=True)
class Button:
    """A "Post to channel" button as a platform shows it: what a press sends, under which message."""

    data: str
    message: JSON


class Flow(Protocol):
    """One platform, driven as a moderator and the others would: the scenarios' only seam."""

    moderator: int
    other: int
    signer: str  # the name a post by `moderator` is signed with
    place: str  # where the preview is posted, as "Posted to …" names it

    async def preview(self) -> Button: ...
    async def press(self, button: Button, user: int) -> str: ...
    def posts(self) -> list[str]: ...
    def demote(self, user: int) -> None: ...
    def previews(self) -> Previews[Any]: ...
    def forge(self, button: Button, token: str) -> Button: ...
    def fail_next_post(self) -> None: ...


async def first(requests: list[Any], after: int, found: Callable[[Any], bool]) -> Any:
    """The first recorded request from `after` on that `found` accepts, waiting for it."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT
    while loop.time() < deadline:
        match = next((r for r in requests[after:] if found(r)), None)
        if match is not None:
            return match
        await asyncio.sleep(0.02)
    raise AssertionError("the bot never answered the press")


class TelegramFlow:
    moderator, other, signer, place = TELEGRAM_MODERATOR, TELEGRAM_OTHER, "User502", f"Group {GROUP}"

    def __init__(self, bot: Running) -> None:
        self.bot, self.server = bot, bot.server

    async def preview(self) -> Button:
        begin = len(self.server.requests)
        self.server.push_update(self.server.group_message(f"/summary {TOPIC}", user_id=self.moderator))
        shown = await self.server.wait_for("sendMessage", lambda r: bool(buttons(r)), after=begin, timeout=WAIT)
        assert shown.params["chat_id"] == self.moderator  # privately
        note = await self.server.wait_for("sendMessage", lambda r: r.params["chat_id"] == GROUP, after=begin)
        assert note.params["text"] == SENT_PREVIEW
        (button,) = buttons(shown)
        return Button(button["callback_data"], message_of(self.server, shown))

    async def press(self, button: Button, user: int) -> str:
        """The callback answer; after "Posting…", the edited preview or the private reply."""
        begin = len(self.server.requests)
        self.server.push_update(self.server.callback_query(button.data, button.message, user_id=user))
        answer = await self.server.wait_for("answerCallbackQuery", after=begin, timeout=WAIT)
        if answer.params.get("text") != POSTING:
            return str(answer.params.get("text", ""))
        told = await first(self.server.requests, begin, lambda r: r.method == "editMessageText" or (
            r.method == "sendMessage" and r.params.get("chat_id") == user))
        text = parse_html(told.params["text"])[0]
        return text.rsplit("\n\n", 1)[-1] if told.method == "editMessageText" else text  # the line added

    def posts(self) -> list[str]:
        return [m["text"] for m in self.server.sent_messages
                if m["chat"]["id"] == GROUP and m["text"] != SENT_PREVIEW]

    def demote(self, user: int) -> None:
        self.server.chat_admins[GROUP] = [a for a in self.server.chat_admins[GROUP] if a != user]

    def previews(self) -> Previews[Any]:
        owners = {getattr(h.callback, "__self__", None) for group in self.bot.application.handlers.values()
                  for h in group}
        (handlers,) = [owner for owner in owners if isinstance(owner, SummaryHandlers)]
        return handlers.previews

    def forge(self, button: Button, token: str) -> Button:
        return Button(button.data.rsplit(":", 1)[0] + ":" + token, button.message)

    def fail_next_post(self) -> None:
        self.server.fail_next("sendMessage", status=403, retry_after=None,
                              description="Forbidden: bot is not a member of the supergroup chat")


class DiscordFlow:
    moderator, other, signer, place = DISCORD_MODERATOR, DISCORD_OTHER, DISCORD_NAME, "the channel"

    def __init__(self, moderated: Moderated) -> None:
        self.moderated, self.server = moderated, moderated.server

    async def preview(self) -> Button:
        shown = await self.moderated.command("summary", {"topic": TOPIC}, user=self.moderator)
        custom_id = post_button(shown)
        message = next(m for m in self.server.messages.values() if custom_id in _custom_ids(m))
        assert message["flags"] & FLAG_EPHEMERAL  # privately
        return Button(custom_id, message)

    async def press(self, button: Button, user: int) -> str:
        """The ephemeral reply; after a deferral, the edited preview or the ephemeral follow-up."""
        ack = await self.moderated.press(button.data, user=user)
        if ack.json["type"] == 4:
            return str(ack.json["data"]["content"])
        assert ack.json["type"] == 6
        hook = f"/webhooks/{self.server.application_id}/"
        told = await first(self.server.requests, self.server.requests.index(ack), lambda r: hook in r.path and (
            (r.method == "PATCH" and r.path.endswith("/messages/@original")) or r.method == "POST"))
        return str(told.json["content"])

    def posts(self) -> list[str]:
        texts = [" ".join([m["content"], *(e.get("title", "") + " " + e.get("description", "") for e in m["embeds"])])
                 for m in self.moderated.public()]
        return [re.sub(r"\\(.)", r"\1", text) for text in texts]  # markdown escapes off

    def demote(self, user: int) -> None:
        self.server.member_roles[user] = []  # the next interaction's member carries no role

    def previews(self) -> Previews[Any]:
        return self.moderated.client.previews

    def forge(self, button: Button, token: str) -> Button:
        """The same button with another token, as one from before a restart would be."""
        forged = button.data.rsplit(":", 1)[0] + ":" + token
        stored = self.server.messages[int(button.message["id"])]
        for row in stored["components"]:
            for component in row["components"]:
                if component.get("custom_id") == button.data:
                    component["custom_id"] = forged
        return Button(forged, copy.deepcopy(stored))

    def fail_next_post(self) -> None:
        self.server.fail_next("POST", f"/channels/{self.server.channel_id}/messages", status=403, code=50013,
                              message="Missing Permissions")


def _custom_ids(message: JSON) -> list[str]:
    return [c.get("custom_id", "") for row in message.get("components") or [] for c in row["components"]]


@pytest_asyncio.fixture(params=["telegram", "discord"])
async def flow(request: pytest.FixtureRequest, telegram_server: FakeTelegram, discord_server: FakeDiscord,
               real_embedder: SentenceTransformerEmbedder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
               ) -> AsyncIterator[Flow]:
    """A running bot of the platform, its group or channel with two moderators, and three
    dated reports about the topic in its knowledge base."""
    if request.param == "telegram":
        settings = load_settings(data_dir=tmp_path / "data", questions_per_minute=1000,
                                 TELEGRAM_BOT_TOKEN=telegram_server.token, telegram_api_url=telegram_server.base_url,
                                 telegram_moderator_chat_ids=str(GROUP))
    else:
        discord_server.patch_client_urls(monkeypatch)
        discord_server.add_role("Moderators", permissions("manage_messages"), [DISCORD_MODERATOR, DISCORD_OTHER])
        discord_server.display_names[DISCORD_MODERATOR] = DISCORD_NAME
        settings = load_settings(data_dir=tmp_path / "data", questions_per_minute=1000, **community(discord_server))
    service = CrisisBot(settings, real_embedder)
    service.open()
    add_reports(service, days_ago=1)
    try:
        if request.param == "telegram":
            telegram_server.chat_admins[GROUP] = [TELEGRAM_MODERATOR, TELEGRAM_OTHER]
            application = await start(telegram_server, service)
            try:
                yield TelegramFlow(Running(telegram_server, service, application))
            finally:
                await stop(application)
        else:
            client, task = await connect(discord_server, service, sync=discord_server.guild_id)
            try:
                yield DiscordFlow(Moderated(discord_server, service, client))
            finally:
                await disconnect(client, task)
    finally:
        service.close()


@pytest.mark.asyncio
async def test_the_moderator_previews_privately_and_posts_in_their_name(flow: Flow) -> None:
    button = await flow.preview()
    assert flow.posts() == []  # only the moderator has seen it so far

    assert await flow.press(button, flow.moderator) == POSTED_TO.format(place=flow.place)
    (posted,) = [text for text in flow.posts() if POSTED_BY.format(name=flow.signer) in text]
    assert f"What the knowledge base says about “{TOPIC}”, 2024-11-" in posted
    assert len(flow.posts()) == 1 and len(flow.previews()) == 0  # taken: it cannot be posted twice


@pytest.mark.asyncio
async def test_someone_else_pressing_is_refused_and_nothing_is_posted(flow: Flow) -> None:
    button = await flow.preview()
    assert await flow.press(button, flow.other) == NOT_YOURS  # a moderator too, but not the one who asked
    assert flow.posts() == []
    assert await flow.press(button, flow.moderator) == POSTED_TO.format(place=flow.place)  # still waiting
    assert len(flow.posts()) == 1


@pytest.mark.asyncio
async def test_a_moderator_demoted_since_the_preview_is_refused(flow: Flow) -> None:
    button = await flow.preview()
    flow.demote(flow.moderator)
    assert await flow.press(button, flow.moderator) == NO_LONGER_MODERATOR
    assert flow.posts() == []
    assert len(flow.previews()) == 1  # left in place: nothing was taken


@pytest.mark.asyncio
async def test_an_expired_or_unknown_preview_says_so(flow: Flow) -> None:
    button = await flow.preview()
    store = flow.previews()
    made = store.clock()
    store.clock = lambda: made + PREVIEW_SECONDS + 1  # a day and a second later
    assert await flow.press(button, flow.moderator) == EXPIRED.format(command="summary")
    assert len(store) == 0
    store.clock = lambda: made
    assert await flow.press(flow.forge(button, "A" * 16), flow.moderator) == EXPIRED.format(command="summary")
    assert flow.posts() == []


@pytest.mark.asyncio
async def test_a_post_the_platform_refuses_can_be_pressed_again(flow: Flow) -> None:
    button = await flow.preview()
    flow.fail_next_post()
    told = await flow.press(button, flow.moderator)
    assert told.startswith(POST_FAILED.format(place=flow.place, reason="")) and flow.posts() == []
    assert await flow.press(button, flow.moderator) == POSTED_TO.format(place=flow.place)
    assert len(flow.posts()) == 1
