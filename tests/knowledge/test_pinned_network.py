"""The pinned network backend and the deadline-bound resolver, against a real local server."""

from __future__ import annotations

import threading
import time

import pytest

from knowledge.errors import SourceError
from knowledge.pinned_network import PinnedBackend, resolve_within
from tests.web_server import LocalServer


def test_a_host_that_was_never_checked_is_never_connected_to(server: LocalServer) -> None:
    with pytest.raises(SourceError, match="refused: news.test was not checked before connecting"):
        PinnedBackend(allow_private=True).connect_tcp("news.test", server.port, timeout=5)
    assert server.connections() == 0


def test_a_pinned_address_is_checked_again_as_it_is_dialled(server: LocalServer) -> None:
    backend = PinnedBackend(allow_private=False)
    backend.pin("news.test", ["127.0.0.1"])
    with pytest.raises(SourceError) as caught:
        backend.connect_tcp("news.test", server.port, timeout=5)
    assert str(caught.value) == "refused: news.test connects to a loopback address (127.0.0.1)"
    assert server.connections() == 0


def test_the_next_checked_address_is_tried_when_one_does_not_answer(server: LocalServer) -> None:
    backend = PinnedBackend(allow_private=True)
    backend.pin("news.test", ["::1", "127.0.0.1"])  # the server listens on IPv4 only
    stream = backend.connect_tcp("news.test", server.port, timeout=5)
    try:
        assert stream.get_extra_info("server_addr")[0] == "127.0.0.1"
    finally:
        stream.close()
    assert server.connections() == 1


def test_a_local_socket_is_refused() -> None:
    with pytest.raises(SourceError, match="never connects to a local socket"):
        PinnedBackend(allow_private=True).connect_unix_socket("/run/docker.sock")


def test_a_lookup_within_the_deadline_returns_its_answer_or_its_error() -> None:
    resolve = resolve_within(lambda host, port: ["93.184.216.34"], time.monotonic() + 5, 5)
    assert resolve("news.test", 443) == ["93.184.216.34"]

    def fails(host: str, port: int) -> list[str]:
        raise SourceError(f"cannot find the host {host}")

    with pytest.raises(SourceError, match="cannot find the host nowhere.test"):
        resolve_within(fails, time.monotonic() + 5, 5)("nowhere.test", 443)


def test_a_late_lookup_is_abandoned_at_the_deadline() -> None:
    release = threading.Event()
    resolve = resolve_within(lambda host, port: [str(release.wait(30))], time.monotonic() + 0.2, 3)
    started = time.monotonic()
    try:
        with pytest.raises(SourceError) as caught:
            resolve("slow.test", 443)
    finally:
        release.set()
    assert str(caught.value) == "timed out after 3 s looking up slow.test"
    assert time.monotonic() - started < 5
