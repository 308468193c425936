"""Undo a response's Content-Encoding without ever holding more than the size limit.

A compressed body is a promise of how large it will be once inflated, made by a stranger:
1,827 bytes of `Content-Encoding: gzip, gzip` inflate to gigabytes, and a decoder that
inflates a whole chunk before anyone counts the result has already spent the memory. So the
fetcher counts the bytes as received, and this decoder inflates with zlib's `max_length`,
never producing more than one byte past the limit, so that it is refused on the decoded size
as well. Only what a web server may reasonably send is taken: no encoding, or one layer of
gzip or deflate. Anything else (brotli, zstd, compress, stacked layers) is refused by name,
since the fetcher asked for `identity` and a server that stacks layers is not sending a page.
"""

from __future__ import annotations

import zlib

from knowledge.errors import SourceError

GZIP_WBITS = 16 + zlib.MAX_WBITS  # a gzip header and trailer around the deflate stream
ZLIB_WBITS = zlib.MAX_WBITS  # "deflate" as RFC 9110 defines it: a zlib stream
RAW_WBITS = -zlib.MAX_WBITS  # "deflate" as some servers send it anyway: no header at all
_ALIASES = {"x-gzip": "gzip", "gzip": "gzip", "deflate": "deflate"}


def content_coding(header: str | None) -> str:
    """The one coding a Content-Encoding header names: "identity", "gzip" or "deflate".

    Raises:
        SourceError: the header stacks codings or names one the fetcher does not decode.
    """
    tokens = [t.strip().lower() for t in (header or "").split(",")]
    codings = [t for t in tokens if t and t != "identity"]
    if not codings:
        return "identity"
    if len(codings) > 1:
        raise SourceError(f"the server sent the page compressed {len(codings)} times ({header}): refused")
    if codings[0] not in _ALIASES:
        raise SourceError(f"the server sent the page in an unsupported encoding ({codings[0]})")
    return _ALIASES[codings[0]]


class BoundedDecoder:
    """Decodes one body chunk by chunk; refuses it as soon as it inflates past `max_bytes`."""

    def __init__(self, coding: str, max_bytes: int, too_large: str) -> None:
        self.coding = coding
        self.decoded = 0  # bytes produced so far
        self._max = max_bytes
        self._too_large = too_large
        self._head = b""  # deflate: the first bytes, until they show whether there is a zlib header
        self._inflater: zlib._Decompress | None = None
        if coding == "gzip":
            self._inflater = zlib.decompressobj(GZIP_WBITS)

    def feed(self, data: bytes) -> bytes:
        """The decoded bytes of `data`, at most the limit plus one in all.

        Raises:
            SourceError: the total passed the limit (with the `too_large` message), or the
                compressed data is damaged.
        """
        if self.coding == "identity":
            return self._count(data)
        if self._inflater is None:  # deflate, kind not known yet
            self._head += data
            if len(self._head) < 2:
                return b""
            data, self._head = self._head, b""
            self._inflater = zlib.decompressobj(ZLIB_WBITS if _zlib_header(data) else RAW_WBITS)
        try:
            return self._inflate(self._inflater, data)
        except zlib.error:
            raise SourceError(f"the page's {self.coding} data is damaged") from None

    def finish(self) -> bytes:
        """Whatever is left once the body has ended; refuses a compressed stream cut short."""
        if self.coding == "identity":
            return b""
        if self._inflater is None or not self._inflater.eof:
            raise SourceError(f"the page's {self.coding} data is incomplete")
        return b""

    def _inflate(self, inflater: zlib._Decompress, data: bytes) -> bytes:
        pieces: list[bytes] = []
        while data:
            if inflater.eof:  # another gzip member follows the first (RFC 1952 allows it)
                if self.coding != "gzip":
                    raise SourceError(f"the page's {self.coding} data is damaged")
                inflater = self._inflater = zlib.decompressobj(GZIP_WBITS)
            room = self._max - self.decoded + 1  # one byte more than allowed proves "too large"
            pieces.append(self._count(inflater.decompress(data, room)))
            data = inflater.unconsumed_tail or inflater.unused_data
        return b"".join(pieces)

    def _count(self, piece: bytes) -> bytes:
        self.decoded += len(piece)
        if self.decoded > self._max:
            raise SourceError(self._too_large)
        return piece


def _zlib_header(data: bytes) -> bool:
    """Whether `data` starts with a zlib header (RFC 1950: deflate method, checksum of 31)."""
    return data[0] & 0x0F == 8 and ((data[0] << 8) | data[1]) % 31 == 0
