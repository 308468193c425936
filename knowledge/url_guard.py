"""Decide whether a URL may be fetched at all, before and after its host is resolved.

An admin's "add a URL" makes the bot's server send requests on someone's say-so. Without a
guard, a link to `http://169.254.169.254/` or `http://localhost:8080/admin` would let anyone
who can add sources read the cloud metadata service or internal admin pages through the bot
(server-side request forgery). Checks here are pure functions of a URL and the addresses its
host resolves to; the fetcher calls them on every redirect hop and again on the address it
actually connected to, because DNS may answer differently the second time.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import httpx

from knowledge.errors import SourceError

MAX_URL_LENGTH = 2048
ALLOWED_SCHEMES = ("http", "https")

#: Maps (host, port) to the IP addresses a connection to it could reach.
Resolver = Callable[[str, int], Sequence[str]]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Categories a self-hosted source may legitimately live in, with `allow_private`. The others
# (cloud metadata on link-local, multicast, 0.0.0.0, reserved ranges) are never a web page.
_PRIVATE_CATEGORIES = frozenset({"loopback", "private", "non-public"})


@dataclass(frozen=True)
class CheckedURL:
    """A URL that passed the syntactic checks, with the host and port a request will use."""

    url: str
    scheme: str
    host: str  # ASCII (IDNA) form, without brackets for IPv6: what the resolver is given
    port: int


def validate_url(url: str, max_length: int = MAX_URL_LENGTH) -> CheckedURL:
    """Refuse URLs that are not plain http(s) links to a named host.

    Parsed with httpx's own URL parser, so the host checked here is the host httpx connects
    to: two parsers disagreeing about a tricky URL is a classic way around such guards.

    Raises:
        SourceError: the URL is malformed, too long, not http(s), has no host or carries
            credentials (which would end up in logs and the stored source list).
    """
    url = url.strip()
    if len(url) > max_length:
        raise SourceError(f"the URL is too long (more than {max_length} characters)")
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise SourceError(f"not a valid URL: {exc}") from None
    if parsed.scheme not in ALLOWED_SCHEMES:
        shown = f"{parsed.scheme}:" if parsed.scheme else "a relative link"
        raise SourceError(f"only http and https URLs can be fetched, not {shown}")
    if not parsed.raw_host:
        raise SourceError("the URL has no host name")
    if parsed.userinfo:
        raise SourceError("the URL must not contain a user name or password")
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    return CheckedURL(str(parsed), parsed.scheme, parsed.raw_host.decode("ascii"), port)


def system_resolver(host: str, port: int) -> list[str]:
    """Every address `socket.getaddrinfo` gives for a TCP connection to host:port.

    Raises:
        SourceError: the name does not resolve.
    """
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise SourceError(f"cannot find the host {host}") from None
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _unwrap(ip: IPAddress) -> IPAddress:
    """The IPv4 address inside an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`), if it is one.

    `::ffff:127.0.0.1` reaches the loopback interface, but before Python 3.13 `is_loopback`
    says False for it; unwrapping first makes the checks below see what the kernel sees.
    """
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def address_category(address: str) -> str | None:
    """Why an address is not a public internet address ("loopback", ...), or None if it is.

    The order matters: `is_private` is also true for loopback and link-local ranges, and the
    message should name the most specific reason.
    """
    try:
        ip = _unwrap(ipaddress.ip_address(address))
    except ValueError:
        return "invalid"
    checks: tuple[tuple[str, bool], ...] = (
        ("unspecified", ip.is_unspecified),
        ("loopback", ip.is_loopback),
        ("link-local", ip.is_link_local),
        ("multicast", ip.is_multicast),
        ("reserved", ip.is_reserved),
        ("private", ip.is_private),
        ("non-public", not ip.is_global),  # e.g. 100.64.0.0/10, shared carrier-grade NAT
    )
    for name, matches in checks:
        if matches:
            return name
    return None


def check_address(host: str, address: str, allow_private: bool, verb: str = "resolves to") -> None:
    """Refuse one address of `host` unless it is public (or private and that is allowed).

    Raises:
        SourceError: e.g. "refused: example.test resolves to a private address (10.0.0.5)".
    """
    category = address_category(address)
    if category is None or (allow_private and category in _PRIVATE_CATEGORIES):
        return
    article = "an" if category[0] in "aeiou" else "a"
    if host == address:  # an address literal in the URL
        raise SourceError(f"refused: {host} is {article} {category} address")
    raise SourceError(f"refused: {host} {verb} {article} {category} address ({address})")


def check_host(target: CheckedURL, resolver: Resolver, allow_private: bool) -> list[str]:
    """Resolve the URL's host and refuse it if any of its addresses is not allowed.

    All addresses are checked, not just the first: the connection may use any of them.

    Returns:
        The addresses, for logging.
    """
    try:
        ipaddress.ip_address(target.host)
    except ValueError:
        addresses = list(resolver(target.host, target.port))
    else:  # an address literal: nothing to resolve
        addresses = [target.host]
    if not addresses:
        raise SourceError(f"cannot find the host {target.host}")
    for address in addresses:
        check_address(target.host, address, allow_private)
    return addresses
