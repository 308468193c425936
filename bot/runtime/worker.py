"""`crisisbot worker`: the schedules of a multi-process deployment, run once.

With a Telegram process, a Discord process and this worker sharing one database, the chat
processes run with `run_schedules = false` and the worker alone polls the feeds every
`feed_poll_minutes` and posts the scheduled digest (`digest_schedule` in `digest_timezone`) to
`telegram_digest_chat_id` and `discord_digest_channel_id`. It holds no chat gateway: Telegram
is posted to with a bare Bot API client and Discord over REST only (the platform code is in
`bot.adapters.telegram.digest_post` and `bot.adapters.discord.digest_post`, imported only when a place is set).

It uses the adapters' digest keys and flow (`bot.core.scheduled_digest`), so a digest posted by the
worker and one posted from chat never repeat each other, a place is marked only after a
successful post, and a failure is logged and retried at the next scheduled time.

Time is injectable (`clock`, `sleep`): tests drive `run_once_feeds`, `run_digest(now)` and
`next_run(now)` directly, or `run()` with a fake clock, and never wait for the schedule.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from bot.core.scheduled_digest import DigestPlace, deliver_digest
from knowledge.errors import ConfigError

if TYPE_CHECKING:
    from bot.runtime.service import CrisisBot
    from bot.runtime.settings import Settings
    from knowledge.feeds import PollReport

log = logging.getLogger(__name__)

NOTHING_TO_DO = (
    "the worker has nothing to do: set CRISISBOT_FEED_POLL_MINUTES above 0 to poll feeds, or "
    "CRISISBOT_TELEGRAM_DIGEST_CHAT_ID / CRISISBOT_DISCORD_DIGEST_CHANNEL_ID for the scheduled digest"
)
MAX_NAP = 300.0  # seconds: long waits are taken in naps, so a wall-clock jump is noticed
POSTED, NOTHING_NEW, FAILED = "posted", "nothing new", "failed"

Clock = Callable[[], datetime]
Sleep = Callable[[float], Awaitable[Any]]


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def require_work(settings: Settings) -> None:
    """Refuse a worker with nothing to do before anything is opened or created (the same rule
    `Worker` applies to the places it is given)."""
    if settings.feed_poll_minutes <= 0 and not digest_places(settings):
        raise ConfigError(NOTHING_TO_DO)


def digest_places(settings: Settings) -> list[DigestPlace]:
    """The configured digest places; a place without its bot token is refused here, at start.

    The platform modules are imported only for a configured place, so a worker that only
    polls feeds never loads python-telegram-bot or discord.py."""
    places: list[DigestPlace | None] = []
    if settings.telegram_digest_chat_id is not None:
        from bot.adapters.telegram.digest_post import worker_place as telegram_place

        places.append(telegram_place(settings.telegram))
    if settings.discord_digest_channel_id is not None:
        from bot.adapters.discord.digest_post import worker_place as discord_place

        places.append(discord_place(settings.discord))
    return [place for place in places if place is not None]


class Worker:
    """The feed poll and the scheduled digest of one service, until `stop()`."""

    def __init__(
        self,
        service: CrisisBot,
        places: Iterable[DigestPlace] | None = None,
        *,
        clock: Clock = utc_now,
        sleep: Sleep = asyncio.sleep,
        executor: ThreadPoolExecutor | None = None,
    ) -> None:
        """`places` defaults to the configured ones (`digest_places`).

        Raises:
            ConfigError: nothing to do (no feed polling and no digest place), or a digest place
                without its bot token.
        """
        settings = service.settings
        self.service = service
        self.places = list(places) if places is not None else digest_places(settings)
        minutes = settings.feed_poll_minutes
        self.feed_interval = timedelta(minutes=minutes) if minutes > 0 else None
        if self.feed_interval is None and not self.places:
            raise ConfigError(NOTHING_TO_DO)
        self.schedule = settings.schedule
        self._clock = clock
        self._sleep = sleep
        # Two threads and no separate knowledge thread (as the chat adapters have, see
        # `bot.runtime.executors`): each loop awaits its run before the next, so at most one poll and
        # one digest call run at once, and a poll however long never keeps the digest waiting.
        self._executor = executor or ThreadPoolExecutor(max_workers=2, thread_name_prefix="crisisbot-worker")
        self._stopping = asyncio.Event()

    def describe(self) -> str:
        minutes = self.service.settings.feed_poll_minutes
        feeds = f"polling feeds every {minutes} min" if self.feed_interval else "no feed polling"
        if not self.places:
            return f"{feeds}; no scheduled digest"
        return f"{feeds}; digest {self.schedule.describe()} to {', '.join(p.name for p in self.places)}"

    # -- one run of each schedule (what the loops call; tests call them directly) ---------------

    def next_run(self, now: datetime) -> datetime | None:
        """The first digest time strictly after `now` (in the schedule's zone, daylight saving
        included); None without a digest place."""
        return self.schedule.next_after(now) if self.places else None

    async def run_once_feeds(self) -> list[PollReport]:
        """One scheduled poll of every feed, in the executor; never raises (the core logs and
        audits each feed, and a poll already running makes this one a no-op)."""
        return await self._run(self.service.poll_feeds_scheduled)

    async def run_digest(self, now: datetime) -> dict[str, str]:
        """The digest as of `now` to every place: POSTED, NOTHING_NEW or FAILED, by place key.

        One place's failure is logged and does not keep the digest from the others; it is not
        marked, so its next run covers the same documents."""
        outcomes: dict[str, str] = {}
        for place in self.places:
            try:
                posted = await deliver_digest(self.service.summaries, place, self._run, now)
            except Exception:
                log.exception("scheduled digest to %s failed; the next run retries it", place.name)
                outcomes[place.key] = FAILED
            else:
                outcomes[place.key] = POSTED if posted is not None else NOTHING_NEW
        return outcomes

    # -- the long-running process ---------------------------------------------------------------

    async def run(self) -> None:
        """Both schedules until `stop()`. A run in progress is finished, not cut off (a digest
        half posted would be posted again in full next time); only the waits are interrupted."""
        log.info("crisisbot worker: %s", self.describe())
        loops = []
        if self.feed_interval is not None:
            loops.append(asyncio.create_task(self._feeds_forever(), name="worker-feeds"))
        if self.places:
            loops.append(asyncio.create_task(self._digests_forever(), name="worker-digest"))
        try:
            await asyncio.gather(*loops)
        finally:
            for task in loops:
                task.cancel()
            await asyncio.gather(*loops, return_exceptions=True)
            self._executor.shutdown(wait=False, cancel_futures=True)
        log.info("crisisbot worker stopped")

    def stop(self) -> None:
        """Ask `run()` to return after any run in progress (SIGTERM, SIGINT)."""
        if not self._stopping.is_set():
            log.info("crisisbot worker: stopping")
        self._stopping.set()

    async def _feeds_forever(self) -> None:
        # The first poll waits one interval, as in the chat adapters: a worker restarted often
        # (or crash-looping) must not fetch every feed each time.
        assert self.feed_interval is not None
        while await self._pause(self.feed_interval.total_seconds()):
            try:
                await self.run_once_feeds()
            except Exception:  # the core never raises here; an executor failure might
                log.exception("scheduled feed poll failed; the next interval retries it")

    async def _digests_forever(self) -> None:
        moment = self._clock()
        while (due := self.next_run(moment)) is not None:
            log.info("next scheduled digest: %s", due.isoformat(timespec="minutes"))
            if not await self._pause_until(due):
                return
            moment = self._clock()  # not before `due`: the next one is strictly later
            await self.run_digest(moment)

    async def _pause_until(self, due: datetime) -> bool:
        """Wait until the clock reaches `due`; False when stopped first."""
        while (remaining := (due - self._clock()).total_seconds()) > 0:
            if not await self._pause(min(remaining, MAX_NAP)):
                return False
        return not self._stopping.is_set()

    async def _pause(self, seconds: float) -> bool:
        """Sleep `seconds` unless stopped first; False when stopped."""
        if self._stopping.is_set():
            return False
        nap = asyncio.ensure_future(self._sleep(seconds))
        stop = asyncio.ensure_future(self._stopping.wait())
        try:
            await asyncio.wait({nap, stop}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (nap, stop):
                task.cancel()
            await asyncio.gather(nap, stop, return_exceptions=True)
        return not self._stopping.is_set()

    async def _run(self, function: Callable[[], Any]) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._executor, function)


def run_worker(service: CrisisBot) -> None:
    """`crisisbot worker`: check there is something to do (before loading the model), open
    the knowledge base, then run until SIGTERM (docker stop) or SIGINT (Ctrl-C)."""
    worker = Worker(service)
    service.open()
    try:
        asyncio.run(_serve(worker))
    finally:
        service.close()


async def _serve(worker: Worker) -> None:
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, worker.stop)
    try:
        await worker.run()
    finally:
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)
