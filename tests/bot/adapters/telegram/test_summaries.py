"""/summary, /digest, the Post button and the scheduled digest: the real Application against
the stand-in Bot API, the real model and a small dated knowledge base."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot.core.previews import EXPIRED, NOT_YOURS, POST_FAILED
from bot.core.render import NO_DIGEST
from bot.runtime.service import CrisisBot
from bot.core.summary import Digest, DigestTopic
from bot.adapters.telegram.formatting import escape, visible_length
from bot.adapters.telegram.summaries import ptb_days
from bot.core.messages import TELEGRAM_SENT_PREVIEW as SENT_PREVIEW
from bot.adapters.telegram.summary_format import digest_messages, posted_by
from knowledge.documents import Document, Kind
from tests.bot.adapters.telegram.test_adapter import Running, buttons, start, stop
from tests.bot.adapters.telegram.test_kb import edited_into
from tests.factories import document_info, quoted_answer
from tests.telegram_html import parse_html
from tests.telegram_server import FakeTelegram, Recorded
from tests.web_server import LocalServer

GROUP = -100777  # the stand-in's default group
MODERATOR = 502  # the stand-in's default group member; made a group administrator below
MEMBER = 503
ADMIN = 501  # the stand-in's default private-chat user
DIGEST_CHAT = -100999
TOPIC = "grain corridor"
REPORTS = [
    ("corridor-reopens", "Odesa grain corridor reopens after strikes", "Black Sea Monitor", "2024-11-02",
     "Ukraine reopened the Black Sea grain corridor from Odesa on Saturday after a week of strikes on port "
     "infrastructure. The first convoy of five bulk carriers left the port of Chornomorsk carrying wheat and maize."),
    ("corridor-insurance", "Insurers raise premiums for <grain> corridor ships", "Lloyd's List & Co", "2024-11-05",
     "Insurers raised war-risk premiums for ships using the grain corridor after a drone hit a vessel near Izmail. "
     "Port officials said loading of grain continued at night despite the air-raid alerts."),
    ("corridor-october", "Grain corridor exports reach four million tonnes", "Ministry of Agrarian Policy",
     "2024-11-09",
     "Grain exports through the Black Sea corridor reached four million tonnes in October, the agriculture "
     "ministry said. Most of the wheat shipped through the corridor went to Egypt, Turkey and Spain."),
]


def add_reports(service: CrisisBot, days_ago: float) -> None:
    added_at = (datetime.now(timezone.utc) - timedelta(days=days_ago)).isoformat(timespec="seconds")
    service.ingest([Document(id=i, title=t, text=x, publisher=p, kind=Kind.NEWS, published=d,
                             added_by="test", added_at=added_at) for i, t, p, d, x in REPORTS])


async def started(server: FakeTelegram, service: CrisisBot) -> Running:
    server.chat_admins[GROUP] = [MODERATOR]
    return Running(server, service, await start(server, service))


def sent_to(server: FakeTelegram, chat_id: int, after: int = 0) -> list[Recorded]:
    return [r for r in server.requests[after:] if r.method == "sendMessage" and r.params.get("chat_id") == chat_id]


def message_of(server: FakeTelegram, request: Recorded) -> dict[str, Any]:
    """The stand-in's stored message for a sendMessage request (to press its button)."""
    return next(m for m in reversed(server.sent_messages) if m["chat"]["id"] == request.params["chat_id"]
                and m.get("reply_markup") == request.params.get("reply_markup"))


@pytest.mark.asyncio
async def test_a_group_moderator_previews_privately_then_posts_to_the_group(
    telegram_server: FakeTelegram, make_service: Callable[..., CrisisBot],
) -> None:
    server, service = telegram_server, make_service()
    add_reports(service, days_ago=1)
    bot = await started(server, service)
    try:
        begin = len(server.requests)
        server.push_update(server.group_message(f"/summary {TOPIC}", user_id=MODERATOR))
        preview = await server.wait_for("sendMessage", lambda r: bool(buttons(r)), after=begin, timeout=60)
        note = await server.wait_for("sendMessage", lambda r: r.params["chat_id"] == GROUP, after=begin)
        assert preview.params["chat_id"] == MODERATOR and preview.params["parse_mode"] == "HTML"
        text = preview.params["text"]
        assert text.startswith(f"<b>What the knowledge base says about “{TOPIC}”, 2024-11-")
        assert "<b>Sources</b>" in text and "Lloyd&#x27;s" not in text and "Lloyd's List &amp; Co" in text
        (button,) = buttons(preview)
        assert button["text"] == "Post to channel" and len(button["callback_data"].encode()) <= 64
        assert note.params["text"] == SENT_PREVIEW
        assert [r.params["text"] for r in sent_to(server, GROUP, begin)] == [SENT_PREVIEW]

        # Every quote is a verbatim slice of a stored passage (the core is deterministic).
        summary = service.summarize(TOPIC)
        assert len(summary.answer.quotes) >= 2
        for quote in summary.answer.quotes:
            assert quote.text in service.store.stored_passages([quote.passage_id])[quote.passage_id].passage.text
            assert escape(quote.text) in text

        stored_preview = message_of(server, preview)
        refused = await bot.reply_to(server.callback_query(button["callback_data"], stored_preview, user_id=MEMBER),
                                     "answerCallbackQuery")
        assert refused.params["text"] == NOT_YOURS
        begin = len(server.requests)
        server.push_update(server.callback_query(button["callback_data"], stored_preview, user_id=MODERATOR))
        posted = await server.wait_for("sendMessage", lambda r: r.params["chat_id"] == GROUP, after=begin)
        edited = await server.wait_for("editMessageText", after=begin)
        assert posted.params["text"] == text + posted_by("User502")
        assert buttons(posted) == []
        assert edited.params["chat_id"] == MODERATOR and "Posted to Group -100777" in edited.params["text"]
        assert "reply_markup" not in edited.params  # the button is gone

        again = await bot.reply_to(server.callback_query(button["callback_data"], stored_preview, user_id=MODERATOR),
                                   "answerCallbackQuery")
        assert again.params["text"] == EXPIRED.format(command="summary")
        assert len(sent_to(server, GROUP)) == 2  # the note and the one post
    finally:
        await stop(bot.application)


@pytest.mark.asyncio
async def test_the_press_asks_for_the_group_administrators_afresh(
    telegram_server: FakeTelegram, make_service: Callable[..., CrisisBot],
) -> None:
    """The preview was allowed by the (cached) administrator list; the press asks Telegram
    again, and when Telegram cannot say, nothing is posted and the preview keeps waiting."""
    server, service = telegram_server, make_service()
    add_reports(service, days_ago=1)
    bot = await started(server, service)
    try:
        begin = len(server.requests)
        server.push_update(server.group_message(f"/summary {TOPIC}", user_id=MODERATOR))
        preview = await server.wait_for("sendMessage", lambda r: bool(buttons(r)), after=begin, timeout=60)
        await server.wait_for("sendMessage", lambda r: r.params["chat_id"] == GROUP, after=begin)
        asked = len(server.calls("getChatAdministrators"))
        (button,) = buttons(preview)
        press = server.callback_query(button["callback_data"], message_of(server, preview), user_id=MODERATOR)
        server.fail_next("getChatAdministrators", status=400, retry_after=None, description="Bad Request: chat not found")
        failed = await bot.reply_to(press, "answerCallbackQuery")
        assert failed.params["text"] == POST_FAILED.format(place=f"Group {GROUP}", reason="Chat not found")
        assert len(server.calls("getChatAdministrators")) == asked + 1
        assert len(sent_to(server, GROUP)) == 1  # the note only

        begin = len(server.requests)
        server.push_update(server.callback_query(button["callback_data"], message_of(server, preview),
                                                 user_id=MODERATOR))
        posted = await server.wait_for("sendMessage", lambda r: r.params["chat_id"] == GROUP, after=begin)
        assert posted.params["text"].endswith(posted_by("User502"))
        assert len(server.calls("getChatAdministrators")) == asked + 2  # not from the cache
    finally:
        await stop(bot.application)


@pytest.mark.asyncio
async def test_members_are_refused_and_nothing_is_sent(
    telegram_server: FakeTelegram, make_service: Callable[..., CrisisBot],
) -> None:
    server = telegram_server
    bot = await started(server, make_service())
    try:
        refused = await bot.reply_to(server.group_message(f"/summary {TOPIC}", user_id=MEMBER), chat_id=GROUP)
        assert refused.params["text"] == "Only moderators may do that."
        private = await bot.reply_to(server.private_message("/digest", user_id=MEMBER), chat_id=MEMBER)
        assert private.params["text"] == "Only moderators may do that."
        assert len(server.calls("sendMessage")) == 2  # the two refusals, no preview anywhere
        usage = await bot.reply_to(server.group_message("/summary grain since=", user_id=MODERATOR))
        assert "Usage: /summary" in usage.params["text"]
        bad_range = await bot.reply_to(server.group_message("/summary since=2024-12 until=2024-11", user_id=MODERATOR))
        assert "before it starts" in bad_range.params["text"] and bad_range.params["chat_id"] == GROUP
    finally:
        await stop(bot.application)


@pytest.mark.asyncio
async def test_a_moderator_who_never_started_the_bot_is_told_to_open_a_private_chat(
    telegram_server: FakeTelegram, make_service: Callable[..., CrisisBot],
) -> None:
    server = telegram_server
    server.not_started.add(MODERATOR)
    bot = await started(server, make_service())
    try:
        told = await bot.reply_to(server.group_message("/summary North Korean troops", user_id=MODERATOR),
                                  chat_id=GROUP)
        assert "open a private chat with @crisis_test_bot" in told.params["text"].lower()
        (refused_dm,) = sent_to(server, MODERATOR)  # Telegram refused it (403)
        assert "North Korean" in refused_dm.params["text"] and buttons(refused_dm)
        assert len(sent_to(server, GROUP)) == 1 and server.sent_messages[-1]["chat"]["id"] == GROUP
        assert "Sources" not in server.sent_messages[-1]["text"]  # never the preview in the group
    finally:
        await stop(bot.application)


@pytest.mark.asyncio
async def test_the_scheduled_digest_posts_new_documents_once(
    telegram_server: FakeTelegram, make_service: Callable[..., CrisisBot],
) -> None:
    server = telegram_server
    service = make_service(telegram_digest_chat_id=DIGEST_CHAT, digest_schedule="tue,sat 07:30",
                           digest_timezone="Europe/Kyiv", load_builtin_knowledge=False)
    add_reports(service, days_ago=2)
    bot = await started(server, service)
    try:
        assert bot.application.job_queue is not None
        (job,) = bot.application.job_queue.get_jobs_by_name("digest")
        trigger = job.job.trigger
        assert trigger.timezone == ZoneInfo("Europe/Kyiv")
        assert {f.name: str(f) for f in trigger.fields if f.name in ("day_of_week", "hour", "minute")} == {
            "day_of_week": "tue,sat", "hour": "7", "minute": "30"}
        assert job.next_t == service.settings.schedule.next_after(datetime.now(timezone.utc))

        await job.run(bot.application)  # the scheduled run, driven by the test
        posted = sent_to(server, DIGEST_CHAT)
        assert posted and posted[0].params["text"].startswith("<b>What's new: 3 documents added")
        assert "Odesa grain corridor reopens" in posted[0].params["text"]
        assert all(visible_length(r.params["text"]) <= 4096 for r in posted)

        await job.run(bot.application)  # right after: nothing new, nothing posted
        assert sent_to(server, DIGEST_CHAT) == posted
    finally:
        await stop(bot.application)


@pytest.mark.asyncio
async def test_no_new_documents_means_no_scheduled_digest(
    telegram_server: FakeTelegram, make_service: Callable[..., CrisisBot],
) -> None:
    server = telegram_server
    service = make_service(telegram_digest_chat_id=DIGEST_CHAT, load_builtin_knowledge=False)
    add_reports(service, days_ago=30)
    bot = await started(server, service)
    try:
        assert bot.application.job_queue is not None
        (job,) = bot.application.job_queue.get_jobs_by_name("digest")
        await job.run(bot.application)
        assert server.calls("sendMessage") == []
        assert service.store.get_meta(f"digest:telegram:{DIGEST_CHAT}") is None  # not marked either
    finally:
        await stop(bot.application)


@pytest.mark.asyncio
async def test_digest_on_demand_previews_privately_and_posting_to_the_digest_chat_marks_it(
    telegram_server: FakeTelegram, make_service: Callable[..., CrisisBot],
) -> None:
    server = telegram_server
    service = make_service(telegram_digest_chat_id=DIGEST_CHAT, telegram_moderator_ids=str(MODERATOR),
                           load_builtin_knowledge=False)
    add_reports(service, days_ago=1)
    bot = await started(server, service)
    try:
        preview = await bot.reply_to(server.private_message("/digest", user_id=MODERATOR), chat_id=MODERATOR)
        assert "3 documents added" in preview.params["text"] and buttons(preview)
        (button,) = buttons(preview)
        begin = len(server.requests)
        press = server.callback_query(button["callback_data"], message_of(server, preview), user_id=MODERATOR)
        server.push_update(press)
        posted = await server.wait_for("sendMessage", lambda r: r.params["chat_id"] == DIGEST_CHAT, after=begin)
        assert posted.params["text"].endswith(posted_by("Olena"))  # the private chat user's name
        await server.wait_for("editMessageText", after=begin)

        # Posted to the digest chat: the schedule's next digest starts after it.
        assert bot.application.job_queue is not None
        (job,) = bot.application.job_queue.get_jobs_by_name("digest")
        await job.run(bot.application)
        assert len(sent_to(server, DIGEST_CHAT)) == 1
        empty = await bot.reply_to(server.private_message("/digest", user_id=MODERATOR), chat_id=MODERATOR)
        assert empty.params["text"] == escape(NO_DIGEST) and buttons(empty) == []
        older = await bot.reply_to(server.private_message("/digest since=2020-01-01", user_id=MODERATOR),
                                   chat_id=MODERATOR)
        assert "3 documents added 2020-01-01" in older.params["text"]
        helped = await bot.reply_to(server.private_message("/help", user_id=MODERATOR), chat_id=MODERATOR)
        assert "As a moderator, /summary" in helped.params["text"] and "/kb help" not in helped.params["text"]
        member_help = await bot.reply_to(server.private_message("/help", user_id=MEMBER), chat_id=MEMBER)
        assert "/summary" not in member_help.params["text"]
        scoped = [c.params for c in server.calls("setMyCommands") if c.params.get("scope")]
        assert [c["command"] for c in scoped[0]["commands"]][-2:] == ["summary", "digest"]
        assert scoped[0]["scope"] == {"type": "all_chat_administrators"}
    finally:
        await stop(bot.application)


def test_digest_rendering_splits_into_valid_html_and_days_follow_ptb() -> None:
    long = "The convoy <of> grain & maize left Odesa port at dawn after the strikes ended. " * 8
    documents = [document_info(id=f"d{n}", title=f"Report <{n}> & more", published=f"2024-11-0{n}")
                 for n in range(1, 8)]
    topics = [DigestTopic(f"Topic <{n}>", quoted_answer([long.strip()], [documents[n]]), [documents[n].id])
              for n in range(7)]
    digest = Digest("2024-11-18T00:00:00+00:00", "2024-11-25T00:00:00+00:00", topics, 7, more_topics=2)
    messages = digest_messages(digest, limit=1500)
    assert len(messages) >= 3
    for message in messages:
        plain, _ = parse_html(message)  # the stand-in's parser: raises on bad HTML
        assert len(plain) <= 1500 - 200  # room left for "Posted by …"
    joined = "\n".join(parse_html(m)[0] for m in messages)
    assert joined.startswith("What's new: 7 documents added 2024-11-18 to 2024-11-25, in 7 topics")
    assert joined.count("The convoy <of> grain & maize") == 7 * 8 and "… and 2 smaller topics." in joined
    assert "7. Topic <6>" in joined
    # date.weekday() (Monday 0) -> PTB 20+ run_daily (Sunday 0).
    assert ptb_days({0}) == (1,) and ptb_days({6}) == (0,) and ptb_days(range(7)) == tuple(range(7))


@pytest.mark.asyncio
@pytest.mark.parametrize("run_schedules", [True, False])
async def test_run_schedules_false_registers_no_job_and_the_commands_still_work(
    telegram_server: FakeTelegram, make_service: Callable[..., CrisisBot], web: LocalServer, run_schedules: bool,
) -> None:
    """With `run_schedules = false` (a deployment with `crisisbot worker`) neither the feed
    poll nor the digest is scheduled; /digest, its Post button and /kb poll work as before."""
    server = telegram_server
    service = make_service(telegram_digest_chat_id=DIGEST_CHAT, telegram_moderator_ids=str(MODERATOR),
                           telegram_admin_ids=str(ADMIN), allow_private_urls=True,
                           load_builtin_knowledge=False, run_schedules=run_schedules)
    add_reports(service, days_ago=1)
    bot = await started(server, service)
    try:
        assert bot.application.job_queue is not None
        names = {job.name for job in bot.application.job_queue.jobs()}
        assert names == ({"poll-feeds", "digest"} if run_schedules else set())

        preview = await bot.reply_to(server.private_message("/digest", user_id=MODERATOR), chat_id=MODERATOR)
        (button,) = buttons(preview)
        begin = len(server.requests)
        server.push_update(server.callback_query(button["callback_data"], message_of(server, preview),
                                                 user_id=MODERATOR))
        posted = await server.wait_for("sendMessage", lambda r: r.params["chat_id"] == DIGEST_CHAT, after=begin)
        assert "3 documents added" in posted.params["text"]
        await server.wait_for("editMessageText", after=begin)
        assert service.store.get_meta(f"digest:telegram:{DIGEST_CHAT}") is not None

        feed = web.url("/feed.rss")
        subscribed = await bot.reply_to(server.private_message(f"/kb subscribe {feed}", user_id=ADMIN), chat_id=ADMIN)
        assert "Subscribed" in subscribed.params["text"]
        _, polled = await edited_into(bot, server.private_message("/kb poll", user_id=ADMIN),
                                      lambda text: "added" in text)
        assert f"{feed}: 2 added" in polled.params["text"]
    finally:
        await stop(bot.application)
