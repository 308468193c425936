"""`crisisbot worker`: the feed poll and the scheduled digest without a chat gateway.

The worker posts to the real stand-ins on 127.0.0.1 (`tests/telegram_server.py` through
python-telegram-bot's Bot, `tests/discord_server/` through discord.py's REST client), polls a
feed from the stand-in web server, and runs with the fast hashing embedder. Time is driven by
the test (`run_digest(now)`, a fake clock and sleep for the loops); nothing waits for the
schedule.
"""

from __future__ import annotations

import asyncio
import os
import queue
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot.adapters.cli.app import main
from bot.adapters.discord.summary_format import digest_messages as discord_messages
from bot.core.scheduled_digest import DigestPlace
from bot.core.summaries import DIGEST_SETTLE
from bot.runtime.service import CrisisBot
from bot.runtime.settings import Settings
from bot.core.summary import Digest
from bot.adapters.telegram.summary_format import digest_messages as telegram_messages
from bot.runtime.worker import FAILED, NOTHING_NEW, NOTHING_TO_DO, POSTED, Worker
from knowledge.documents import Document, Kind
from knowledge.errors import ConfigError
from tests.conftest import PROJECT
from tests.discord_server import FakeDiscord
from tests.fakes import HashingEmbedder
from tests.telegram_server import FakeTelegram
from tests.web_server import LocalServer

DIGEST_CHAT = -100999
KYIV = ZoneInfo("Europe/Kyiv")
WAIT = 60.0  # seconds: the longest any test waits for anything
REPORTS = [
    ("corridor-reopens", "Odesa grain corridor reopens after strikes",
     "Ukraine reopened the Black Sea grain corridor from Odesa on Saturday after a week of strikes on port "
     "infrastructure. The first convoy of five bulk carriers left the port of Chornomorsk carrying wheat."),
    ("corridor-insurance", "Insurers raise premiums for <grain> corridor ships",
     "Insurers raised war-risk premiums for ships using the grain corridor after a drone hit a vessel near "
     "Izmail. Port officials said loading of grain continued at night despite the air-raid alerts @everyone."),
    ("power-grid", "Strikes on the power grid cause blackouts in Kharkiv",
     "Russian missiles hit power plants around Kharkiv overnight, leaving much of the city without "
     "electricity. Engineers restored power to hospitals and water pumping stations by the morning."),
]


@pytest.fixture
def make_service(make_settings: Callable[..., Settings]) -> Iterator[Callable[..., CrisisBot]]:
    made: list[CrisisBot] = []

    def make(**overrides: Any) -> CrisisBot:
        overrides.setdefault("load_builtin_knowledge", False)
        service = CrisisBot(make_settings(**overrides), HashingEmbedder())
        service.open()
        made.append(service)
        return service

    yield make
    for service in made:
        service.close()


@pytest.fixture
def both_platforms(make_service: Callable[..., CrisisBot], telegram_server: FakeTelegram,
                   discord_server: FakeDiscord, monkeypatch: pytest.MonkeyPatch) -> CrisisBot:
    """A service configured for the digest on both platforms, pointed at the stand-ins."""
    discord_server.patch_client_urls(monkeypatch)
    return make_service(
        TELEGRAM_BOT_TOKEN=telegram_server.token, telegram_api_url=telegram_server.base_url,
        telegram_digest_chat_id=DIGEST_CHAT, DISCORD_BOT_TOKEN=discord_server.token,
        discord_digest_channel_id=discord_server.channel_id, digest_schedule="tue,sat 07:30",
        digest_timezone="Europe/Kyiv", feed_poll_minutes=0,
    )


def add_reports(service: CrisisBot, added: datetime) -> None:
    stamp = added.astimezone(timezone.utc).isoformat(timespec="seconds")
    service.ingest([Document(id=i, title=t, text=x, publisher="Wire", kind=Kind.NEWS, published="2024-11-02",
                             added_by="test", added_at=stamp) for i, t, x in REPORTS])


def telegram_posts(server: FakeTelegram) -> list[str]:
    return [r.params["text"] for r in server.calls("sendMessage") if r.params.get("chat_id") == DIGEST_CHAT]


def discord_posts(server: FakeDiscord) -> list[dict[str, Any]]:
    return [r.json for r in server.calls("POST", f"/channels/{server.channel_id}/messages")]


def settled(now: datetime) -> str:
    return (now - DIGEST_SETTLE).astimezone(timezone.utc).isoformat(timespec="seconds")


# -- the digest, posted to both stand-ins ------------------------------------------------------


@pytest.mark.asyncio
async def test_a_scheduled_digest_goes_to_both_platforms_once_and_is_marked(
    both_platforms: CrisisBot, telegram_server: FakeTelegram, discord_server: FakeDiscord,
) -> None:
    service = both_platforms
    worker = Worker(service)
    now = worker.next_run(datetime.now(timezone.utc))
    assert now is not None
    add_reports(service, now - timedelta(days=1))
    telegram_key, discord_key = f"telegram:{DIGEST_CHAT}", f"discord:{discord_server.channel_id}"
    expected: Digest = service.digest(key=telegram_key, now=now)  # read only: nothing marked yet
    assert expected.documents == 3

    outcomes = await asyncio.wait_for(worker.run_digest(now), WAIT)
    assert outcomes == {telegram_key: POSTED, discord_key: POSTED}

    # Telegram: the adapter's own HTML rendering, parsed by the stand-in, link previews off.
    sent = telegram_server.calls("sendMessage")
    assert [r.params["text"] for r in sent] == telegram_messages(expected)
    assert all(r.params["parse_mode"] == "HTML" and r.params["link_preview_options"] == {"is_disabled": True}
               for r in sent)
    assert "Insurers raise premiums for &lt;grain&gt; corridor ships" in "".join(telegram_posts(telegram_server))
    assert telegram_server.calls("getUpdates") == [] and telegram_server.unknown == []

    # Discord: the adapter's embeds, over REST only, never pinging anyone.
    posts = discord_posts(discord_server)
    rendered = [[embed.to_dict() for embed in message] for message in discord_messages(expected)]
    assert [[(e.get("title"), e.get("description")) for e in post["embeds"]] for post in posts] == [
        [(e.get("title"), e.get("description")) for e in message] for message in rendered]
    assert all(post["allowed_mentions"] == {"parse": []} for post in posts)
    assert discord_server.gateway_connections == 0 and discord_server.unknown == []

    # Marked where the digest ended; right after, nothing new and nothing posted.
    assert service.store.get_meta(f"digest:{telegram_key}") == settled(now)
    assert service.store.get_meta(f"digest:{discord_key}") == settled(now)
    again = await asyncio.wait_for(worker.run_digest(now + timedelta(minutes=1)), WAIT)
    assert again == {telegram_key: NOTHING_NEW, discord_key: NOTHING_NEW}
    assert len(telegram_server.calls("sendMessage")) == len(sent)
    assert len(discord_posts(discord_server)) == len(posts)


@pytest.mark.asyncio
async def test_nothing_new_posts_nothing_and_marks_nothing(
    both_platforms: CrisisBot, telegram_server: FakeTelegram, discord_server: FakeDiscord,
) -> None:
    worker = Worker(both_platforms)
    now = datetime.now(timezone.utc)
    add_reports(both_platforms, now - timedelta(days=30))  # older than the first digest's week
    outcomes = await asyncio.wait_for(worker.run_digest(now), WAIT)
    assert set(outcomes.values()) == {NOTHING_NEW}
    assert telegram_server.calls("sendMessage") == [] and discord_posts(discord_server) == []
    assert both_platforms.store.get_meta(f"digest:telegram:{DIGEST_CHAT}") is None
    assert both_platforms.store.get_meta(f"digest:discord:{discord_server.channel_id}") is None


@pytest.mark.asyncio
@pytest.mark.parametrize("failing", ["telegram", "discord"])
async def test_a_failed_post_is_not_marked_the_other_place_still_gets_it_and_the_next_run_retries(
    both_platforms: CrisisBot, telegram_server: FakeTelegram, discord_server: FakeDiscord, failing: str,
) -> None:
    service = both_platforms
    worker = Worker(service)
    now = datetime.now(timezone.utc)
    add_reports(service, now - timedelta(days=1))
    keys = {"telegram": f"telegram:{DIGEST_CHAT}", "discord": f"discord:{discord_server.channel_id}"}
    other = "discord" if failing == "telegram" else "telegram"
    if failing == "telegram":
        telegram_server.fail_next("sendMessage", status=403, retry_after=None,
                                  description="Forbidden: bot is not a member of the supergroup chat")
    else:
        discord_server.fail_next("POST", f"/channels/{discord_server.channel_id}/messages", status=403)

    first = await asyncio.wait_for(worker.run_digest(now), WAIT)
    assert first == {keys[failing]: FAILED, keys[other]: POSTED}
    assert service.store.get_meta(f"digest:{keys[failing]}") is None
    assert service.store.get_meta(f"digest:{keys[other]}") == settled(now)

    later = now + timedelta(days=4)  # the next scheduled run: the same documents, once
    second = await asyncio.wait_for(worker.run_digest(later), WAIT)
    assert second == {keys[failing]: POSTED, keys[other]: NOTHING_NEW}
    assert service.store.get_meta(f"digest:{keys[failing]}") == settled(later)
    assert any("3 documents added" in text for text in telegram_posts(telegram_server))
    assert any("3 documents added" in (post["embeds"][0].get("title") or "") for post in discord_posts(discord_server)
               if post["embeds"])


@pytest.mark.asyncio
async def test_the_worker_and_a_chat_adapter_share_the_place_of_a_chat(
    both_platforms: CrisisBot, telegram_server: FakeTelegram, discord_server: FakeDiscord,
) -> None:
    """A digest posted from chat (the adapters mark `telegram:<chat>` / `discord:<channel>`)
    is not posted again by the worker."""
    service = both_platforms
    now = datetime.now(timezone.utc)
    add_reports(service, now - timedelta(days=1))
    for key in (f"telegram:{DIGEST_CHAT}", f"discord:{discord_server.channel_id}"):
        service.mark_digest_posted(key, service.digest(key=key, now=now))
    outcomes = await asyncio.wait_for(Worker(service).run_digest(now + timedelta(minutes=5)), WAIT)
    assert set(outcomes.values()) == {NOTHING_NEW}
    assert telegram_server.calls("sendMessage") == [] and discord_posts(discord_server) == []


# -- feeds --------------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_the_worker_polls_the_feeds_as_the_scheduler(make_service: Callable[..., CrisisBot],
                                                           web: LocalServer) -> None:
    service = make_service(allow_private_urls=True, feed_poll_minutes=30)
    service.admin.subscribe(service.local_operator("olena"), web.url("/feed.rss"))
    worker = Worker(service)
    assert worker.places == [] and worker.next_run(datetime.now(timezone.utc)) is None

    reports = await asyncio.wait_for(worker.run_once_feeds(), WAIT)
    assert [r.added for r in reports] == [[web.url("/story/1"), web.url("/story/2")]]
    assert {d.title for d in service.store.documents()} == {"Story 1", "Story 2"}
    entry = service.audit.entries(limit=1)[0]
    assert (entry.platform, entry.action) == ("scheduler", "poll-feed")


@pytest.mark.asyncio
async def test_a_poll_in_progress_does_not_hold_up_the_digest(make_service: Callable[..., CrisisBot],
                                                             web: LocalServer) -> None:
    """The worker's two threads: at most one poll runs (its loop awaits each) and one digest,
    so a poll however long never keeps the digest waiting. The web server holds the feed's
    entry until released: the poll stays in progress with no sleeps."""
    service = make_service(allow_private_urls=True, feed_poll_minutes=30)
    web.feed_items[:] = [("/held/5", "Story 5")]
    service.admin.subscribe(service.local_operator("olena"), web.url("/feed.rss"))
    posted: list[Digest] = []

    async def post(digest: Digest) -> None:
        posted.append(digest)

    worker = Worker(service, [DigestPlace("test:place", "a test place", post)])
    now = datetime.now(timezone.utc)
    add_reports(service, now - timedelta(days=1))
    poll = asyncio.create_task(worker.run_once_feeds())
    assert await asyncio.to_thread(web.hold.wait_for, 1) == ["/held/5"]  # fetching its entry, held

    assert await asyncio.wait_for(worker.run_digest(now), WAIT) == {"test:place": POSTED}
    assert posted[0].documents == 3 and not poll.done()
    web.hold.release()
    reports = await asyncio.wait_for(poll, WAIT)
    assert [r.added for r in reports] == [[web.url("/held/5")]]


# -- the loops, on a fake clock -----------------------------------------------------------------


class FakeTime:
    """A clock that moves only when slept on: a sleep returns at once, the time advanced."""

    def __init__(self, start: datetime) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def clock(self) -> datetime:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += timedelta(seconds=seconds)
        await asyncio.sleep(0)


def quiet_place(key: str = "test:place") -> DigestPlace:
    async def post(digest: Digest) -> None:
        raise AssertionError("not expected to post")

    return DigestPlace(key, "a test place", post)


@pytest.mark.asyncio
async def test_the_digest_loop_runs_at_each_scheduled_time_in_the_zone(make_service: Callable[..., CrisisBot]) -> None:
    service = make_service(digest_schedule="mon,thu 09:00", digest_timezone="Europe/Kyiv", feed_poll_minutes=0)
    fake = FakeTime(datetime(2024, 10, 24, 12, 0, tzinfo=KYIV))  # a Thursday afternoon, before DST ends
    worker = Worker(service, [quiet_place()], clock=fake.clock, sleep=fake.sleep)
    runs: list[datetime] = []

    async def run_digest(now: datetime) -> dict[str, str]:
        runs.append(now)
        if len(runs) == 3:
            worker.stop()
        return {}

    worker.run_digest = run_digest  # type: ignore[method-assign]
    await asyncio.wait_for(worker.run(), WAIT)
    # 09:00 Kyiv time each, across the end of summer time on 27 October (UTC+3 -> UTC+2).
    assert runs == [datetime(2024, 10, 28, 9, 0, tzinfo=KYIV), datetime(2024, 10, 31, 9, 0, tzinfo=KYIV),
                    datetime(2024, 11, 4, 9, 0, tzinfo=KYIV)]
    assert [r.astimezone(timezone.utc).hour for r in runs] == [7, 7, 7]
    assert max(fake.sleeps) <= 300  # long waits in naps: a wall-clock jump is noticed


@pytest.mark.asyncio
async def test_the_feed_loop_polls_every_interval_the_first_one_interval_after_start(
    make_service: Callable[..., CrisisBot],
) -> None:
    service = make_service(feed_poll_minutes=45)
    fake = FakeTime(datetime(2024, 11, 4, 8, 0, tzinfo=timezone.utc))
    worker = Worker(service, clock=fake.clock, sleep=fake.sleep)
    polled: list[datetime] = []

    async def run_once_feeds() -> list[Any]:
        polled.append(fake.now)
        if len(polled) == 3:
            worker.stop()
        return []

    worker.run_once_feeds = run_once_feeds  # type: ignore[method-assign]
    await asyncio.wait_for(worker.run(), WAIT)
    start = datetime(2024, 11, 4, 8, 0, tzinfo=timezone.utc)
    assert polled == [start + timedelta(minutes=45 * n) for n in (1, 2, 3)]


@pytest.mark.asyncio
async def test_stop_ends_the_waits_at_once(make_service: Callable[..., CrisisBot]) -> None:
    service = make_service(feed_poll_minutes=60)
    worker = Worker(service, [quiet_place()])  # the real clock: the next poll is an hour away
    running = asyncio.create_task(worker.run())
    await asyncio.sleep(0)  # let both loops start waiting
    worker.stop()
    await asyncio.wait_for(running, WAIT)


def test_next_run_follows_the_schedule_in_its_zone(make_service: Callable[..., CrisisBot]) -> None:
    service = make_service(digest_schedule="tue,sat 07:30", digest_timezone="Europe/Kyiv", feed_poll_minutes=0)
    worker = Worker(service, [quiet_place()])
    utc = timezone.utc
    # Saturday 26 October 2024, 07:29 in Kyiv (summer time, UTC+3): today at 07:30.
    assert worker.next_run(datetime(2024, 10, 26, 4, 29, tzinfo=utc)) == datetime(2024, 10, 26, 7, 30, tzinfo=KYIV)
    # At 07:30 exactly it is the next one, strictly after: Tuesday, now in winter time (UTC+2).
    due = worker.next_run(datetime(2024, 10, 26, 4, 30, tzinfo=utc))
    assert due == datetime(2024, 10, 29, 7, 30, tzinfo=KYIV)
    assert due is not None and due.astimezone(utc) == datetime(2024, 10, 29, 5, 30, tzinfo=utc)
    # Tuesday 05:00 UTC is already 07:00 in Kyiv (and Monday 23:00 in New York): the same day.
    assert worker.next_run(datetime(2024, 10, 29, 1, 0, tzinfo=ZoneInfo("America/New_York"))) == due
    # Saturday evening to Tuesday, across the week end.
    assert worker.next_run(datetime(2024, 11, 2, 20, 0, tzinfo=KYIV)) == datetime(2024, 11, 5, 7, 30, tzinfo=KYIV)
    assert Worker(make_service(feed_poll_minutes=5), []).next_run(datetime.now(utc)) is None


# -- refusals and the command line ---------------------------------------------------------------


def test_the_worker_refuses_to_start_with_nothing_to_do(make_service: Callable[..., CrisisBot]) -> None:
    with pytest.raises(ConfigError) as refused:
        Worker(make_service(feed_poll_minutes=0))
    assert str(refused.value) == NOTHING_TO_DO
    with pytest.raises(ConfigError, match="TELEGRAM_BOT_TOKEN is not set"):
        Worker(make_service(feed_poll_minutes=0, telegram_digest_chat_id=DIGEST_CHAT))
    with pytest.raises(ConfigError, match="DISCORD_BOT_TOKEN is not set"):
        Worker(make_service(feed_poll_minutes=0, discord_digest_channel_id=7100))


def test_cli_worker_help_and_refusal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as helped:
        main(["worker", "--help"])
    assert helped.value.code == 0
    assert "CRISISBOT_RUN_SCHEDULES=false" in capsys.readouterr().out

    monkeypatch.delenv("CRISISBOT_CONFIG", raising=False)
    monkeypatch.setenv("CRISISBOT_FEED_POLL_MINUTES", "0")
    for name in ("CRISISBOT_TELEGRAM_DIGEST_CHAT_ID", "CRISISBOT_DISCORD_DIGEST_CHANNEL_ID"):
        monkeypatch.delenv(name, raising=False)
    code = main(["--data-dir", str(tmp_path / "data"), "worker"])
    assert code == 1
    assert capsys.readouterr().err.strip() == f"crisisbot: error: {NOTHING_TO_DO}"
    assert not (tmp_path / "data" / "knowledge.sqlite3").exists()  # refused before opening anything


@pytest.mark.slow
def test_sigterm_stops_the_worker_process_cleanly(tmp_path: Path) -> None:
    """`docker stop`: SIGTERM ends a waiting worker at once, with status 0."""
    env = {**os.environ, "CRISISBOT_DATA_DIR": str(tmp_path / "data"), "CRISISBOT_FEED_POLL_MINUTES": "60",
           "CRISISBOT_LOAD_BUILTIN_KNOWLEDGE": "false"}
    for name in ("CRISISBOT_CONFIG", "CRISISBOT_TELEGRAM_DIGEST_CHAT_ID", "CRISISBOT_DISCORD_DIGEST_CHANNEL_ID"):
        env.pop(name, None)
    process = subprocess.Popen([sys.executable, "-m", "bot", "-v", "worker"], cwd=PROJECT, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    lines: queue.Queue[str] = queue.Queue()
    stderr = process.stderr
    assert stderr is not None

    def read() -> None:
        for line in stderr:
            lines.put(line)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        seen: list[str] = []
        while not any("crisisbot worker: polling feeds every 60 min" in line for line in seen):
            seen.append(lines.get(timeout=WAIT))  # queue.Empty after a minute fails the test
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=WAIT) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    reader.join(timeout=WAIT)
    rest: list[str] = []
    while not lines.empty():
        rest.append(lines.get())
    assert any("crisisbot worker stopped" in line for line in rest), seen + rest


def test_a_feed_only_worker_loads_no_chat_library(tmp_path: Path) -> None:
    """Platform code stays in the platform modules: imported only for a configured place."""
    code = (
        "import sys\nfrom bot.runtime.settings import load_settings\nfrom bot.runtime.service import CrisisBot\n"
        "from bot.runtime.worker import Worker\n"
        f"Worker(CrisisBot(load_settings(data_dir={str(tmp_path)!r}, feed_poll_minutes=5)))\n"
        "print('LOADED', sorted({m.split('.')[0] for m in sys.modules} & {'telegram', 'discord'}))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=PROJECT,
                            timeout=WAIT, env={k: v for k, v in os.environ.items() if not k.startswith("CRISISBOT_")})
    assert "LOADED []" in result.stdout, result.stderr
