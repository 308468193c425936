"""What the stand-in servers (tests/telegram_server.py, tests/discord_server/) have in common.

A `StandIn` serves an aiohttp application on 127.0.0.1 (a free port), records every request the
client sent in `requests` (unroutable ones in `unknown` too), and lets a test wait for a request
with `_wait_for`. A `FailureQueue` holds the failures a test asked for with `fail_next`: each
request takes the first queued failure it matches, one failure per request.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, Generic, TypeVar, overload

from aiohttp import web

R = TypeVar("R")
F = TypeVar("F")


class Address:
    """A class attribute that reads as the server's URL of `path` (`scheme`://127.0.0.1:port)."""

    def __init__(self, path: str, scheme: str = "http") -> None:
        self.path, self.scheme = path, scheme

    @overload
    def __get__(self, instance: None, owner: type) -> Address: ...

    @overload
    def __get__(self, instance: StandIn[Any], owner: type) -> str: ...

    def __get__(self, instance: StandIn[Any] | None, owner: type) -> Address | str:
        if instance is None:
            return self
        return f"{self.scheme}://127.0.0.1:{instance.port}{self.path}"


class StandIn(Generic[R]):
    """Lifecycle and request log of a stand-in server; subclasses add the protocol."""

    def __init__(self) -> None:
        self.port = 0
        self.requests: list[R] = []
        self.unknown: list[R] = []  # requests no route or method answered
        self._request_arrived = asyncio.Event()
        self._runner: web.AppRunner | None = None

    async def _serve(self, app: web.Application) -> None:
        """Serve `app` on 127.0.0.1 at a free port (then in `port`)."""
        # A short shutdown timeout: abandoned long polls must not hold up stop().
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=2)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]

    async def _shutdown(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def _record(self, record: R) -> None:
        """Log a request and wake every `_wait_for`; later waiters get a fresh event."""
        self.requests.append(record)
        self._request_arrived.set()
        self._request_arrived = asyncio.Event()

    async def _wait_for(self, matches: Callable[[R], bool], wanted: str, timeout: float,
                        after: int, describe: Callable[[R], str]) -> R:
        """The first request (index >= after) that `matches`, waiting up to `timeout` seconds
        for it; else TimeoutError "no matching {wanted} within {timeout}s; saw [...]"."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            for record in self.requests[after:]:
                if matches(record):
                    return record
            remaining = deadline - loop.time()
            if remaining <= 0:
                seen = [describe(r) for r in self.requests[after:]]
                raise TimeoutError(f"no matching {wanted} within {timeout}s; saw {seen}")
            try:
                await asyncio.wait_for(self._request_arrived.wait(), remaining)
            except TimeoutError:
                pass


class FailureQueue(Generic[F]):
    """Failures asked for by a test, in order; a request takes the first one it matches."""

    def __init__(self) -> None:
        self._queued: list[F] = []

    def add(self, failure: F) -> None:
        self._queued.append(failure)

    def take(self, matches: Callable[[F], bool]) -> F | None:
        """Remove and return the first queued failure that `matches` (None if there is none)."""
        for index, failure in enumerate(self._queued):
            if matches(failure):
                return self._queued.pop(index)
        return None
