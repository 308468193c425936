"""Fetching against a real HTTP server on 127.0.0.1, started by the tests.

Most tests allow private addresses so they can reach the local server; the guard tests use
the default policy and prove that nothing reaches the server at all.
"""

from __future__ import annotations

import socket
import time
from typing import Any

import pytest

from knowledge.errors import SourceError
from knowledge.fetching import FetchPolicy, fetch, fetch_feed
from knowledge.feeds import parse_feed
from tests.web_server import ARTICLE_HTML, REPORT_PDF, LocalServer

LOCAL = FetchPolicy(allow_private=True)


def refusal(url: str, policy: FetchPolicy = LOCAL) -> str:
    with pytest.raises(SourceError) as caught:
        fetch(url, policy)
    return str(caught.value)


# -- what a good fetch returns ---------------------------------------------------------------


def test_fetches_an_html_page(server: LocalServer) -> None:
    page = fetch(server.url("/article#comments"), LOCAL)
    assert page.url == server.url("/article")
    assert (page.content_type, page.charset) == ("text/html", "utf-8")
    assert page.content == ARTICLE_HTML.encode("utf-8")


def test_fetches_a_pdf(server: LocalServer) -> None:
    page = fetch(server.url("/report.pdf"), LOCAL)
    assert page.content_type == "application/pdf"
    assert page.content == REPORT_PDF


def test_follows_five_redirects_and_reports_the_final_url(server: LocalServer) -> None:
    page = fetch(server.url("/hops/5"), LOCAL)
    assert page.url == server.url("/article")
    assert server.seen == ["/hops/5", "/hops/4", "/hops/3", "/hops/2", "/hops/1", "/article"]


def test_refuses_a_sixth_redirect_without_following_it(server: LocalServer) -> None:
    assert refusal(server.url("/hops/6")) == "too many redirects (more than 5)"
    assert server.seen == ["/hops/6", "/hops/5", "/hops/4", "/hops/3", "/hops/2", "/hops/1"]


# -- limits ----------------------------------------------------------------------------------


def test_refuses_a_declared_size_over_the_limit(server: LocalServer) -> None:
    assert refusal(server.url("/big-declared")) == "the page is larger than 5 MB"


def test_stops_reading_an_undeclared_body_at_the_limit(server: LocalServer) -> None:
    policy = FetchPolicy(allow_private=True, max_bytes=100_000)
    assert refusal(server.url("/big-undeclared"), policy) == "the page is larger than 100,000 bytes"
    # the same body fits a larger limit: the refusal above was the size, nothing else
    assert len(fetch(server.url("/big-undeclared"), LOCAL).content) == 25 * 8192


def test_refuses_other_content_types(server: LocalServer) -> None:
    assert refusal(server.url("/image")) == "unsupported content type image/png: send an HTML page or a PDF"
    assert refusal(server.url("/untyped")) == "no content type given by the server: send an HTML page or a PDF"


def test_a_slow_server_times_out(server: LocalServer) -> None:
    """The server would answer after 30 s; the fetch gives up long before (the bound is loose
    so that a slow, busy machine passes too)."""
    started = time.monotonic()
    assert refusal(server.url("/slow?s=30"), FetchPolicy(allow_private=True, timeout=0.5)) == "timed out after 0.5 s"
    assert time.monotonic() - started < 20


def test_a_dripping_body_hits_the_total_deadline(server: LocalServer) -> None:
    started = time.monotonic()
    assert refusal(server.url("/drip"), FetchPolicy(allow_private=True, timeout=0.6)) == "timed out after 0.6 s"
    assert time.monotonic() - started < 20  # the body would take 30 s


def test_http_errors_are_reported(server: LocalServer) -> None:
    assert refusal(server.url("/missing")) == "the server answered 404 Not Found"


# -- the SSRF guard, with the default policy -------------------------------------------------


@pytest.mark.parametrize("host", ["127.0.0.1", "[::ffff:127.0.0.1]"])
def test_refuses_loopback_by_default_without_connecting(server: LocalServer, host: str) -> None:
    message = refusal(server.url("/article", host=host), FetchPolicy())
    assert message == f"refused: {host.strip('[]')} is a loopback address"
    assert server.seen == []


def test_refuses_ipv6_loopback_by_default() -> None:
    assert refusal("http://[::1]:8080/", FetchPolicy()) == "refused: ::1 is a loopback address"


def test_refuses_a_host_resolving_to_a_private_address() -> None:
    policy = FetchPolicy(resolver=lambda host, port: {"intranet.test": ["10.0.0.5"]}[host])
    assert refusal("https://intranet.test/wiki", policy) == (
        "refused: intranet.test resolves to a private address (10.0.0.5)"
    )


def test_refuses_the_cloud_metadata_address() -> None:
    # pytest-socket would raise its own error if anything tried to connect: this is the guard.
    message = refusal("http://169.254.169.254/latest/meta-data/", FetchPolicy())
    assert message == "refused: 169.254.169.254 is a link-local address"


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("http://169.254.169.254/latest/meta-data/", "refused: 169.254.169.254 is a link-local address"),
        ("http://0.0.0.0:{port}/article", "refused: 0.0.0.0 is an unspecified address"),
    ],
)
def test_every_redirect_hop_is_checked_before_connecting(
    server: LocalServer, target: str, message: str
) -> None:
    # Even a policy that admits the local server never follows a redirect to these.
    assert refusal(server.url("/to?url=" + target.format(port=server.port))) == message
    assert len(server.seen) == 1  # the redirect itself; 0.0.0.0 would have reached this server


@pytest.fixture
def rebinding_dns(monkeypatch: pytest.MonkeyPatch) -> None:
    """The system resolver (used by the actual connect) answers 127.0.0.1 for news.test.

    Together with a guard resolver that answers a public address for the same name, this is
    DNS rebinding: the check sees 93.184.216.34, the socket connects to 127.0.0.1.
    """
    real = socket.getaddrinfo

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        return real("127.0.0.1" if host == "news.test" else host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


def public_news_test(host: str, port: int) -> list[str]:
    return {"news.test": ["93.184.216.34"]}[host]


@pytest.mark.usefixtures("rebinding_dns")
def test_the_connected_address_is_checked_against_rebinding(server: LocalServer) -> None:
    message = refusal(server.url("/article", host="news.test"), FetchPolicy(resolver=public_news_test))
    assert message == "refused: news.test connected to a loopback address (127.0.0.1)"
    assert server.seen == []  # refused as the socket connected, before the request was sent


@pytest.mark.usefixtures("rebinding_dns")
def test_a_redirect_from_a_public_looking_host_to_loopback_is_refused(server: LocalServer) -> None:
    start = server.url("/to?url=" + server.url("/article"), host="news.test")
    assert refusal(start, FetchPolicy(resolver=public_news_test)).startswith("refused: news.test connected to")
    assert server.seen == []


@pytest.mark.usefixtures("rebinding_dns")
def test_the_rebinding_setup_really_reaches_the_local_server(server: LocalServer) -> None:
    # Control for the two tests above: with private addresses allowed the same fetch works,
    # so their refusals come from the connected-address check and nothing else.
    policy = FetchPolicy(resolver=public_news_test, allow_private=True)
    page = fetch(server.url("/to?url=" + server.url("/article"), host="news.test"), policy)
    assert page.url == server.url("/article")
    assert server.seen == ["/to?url=" + server.url("/article"), "/article"]


def test_feeds_are_fetched_only_by_the_feed_fetch(server: LocalServer) -> None:
    """A feed is not a page to ingest, and a page is not a feed to poll."""
    for path in ("/feed.rss", "/feed.atom"):
        feed = parse_feed(fetch_feed(server.url(path), LOCAL), server.url(path))
        assert [e.link for e in feed.entries] == [server.url("/story/1"), server.url("/story/2")]
        assert refusal(server.url(path)).startswith("unsupported content type application/")
    with pytest.raises(SourceError, match="unsupported content type text/html: send an RSS or Atom feed"):
        fetch_feed(server.url("/article"), LOCAL)


def test_the_feed_fetch_keeps_the_guard(server: LocalServer) -> None:
    with pytest.raises(SourceError, match="127.0.0.1"):
        fetch_feed(server.url("/feed.rss"))
    assert server.seen == []
