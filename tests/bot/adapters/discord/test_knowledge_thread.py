"""Members' questions are answered while imports hold the knowledge base's thread.

The real discord.py client against the stand-in Discord; imports fetch from the stand-in web
server, which holds /held/N pages until the test releases them, so an import stays in progress
for exactly as long as the test needs. On one shared two-thread executor, two held imports
(two admins, or an admin and the scheduled feed poll) took both threads and the question
waited for them; now changes queue on their own thread.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from bot.runtime import executors
from bot.runtime.service import CrisisBot
from bot.runtime.settings import load_settings
from index.embedder import SentenceTransformerEmbedder
from tests.bot.adapters.discord.test_adapter import QUESTION, Running, community, connect, disconnect, embeds_of
from tests.bot.adapters.discord.test_kb import text_of
from tests.bot.runtime.test_executors import accepts_work
from tests.discord_server import FakeDiscord, Recorded
from tests.discord_server.state import permissions
from tests.web_server import LocalServer

ADMINS = (601, 603)  # both hold a role with Manage Server
MEMBER = 602
ANSWER_WAIT = 60.0  # generous: a question that waits for the imports fails on the checks after


@pytest_asyncio.fixture
async def admins(discord_server: FakeDiscord, real_embedder: SentenceTransformerEmbedder, tmp_path: Path,
                 monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Running]:
    discord_server.patch_client_urls(monkeypatch)
    discord_server.add_role("Editors", permissions("manage_guild"), list(ADMINS))
    settings = load_settings(data_dir=tmp_path / "data", allow_private_urls=True, questions_per_minute=1000,
                             **community(discord_server))
    service = CrisisBot(settings, real_embedder)
    service.open()
    client, task = await connect(discord_server, service, sync=discord_server.guild_id)
    yield Running(discord_server, service, client)
    await disconnect(client, task)
    service.close()


async def start_import(running: Running, url: str, admin: int) -> dict[str, Any]:
    """An admin's `/kb add-url`, up to its "thinking…" acknowledgement (sent just before the
    core is called); returns the interaction."""
    server = running.server
    interaction = server.slash_interaction("kb add-url", {"url": url}, user_id=admin)
    start_index = len(server.requests)
    await server.dispatch("INTERACTION_CREATE", interaction)
    await server.wait_for("POST", f"/interactions/{interaction['id']}/", after=start_index)
    return interaction


def _outcome_path(running: Running, interaction: dict[str, Any]) -> str:
    return f"/webhooks/{running.server.application_id}/{interaction['token']}/messages/@original"


def _is_outcome(reply: Recorded) -> bool:
    return not (reply.json.get("content") or "").startswith("Working")


async def import_outcome(running: Running, interaction: dict[str, Any]) -> str:
    reply = await running.server.wait_for("PATCH", _outcome_path(running, interaction), predicate=_is_outcome,
                                          timeout=ANSWER_WAIT)
    return text_of(reply)


def outcomes_so_far(running: Running, *interactions: dict[str, Any]) -> list[str]:
    return [text_of(r) for interaction in interactions
            for r in running.server.calls("PATCH", _outcome_path(running, interaction)) if _is_outcome(r)]


async def member_asks(running: Running) -> str:
    server = running.server
    interaction = server.slash_interaction("ask", {"question": QUESTION}, user_id=MEMBER)
    start_index = len(server.requests)
    await server.dispatch("INTERACTION_CREATE", interaction)
    follow = await server.wait_for("POST", f"/webhooks/{server.application_id}/{interaction['token']}",
                                   after=start_index, timeout=ANSWER_WAIT)
    return str(embeds_of(follow)[0]["description"])


async def held(web: LocalServer, count: int) -> list[str]:
    return await asyncio.to_thread(web.hold.wait_for, count)


@pytest.mark.asyncio
async def test_two_admins_imports_in_progress_do_not_hold_up_a_question(admins: Running, web: LocalServer) -> None:
    first, second = ADMINS
    one = await start_import(admins, web.url("/held/1"), first)
    assert await held(web, 1) == ["/held/1"]  # fetching, and held there
    assert "10,000" in await member_asks(admins)

    two = await start_import(admins, web.url("/held/2"), second)  # queued behind the first
    assert "10,000" in await member_asks(admins)
    assert outcomes_so_far(admins, one, two) == [], "the question waited for the imports"

    web.hold.release()
    for interaction in (one, two):
        outcome = await import_outcome(admins, interaction)
        assert outcome.startswith("added "), outcome
    assert {web.url("/held/1"), web.url("/held/2")} <= {d.url for d in admins.service.store.documents()}


@pytest.mark.asyncio
async def test_the_scheduled_feed_poll_and_an_import_do_not_hold_up_a_question(
    admins: Running, web: LocalServer,
) -> None:
    service = admins.service
    web.feed_items[:] = [("/held/3", "Story 3")]
    subscribe = admins.server.slash_interaction("kb subscribe", {"url": web.url("/feed.rss")}, user_id=ADMINS[0])
    await admins.server.dispatch("INTERACTION_CREATE", subscribe)
    assert "Subscribed to Local wire" in await import_outcome(admins, subscribe)

    loop = admins.client.admins.feed_loop
    assert loop is not None
    poll = asyncio.create_task(loop.coro())  # the scheduled run, now rather than in an hour
    assert await held(web, 1) == ["/held/3"]  # the poll is fetching its entry, and held there
    added = await start_import(admins, web.url("/held/4"), ADMINS[0])  # queued behind the poll
    assert "10,000" in await member_asks(admins)
    assert not poll.done() and outcomes_so_far(admins, added) == [], "the question waited for the imports"

    web.hold.release()
    await asyncio.wait_for(poll, ANSWER_WAIT)
    outcome = await import_outcome(admins, added)
    assert outcome.startswith("added "), outcome
    assert {web.url("/held/3"), web.url("/held/4")} <= {d.url for d in service.store.documents()}
    polled = [e for e in service.audit.entries(20) if e.platform == "scheduler" and e.action == "poll-feed"]
    assert polled and polled[0].result.startswith("ok"), polled


@pytest.mark.asyncio
async def test_closing_shuts_both_executors_down(
    discord_server: FakeDiscord, real_embedder: SentenceTransformerEmbedder, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(executors, "_knowledge_thread", executors._SharedKnowledgeThread())  # this test's own
    discord_server.patch_client_urls(monkeypatch)
    service = CrisisBot(load_settings(data_dir=tmp_path / "data"), real_embedder)
    client, task = await connect(discord_server, service)
    made = client.executors
    assert accepts_work(made.questions) and accepts_work(made.knowledge)
    await disconnect(client, task)
    assert not accepts_work(made.questions) and not accepts_work(made.knowledge)
    service.close()
