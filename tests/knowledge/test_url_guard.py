"""The SSRF guard: which URLs and addresses may be fetched, without touching any network."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

import pytest

from knowledge.errors import SourceError
from knowledge.url_guard import address_category, check_address, check_host, embedded_ipv4, validate_url

FAKE_DNS = {
    "news.test": ["93.184.216.34"],
    "intranet.test": ["10.0.0.5"],
    "split.test": ["93.184.216.34", "192.168.1.7"],  # one public, one private answer
    "v6.test": ["2606:4700::1111"],
    "metadata.test": ["169.254.169.254"],
    "nowhere.test": [],
}


def fake_resolver(host: str, port: int) -> Sequence[str]:
    return FAKE_DNS[host]


def check(url: str, allow_private: bool = False) -> list[str]:
    return check_host(validate_url(url), fake_resolver, allow_private)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://news.test/file", "only http and https URLs can be fetched, not ftp:"),
        ("file:///etc/passwd", "only http and https URLs can be fetched, not file:"),
        ("news.test/article", "only http and https URLs can be fetched, not a relative link"),
        ("http:///article", "the URL has no host name"),
        ("https://user:secret@news.test/", "the URL must not contain a user name or password"),
        ("https://news.test/" + "a" * 2100, "the URL is too long (more than 2048 characters)"),
    ],
)
def test_malformed_urls_are_refused(url: str, message: str) -> None:
    with pytest.raises(SourceError) as caught:
        validate_url(url)
    assert str(caught.value) == message


def test_a_valid_url_keeps_host_and_default_port() -> None:
    checked = validate_url("  https://News.Test/a?b=1  ")
    assert (checked.scheme, checked.host, checked.port) == ("https", "news.test", 443)
    assert validate_url("http://[::1]:8080/").host == "::1"
    assert validate_url("http://пример.test/").host == "xn--e1afmkfd.test"  # what DNS is asked


def test_a_public_host_is_allowed() -> None:
    assert check("https://news.test/article") == ["93.184.216.34"]
    assert check("https://v6.test/") == ["2606:4700::1111"]


def test_a_host_resolving_to_a_private_address_is_refused() -> None:
    with pytest.raises(SourceError) as caught:
        check("https://intranet.test/wiki")
    assert str(caught.value) == "refused: intranet.test resolves to a private address (10.0.0.5)"


def test_one_private_answer_among_public_ones_is_enough_to_refuse() -> None:
    with pytest.raises(SourceError, match=r"split\.test resolves to a private address \(192\.168\.1\.7\)"):
        check("https://split.test/")


def test_allow_private_admits_private_hosts_and_loopback() -> None:
    assert check("https://intranet.test/wiki", allow_private=True) == ["10.0.0.5"]
    assert check("http://127.0.0.1:8000/", allow_private=True) == ["127.0.0.1"]


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://127.0.0.1/", "refused: 127.0.0.1 is a loopback address"),
        ("http://127.1.2.3/", "refused: 127.1.2.3 is a loopback address"),
        ("http://[::1]/", "refused: ::1 is a loopback address"),
        ("http://[::ffff:127.0.0.1]/", "refused: ::ffff:127.0.0.1 is a loopback address"),
        ("http://[::ffff:10.1.2.3]/", "refused: ::ffff:10.1.2.3 is a private address"),
        ("http://169.254.169.254/latest/meta-data/", "refused: 169.254.169.254 is a link-local address"),
        ("http://[fe80::1]/", "refused: fe80::1 is a link-local address"),
        ("http://0.0.0.0/", "refused: 0.0.0.0 is an unspecified address"),
        ("http://224.0.0.1/", "refused: 224.0.0.1 is a multicast address"),
        ("http://240.0.0.1/", "refused: 240.0.0.1 is a reserved address"),
        ("http://[fd00::1]/", "refused: fd00::1 is a private address"),
        ("http://100.64.0.1/", "refused: 100.64.0.1 is a non-public address"),
    ],
)
def test_address_literals_outside_the_public_internet_are_refused(url: str, message: str) -> None:
    with pytest.raises(SourceError) as caught:
        check(url)
    assert str(caught.value) == message


@pytest.mark.parametrize(
    "url", ["http://169.254.169.254/", "http://metadata.test/", "http://0.0.0.0/", "http://224.0.0.1/"]
)
def test_allow_private_never_admits_link_local_unspecified_or_multicast(url: str) -> None:
    with pytest.raises(SourceError, match="refused"):
        check(url, allow_private=True)


def test_a_name_without_addresses_is_refused() -> None:
    with pytest.raises(SourceError, match="cannot find the host nowhere.test"):
        check("http://nowhere.test/")


def test_address_categories() -> None:
    assert address_category("93.184.216.34") is None
    assert address_category("::ffff:93.184.216.34") is None
    assert address_category("::ffff:127.0.0.1") == "loopback"
    assert address_category("not an address") == "invalid"


def test_the_connected_address_is_reported_as_such() -> None:
    with pytest.raises(SourceError) as caught:
        check_address("news.test", "127.0.0.1", allow_private=False, verb="connected to")
    assert str(caught.value) == "refused: news.test connected to a loopback address (127.0.0.1)"


# -- IPv6 addresses that carry an IPv4 host inside them ------------------------------------


@pytest.mark.parametrize(
    ("address", "category"),
    [
        ("2002:7f00:1::", "loopback"),  # 6to4 of 127.0.0.1
        ("2002:7f00:1:1234::5", "loopback"),  # any subnet and interface behind it
        ("2002:a00:5::1", "private"),  # 6to4 of 10.0.0.5
        ("2002:c0a8:107::", "private"),  # 6to4 of 192.168.1.7
        ("2002:a9fe:a9fe::", "link-local"),  # 6to4 of 169.254.169.254, cloud metadata
        ("2002::", "unspecified"),  # 6to4 of 0.0.0.0
        ("2001:0:4136:e378:8000:63bf:80ff:fffe", "loopback"),  # Teredo, client 127.0.0.1
        ("2001:0:a00:1::5db8:d822", "private"),  # Teredo, server 10.0.0.1
        ("2001:0:5db8:d822:0:0:5601:5656", "link-local"),  # Teredo, client 169.254.169.169
        ("64:ff9b::7f00:1", "loopback"),  # NAT64 of 127.0.0.1
        ("64:ff9b::a9fe:a9fe", "link-local"),  # NAT64 of 169.254.169.254
        ("64:ff9b:1::a00:5", "private"),  # local-use NAT64 of 10.0.0.5
        ("::127.0.0.1", "loopback"),  # IPv4-compatible (deprecated)
        ("::a00:5", "private"),
        ("::ffff:169.254.169.254", "link-local"),  # IPv4-mapped
    ],
)
def test_ipv6_forms_of_internal_ipv4_addresses_are_named_by_their_ipv4_host(address: str, category: str) -> None:
    assert address_category(address) == category
    with pytest.raises(SourceError) as caught:
        check(f"http://[{address}]/")
    article = "an" if category[0] in "aeiou" else "a"
    assert str(caught.value) == f"refused: {address} is {article} {category} address"


@pytest.mark.parametrize("address", ["2002:7f00:1::", "2001:0:4136:e378:8000:63bf:80ff:fffe", "64:ff9b::a00:5"])
def test_a_name_resolving_to_a_wrapped_internal_address_is_refused(address: str) -> None:
    resolver = {"wrapped.test": [address]}.__getitem__
    with pytest.raises(SourceError) as caught:
        check_host(validate_url("https://wrapped.test/"), lambda host, port: resolver(host), False)
    assert str(caught.value).startswith(f"refused: wrapped.test resolves to a")
    assert str(caught.value).endswith(f"({address})")


def test_allow_private_never_admits_a_wrapped_link_local_address() -> None:
    for address in ("2002:a9fe:a9fe::", "64:ff9b::a9fe:a9fe", "::ffff:169.254.169.254"):
        with pytest.raises(SourceError, match="link-local"):
            check(f"http://[{address}]/", allow_private=True)
    assert check("http://[2002:a00:5::1]/", allow_private=True) == ["2002:a00:5::1"]


@pytest.mark.parametrize("address", ["2002:5db8:d822::1", "64:ff9b::5db8:d822", "::ffff:93.184.216.34"])
def test_wrapped_public_addresses_stay_public(address: str) -> None:
    """6to4 of a public host is routed to it; on an IPv6-only network with DNS64, every IPv4
    web site resolves to a NAT64 address, and refusing those would refuse the whole web."""
    assert address_category(address) is None
    assert check(f"http://[{address}]/") == [address]


def test_teredo_is_refused_even_around_public_hosts() -> None:
    # Teredo relays are long gone from the public internet; Python files 2001::/23 as private.
    assert address_category("2001:0:5db8:d822:0:0:a246:2ddd") == "private"


def test_embedded_ipv4_reads_every_wrapper() -> None:
    def inner(address: str) -> list[str]:
        return [str(ip) for ip in embedded_ipv4(ipaddress.ip_address(address))]

    assert inner("2002:7f00:1::") == ["127.0.0.1"]
    assert inner("2001:0:4136:e378:8000:63bf:80ff:fffe") == ["65.54.227.120", "127.0.0.1"]
    assert inner("64:ff9b::a00:5") == ["10.0.0.5"]
    assert inner("::ffff:10.0.0.5") == ["10.0.0.5"]
    assert inner("::a00:5") == ["10.0.0.5"]
    assert inner("::1") == inner("::") == inner("2606:4700::1111") == inner("10.0.0.5") == []
