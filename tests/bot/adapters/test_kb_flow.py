"""The knowledge-base flows of the core, driven the same way through both chat adapters: the
real python-telegram-bot Application against the stand-in Bot API and the real discord.py client
against the stand-in Discord, each on a service of its own. Each scenario runs once per platform
and checks what a person reads; where the platforms render differently (HTML, embeds), only the
words are compared."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import pytest
import pytest_asyncio

from bot.adapters.telegram.kb import KnowledgeHandlers
from bot.core.uploads import NOT_ACCEPTED, TOO_BIG
from bot.runtime.service import CrisisBot
from bot.runtime.settings import load_settings
from index.embedder import SentenceTransformerEmbedder
from tests.bot.adapters.discord.test_adapter import community, connect, custom_ids, disconnect
from tests.bot.adapters.discord.test_kb import text_of
from tests.bot.adapters.telegram.test_adapter import buttons
from tests.bot.adapters.telegram.test_adapter import start as start_telegram
from tests.bot.adapters.telegram.test_adapter import stop as stop_telegram
from tests.discord_server import FakeDiscord
from tests.discord_server.state import permissions
from tests.telegram_server import FakeTelegram
from tests.web_server import LocalServer

WAIT = 60  # seconds: generous, for a slow machine; nothing sleeps
TELEGRAM_ADMIN = 501  # the stand-in's default private-chat user
DISCORD_ADMIN = 601  # holds a role with Manage Server in the stand-in guild
NOTE = ("---\ntitle: Kherson ferry schedule\npublisher: Oblast council\n---\nThe river ferry between Kherson "
        "and Hola Prystan runs twice a day again, the oblast council said.\n").encode()


@dataclass(frozen=True)
class Listing:
    """A page of /kb list as shown: its words, and what pressing "Next" needs."""

    text: str
    next_button: str | None
    message: Any


class Driver(Protocol):
    service: CrisisBot

    async def list_documents(self, filters: dict[str, str]) -> Listing: ...
    async def press_next(self, listing: Listing) -> Listing: ...
    async def add_url(self, url: str) -> list[str]: ...
    async def upload(self, name: str, data: bytes, size: int | None = None) -> str: ...


def words(html_or_markdown: str) -> str:
    """The text a person reads, without HTML tags, markdown escapes and code fences."""
    return re.sub(r"<[^>]+>", "", html_or_markdown).replace("\\", "").replace("```", "").strip()


class TelegramDriver:
    def __init__(self, server: FakeTelegram, service: CrisisBot, application: Any) -> None:
        self.server, self.service, self.application = server, service, application

    async def _first(self, update: dict[str, Any], method: str) -> Any:
        start = len(self.server.requests)
        self.server.push_update(update)
        return await self.server.wait_for(method, after=start, timeout=WAIT)

    def _listing(self, reply: Any, message: Any) -> Listing:
        data = next((b["callback_data"] for b in buttons(reply) if b["text"].startswith("Next")), None)
        return Listing(words(reply.params["text"]), data, message)

    async def list_documents(self, filters: dict[str, str]) -> Listing:
        text = " ".join(["/kb list", *(f'{k}="{v}"' for k, v in filters.items())])
        reply = await self._first(self.server.private_message(text), "sendMessage")
        return self._listing(reply, self.server.sent_messages[-1])

    async def press_next(self, listing: Listing) -> Listing:
        assert listing.next_button is not None and len(listing.next_button.encode()) <= 64
        edited = await self._first(self.server.callback_query(listing.next_button, listing.message), "editMessageText")
        return self._listing(edited, listing.message)

    async def add_url(self, url: str) -> list[str]:
        return await self._long(self.server.private_message(f"/kb add {url}"))

    async def _long(self, update: dict[str, Any]) -> list[str]:
        """The "Working on it…" message, then each edit of it up to the outcome."""
        start = len(self.server.requests)
        self.server.push_update(update)
        working = await self.server.wait_for(
            "sendMessage", lambda r: r.params["text"].startswith("Working on it"), after=start, timeout=WAIT)
        await self.server.wait_for("editMessageText", lambda r: not r.params["text"].startswith("Working"),
                                   after=start, timeout=WAIT)  # the outcome: nothing edits after it
        edits = [r for r in self.server.requests[start:] if r.method == "editMessageText"]
        return [working.params["text"], *(words(r.params["text"]) for r in edits)]

    async def upload(self, name: str, data: bytes, size: int | None = None) -> str:
        message = self.server.document_message(name, data, file_size=size)
        if size is not None or not name.lower().endswith((".txt", ".md")):  # refused at once, in a reply
            return words((await self._first(message, "sendMessage")).params["text"])
        return (await self._long(message))[-1]


class DiscordDriver:
    def __init__(self, server: FakeDiscord, service: CrisisBot) -> None:
        self.server, self.service = server, service

    async def _kb(self, sub: str, options: dict[str, Any]) -> list[str]:
        """Every edit of the private response to `/kb sub`, up to its outcome."""
        interaction = self.server.slash_interaction(f"kb {sub}", options, user_id=DISCORD_ADMIN)
        start = len(self.server.requests)
        await self.server.dispatch("INTERACTION_CREATE", interaction)
        original = f"/webhooks/{self.server.application_id}/{interaction['token']}/messages/@original"
        await self.server.wait_for("PATCH", original, lambda r: not (r.json.get("content") or "").startswith("Working"),
                                   after=start, timeout=WAIT)
        return [text_of(r) for r in self.server.calls("PATCH", original)]

    def _listing(self, reply: Any) -> Listing:
        following = next((i for i in custom_ids(reply) if ":next:" in i), None)
        return Listing(words(text_of(reply)), following, self.server.messages[int(self.server.sent_messages[-1]["id"])])

    async def list_documents(self, filters: dict[str, str]) -> Listing:
        interaction = self.server.slash_interaction("kb list", filters, user_id=DISCORD_ADMIN)
        start = len(self.server.requests)
        await self.server.dispatch("INTERACTION_CREATE", interaction)
        return self._listing(await self.server.wait_for("PATCH", "/messages/@original", after=start, timeout=WAIT))

    async def press_next(self, listing: Listing) -> Listing:
        assert listing.next_button is not None and len(listing.next_button.encode()) <= 64
        click = self.server.component_interaction(listing.next_button, listing.message, user_id=DISCORD_ADMIN)
        start = len(self.server.requests)
        await self.server.dispatch("INTERACTION_CREATE", click)
        return self._listing(await self.server.wait_for("PATCH", "/messages/@original", after=start, timeout=WAIT))

    async def add_url(self, url: str) -> list[str]:
        return [words(t) for t in await self._kb("add-url", {"url": url})]

    async def upload(self, name: str, data: bytes, size: int | None = None) -> str:
        attachment = self.server.user_attachment(name, data, size=size)
        return words((await self._kb("add-file", {"file": attachment}))[-1])


@pytest_asyncio.fixture(params=["telegram", "discord"])
async def driver(request: pytest.FixtureRequest, real_embedder: SentenceTransformerEmbedder, tmp_path: Path,
                 monkeypatch: pytest.MonkeyPatch, web: LocalServer, telegram_server: FakeTelegram,
                 discord_server: FakeDiscord) -> AsyncIterator[Driver]:
    """An admin on one platform, with a running bot whose service fetches from 127.0.0.1 (both
    stand-ins start, as they are cheap; only the platform's own is used)."""
    shared: dict[str, Any] = {"data_dir": tmp_path / "data", "allow_private_urls": True,
                              "questions_per_minute": 1000, "load_builtin_knowledge": False}
    if request.param == "telegram":
        telegram = telegram_server
        service = CrisisBot(load_settings(TELEGRAM_BOT_TOKEN=telegram.token, telegram_api_url=telegram.base_url,
                                          telegram_admin_ids=str(TELEGRAM_ADMIN), **shared), real_embedder)
        service.open()
        application = await start_telegram(telegram, service)
        # A one-document add reports its count at once, as Discord's thinking response does.
        (kb,) = {getattr(h.callback, "__self__") for group in application.handlers.values() for h in group
                 if isinstance(getattr(h.callback, "__self__", None), KnowledgeHandlers)}
        kb.edit_interval = 0.0
        try:
            yield TelegramDriver(telegram, service, application)
        finally:
            await stop_telegram(application)
            service.close()
    else:
        discord = discord_server
        discord.patch_client_urls(monkeypatch)
        discord.add_role("Editors", permissions("manage_guild"), [DISCORD_ADMIN])
        service = CrisisBot(load_settings(**shared, **community(discord)), real_embedder)
        service.open()
        client, task = await connect(discord, service, sync=discord.guild_id)
        try:
            yield DiscordDriver(discord, service)
        finally:
            await disconnect(client, task)
            service.close()


def ingest(service: CrisisBot, folder: Path, kind: str, count: int) -> set[str]:
    folder.mkdir()
    for number in range(1, count + 1):
        (folder / f"{kind}-{number:02}.md").write_text(
            f"---\ntitle: {kind} report {number}\nkind: {kind}\n---\nShelling reported in district {number}.\n")
    service.ingest(service.read(sorted(folder.glob("*.md")), "test").documents)
    return {f"{kind}-{number:02}" for number in range(1, count + 1)}


@pytest.mark.asyncio
async def test_list_with_a_filter_and_the_next_page_keeps_it(driver: Driver, tmp_path: Path) -> None:
    analyses = ingest(driver.service, tmp_path / "analyses", "analysis", 12)
    others = ingest(driver.service, tmp_path / "others", "other", 3)

    first = await driver.list_documents({"kind": "analysis"})
    assert "page 1 of 2" in first.text.lower() and "12 documents" in first.text, first.text
    shown = {i for i in analyses | others if i in first.text}
    assert len(shown) == 10 and shown <= analyses

    second = await driver.press_next(first)
    assert "page 2 of 2" in second.text.lower() and second.next_button is None
    assert {i for i in analyses | others if i in second.text} == analyses - shown  # still only analyses


@pytest.mark.asyncio
async def test_a_long_add_shows_progress_then_the_outcome(driver: Driver, web: LocalServer) -> None:
    shown = await driver.add_url(web.url("/article"))
    assert "Working on it… 1 of 1 documents added" in shown[:-1], shown
    assert re.fullmatch(r"added \S+ \(\d+ passages\)", shown[-1]), shown


@pytest.mark.asyncio
async def test_an_upload_is_added_and_bad_ones_are_refused_in_the_same_words(driver: Driver) -> None:
    assert await driver.upload("Ferry notice (v2).MD", NOTE) == "added Ferry_notice_v2 (1 passages)"
    assert driver.service.store.document_info("Ferry_notice_v2").title == "Kherson ferry schedule"

    assert await driver.upload("minutes.docx", b"PK\x03\x04") == NOT_ACCEPTED.format(name="minutes.docx")
    too_big = await driver.upload("archive.pdf", b"%PDF", size=11 * 1024 * 1024)
    assert too_big == TOO_BIG.format(name="archive.pdf", megabytes=11.0, limit=10)
    assert {d.id for d in driver.service.store.documents()} == {"Ferry_notice_v2"}
