"""Decide whether a URL may be fetched at all, before and after its host is resolved.

An admin's "add a URL" makes the bot's server send requests on someone's say-so. Without a
guard, a link to `http://169.254.169.254/` or `http://localhost:8080/admin` would let anyone
who can add sources read the cloud metadata service or internal admin pages through the bot
(server-side request forgery). Checks here are pure functions of a URL and the addresses its
host resolves to; the fetcher calls them on every redirect hop, then connects only to the
addresses checked (`knowledge.pinned_network`), because DNS may answer differently the second
time.
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


# IPv6 prefixes whose low 32 bits name an IPv4 host that the packet ends up at: NAT64's
# well-known prefix (RFC 6052) and its local-use one (RFC 8215).
_NAT64 = (ipaddress.IPv6Network("64:ff9b::/96"), ipaddress.IPv6Network("64:ff9b:1::/48"))
_IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")  # deprecated "::a.b.c.d" (RFC 4291 2.5.5.1)


def embedded_ipv4(ip: IPAddress) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address carries and may deliver to, if it carries any.

    IPv4-mapped (`::ffff:127.0.0.1`), IPv4-compatible (`::127.0.0.1`), 6to4
    (`2002:7f00:1::`), Teredo (`2001:0::/32`, server and client) and NAT64 addresses all
    reach the IPv4 host inside them through the kernel, a relay or a gateway. Python's own
    flags judge the IPv6 wrapper, not that host (3.11 calls 6to4 "global" whatever it wraps),
    so the guard judges each embedded address as well.
    """
    if isinstance(ip, ipaddress.IPv4Address):
        return []
    if ip.ipv4_mapped is not None:
        return [ip.ipv4_mapped]
    if ip.sixtofour is not None:
        return [ip.sixtofour]
    if ip.teredo is not None:
        return list(ip.teredo)
    low = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if any(ip in network for network in _NAT64):
        return [low]
    if ip in _IPV4_COMPATIBLE and int(ip) > 1:  # "::" and "::1" are IPv6's own
        return [low]
    return []


def _category_of(ip: IPAddress) -> str | None:
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


def address_category(address: str) -> str | None:
    """Why an address is not a public internet address ("loopback", ...), or None if it is.

    An IPv4 address embedded in an IPv6 one is judged first, so `2002:7f00:1::` is named
    "loopback" rather than whatever its wrapper is. The order of the checks matters:
    `is_private` is also true for loopback and link-local ranges, and the message should
    name the most specific reason.
    """
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return "invalid"
    for inner in embedded_ipv4(ip):
        category = _category_of(inner)
        if category is not None:
            return category
    if _translated(ip):
        return None  # a translator hands the packet to that (public) IPv4 host: nothing else
    return _category_of(ip)


def _translated(ip: IPAddress) -> bool:
    """Whether the IPv6 address is only a translation of the IPv4 address inside it.

    An IPv4-mapped address is the IPv4 socket itself, and on an IPv6-only network with
    DNS64 every IPv4 web site resolves to a NAT64 address: Python calls both non-global,
    but where they lead is their IPv4 host, which the caller has judged already.
    """
    if isinstance(ip, ipaddress.IPv4Address):
        return False
    return ip.ipv4_mapped is not None or any(ip in network for network in _NAT64)


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
