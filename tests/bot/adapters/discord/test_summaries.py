"""The moderators' `/summary` and `/digest`, the "Post to channel" button and the scheduled
digest: the real discord.py client against the stand-in Discord. The schedule is driven by the
test (the loop's coroutine is called with a chosen time), never waited for."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from bot.adapters.discord.moderators import POSTED
from bot.core.messages import PREVIEW_NOTE
from bot.core.previews import NOT_YOURS, POST_BUTTON
from bot.core.render import NO_DIGEST
from bot.core.summaries import DIGEST_SETTLE
from bot.runtime.service import CrisisBot
from bot.runtime.settings import load_settings
from index.embedder import SentenceTransformerEmbedder
from knowledge.documents import Document, Kind
from tests.bot.adapters.discord.test_adapter import (
    NO_PINGS, Running, community, connect, custom_ids, disconnect, embeds_of,
)
from tests.bot.adapters.discord.test_kb import ADMIN, Admin, text_of
from tests.discord_server import FakeDiscord, Recorded
from tests.discord_server.state import FLAG_EPHEMERAL, JSON, permissions
from tests.web_server import LocalServer

MODERATOR = 611  # holds a role with Manage Messages
OTHER_MODERATOR = 612
MEMBER = 602
MODERATOR_NAME = "Olena @everyone"  # a display name must not ping either
REFUSED = "Only moderators may do that."
TOPIC = "grain exports"
_MARKER = re.compile(r"\[?\[\d+(?:, [^\]]+)?\]\]?(?:\([^)]*\))?")  # "[2, 2022-08-01]", linked or not


def grain_documents(added_at: str = "") -> list[Document]:
    """Three dated reports from three publishers, one with mention syntax in its text."""
    return [
        Document(id="grain-deal", title="Grain deal signed in Istanbul", publisher="Wire B", kind=Kind.NEWS,
                 published="2022-07-22", added_at=added_at,
                 text="Russia and Ukraine signed a deal in Istanbul to resume grain exports from Black Sea "
                      "ports. The United Nations and Turkey will monitor the grain shipments from a joint "
                      "centre in Istanbul."),
        Document(id="grain-ship", title="First grain ship leaves Odesa", publisher="Wire A", kind=Kind.NEWS,
                 published="2022-08-01", added_at=added_at, url="https://example.org/grain-ship",
                 text="The first ship carrying Ukrainian grain left the port of Odesa on Monday under the "
                      "Black Sea Grain Initiative. The Razoni carried 26,000 tonnes of corn bound for "
                      "Lebanon, officials said."),
        Document(id="grain-corridor", title="Grain corridor exports grow", publisher="Wire C", kind=Kind.NEWS,
                 published="2022-08-26", added_at=added_at,
                 text="More than one million tonnes of grain have been exported through the Black Sea "
                      "corridor since August. Ships with wheat and sunflower oil left Chornomorsk and "
                      "Pivdennyi ports this week, @everyone and <@&123> heard."),
    ]


class Moderated(Running):
    """The running client with a moderator role; helpers to run a command and press Post."""

    async def command(self, name: str, options: dict[str, Any] | None = None, user: int = MODERATOR
                      ) -> list[Recorded]:
        """Run `/name`; the follow-ups of its ephemeral deferral, up to the one with text."""
        server = self.server
        interaction = server.slash_interaction(name, options, user_id=user)
        start = len(server.requests)
        await server.dispatch("INTERACTION_CREATE", interaction)
        deferred = await server.wait_for("POST", f"/interactions/{interaction['id']}/", after=start)
        assert deferred.json["type"] == 5 and deferred.json["data"]["flags"] & FLAG_EPHEMERAL
        hook = f"/webhooks/{server.application_id}/{interaction['token']}"
        await server.wait_for("POST", hook, predicate=lambda r: bool(r.json.get("content")), after=start, timeout=60)
        return [r for r in server.requests[start:] if r.method == "POST" and r.path.endswith(hook)]

    async def press(self, custom_id: str, user: int = MODERATOR) -> Recorded:
        """Press the button; the acknowledgement of the press."""
        message = next(m for m in self.server.messages.values()
                       if custom_id in [c.get("custom_id") for row in m["components"] for c in row["components"]])
        click = self.server.component_interaction(custom_id, message, user_id=user)
        return await self.after("INTERACTION_CREATE", click, "POST", f"/interactions/{click['id']}/")

    def public(self) -> list[JSON]:
        """The messages everyone in the channel sees."""
        return [m for m in self.server.messages_in(self.server.channel_id) if not m["flags"] & FLAG_EPHEMERAL]


@pytest_asyncio.fixture
async def moderated(discord_server: FakeDiscord, real_embedder: SentenceTransformerEmbedder, tmp_path: Path,
                    monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Moderated]:
    discord_server.patch_client_urls(monkeypatch)
    discord_server.add_role("Moderators", permissions("manage_messages"), [MODERATOR, OTHER_MODERATOR])
    discord_server.display_names[MODERATOR] = MODERATOR_NAME
    settings = load_settings(data_dir=tmp_path / "data", questions_per_minute=1000,
                             discord_digest_channel_id=discord_server.channel_id,
                             digest_schedule="mon 09:00", digest_timezone="Europe/Kyiv", **community(discord_server))
    service = CrisisBot(settings, real_embedder)
    service.open()
    client, task = await connect(discord_server, service, sync=discord_server.guild_id)
    yield Moderated(discord_server, service, client)
    await disconnect(client, task)
    service.close()


def post_button(requests: list[Recorded]) -> str:
    ids = [i for r in requests for i in custom_ids(r) if i.startswith("crisisbot:post:")]
    assert len(ids) == 1, ids
    return ids[0]


def quoted_pieces(messages: list[JSON]) -> list[str]:
    """The quotes of the posted descriptions: markdown escapes off, split at the markers."""
    text = " ".join(e.get("description", "") for m in messages for e in m["embeds"])
    plain = re.sub(r"\\(.)", r"\1", text)
    return [piece.strip() for piece in _MARKER.split(plain) if piece.strip()]


@pytest.mark.asyncio
async def test_preview_then_post_to_the_channel(moderated: Moderated) -> None:
    moderated.service.ingest(grain_documents())
    preview = await moderated.command("summary", {"topic": TOPIC})

    assert [text_of(r) for r in preview if r.json.get("content")][-1].startswith(PREVIEW_NOTE.format(button=POST_BUTTON))
    assert "What the knowledge base says about “grain exports”, 2022-07-22 to 2022-08-26" in text_of(preview[0])
    assert all(r.json["allowed_mentions"] == NO_PINGS for r in preview)
    assert moderated.public() == []  # only the moderator has seen it so far
    button = post_button(preview)

    pressed = await moderated.press(button)
    assert pressed.json["type"] == 6
    server = moderated.server
    edit = await server.wait_for("PATCH", "/messages/@original", after=server.requests.index(pressed), timeout=60)
    assert edit.json["content"] == POSTED and edit.json["components"] == []

    posted = moderated.public()
    assert posted and posted[0]["content"] == f"Posted by {MODERATOR_NAME}"
    assert "grain exports" in posted[0]["embeds"][0]["title"]
    assert not any(m["mention_everyone"] or m["mentions"] or m["components"] for m in posted)
    assert all(r.json["allowed_mentions"] == NO_PINGS for r in moderated.server.calls("POST", "/channels/"))
    passages = [p.passage.text for p in moderated.service.store.stored_passages(
        moderated.service.store.passage_ids_where()).values()]
    pieces = quoted_pieces(posted)
    assert len(pieces) >= 3 and any("@everyone" in piece for piece in pieces)
    assert all(any(piece in passage for passage in passages) for piece in pieces), pieces


@pytest.mark.asyncio
async def test_post_true_posts_at_once(moderated: Moderated) -> None:
    moderated.service.ingest(grain_documents())
    replies = await moderated.command("summary", {"topic": TOPIC, "since": "2022-08", "post": True})
    assert replies[-1].json["content"] == POSTED and not any(custom_ids(r) for r in replies)
    posted = moderated.public()
    assert len(posted) == 1 and posted[0]["content"] == f"Posted by {MODERATOR_NAME}"
    assert "2022-08-01 to 2022-08-26" in text_of_message(posted[0])  # the range left July out


def text_of_message(message: JSON) -> str:
    return " ".join(e.get("title", "") + " " + e.get("description", "") for e in message["embeds"]).replace("\\", "")


@pytest.mark.asyncio
async def test_members_are_refused_and_nothing_is_posted(moderated: Moderated) -> None:
    moderated.service.ingest(grain_documents())
    for name, options in (("summary", {"topic": TOPIC, "post": True}), ("digest", {"post": True})):
        replies = await moderated.command(name, options, user=MEMBER)
        assert [r.json["content"] for r in replies] == [REFUSED]
    assert moderated.public() == []
    assert len([m for m in moderated.server.messages_in(moderated.server.channel_id)]) == 2  # the two refusals
    bad = await moderated.command("summary", {"topic": TOPIC, "since": "2022-13"})
    assert "bad since date" in bad[-1].json["content"] and moderated.public() == []


@pytest.mark.asyncio
async def test_only_the_moderator_who_asked_can_post_and_old_previews_expire(moderated: Moderated) -> None:
    moderated.service.ingest(grain_documents())
    button = post_button(await moderated.command("summary", {"topic": TOPIC}))

    refused = await moderated.press(button, user=OTHER_MODERATOR)
    assert refused.json["type"] == 4 and refused.json["data"]["flags"] & FLAG_EPHEMERAL
    assert refused.json["data"]["content"] == NOT_YOURS and moderated.public() == []

    await moderated.client.close()  # a restart forgets the previews; the button stays
    client, task = await connect(moderated.server, moderated.service)
    try:
        expired = await moderated.press(button)
    finally:
        await disconnect(client, task)
    assert expired.json["data"]["content"] == "This preview has expired; run /summary again."
    assert moderated.public() == []


def scheduled_times(moderated: Moderated) -> tuple[datetime, datetime]:
    """The next scheduled Monday 09:00 in Kyiv, and the Tuesday after it."""
    monday = moderated.service.settings.schedule.next_after(datetime.now(timezone.utc))
    assert (monday.weekday(), monday.hour) == (0, 9)
    return monday, monday + timedelta(days=1)


@pytest.mark.asyncio
async def test_scheduled_digest_is_posted_once_and_only_on_scheduled_days(moderated: Moderated) -> None:
    loop = moderated.client.moderators.digest_loop
    assert loop is not None and loop.is_running()
    assert loop.time == [moderated.service.settings.schedule.at]  # daily at 09:00 Kyiv time
    monday, tuesday = scheduled_times(moderated)
    added = (monday - timedelta(days=1)).astimezone(timezone.utc).isoformat(timespec="seconds")
    moderated.service.ingest(grain_documents(added))

    await loop.coro(now=tuesday)  # not a scheduled day: nothing, though there is news
    assert moderated.public() == []

    await loop.coro(now=monday)
    posted = moderated.public()
    assert posted and not posted[0]["content"]
    text = " ".join(text_of_message(m) for m in posted)
    assert text.startswith("What's new: 4 documents") and "1. " in text and "grain" in text
    assert all(r.json["allowed_mentions"] == NO_PINGS for r in moderated.server.calls("POST", "/channels/"))
    key = f"digest:discord:{moderated.server.channel_id}"
    settled = monday - DIGEST_SETTLE  # the last minute waits for the next digest
    assert moderated.service.store.get_meta(key) == settled.astimezone(timezone.utc).isoformat(timespec="seconds")

    await loop.coro(now=monday + timedelta(minutes=1))  # a second run: nothing new since
    assert len(moderated.public()) == len(posted)


@pytest.mark.asyncio
async def test_scheduled_digest_without_news_posts_nothing(moderated: Moderated) -> None:
    loop = moderated.client.moderators.digest_loop
    assert loop is not None
    monday, _ = scheduled_times(moderated)
    await loop.coro(now=monday + timedelta(weeks=2))  # the seed article is weeks old by then
    assert moderated.public() == [] and moderated.server.calls("POST", "/channels/") == []
    assert moderated.service.store.get_meta(f"digest:discord:{moderated.server.channel_id}") is None


@pytest.mark.asyncio
async def test_digest_on_demand_previews_and_says_when_nothing_is_new(moderated: Moderated) -> None:
    an_hour_ago = (datetime.now(timezone.utc) - timedelta(hours=1)).isoformat(timespec="seconds")
    moderated.service.ingest(grain_documents(an_hour_ago))  # a digest ends at the current second
    preview = await moderated.command("digest")
    assert post_button(preview).startswith("crisisbot:post:digest:")
    text = " ".join(text_of(r) for r in preview)
    assert "What's new:" in text and "Grain" in text and "[1]" in text
    assert moderated.public() == []

    # Posted here, the channel's place moves on: the next digest does not repeat it.
    key = f"discord:{moderated.server.channel_id}"
    assert moderated.service.store.get_meta(f"digest:{key}") is None
    pressed = await moderated.press(post_button(preview))
    server = moderated.server
    await server.wait_for("PATCH", "/messages/@original", after=server.requests.index(pressed), timeout=60)
    assert moderated.public()[0]["content"] == f"Posted by {MODERATOR_NAME}"
    assert moderated.service.store.get_meta(f"digest:{key}") is not None
    again = await moderated.command("digest")
    assert [r.json["content"] for r in again] == [NO_DIGEST]

    nothing = await moderated.command("digest", {"since": "2099-01-01"})
    assert [r.json["content"] for r in nothing] == [NO_DIGEST] and len(moderated.public()) == 1
    assert not embeds_of(nothing[0])


def test_a_long_digest_is_packed_within_discord_limits() -> None:
    """Offline: long topics split like answers, then packed in order, every limit kept."""
    from bot.adapters.discord.formatting import answer_messages
    from bot.adapters.discord.summary_format import digest_messages
    from bot.core.summary import Digest, DigestTopic
    from tests.bot.adapters.discord.test_formatting import assert_within_limits, long_answer

    answer, _ = long_answer()
    topics = [DigestTopic(f"Topic {n} " + "x" * 300, answer, [f"d{n}"]) for n in range(3)]
    digest = Digest("2026-11-16T07:00:00+00:00", "2026-11-23T07:00:00+00:00", topics, 30, more_topics=2)
    messages = digest_messages(digest)
    assert_within_limits(messages)
    embeds = [e for m in messages for e in m]
    assert embeds[0].title is not None and embeds[0].title.startswith("What's new: 30 documents")
    labels = [e.title[:9] for e in embeds if e.title and e.title[0].isdigit()]
    assert labels == ["1\\. Topic", "2\\. Topic", "3\\. Topic"]  # in order, escaped like answers
    per_topic = sum(len(m) for m in answer_messages(answer))
    assert len(embeds) == 1 + 3 * per_topic + 1 and embeds[-1].description == "… and 2 smaller topics."


@pytest.mark.asyncio
@pytest.mark.parametrize("run_schedules", [True, False])
async def test_run_schedules_false_starts_no_loop_and_the_commands_still_work(
    discord_server: FakeDiscord, real_embedder: SentenceTransformerEmbedder, web: LocalServer, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, run_schedules: bool,
) -> None:
    """With `run_schedules = false` (a deployment with `crisisbot worker`) neither the feed
    poll loop nor the digest loop starts; /digest posting and /kb poll work as before."""
    discord_server.patch_client_urls(monkeypatch)
    discord_server.add_role("Moderators", permissions("manage_messages"), [MODERATOR])
    discord_server.add_role("Editors", permissions("manage_guild"), [ADMIN])
    settings = load_settings(data_dir=tmp_path / "data", questions_per_minute=1000, allow_private_urls=True,
                             discord_digest_channel_id=discord_server.channel_id, run_schedules=run_schedules,
                             **community(discord_server))
    service = CrisisBot(settings, real_embedder)
    service.open()
    client, task = await connect(discord_server, service, sync=discord_server.guild_id)
    try:
        loops = (client.admins.feed_loop, client.moderators.digest_loop)
        if run_schedules:
            assert all(loop is not None and loop.is_running() for loop in loops)
        else:
            assert loops == (None, None)

        an_hour_ago = (datetime.now(timezone.utc) - timedelta(hours=1)).isoformat(timespec="seconds")
        service.ingest(grain_documents(an_hour_ago))
        moderated = Moderated(discord_server, service, client)
        replies = await moderated.command("digest", {"post": True})
        assert replies[-1].json["content"] == POSTED
        assert "What's new: 3 documents" in text_of_message(moderated.public()[0])
        assert service.store.get_meta(f"digest:discord:{discord_server.channel_id}") is not None

        admin = Admin(discord_server, service, client, web)
        feed = web.url("/feed.rss")
        assert "Subscribed" in text_of(await admin.kb("subscribe", {"url": feed}))
        assert f"{feed}: 2 added" in text_of(await admin.kb("poll"))
    finally:
        await disconnect(client, task)
        service.close()
