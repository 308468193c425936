"""/kb and admin uploads: the real Application against the stand-in Bot API and web server."""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from telegram import Bot

from bot.runtime.service import CrisisBot
from bot.adapters.telegram.kb import ProgressMessage
from tests.bot.adapters.telegram.test_adapter import Running, buttons, start, stop
from tests.telegram_server import FakeTelegram, Recorded
from tests.web_server import LocalServer

ADMIN = 501  # the stand-in's default private-chat user
MEMBER = 777


@pytest_asyncio.fixture
async def admin_bot(
    telegram_server: FakeTelegram, make_service: Callable[..., CrisisBot],
) -> AsyncIterator[Running]:
    service = make_service(telegram_admin_ids=str(ADMIN), allow_private_urls=True)
    application = await start(telegram_server, service)
    yield Running(telegram_server, service, application)
    await stop(application)


async def edited_into(running: Running, update: dict[str, Any], done: Callable[[str], bool]) -> tuple[Recorded, Recorded]:
    """Push an update; return the "Working on it…" message and the edit that `done` accepts."""
    start_index = len(running.server.requests)
    running.server.push_update(update)
    working = await running.server.wait_for(
        "sendMessage", lambda r: r.params["text"].startswith("Working on it"), after=start_index)
    final = await running.server.wait_for(
        "editMessageText", lambda r: done(r.params["text"]), after=start_index, timeout=60)
    return working, final


@pytest.mark.asyncio
async def test_admin_adds_a_url_and_the_working_message_becomes_the_result(admin_bot: Running, web: LocalServer) -> None:
    server, service = admin_bot.server, admin_bot.service
    url = web.url("/article")
    _, final = await edited_into(admin_bot, server.private_message(f"/kb add {url} news"),
                                 lambda text: text.startswith("added ") or "Sorry" in text)
    assert final.params["text"].startswith("added ") and "passages" in final.params["text"]
    assert final.params["message_id"] == server.sent_messages[0]["message_id"]  # the same message
    assert any(d.url == url and d.kind.value == "news" for d in service.store.documents())
    answer = service.ask("Did the grain corridor reopen?")
    assert answer.found and any(s.document.url == url for s in answer.sources)

    failed = await edited_into(admin_bot, server.private_message(f"/kb add {web.url('/image')}"),
                               lambda text: "added" not in text and not text.startswith("Working"))
    assert "Sorry" not in failed[1].params["text"]  # a source error, told as such
    usage = await admin_bot.reply_to(server.private_message("/kb add"))
    assert usage.params["text"].startswith("Usage: /kb add <url>")


@pytest.mark.asyncio
async def test_admin_uploads_a_file_and_bad_files_are_refused_before_download(
    admin_bot: Running, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server, service = admin_bot.server, admin_bot.service
    uploads = tmp_path / "tmp"
    uploads.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(uploads))
    note = ("---\ntitle: Kherson ferry schedule\npublisher: Oblast council\nkind: official-statement\n"
            "published: 2024-12-02\n---\nThe river ferry between Kherson and Hola Prystan runs "
            "twice a day again, the oblast council said.\n")
    _, final = await edited_into(admin_bot, server.document_message("Ferry notice (v2).MD", note.encode()),
                                 lambda text: text.startswith("added ") or "Sorry" in text or "can't" in text)
    assert final.params["text"].startswith("added Ferry_notice_v2")
    info = service.store.document_info("Ferry_notice_v2")
    assert info.title == "Kherson ferry schedule" and info.added_by == f"telegram:{ADMIN}"
    assert len(server.downloads()) == 1 and list(uploads.iterdir()) == []  # temp file deleted
    logged = service.audit.entries(1)[0]
    assert (logged.action, logged.target) == ("add-files", "upload Ferry_notice_v2.md")

    refused = await admin_bot.reply_to(server.document_message("minutes.docx", b"PK\x03\x04"))
    assert "can't add minutes.docx" in refused.params["text"]
    huge = await admin_bot.reply_to(server.document_message("archive.pdf", b"%PDF", file_size=11 * 1024 * 1024))
    assert "limited to 10 MB" in huge.params["text"]
    assert len(server.calls("getFile")) == 1 and len(server.downloads()) == 1  # neither fetched

    # In a group, only a document captioned "/kb add" is an upload.
    group_doc = server.document_message("brief.txt", b"Bridge repaired\nThe Izium bridge reopened.",
                                        chat_id=-100777, user_id=ADMIN, caption="/kb add")
    _, group_final = await edited_into(admin_bot, group_doc,
                                    lambda text: text.startswith("added ") or "Sorry" in text)
    assert group_final.params["text"].startswith("added brief")


@pytest.mark.asyncio
async def test_pasted_text_is_ingested(admin_bot: Running) -> None:
    server, service = admin_bot.server, admin_bot.service
    reply = await admin_bot.reply_to(server.private_message(
        "/kb text Statement on <evacuation> & aid\nThe regional administration announced the "
        "evacuation of children from Kupiansk district.\nBuses leave every morning."))
    assert reply.params["text"].startswith("added statement-on-evacuation-aid-")
    document_id = reply.params["text"].split()[1]
    assert "Buses leave every morning." in service.store.first_passage_text(document_id)

    quoted = server.private_message("Power was restored in Sumy after the overnight strikes.", user_id=ADMIN)
    as_reply = server.private_message("/kb text Sumy power update")
    as_reply["message"]["reply_to_message"] = quoted["message"]
    second = await admin_bot.reply_to(as_reply)
    assert second.params["text"].startswith("added sumy-power-update-")

    no_url = await edited_into(admin_bot, server.private_message(f"/kb refresh {document_id}"),
                               lambda text: "URL" in text)
    assert "has no URL to refresh" in no_url[1].params["text"]


@pytest.mark.asyncio
async def test_list_pages_show_kind_remove_and_log(admin_bot: Running, tmp_path: Path) -> None:
    server, service = admin_bot.server, admin_bot.service
    for number in range(12):
        (tmp_path / f"doc{number}.txt").write_text(f"Report number {number}\nShelling reported in district {number} overnight.")
    service.ingest(service.read(sorted(tmp_path.glob("doc*.txt")), "test").documents)

    first = await admin_bot.reply_to(server.private_message("/kb list"))
    assert "13 documents" in first.params["text"] and "page 1 of 2" in first.params["text"]
    assert first.params["text"].count("<code>") == 10
    following = next(b for b in buttons(first) if b["text"].startswith("Next"))
    page_two = await admin_bot.reply_to(server.callback_query(following["callback_data"], server.sent_messages[-1]),
                                        "editMessageText")
    assert "page 2 of 2" in page_two.params["text"] and [b["text"] for b in buttons(page_two)] == ["‹ Previous"]

    # Filters far longer than 64 bytes still page: the whole ListRequest rides in PTB's callback data cache.
    publisher = "Ministry for the Reintegration of the Temporarily Occupied Territories"
    for number in range(11):
        (tmp_path / f"min{number}.md").write_text(
            f"---\ntitle: Notice {number}\npublisher: {publisher}\n---\nConvoy {number} reached Kherson.\n")
    service.ingest(service.read(sorted(tmp_path.glob("min*.md")), "test").documents)
    filtered = await admin_bot.reply_to(server.private_message(f'/kb list publisher="{publisher}" kind=other'))
    assert "11 documents" in filtered.params["text"] and f"publisher={publisher}" in filtered.params["text"]
    onward = next(b for b in buttons(filtered) if b["text"].startswith("Next"))
    assert len(onward["callback_data"].encode()) <= 64
    filtered_two = await admin_bot.reply_to(server.callback_query(onward["callback_data"], server.sent_messages[-1]),
                                            "editMessageText")
    assert "11 documents</b> (page 2 of 2)" in filtered_two.params["text"] and "Notice" in filtered_two.params["text"]
    bad = await admin_bot.reply_to(server.private_message("/kb list colour=red"))
    assert "Usage: /kb list" in bad.params["text"]
    huge = await admin_bot.reply_to(server.private_message("/kb list 99999999999999999999"))
    assert "Usage: /kb list" in huge.params["text"] and "Sorry" not in huge.params["text"]
    far = await admin_bot.reply_to(server.private_message("/kb list 999999999"))
    assert "999999999" in far.params["text"] and "Sorry" not in far.params["text"]
    far_log = await admin_bot.reply_to(server.private_message("/kb log 999999999"))
    assert far_log.params["text"].endswith("\nNo entries.")

    shown = await admin_bot.reply_to(server.private_message("/kb show doc3"))
    assert "Report number 3" in shown.params["text"] and "Shelling reported in district 3" in shown.params["text"]
    kind = await admin_bot.reply_to(server.private_message("/kb kind doc3 fact-check"))
    assert "is now fact-check" in kind.params["text"]
    removed = await admin_bot.reply_to(server.private_message("/kb remove doc4"))
    assert "Removed" in removed.params["text"]
    assert "doc4" not in {d.id for d in service.store.documents()}
    missing = await admin_bot.reply_to(server.private_message("/kb show"))
    assert missing.params["text"] == "Usage: /kb show <id>"

    log = await admin_bot.reply_to(server.private_message("/kb log"))
    assert "remove doc4" in log.params["text"] and "set-kind doc3" in log.params["text"]
    unknown = await admin_bot.reply_to(server.private_message("/kb frobnicate"))
    assert "I don't know /kb frobnicate" in unknown.params["text"] and "/kb add &lt;url&gt;" in unknown.params["text"]
    helped = await admin_bot.reply_to(server.private_message("/help"))
    assert "/kb help" in helped.params["text"]


@pytest.mark.asyncio
async def test_a_member_is_refused_by_the_core_and_the_refusal_is_audited(admin_bot: Running, web: LocalServer) -> None:
    server, service = admin_bot.server, admin_bot.service
    before = {d.id for d in service.store.documents()}
    _, refused = await edited_into(admin_bot, server.private_message(f"/kb add {web.url('/article')}", user_id=MEMBER),
                                   lambda text: "admins" in text or "added" in text)
    assert refused.params["text"] == "Only admins may do that."
    upload = await admin_bot.reply_to(server.document_message("notes.txt", b"Title\nBody text.", user_id=MEMBER),
                                      chat_id=MEMBER)
    assert upload.params["text"] == "Only admins may do that."
    assert server.calls("getFile") == [] and server.downloads() == []
    assert web.seen == [] and {d.id for d in service.store.documents()} == before

    entries = [e for e in service.audit.entries(50) if e.result.startswith("refused")]
    assert {(e.platform, e.user_id, e.action, e.target) for e in entries} == {
        ("telegram", str(MEMBER), "add-url", web.url("/article")), ("telegram", str(MEMBER), "add-files", "notes.txt")}
    helped = await admin_bot.reply_to(server.private_message("/help", user_id=MEMBER), chat_id=MEMBER)
    assert "/kb" not in helped.params["text"]


@pytest.mark.asyncio
async def test_subscribe_then_the_scheduled_job_and_kb_poll_ingest_entries(admin_bot: Running, web: LocalServer) -> None:
    server, service, application = admin_bot.server, admin_bot.service, admin_bot.application
    feed = web.url("/feed.rss")
    subscribed = await admin_bot.reply_to(server.private_message(f"/kb subscribe {feed}"))
    assert "Subscribed to Local wire" in subscribed.params["text"]
    feeds = await admin_bot.reply_to(server.private_message("/kb feeds"))
    assert feed in feeds.params["text"] and "not polled yet" in feeds.params["text"]

    assert application.job_queue is not None
    (job,) = application.job_queue.get_jobs_by_name("poll-feeds")
    assert job.job.trigger.interval == timedelta(minutes=service.settings.feed_poll_minutes)
    await job.run(application)  # the scheduled run, now rather than in an hour
    titles = {d.title for d in service.store.documents()}
    assert {"Story 1", "Story 2"} <= titles
    assert any(e.platform == "scheduler" and e.action == "poll-feed" for e in service.audit.entries(20))

    web.feed_items.append(("/story/3", "Story 3"))
    _, polled = await edited_into(admin_bot, server.private_message("/kb poll"), lambda text: f"{feed}:" in text)
    assert f"{feed}: 1 added" in polled.params["text"]
    gone = await admin_bot.reply_to(server.private_message(f"/kb unsubscribe {feed}"))
    assert "Unsubscribed" in gone.params["text"]


@pytest.mark.asyncio
async def test_gaps_group_declined_questions_and_stats_show_totals(admin_bot: Running) -> None:
    server, service = admin_bot.server, admin_bot.service
    asker = service.actor("telegram", 901, "Taras")
    for question in ["What's a good banana bread recipe?", "how do I bake banana bread",
                     "Best banana bread recipe please"]:
        assert not (await asyncio.to_thread(service.ask, question, asker)).found
    gaps = await admin_bot.reply_to(server.private_message("/kb gaps"))
    assert "asked 3× (3 declined)" in gaps.params["text"] and "banana bread" in gaps.params["text"]
    stats = await admin_bot.reply_to(server.private_message("/kb stats 4"))
    text = stats.params["text"]
    assert text.startswith("<pre>") and "questions: 3" in text and "answered: 0" in text


@pytest.mark.asyncio
async def test_progress_edits_are_throttled_and_the_result_comes_last(telegram_server: FakeTelegram) -> None:
    async with Bot(telegram_server.token, base_url=telegram_server.base_url) as bot:
        sent = await bot.send_message(501, "question")
        now = [0.0]
        progress = await ProgressMessage.send(sent, interval=2.0, clock=lambda: now[0])
        for step in range(10):  # 10 reports over 5 s of the test's clock, from another thread
            now[0] = step * 0.5
            await asyncio.to_thread(progress.report, step + 1, 10)
        await progress.finish(["<b>done</b>"])
    edits = [r.params["text"] for r in telegram_server.calls("editMessageText")]
    assert edits == ["Working on it… 5 of 10 documents added", "Working on it… 9 of 10 documents added",
                     "<b>done</b>"]
