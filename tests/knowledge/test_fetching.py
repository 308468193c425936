"""Fetching against a real HTTP server on 127.0.0.1, started by the tests.

Most tests allow private addresses so they can reach the local server; the guard tests use
the default policy and prove that nothing reaches the server at all.
"""

from __future__ import annotations

import shutil
import socket
import ssl
import subprocess
import threading
import time
import tracemalloc
from collections.abc import Iterator
from contextlib import suppress
from pathlib import Path
from typing import Any

import pytest
from pytest_socket import SocketConnectBlockedError

from knowledge.errors import SourceError
from knowledge.extraction import document_from_page
from knowledge.fetching import FetchPolicy, fetch, fetch_feed
from knowledge.feeds import parse_feed
from tests.web_server import ARTICLE_HTML, REPORT_PDF, LocalServer, gzip_bomb

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


@pytest.mark.parametrize("coding", ["gzip", "deflate", "raw-deflate", "identity", "gzip, identity"])
def test_decodes_one_layer_of_gzip_or_deflate(server: LocalServer, coding: str) -> None:
    page = fetch(server.url("/encoded?as=" + coding), LOCAL)
    assert page.content == ARTICLE_HTML.encode("utf-8")


@pytest.mark.parametrize(
    ("coding", "message"),
    [
        ("gzip, gzip", "the server sent the page compressed 2 times (gzip, gzip): refused"),
        ("deflate, gzip", "the server sent the page compressed 2 times (deflate, gzip): refused"),
        ("br", "the server sent the page in an unsupported encoding (br)"),
        ("compress", "the server sent the page in an unsupported encoding (compress)"),
    ],
)
def test_refuses_stacked_and_unknown_encodings(server: LocalServer, coding: str, message: str) -> None:
    assert refusal(server.url("/encoded?as=" + coding)) == message


def refusal_and_peak_memory(url: str) -> tuple[str, int]:
    """The refusal of `url` and the most memory Python held at once (tracemalloc) meanwhile."""
    tracemalloc.start()
    try:
        message = refusal(url)
        return message, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize(
    ("query", "message"),
    [
        # 590 bytes that would inflate to 256 MB, in the two layers
        ("as=gzip,%20gzip&bomb=256&layers=2", "the server sent the page compressed 2 times (gzip, gzip): refused"),
        # 260 KB on the wire, well under the limit as received, 256 MB once inflated
        ("as=gzip&bomb=256&layers=1", "the page is larger than 5 MB once decompressed"),
    ],
)
def test_a_compression_bomb_is_refused_within_bounded_memory(server: LocalServer, query: str, message: str) -> None:
    params = dict(part.split("=") for part in query.split("&"))
    gzip_bomb(int(params["bomb"]), int(params["layers"]))  # built before measuring
    refused, peak = refusal_and_peak_memory(server.url("/encoded?" + query))
    assert peak < 50 * 1024 * 1024, f"{peak / 1e6:.0f} MB held while refusing a bomb"
    assert refused == message


def test_a_truncated_gzip_body_is_refused(server: LocalServer) -> None:
    assert refusal(server.url("/encoded?as=gzip&bomb=1&layers=1&cut=1")) == "the page's gzip data is incomplete"


@pytest.mark.parametrize(
    "charset", ["undefined", '"undefined"', "no-such-charset", "idna", "punycode", "base64", "utf-7", "unicode_escape"]
)
def test_an_unknown_or_unusable_charset_falls_back_to_guessing(server: LocalServer, charset: str) -> None:
    """`charset=undefined` (Python has a codec of that name that raises on any input) and its
    like are no charsets a browser would use: the page is decoded as if none were named."""
    page = fetch(server.url(f"/typed?ct=text/html;%20charset={charset}"), LOCAL)
    assert page.charset == charset.strip('"')
    doc = document_from_page(page, added_by="admin")
    assert (doc.title, doc.publisher) == ("Grain corridor reopens after talks", "Київський вісник")


def test_a_declared_legacy_charset_is_still_honoured(server: LocalServer) -> None:
    page = fetch(server.url("/typed?ct=text/html;%20charset=windows-1251&enc=cp1251"), LOCAL)
    assert document_from_page(page, added_by="admin").publisher == "Київський вісник"


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
    """The system resolver answers 127.0.0.1 for news.test, as a rebinding DNS server would
    on the second question: if anything but the guard's own lookup decided where to connect,
    it would connect to the local server."""
    real = socket.getaddrinfo

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        return real("127.0.0.1" if host == "news.test" else host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


class Rebinding:
    """A guard resolver for news.test whose answers change: public first, then loopback."""

    def __init__(self, *answers: str) -> None:
        self.answers = list(answers)
        self.asked: list[str] = []

    def __call__(self, host: str, port: int) -> list[str]:
        self.asked.append(host)
        return [self.answers[min(len(self.asked), len(self.answers)) - 1]]


@pytest.mark.usefixtures("rebinding_dns")
@pytest.mark.filterwarnings("ignore:A test tried to use socket")
def test_a_rebinding_name_is_connected_only_to_its_checked_address(server: LocalServer) -> None:
    """Resolved once, checked, and dialled at that address: the socket goes to the public
    address the guard saw (which pytest-socket stops, naming it), never to 127.0.0.1, and the
    local server sees not so much as a TCP handshake."""
    resolver = Rebinding("93.184.216.34", "127.0.0.1")
    with pytest.raises(SocketConnectBlockedError, match='host "93.184.216.34"'):
        fetch(server.url("/article", host="news.test"), FetchPolicy(resolver=resolver))
    assert resolver.asked == ["news.test"]
    assert server.connections() == 0
    assert server.seen == []


def test_every_hop_looks_its_name_up_again_and_checks_the_answer(server: LocalServer) -> None:
    """A name that answered an allowed address for the first hop and the metadata service's
    for the redirect back to it is refused at the second lookup, before connecting again."""
    resolver = Rebinding("127.0.0.1", "169.254.169.254")
    start = server.url("/to?url=" + server.url("/article", host="news.test"), host="news.test")
    message = refusal(start, FetchPolicy(resolver=resolver, allow_private=True))
    assert message == "refused: news.test resolves to a link-local address (169.254.169.254)"
    assert server.seen == ["/to?url=" + server.url("/article", host="news.test")]
    assert server.connections() == 1


def test_the_checked_address_not_the_system_resolver_decides_where_to_connect(
    server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With private addresses allowed, the guard's answer (127.0.0.1) is where both hops go,
    while the system resolver does not know the name at all; the request still names it."""

    def unknown(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host == "news.test":
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return real(host, *args, **kwargs)

    real = socket.getaddrinfo
    monkeypatch.setattr(socket, "getaddrinfo", unknown)
    resolver = Rebinding("127.0.0.1")
    news = server.url("/article", host="news.test")
    page = fetch(server.url("/to?url=" + news, host="news.test"), FetchPolicy(resolver=resolver, allow_private=True))
    assert page.url == news
    assert server.seen == ["/to?url=" + news, "/article"]
    assert server.hosts == [f"news.test:{server.port}"] * 2  # the Host header keeps the name
    assert resolver.asked == ["news.test", "news.test"]  # one lookup a hop


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_a_refused_internal_address_says_the_same_whether_its_port_is_open(server: LocalServer) -> None:
    """Refused before any connection, so the answer cannot tell an open port from a closed one."""
    policy = FetchPolicy(resolver=lambda host, port: ["127.0.0.1"])
    messages = {refusal(f"http://intranet.test:{port}/admin", policy) for port in (server.port, free_port())}
    assert messages == {"refused: intranet.test resolves to a loopback address (127.0.0.1)"}
    assert server.connections() == 0


def test_a_slow_name_lookup_counts_against_the_deadline() -> None:
    release = threading.Event()

    def stuck(host: str, port: int) -> list[str]:
        release.wait(30)  # a resolver that would answer after 30 s
        return ["93.184.216.34"]

    started = time.monotonic()
    try:
        message = refusal("https://slow-dns.test/page", FetchPolicy(resolver=stuck, timeout=0.5))
    finally:
        release.set()
    assert message == "timed out after 0.5 s looking up slow-dns.test"
    assert time.monotonic() - started < 10


def test_a_lookup_error_still_reads_as_the_guard_words_it() -> None:
    def nowhere(host: str, port: int) -> list[str]:
        raise SourceError(f"cannot find the host {host}")

    assert refusal("https://nowhere.test/", FetchPolicy(resolver=nowhere)) == "cannot find the host nowhere.test"


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


@pytest.fixture
def tls_listener(tmp_path: Path) -> Iterator[tuple[int, list[str]]]:
    """A TLS endpoint on 127.0.0.1 with a self-signed certificate for news.test: its port,
    and the server names (SNI) that clients asked it for."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make the test certificate")
    pem = tmp_path / "news-test.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-days", "2", "-subj", "/CN=news.test", "-addext", "subjectAltName=DNS:news.test",
         "-keyout", str(pem), "-out", str(pem)],
        check=True, capture_output=True,
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pem)
    names: list[str] = []

    def note(sock: ssl.SSLObject | ssl.SSLSocket, name: str | None, ctx: ssl.SSLContext) -> None:
        names.append(name or "")

    context.sni_callback = note
    listener = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        conn, _ = listener.accept()
        with conn, suppress(OSError):  # the client refuses the certificate mid-handshake
            context.wrap_socket(conn, server_side=True).close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield int(listener.getsockname()[1]), names
    listener.close()
    thread.join(5)


def test_tls_to_a_pinned_address_keeps_the_name_for_sni_and_the_certificate(
    tls_listener: tuple[int, list[str]],
) -> None:
    """The socket goes to the checked address, but TLS still speaks to news.test: SNI names it,
    and the certificate is checked (this self-signed one is refused, as it must be)."""
    port, names = tls_listener
    url = f"https://news.test:{port}/article"
    message = refusal(url, FetchPolicy(resolver=lambda host, p: ["127.0.0.1"], allow_private=True))
    assert message == f"could not fetch {url}: the server's certificate could not be verified"
    assert names == ["news.test"]
