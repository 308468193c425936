"""Connect only to addresses the SSRF guard has checked, and look names up within a deadline.

Checking a name's addresses and then letting the HTTP library resolve it again leaves a gap:
a rebinding DNS server answers a public address to the check and 127.0.0.1 to the connect.
Even a refusal after the handshake says too much, since "refused" and "cannot connect" then
tell an open internal port from a closed one. So the name is resolved once, every address is
checked, and the socket connects to exactly those addresses: httpcore asks this module's
network backend for a connection to the host, and the backend dials the checked IP instead
of resolving anything. The URL, the Host header and TLS (SNI and the certificate's name
check) keep the original name, because only the socket's destination changes.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable

import httpcore
import httpx

from knowledge.errors import SourceError
from knowledge.url_guard import Resolver, check_address


class PinnedBackend(httpcore.NetworkBackend):
    """httpcore's network backend that connects a host name only to its pinned addresses."""

    def __init__(self, allow_private: bool) -> None:
        self._allow_private = allow_private
        self._pins: dict[str, tuple[str, ...]] = {}
        self._lock = threading.Lock()
        self._system = httpcore.SyncBackend()

    def pin(self, host: str, addresses: Iterable[str]) -> None:
        """Let connections to `host` go to these (checked) addresses and no others."""
        with self._lock:
            self._pins[host] = tuple(addresses)

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        """Dial the pinned addresses in turn, within one connect timeout for them all.

        Raises:
            SourceError: the host was never checked, or an address fails the guard (a pin
                is only ever made of checked addresses; this makes sure it stays so).
            httpcore.ConnectError, httpcore.ConnectTimeout: no address accepted.
        """
        with self._lock:
            addresses = self._pins.get(host, ())
        if not addresses:
            raise SourceError(f"refused: {host} was not checked before connecting")
        end = None if timeout is None else time.monotonic() + timeout
        failure: Exception = httpcore.ConnectError(f"cannot connect to {host}")
        for address in addresses:
            check_address(host, address, self._allow_private, verb="connects to")
            left = None if end is None else end - time.monotonic()
            if left is not None and left <= 0:
                raise httpcore.ConnectTimeout(f"connecting to {host} timed out")
            try:
                return self._system.connect_tcp(address, port, left, local_address, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc  # try the next address, as a browser would
        raise failure

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        raise SourceError("refused: a fetch never connects to a local socket")

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


def pinned_transport(backend: PinnedBackend) -> httpx.HTTPTransport:
    """An httpx transport whose every connection goes through `backend`.

    httpx's transport takes no network backend of its own, so its connection pool is
    replaced by one built the way httpx builds it (certificate checks on, httpx's CA
    bundle, no proxy, HTTP/1.1), with the backend added. `tests/knowledge/test_fetching.py`
    proves the pin holds against a real server, so an httpx upgrade that changes this
    breaks a test rather than the guard.
    """
    ssl_context = httpx.create_ssl_context(trust_env=False)
    transport = httpx.HTTPTransport(verify=ssl_context, trust_env=False)
    transport._pool = httpcore.ConnectionPool(ssl_context=ssl_context, network_backend=backend)
    return transport


def resolve_within(resolver: Resolver, deadline: float, total: float) -> Resolver:
    """`resolver`, cut off at the fetch's `deadline` (time.monotonic) with a SourceError.

    `getaddrinfo` cannot be interrupted, so the lookup runs in a daemon thread that is left
    to finish on its own if it is late: the fetch keeps its deadline (`total` seconds, for
    the message), and a stuck lookup never holds up the interpreter's exit.
    """

    def resolve(host: str, port: int) -> list[str]:
        answer: list[str] = []
        failure: list[BaseException] = []
        done = threading.Event()

        def run() -> None:
            try:
                answer.extend(resolver(host, port))
            except BaseException as exc:  # handed to the waiting thread, raised there
                failure.append(exc)
            finally:
                done.set()

        threading.Thread(target=run, name=f"resolve {host}", daemon=True).start()
        if not done.wait(max(deadline - time.monotonic(), 0.0)):
            raise SourceError(f"timed out after {total:g} s looking up {host}")
        if failure:
            raise failure[0]
        return answer

    return resolve
