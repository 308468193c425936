"""The SSRF guard: which URLs and addresses may be fetched, without touching any network."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from knowledge.errors import SourceError
from knowledge.url_guard import address_category, check_address, check_host, validate_url

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
