"""Flood and load through the real discord.py client and the stand-in gateway and REST API
(issue 17, item 11 and the "flood and load" suite): the limit is checked before a thread is
made, a limited person is told once and then ignored, /sources is limited, and 100 people
asking at once are each answered or told once that they are limited, with no errors."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bot.core.messages import APOLOGY
from bot.runtime.service import CrisisBot
from tests.bot.adapters.discord.test_adapter import (  # noqa: F401  (make_service: a fixture)
    QUESTION, connect, custom_ids, disconnect, embeds_of, make_service)
from tests.discord_server import FakeDiscord, Recorded

LIMITED = "Please wait"


def posts(server: FakeDiscord, after: int, path: str = "/messages") -> list[Recorded]:
    return [r for r in server.requests[after:] if r.method == "POST" and path in r.path]


async def settle(count: Callable[[], int], expected: int, timeout: float = 120) -> None:
    """Wait until `count()` reaches `expected`, then a moment more for anything extra to show."""
    deadline = time.monotonic() + timeout
    while count() < expected and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    await asyncio.sleep(1.0)


def replied_to(request: Recorded) -> str | None:
    reference = request.json.get("message_reference") or {}
    return str(reference["message_id"]) if "message_id" in reference else None


@pytest.mark.asyncio
async def test_the_limit_is_checked_before_a_thread_and_a_flooder_is_told_once(
        discord_server: FakeDiscord, make_service: Callable[..., CrisisBot],  # noqa: F811
        monkeypatch: pytest.MonkeyPatch) -> None:
    server = discord_server
    server.patch_client_urls(monkeypatch)
    service = make_service(questions_per_minute=1, discord_thread_guild_ids=str(server.guild_id))
    client, task = await connect(server, service)
    try:
        start = len(server.requests)
        flood = [server.message_create(QUESTION, user_id=666, mentions_bot=True) for _ in range(30)]
        for message in flood:
            await server.dispatch("MESSAGE_CREATE", message)
        await server.dispatch("MESSAGE_CREATE", server.message_create(QUESTION, user_id=777, mentions_bot=True))
        await settle(lambda: len(posts(server, start, "/threads")), 2)
        assert len(posts(server, start, "/threads")) == 2  # one for each person, none for the refused
        flood_ids = {m["id"] for m in flood}
        refusals = [r for r in posts(server, start) if replied_to(r) in flood_ids]
        assert len(refusals) == 1 and LIMITED in refusals[0].json["content"]
        answers = [r for r in posts(server, start) if embeds_of(r)]
        assert len(answers) == 2 and all("10,000" in embeds_of(r)[0]["description"] for r in answers)
        audited = [(e.user_id, e.action, e.result) for e in service.audit.entries(100) if e.result.startswith("refused")]
        assert audited == [("666", "ask", "refused: rate limited: questions")]
    finally:
        await disconnect(client, task)


@pytest.mark.asyncio
async def test_sources_is_limited_and_told_once(
        discord_server: FakeDiscord, make_service: Callable[..., CrisisBot],  # noqa: F811
        monkeypatch: pytest.MonkeyPatch) -> None:
    server = discord_server
    server.patch_client_urls(monkeypatch)
    service = make_service(source_requests_per_minute=1)
    client, task = await connect(server, service, sync=server.guild_id)
    try:
        responses = []
        for _ in range(3):
            interaction = server.slash_interaction("sources")
            start = len(server.requests)
            await server.dispatch("INTERACTION_CREATE", interaction)
            try:
                responses.append(await server.wait_for("POST", f"/interactions/{interaction['id']}/",
                                                       after=start, timeout=3))
            except (TimeoutError, AssertionError):
                responses.append(None)
        listed, refused, dropped = responses
        assert listed is not None and listed.json["type"] == 4 and listed.json["data"]["embeds"]
        assert refused is not None and LIMITED in refused.json["data"]["content"]
        assert refused.json["data"]["flags"] & 64  # privately
        assert dropped is None
    finally:
        await disconnect(client, task)


@pytest.mark.asyncio
async def test_a_hundred_concurrent_askers_are_each_answered_or_told_once(
        discord_server: FakeDiscord, make_service: Callable[..., CrisisBot],  # noqa: F811
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    """100 people mention the bot at once; 10 of them 3 more times. Each is answered once (the
    limit is 1 a minute); each of the 10 is told once that they are limited; nothing fails."""
    server = discord_server
    server.patch_client_urls(monkeypatch)
    service = make_service(questions_per_minute=1)
    client, task = await connect(server, service)
    users = list(range(20_000, 20_100))
    flooders = set(users[::10])
    try:
        caplog.set_level(logging.WARNING)
        start = len(server.requests)
        sent: dict[str, int] = {}
        batch: list[dict[str, Any]] = [server.message_create(QUESTION, user_id=u, mentions_bot=True) for u in users]
        batch += [server.message_create(QUESTION, user_id=u, mentions_bot=True) for _ in range(3) for u in flooders]
        for message in batch:
            sent[message["id"]] = int(message["author"]["id"])
        await asyncio.gather(*(server.dispatch("MESSAGE_CREATE", m) for m in batch))
        await settle(lambda: len(posts(server, start, f"/channels/{server.channel_id}/messages")),
                     len(users) + len(flooders))
        replies: dict[int, list[Recorded]] = {u: [] for u in users}
        for request in posts(server, start, f"/channels/{server.channel_id}/messages"):
            replies[sent[str(replied_to(request))]].append(request)
        for user, theirs in replies.items():
            answers = [r for r in theirs if embeds_of(r) and "10,000" in embeds_of(r)[0]["description"]]
            told = [r for r in theirs if LIMITED in (r.json.get("content") or "")]
            assert len(answers) == 1, (user, theirs)
            assert len(told) == (1 if user in flooders else 0), (user, theirs)
            assert len(theirs) == len(answers) + len(told)
            assert not any(APOLOGY in (r.json.get("content") or "") for r in theirs)
        assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []
    finally:
        await disconnect(client, task)


async def response_to(server: FakeDiscord, interaction: dict[str, Any]) -> Recorded | None:
    """The interaction's response (a POST to /interactions/<id>/), or None within 3 s."""
    start = len(server.requests)
    await server.dispatch("INTERACTION_CREATE", interaction)
    try:
        return await server.wait_for("POST", f"/interactions/{interaction['id']}/", after=start, timeout=3)
    except TimeoutError:
        return None


@pytest.mark.asyncio
async def test_pager_presses_are_limited_and_dropped_silently(
        discord_server: FakeDiscord, make_service: Callable[..., CrisisBot],  # noqa: F811
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    server = discord_server
    server.patch_client_urls(monkeypatch)
    service = make_service(source_requests_per_minute=2)
    for number in range(14):
        (tmp_path / f"doc{number}.txt").write_text(f"Report number {number}\nShelling reported in district {number}.")
    service.ingest(service.read(sorted(tmp_path.glob("doc*.txt")), "test").documents)
    client, task = await connect(server, service, sync=server.guild_id)
    try:
        listed = await response_to(server, server.slash_interaction("sources"))
        assert listed is not None and listed.json["type"] == 4
        following = next(i for i in custom_ids(listed) if i.endswith(":next"))
        listing = server.sent_messages[-1]
        turned = await response_to(server, server.component_interaction(following, listing))
        assert turned is not None and turned.json["type"] == 7  # the second look: edited in place
        back = next(i for i in custom_ids(turned) if i.endswith(":prev"))
        told = await response_to(server, server.component_interaction(back, listing))
        assert told is not None and LIMITED in told.json["data"]["content"] and told.json["data"]["flags"] & 64
        dropped = await response_to(server, server.component_interaction(back, listing))
        assert dropped is not None and dropped.json["type"] == 6  # acknowledged without a word
    finally:
        await disconnect(client, task)


@pytest.mark.asyncio
async def test_summary_requests_are_limited_before_the_role_check(
        discord_server: FakeDiscord, make_service: Callable[..., CrisisBot],  # noqa: F811
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A member trying /summary is refused for the role twice (audited once), then told once
    that they are limited, then ignored: the refusals stop costing anything."""
    server = discord_server
    server.patch_client_urls(monkeypatch)
    service = make_service(moderator_requests_per_minute=2)
    client, task = await connect(server, service, sync=server.guild_id)
    try:
        responses = [await response_to(server, server.slash_interaction("summary", {"topic": "grain"}, user_id=502))
                     for _ in range(4)]
        assert [r.json["type"] if r else None for r in responses] == [5, 5, 4, None]
        assert responses[2] is not None and "2 summaries or digests" in responses[2].json["data"]["content"]
        await asyncio.sleep(0.5)
        audited = sorted((e.action, e.result) for e in service.audit.entries(100))
        assert audited == [("summary", "refused: not a moderator"),
                           ("summary", "refused: rate limited: summaries and digests")]
    finally:
        await disconnect(client, task)
