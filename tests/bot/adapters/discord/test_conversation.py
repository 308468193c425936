"""Follow-ups, small talk and the More button, through the real discord.py client and the
stand-in gateway and REST API, over the seed article with the real model.

Whether a follow-up was resolved is read from the feedback log (it records the question
actually searched) and from the answer's title: "why?" alone is declined on the seed article,
while "why?" after the troops question is answered from it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import pytest_asyncio

from bot.core import messages
from bot.runtime.service import CrisisBot
from tests.bot.adapters.discord.test_adapter import (  # noqa: F401  (make_service: a fixture)
    QUESTION,
    Running,
    connect,
    custom_ids,
    disconnect,
    embeds_of,
    make_service,
)
from tests.discord_server import FakeDiscord, Recorded

RESOLVED_WHY = f"why: {QUESTION}"


@pytest_asyncio.fixture
async def running(discord_server: FakeDiscord, make_service: Callable[..., CrisisBot],
                  monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Running]:
    discord_server.patch_client_urls(monkeypatch)
    service = make_service(questions_per_minute=100)
    client, task = await connect(discord_server, service)
    yield Running(discord_server, service, client)
    await disconnect(client, task)


@pytest_asyncio.fixture
async def threaded(discord_server: FakeDiscord, make_service: Callable[..., CrisisBot],
                   monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Running]:
    """The stand-in's server wants a thread per question."""
    discord_server.patch_client_urls(monkeypatch)
    service = make_service(discord_thread_guild_ids=str(discord_server.guild_id), questions_per_minute=100)
    client, task = await connect(discord_server, service)
    yield Running(discord_server, service, client)
    await disconnect(client, task)


def asked(service: CrisisBot) -> list[str]:
    with sqlite3.connect(service.settings.database_path) as db:
        if db.execute("SELECT 1 FROM sqlite_master WHERE name = 'asked'").fetchone() is None:
            return []
        return [row[0] for row in db.execute("SELECT question FROM asked ORDER BY id")]


def answered(request: Recorded) -> bool:
    embeds = embeds_of(request)
    return bool(embeds) and "no answer" not in (embeds[0].get("description") or "") and bool(embeds[0].get("fields"))


async def say(running: Running, data: dict[str, Any]) -> Recorded:
    """A user's message, and the first message the bot posts after it."""
    return await running.after("MESSAGE_CREATE", data, "POST", "/messages",
                               predicate=lambda r: bool(embeds_of(r) or r.json.get("content")))


@pytest.mark.asyncio
async def test_follow_up_in_a_dm_is_resolved_and_more_continues(running: Running) -> None:
    server = running.server
    alone = await say(running, server.message_create("why?", user_id=701, guild=False))
    assert not answered(alone)
    await say(running, server.message_create(QUESTION, user_id=701, guild=False))
    follow = await say(running, server.message_create("why?", user_id=701, guild=False))
    assert answered(follow) and asked(running.service)[-1] == RESOLVED_WHY
    assert embeds_of(follow)[0]["title"] == RESOLVED_WHY  # the reader sees how it was read

    more_id = next(i for i in custom_ids(follow) if i.startswith("crisisbot:more:"))
    click = server.component_interaction(more_id, server.sent_messages[-1], user_id=701)
    start = len(server.requests)
    await server.dispatch("INTERACTION_CREATE", click)
    continued = await server.wait_for("POST", "/webhooks/", after=start)
    assert answered(continued)
    assert "10,000 North Korean troops" not in embeds_of(continued)[0]["description"]

    told = await say(running, server.message_create("tell me more", user_id=701, guild=False))
    assert answered(told) or told.json.get("content") == messages.NOTHING_MORE


@pytest.mark.asyncio
async def test_channel_mention_stands_alone_and_a_reply_to_the_bot_follows_up(running: Running) -> None:
    server = running.server
    await say(running, server.message_create(QUESTION, user_id=702, mentions_bot=True))
    answer = server.sent_messages[-1]
    mention = await say(running, server.message_create("why?", user_id=702, mentions_bot=True))
    assert not answered(mention)
    other = await say(running, server.message_create("why?", user_id=703, reply_to=answer, mentions_bot=True))
    assert not answered(other)  # another member has no previous question of their own
    follow = await say(running, server.message_create("why?", user_id=702, reply_to=answer, mentions_bot=True))
    assert answered(follow) and asked(running.service)[-1] == RESOLVED_WHY


@pytest.mark.asyncio
async def test_follow_up_in_the_thread_opened_for_a_question(threaded: Running) -> None:
    server = threaded.server
    start = len(server.requests)
    await server.dispatch("MESSAGE_CREATE", server.message_create(QUESTION, user_id=704, mentions_bot=True))
    await server.wait_for("POST", "/threads", after=start)
    await server.wait_for("POST", "/messages", predicate=lambda r: bool(embeds_of(r)), after=start)
    thread_id = next(int(c["id"]) for c in server.channels.values() if c.get("type") == 11)
    follow = await say(threaded, server.message_create("why?", user_id=704, channel_id=thread_id, mentions_bot=True))
    assert f"/channels/{thread_id}/messages" in follow.path
    assert answered(follow) and asked(threaded.service)[-1] == RESOLVED_WHY


@pytest.mark.asyncio
async def test_hello_gets_the_help_and_thanks_a_polite_line(running: Running) -> None:
    server = running.server
    hello = await say(running, server.message_create("hello", user_id=705, guild=False))
    assert "I answer questions about the war in Ukraine" in hello.json["content"]
    assert hello.json["allowed_mentions"]["parse"] == []
    interaction = server.slash_interaction("ask", {"question": "привіт"})
    via_slash = await running.after("INTERACTION_CREATE", interaction, "POST", f"/interactions/{interaction['id']}/")
    # Greeted in Ukrainian: the help is in Ukrainian (and a Ukrainian help says "sources: 1").
    assert "Я відповідаю на запитання" in via_slash.json["data"]["content"]
    assert "(джерел: 1)" in via_slash.json["data"]["content"]
    thanks = await say(running, server.message_create("thanks!", user_id=705, guild=False))
    assert thanks.json["content"] == messages.THANKS_REPLY
    assert asked(running.service) == []


async def press_forged(running: Running, message: dict[str, Any], real: str, forged: str) -> Recorded:
    """A click carrying `forged` on the button `real` of `message`: the stand-in only lets a
    client click what a message shows, so the message is changed first, as a forging client
    would send it."""
    server = running.server
    for row in message.get("components") or []:
        for component in row.get("components", []):
            if component.get("custom_id") == real:
                component["custom_id"] = forged
    server.messages[int(message["id"])] = message
    click = server.component_interaction(forged, message, user_id=706)
    start = len(server.requests)
    await server.dispatch("INTERACTION_CREATE", click)
    return await server.wait_for("POST", "/webhooks/", after=start)


@pytest.mark.asyncio
async def test_a_forged_more_id_continues_nothing_and_shows_no_one_elses_question(running: Running) -> None:
    server = running.server
    private = await say(running, server.message_create("Why did Biden allow Ukraine to use ATACMS missiles?",
                                                       user_id=707, guild=False))
    private_id = next(i for i in custom_ids(private) if i.startswith("crisisbot:more:"))
    follow = await running.after("INTERACTION_CREATE", server.slash_interaction("ask", {"question": QUESTION}),
                                 "POST", "/webhooks/")
    more_id = next(i for i in custom_ids(follow) if i.startswith("crisisbot:more:"))
    message = server.sent_messages[-1]
    unknown = await press_forged(running, message, more_id, "crisisbot:more:9999999999999999999")
    assert unknown.json["content"] == messages.MORE_EXPIRED
    stolen = await press_forged(running, message, "crisisbot:more:9999999999999999999", private_id)
    assert stolen.json["content"] == messages.MORE_EXPIRED  # the DM's answer is not continued here
    assert "embeds" not in stolen.json or not stolen.json["embeds"]
    assert len(asked(running.service)) == 2  # the two questions; no continuation was asked
