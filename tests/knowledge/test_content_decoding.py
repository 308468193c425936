"""The bounded decoder on its own: every coding, chunked as awkwardly as a network chunks it."""

from __future__ import annotations

import pytest

from knowledge.content_decoding import BoundedDecoder, content_coding
from knowledge.errors import SourceError
from tests.web_server import compress

PAGE = b"<html><body>" + b"Grain corridor reopens after talks. " * 400 + b"</body></html>"


def decode(coding: str, body: bytes, limit: int = 1_000_000, step: int = 1000) -> bytes:
    decoder = BoundedDecoder(content_coding(coding), limit, "too large")
    out = [decoder.feed(body[i:i + step]) for i in range(0, len(body), step)]
    return b"".join(out) + decoder.finish()


@pytest.mark.parametrize("step", [1, 7, 4096, 1 << 20])
@pytest.mark.parametrize(("header", "coding"), [("gzip", "gzip"), ("x-gzip", "gzip"), ("deflate", "deflate"),
                                                ("deflate", "raw-deflate"), ("identity", None), ("", None)])
def test_every_coding_decodes_whatever_the_chunking(header: str, coding: str | None, step: int) -> None:
    body = compress(PAGE, coding) if coding else PAGE
    assert decode(header, body, step=step) == PAGE


def test_gzip_members_are_decoded_one_after_another() -> None:
    body = compress(PAGE[:100], "gzip") + compress(PAGE[100:], "gzip")
    assert decode("gzip", body, step=50) == PAGE


def test_the_limit_applies_to_the_decoded_size_to_the_byte() -> None:
    body = compress(PAGE, "gzip")
    assert decode("gzip", body, limit=len(PAGE)) == PAGE
    with pytest.raises(SourceError, match="too large"):
        decode("gzip", body, limit=len(PAGE) - 1)
    with pytest.raises(SourceError, match="too large"):
        decode("identity", PAGE, limit=len(PAGE) - 1)


def test_a_bomb_is_never_inflated_past_the_limit() -> None:
    """One 64 KB chunk of zeros' gzip would inflate to 64 MB in one call without max_length."""
    bomb = compress(b"\0" * (64 << 20), "gzip")
    decoder = BoundedDecoder("gzip", 1000, "too large")
    with pytest.raises(SourceError, match="too large"):
        decoder.feed(bomb)
    assert decoder.decoded == 1001


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ("gzip, gzip", "the server sent the page compressed 2 times (gzip, gzip): refused"),
        ("GZIP,deflate,gzip", "the server sent the page compressed 3 times (GZIP,deflate,gzip): refused"),
        ("br", "the server sent the page in an unsupported encoding (br)"),
        ("zstd", "the server sent the page in an unsupported encoding (zstd)"),
    ],
)
def test_stacked_and_unknown_codings_are_refused_by_name(header: str, message: str) -> None:
    with pytest.raises(SourceError) as caught:
        content_coding(header)
    assert str(caught.value) == message


def test_identity_alongside_one_coding_is_that_coding() -> None:
    assert content_coding("identity, gzip") == "gzip"
    assert content_coding(None) == content_coding(" ") == content_coding("Identity") == "identity"


@pytest.mark.parametrize(
    ("header", "body", "message"),
    [
        ("gzip", compress(PAGE, "gzip")[:-20], "the page's gzip data is incomplete"),
        ("deflate", compress(PAGE, "deflate")[:30], "the page's deflate data is incomplete"),
        ("deflate", b"x", "the page's deflate data is incomplete"),
        ("gzip", b"not gzip at all", "the page's gzip data is damaged"),
        ("gzip", compress(PAGE, "gzip") + b"trailing junk", "the page's gzip data is damaged"),
        ("deflate", compress(PAGE, "deflate") + b"more", "the page's deflate data is damaged"),
    ],
)
def test_damaged_or_cut_streams_are_refused(header: str, body: bytes, message: str) -> None:
    with pytest.raises(SourceError) as caught:
        decode(header, body)
    assert str(caught.value) == message
