"""Fetch one web page or PDF for the knowledge base, within limits and behind the SSRF guard.

The bot fetches URLs that people send it, so every limit is enforced here rather than
trusted to the server: size (as received and as decoded), total time (name lookups
included), content type, redirect count, and where each connection really goes. Redirects are
followed by hand so that each hop's host is resolved once and checked before anything connects
to it; the socket then connects to exactly the checked addresses (`knowledge.pinned_network`),
so a DNS answer that changes between the check and the connection (DNS rebinding) never
reaches an internal address, not even its TCP handshake.
"""

from __future__ import annotations

import logging
import ssl
import time
from contextlib import closing
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import httpx

from knowledge.content_decoding import BoundedDecoder, content_coding
from knowledge.errors import SourceError
from knowledge.pinned_network import PinnedBackend, pinned_transport, resolve_within
from knowledge.url_guard import MAX_URL_LENGTH, CheckedURL, Resolver, check_address, check_host
from knowledge.url_guard import system_resolver, validate_url

log = logging.getLogger(__name__)

HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
PDF_TYPE = "application/pdf"
ALLOWED_TYPES = HTML_TYPES | {PDF_TYPE}
# Feeds come with every one of these in the wild; text/xml and application/xml are the most
# common for RSS. Only feed polling accepts them: a page fetch still wants HTML or a PDF.
FEED_TYPES = frozenset({
    "application/rss+xml", "application/atom+xml", "application/rdf+xml", "application/xml",
    "text/xml", "application/feed+xml",
})
FEED_ACCEPT = "application/rss+xml,application/atom+xml,application/xml;q=0.9,text/xml;q=0.8"
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
USER_AGENT = "crisisbot/0.1 (knowledge base fetcher)"
# Uncompressed bodies are asked for; a server that compresses anyway is decoded within the
# same limit by `knowledge.content_decoding`, one layer of gzip or deflate at most.
REQUEST_HEADERS = {
    "User-Agent": USER_AGENT,
    "Accept": "text/html,application/xhtml+xml,application/pdf;q=0.9",
    "Accept-Encoding": "identity",
}
_MB = 1024 * 1024


@dataclass(frozen=True)
class FetchPolicy:
    """The limits of one fetch; the defaults are the issue's, tests shrink them to stay fast."""

    max_bytes: int = 5 * _MB
    timeout: float = 20.0  # seconds for the whole fetch, redirects included
    max_redirects: int = 5
    max_url_length: int = MAX_URL_LENGTH
    allow_private: bool = False  # loopback and private networks, for self-hosted sources
    resolver: Resolver = field(default=system_resolver)
    accept: frozenset[str] = ALLOWED_TYPES  # media types taken; anything else is refused
    wanted: str = "an HTML page or a PDF"  # how a refusal names what `accept` stands for


@dataclass(frozen=True)
class FetchedPage:
    """What the server sent, after every check: enough for the extractor to build a document."""

    url: str  # the final URL, after redirects, without a #fragment
    content_type: str  # lower case, without parameters: one of the policy's `accept`
    content: bytes
    charset: str | None = None  # from the Content-Type header, if it named one


def fetch(url: str, policy: FetchPolicy | None = None) -> FetchedPage:
    """Fetch an HTML page or a PDF, following at most `policy.max_redirects` redirects.

    Raises:
        SourceError: with a one-line message a person can act on, for every refusal (guard,
            limits, content type) and every network or HTTP failure.
    """
    policy = policy or FetchPolicy()
    deadline = time.monotonic() + policy.timeout
    # trust_env=False: no proxy or .netrc from the environment; a proxy would make the
    # connected address meaningless and credentials must never be sent to a stranger's URL.
    headers = REQUEST_HEADERS if policy.accept == ALLOWED_TYPES else {
        **REQUEST_HEADERS, "Accept": FEED_ACCEPT if policy.accept == FEED_TYPES else "*/*"
    }
    backend = PinnedBackend(policy.allow_private)
    transport = pinned_transport(backend)
    with httpx.Client(follow_redirects=False, trust_env=False, headers=headers, transport=transport) as client:
        try:
            return _follow(client, backend, url, policy, deadline)
        except httpx.TimeoutException:
            raise SourceError(f"timed out after {policy.timeout:g} s") from None
        except httpx.HTTPError as exc:
            raise SourceError(f"could not fetch {url}: {_describe(exc)}") from None


def fetch_feed(url: str, policy: FetchPolicy | None = None) -> bytes:
    """Fetch an RSS or Atom feed's bytes with the page fetch's guard and limits.

    Raises:
        SourceError: as `fetch` does; a page that is not a feed is refused by its type.
    """
    base = policy or FetchPolicy()
    feed_policy = replace(base, accept=FEED_TYPES, wanted="an RSS or Atom feed")
    return fetch(url, feed_policy).content


def _follow(
    client: httpx.Client, backend: PinnedBackend, url: str, policy: FetchPolicy, deadline: float
) -> FetchedPage:
    redirects = 0
    resolver = resolve_within(policy.resolver, deadline, policy.timeout)
    while True:
        target = validate_url(url, policy.max_url_length)
        # Resolved once, every address checked, and only those are ever connected to.
        backend.pin(target.host, check_host(target, resolver, policy.allow_private))
        with closing(_open(client, target, deadline)) as response:
            _check_peer(target.host, response.extensions, policy.allow_private)
            if response.status_code in REDIRECT_STATUSES:
                redirects += 1
                if redirects > policy.max_redirects:
                    raise SourceError(f"too many redirects (more than {policy.max_redirects})")
                url = _redirect_target(response)
                log.info("redirect %d: %s -> %s", redirects, target.url, url)
                continue
            if response.status_code != 200:
                reason = response.reason_phrase or "error"
                raise SourceError(f"the server answered {response.status_code} {reason}")
            content_type, charset = _content_type(response.headers, policy)
            content = _read_body(response, policy, deadline)
            final = str(response.url.copy_with(fragment=None))
            return FetchedPage(final, content_type, content, charset)


def _open(client: httpx.Client, target: CheckedURL, deadline: float) -> httpx.Response:
    """Start a streamed GET with whatever is left of the fetch's time."""
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise httpx.ReadTimeout("deadline passed before the request")
    request = client.build_request("GET", target.url, timeout=httpx.Timeout(remaining))
    return client.send(request, stream=True)


def _check_peer(host: str, extensions: Mapping[str, Any], allow_private: bool) -> None:
    """Check the connection a response came over, reused keep-alive connections included.

    The pin already made sure of it; this is the second lock on the same door, costing one
    look at the socket, in case a future httpx finds a way past the network backend.
    """
    stream = extensions.get("network_stream")
    if stream is None:
        raise SourceError(f"refused: cannot tell which address {host} connected to")
    peer = stream.get_extra_info("server_addr")
    if not peer:
        raise SourceError(f"refused: cannot tell which address {host} connected to")
    check_address(host, str(peer[0]), allow_private, verb="connected to")


def _redirect_target(response: httpx.Response) -> str:
    location = response.headers.get("Location")
    if not location:
        raise SourceError(f"the server answered {response.status_code} without a Location")
    try:
        return str(response.url.join(location))
    except httpx.InvalidURL as exc:
        raise SourceError(f"the server redirected to an invalid URL: {exc}") from None


def _content_type(headers: httpx.Headers, policy: FetchPolicy) -> tuple[str, str | None]:
    """The media type and charset, refusing anything the extractor cannot read."""
    raw = headers.get("Content-Type", "")
    media_type, _, params = raw.partition(";")
    media_type = media_type.strip().lower()
    if not media_type:
        raise SourceError(f"no content type given by the server: send {policy.wanted}")
    if media_type not in policy.accept:
        raise SourceError(f"unsupported content type {media_type}: send {policy.wanted}")
    charset = None
    for param in params.split(";"):
        key, _, value = param.partition("=")
        if key.strip().lower() == "charset" and value.strip():
            charset = value.strip().strip('"').lower()
    return media_type, charset


def _read_body(response: httpx.Response, policy: FetchPolicy, deadline: float) -> bytes:
    """Read at most `policy.max_bytes`, as received and as decoded, refusing any more.

    A declared Content-Length over the limit is refused before reading anything; a server
    that declares nothing (or lies) is cut off when the running total passes the limit, and
    a compressed body when what it inflates to passes it (`BoundedDecoder` never inflates
    more than that), so memory use stays bounded either way. The deadline is checked after
    every chunk, so a server that drips bytes just fast enough to beat the read timeout
    still runs out of time.
    """
    declared = response.headers.get("Content-Length")
    if declared is not None and declared.strip().isdigit() and int(declared) > policy.max_bytes:
        raise SourceError(_too_large(policy.max_bytes))
    coding = content_coding(response.headers.get("Content-Encoding"))
    decoder = BoundedDecoder(coding, policy.max_bytes, _too_large(policy.max_bytes) + " once decompressed")
    chunks: list[bytes] = []
    received = 0
    for chunk in response.iter_raw():  # as sent: httpx's own decoders would inflate unbounded
        received += len(chunk)
        if received > policy.max_bytes:
            raise SourceError(_too_large(policy.max_bytes))
        chunks.append(decoder.feed(chunk))
        if time.monotonic() > deadline:
            raise SourceError(f"timed out after {policy.timeout:g} s")
    chunks.append(decoder.finish())
    return b"".join(chunks)


def _too_large(limit: int) -> str:
    size = f"{limit // _MB} MB" if limit % _MB == 0 else f"{limit:,} bytes"
    return f"the page is larger than {size}"


def _describe(exc: httpx.HTTPError) -> str:
    """A short reason for a network failure, without a traceback's worth of nesting."""
    if isinstance(exc, httpx.ConnectError):
        if _caused_by(exc, ssl.SSLCertVerificationError):
            return "the server's certificate could not be verified"
        return "cannot connect to the server"
    if isinstance(exc, httpx.RemoteProtocolError):
        return "the server broke the HTTP protocol"
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text


def _caused_by(exc: BaseException, kind: type[BaseException]) -> bool:
    """Whether `kind` is anywhere in the exception's chain (httpx wraps httpcore wraps ssl)."""
    seen: BaseException | None = exc
    for _ in range(10):  # a chain is a few links long; a cycle must not loop forever
        if seen is None:
            return False
        if isinstance(seen, kind):
            return True
        seen = seen.__cause__ or seen.__context__
    return False
