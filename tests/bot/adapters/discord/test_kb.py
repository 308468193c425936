"""The admins' `/kb` commands: the real discord.py client against the stand-in Discord, with the
local web server as the internet (pages, PDFs and feeds on 127.0.0.1)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from bot.adapters.discord.formatting import DESCRIPTION_LIMIT
from bot.adapters.discord.kb_response import ProgressEdits, Reply
from bot.adapters.discord.kb_format import code_block
from bot.runtime.service import CrisisBot
from bot.runtime.settings import load_settings
from index.embedder import SentenceTransformerEmbedder
from tests.bot.adapters.discord.test_adapter import (
    NO_PINGS,
    Running,
    community,
    connect,
    custom_ids,
    disconnect,
)
from tests.discord_server import FakeDiscord, Recorded
from tests.discord_server.state import FLAG_EPHEMERAL, permissions
from tests.web_server import LocalServer

ADMIN = 601  # has Manage Server in the stand-in guild
MEMBER = 602  # an ordinary member
REFUSED = "Only admins may do that."


class Admin(Running):
    """The running client, plus the local web server and helpers to run a `/kb` command."""

    def __init__(self, server: FakeDiscord, service: CrisisBot, client: Any, web: LocalServer) -> None:
        super().__init__(server, service, client)
        self.web = web

    async def kb(self, sub: str, options: dict[str, Any] | None = None, user: int = ADMIN) -> Recorded:
        """Run `/kb sub` and return the final edit of the response (after its progress edits)."""
        interaction = self.server.slash_interaction(f"kb {sub}", options, user_id=user)
        start = len(self.server.requests)
        await self.server.dispatch("INTERACTION_CREATE", interaction)
        deferred = await self.server.wait_for("POST", f"/interactions/{interaction['id']}/", after=start)
        assert deferred.json["type"] == 5 and deferred.json["data"]["flags"] & FLAG_EPHEMERAL
        return await self.server.wait_for(
            "PATCH", f"/webhooks/{self.server.application_id}/{interaction['token']}/messages/@original",
            predicate=lambda r: not (r.json.get("content") or "").startswith("Working"), after=start, timeout=60)

    def stored(self) -> dict[str, Any]:
        return {doc.id: doc for doc in self.service.store.documents()}


@pytest_asyncio.fixture
async def admin(discord_server: FakeDiscord, real_embedder: SentenceTransformerEmbedder, web: LocalServer,
                tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Admin]:
    """An admin by a server role with Manage Server, as Discord grants it; pages from 127.0.0.1."""
    discord_server.patch_client_urls(monkeypatch)
    discord_server.add_role("Editors", permissions("manage_guild"), [ADMIN])
    settings = load_settings(data_dir=tmp_path / "data", allow_private_urls=True, questions_per_minute=1000,
                             **community(discord_server))
    service = CrisisBot(settings, real_embedder)
    service.open()
    client, task = await connect(discord_server, service, sync=discord_server.guild_id)
    yield Admin(discord_server, service, client, web)
    await disconnect(client, task)
    service.close()


def text_of(reply: Recorded) -> str:
    """Content and embed text of a response edit."""
    embeds = reply.json.get("embeds") or []
    parts = [reply.json.get("content") or ""]
    for embed in embeds:
        parts += [embed.get("title", ""), embed.get("description", ""), (embed.get("footer") or {}).get("text", "")]
        parts += [f["name"] + " " + f["value"] for f in embed.get("fields", [])]
    return "\n".join(parts).replace("\\", "")  # markdown escapes off, for reading


@pytest.mark.asyncio
async def test_admin_adds_a_url_with_progress_in_the_private_response(admin: Admin) -> None:
    server = admin.server
    kb = next(c for c in server.synced_commands[str(server.guild_id)] if c["name"] == "kb")
    assert int(kb["default_member_permissions"]) == permissions("manage_guild")  # hidden from members
    assert {"add-url", "add-file", "add-text", "list", "show", "remove", "set-kind", "refresh", "log",
            "subscribe", "unsubscribe", "feeds", "poll", "gaps", "stats"} == {o["name"] for o in kb["options"]}

    url = admin.web.url("/article")
    final = await admin.kb("add-url", {"url": url, "kind": "analysis"})

    assert text_of(final).startswith("added ") and final.json["allowed_mentions"] == NO_PINGS
    edits = [r for r in server.calls("PATCH", "/messages/@original")]
    assert text_of(edits[0]).startswith("Working on it… 1 of 1 documents added")  # progress, then the result
    assert edits[-1] is final
    assert server.sent_messages[-1]["flags"] & FLAG_EPHEMERAL
    document = next(d for d in admin.stored().values() if d.url == url)
    assert document.kind.value == "analysis"
    assert text_of(await admin.kb("refresh", {"id": document.id})) == "unchanged"


@pytest.mark.asyncio
async def test_admin_adds_a_file_and_bad_files_are_refused_before_any_download(admin: Admin) -> None:
    server = admin.server
    story = ("---\ntitle: Kherson ferry restored\npublisher: Local Desk\n---\n"
             "The ferry across the Dnipro near Kherson carried passengers again on Monday after repairs.\n")
    good = server.user_attachment("ferry report (final).MD", story.encode(), "text/markdown")
    final = await admin.kb("add-file", {"file": good, "kind": "news"})
    assert text_of(final).startswith("added ferry_report_final"), text_of(final)
    assert admin.stored()["ferry_report_final"].kind.value == "news"  # over the front matter's default
    logged = admin.service.audit.entries(1)[0]
    assert (logged.action, logged.target, logged.result) == (
        "add-files", "upload ferry_report_final.md", "ok: added ferry_report_final (1 passages)")
    assert len(server.calls("GET", "/attachments/")) == 1

    bad_suffix = server.user_attachment("payload.exe", b"MZ\x90\x00")
    too_big = server.user_attachment("huge.pdf", b"%PDF-1.4", size=11 * 1024 * 1024)
    assert ".txt, .md" in text_of(await admin.kb("add-file", {"file": bad_suffix}))
    assert "uploads are limited to 10 MB" in text_of(await admin.kb("add-file", {"file": too_big}))
    assert len(server.calls("GET", "/attachments/")) == 1  # neither was downloaded
    assert not {"payload", "huge"} & set(admin.stored())


@pytest.mark.asyncio
async def test_non_admin_is_refused_nothing_is_fetched_and_the_refusal_is_audited(admin: Admin) -> None:
    server = admin.server
    url = admin.web.url("/article")
    refused_url = await admin.kb("add-url", {"url": url}, user=MEMBER)
    file = server.user_attachment("notes.txt", b"Notes\nShelling reported overnight in Kharkiv.")
    refused_file = await admin.kb("add-file", {"file": file}, user=MEMBER)

    for reply in (refused_url, refused_file):
        assert reply.json["content"] == REFUSED
        assert server.messages[int(server.sent_messages[-1]["id"])]["flags"] & FLAG_EPHEMERAL
    assert admin.web.seen == [] and server.calls("GET", "/attachments/") == []
    assert not any(d.url == url for d in admin.stored().values()) and "notes" not in admin.stored()
    refusals = [e for e in admin.service.audit.entries(50) if e.result.startswith("refused")]
    assert {(e.platform, e.user_id, e.action, e.target) for e in refusals} == {
        ("discord", str(MEMBER), "add-url", url), ("discord", str(MEMBER), "add-files", "notes.txt")}


@pytest.mark.asyncio
async def test_add_text_list_with_pages_show_set_kind_remove_and_log(admin: Admin, tmp_path: Path) -> None:
    server = admin.server
    for number in range(12):
        (tmp_path / f"doc{number}.txt").write_text(f"Report number {number}\nShelling reported in district {number} overnight.")
    admin.service.ingest(admin.service.read(sorted(tmp_path.glob("doc*.txt")), "test").documents)

    added = await admin.kb("add-text", {"title": "Statement on the grain corridor",
                                        "text": "Ships left Odesa ports through the corridor on Friday, the ministry said."})
    assert text_of(added).startswith("added statement-on-the-grain-corridor")
    document_id = next(i for i in admin.stored() if i.startswith("statement-on-the-grain-corridor"))

    listed = await admin.kb("list")
    assert "Page 1 of 2" in text_of(listed)
    following = next(i for i in custom_ids(listed) if ":next:" in i)
    start = len(server.requests)
    click = server.component_interaction(following, server.messages[int(server.sent_messages[-1]["id"])], user_id=ADMIN)
    await server.dispatch("INTERACTION_CREATE", click)
    assert (await server.wait_for("POST", f"/interactions/{click['id']}/", after=start)).json["type"] == 6
    page_two = await server.wait_for("PATCH", "/messages/@original", after=start)
    assert "Page 2 of 2" in text_of(page_two) and any(":prev:" in i for i in custom_ids(page_two))
    filtered = await admin.kb("list", {"kind": "analysis"})
    assert "turning-tides" in text_of(filtered) and "doc3" not in text_of(filtered)

    shown = await admin.kb("show", {"id": document_id})
    assert "Ships left Odesa" in text_of(shown) and "Statement on the grain corridor" in text_of(shown)
    assert "is now fact-check" in text_of(await admin.kb("set-kind", {"id": document_id, "kind": "fact-check"}))
    assert admin.stored()[document_id].kind.value == "fact-check"
    assert "Removed" in text_of(await admin.kb("remove", {"id": document_id}))
    assert document_id not in admin.stored()
    assert "no document" in text_of(await admin.kb("show", {"id": document_id})).lower()

    log = text_of(await admin.kb("log"))
    assert f"discord:{ADMIN}" in log and "remove" in log and "set-kind" in log and "add-text" in log


@pytest.mark.asyncio
async def test_a_huge_page_option_is_past_the_end_not_an_overflow(admin: Admin) -> None:
    """Slash options carry integers up to 2^53 (the stand-in, any size): times the page size
    that overflows SQL's INTEGER unless clamped. The answer is the usual past-the-end line."""
    huge = 2**62
    listed = text_of(await admin.kb("list", {"page": huge}))
    assert f"there is no page {huge}" in listed and "Sorry" not in listed
    logged = text_of(await admin.kb("log", {"page": huge}))
    assert "no entries" in logged and "Sorry" not in logged


@pytest.mark.asyncio
async def test_subscribe_then_the_scheduled_poll_adds_the_entries(admin: Admin) -> None:
    feed = admin.web.url("/feed.rss")
    assert "Subscribed to Local wire" in text_of(await admin.kb("subscribe", {"url": feed}))
    assert "Local wire" in text_of(await admin.kb("feeds"))
    loop = admin.client.admins.feed_loop
    assert loop is not None and loop.is_running()
    # Still waiting out the first interval: an iteration run at start would have set the next one.
    assert loop.next_iteration is None and not any(p.startswith("/story") for p in admin.web.seen)

    await loop.coro()  # one scheduled poll, without waiting an hour

    stories = {d.url for d in admin.stored().values() if d.url and "/story/" in d.url}
    assert stories == {admin.web.url("/story/1"), admin.web.url("/story/2")}
    assert any(e.platform == "scheduler" and e.action == "poll-feed" for e in admin.service.audit.entries(20))
    assert f"{feed}: 0 added" in text_of(await admin.kb("poll"))  # by hand: nothing new
    assert "Unsubscribed" in text_of(await admin.kb("unsubscribe", {"url": feed}))
    assert "no feeds are subscribed" in text_of(await admin.kb("feeds"))


@pytest.mark.asyncio
async def test_gaps_group_declined_questions_and_stats_count_them(admin: Admin) -> None:
    asker = admin.service.actor("discord", 777, "asker")
    for question in ("Who won the football world cup in 2018?", "which country won the 2018 world cup?"):
        assert not admin.service.ask(question, asker).found

    gaps = text_of(await admin.kb("gaps"))
    assert "1. asked 2× (2 declined)" in gaps and "world cup" in gaps
    stats = text_of(await admin.kb("stats", {"weeks": 4}))
    assert "questions: 2" in stats and "answered: 0" in stats


@pytest.mark.asyncio
async def test_progress_edits_are_throttled_marshalled_and_never_after_the_result() -> None:
    shown: list[str | None] = []
    now = [0.0]

    async def edit(reply: Reply) -> None:
        shown.append(reply.content)

    edits = ProgressEdits(edit, interval=2.0, clock=lambda: now[0])
    loop = asyncio.get_running_loop()

    async def report_from_a_thread(done: int, at: float) -> None:
        now[0] = at
        await loop.run_in_executor(None, edits.progress, done, 5)
        for _ in range(3):  # the marshalled call, then the edit task
            await asyncio.sleep(0)

    await report_from_a_thread(1, 0.0)
    await report_from_a_thread(2, 1.0)  # within 2 s of the last edit: skipped
    await report_from_a_thread(3, 2.5)
    await edits.finish(Reply("Done"))
    await report_from_a_thread(4, 9.0)  # late: the result stays
    assert shown == ["Working on it… 1 of 5 documents added", "Working on it… 3 of 5 documents added", "Done"]


def test_code_blocks_fit_discord() -> None:
    block = code_block(["x" * 500] * 40)
    assert len(block) <= DESCRIPTION_LIMIT and block.endswith("more lines\n```") and block.count("```") == 2
    assert code_block(["a", "b"]) == "```\na\nb\n```"
    assert code_block(["``` @everyone"]).count("```") == 2  # cannot close the block early
