"""A stand-in web server for the fetching tests: real HTTP on an ephemeral 127.0.0.1 port,
serving an article page, PDFs with and without a text layer, redirect chains, oversize and
slow bodies, wrong content types, compressed bodies and compression bombs, and pages held back
until a test lets them go (an import kept in progress). The builders make the PDFs and the
bombs in memory. The server counts the connections it accepts, not only the requests, so a
test can prove that nothing so much as completed a TCP handshake with it."""

from __future__ import annotations

import functools
import io
import socket
import threading
import time
import zlib
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

ARTICLE_HTML = """<!DOCTYPE html>
<html lang="en"><head>
<meta charset="utf-8">
<title>Grain corridor reopens after talks | Kyiv Ledger</title>
<meta property="og:title" content="Grain corridor reopens after talks">
<meta property="og:site_name" content="Kyiv Ledger">
<meta property="article:published_time" content="2024-11-20T08:30:00+02:00">
</head><body>
<nav><a href="/">Home</a> <a href="/world">World</a> <a href="/sport">Sport</a></nav>
<article>
<h1>Grain corridor reopens after talks</h1>
<p>Ukraine's Black Sea grain corridor reopened on Wednesday after two days of talks between
port authorities and insurers, the ministry of infrastructure said in a statement.</p>
<p>Twelve ships left Odesa and Chornomorsk in the first hours, carrying wheat and maize bound
for Egypt, Spain and Turkey, according to the port administration.</p>
<p>Insurers had paused cover after a drone strike damaged a terminal on Sunday; the new
agreement raises the war-risk premium but restores cover for all three ports.</p>
</article>
<footer>Subscribe to our newsletter. Cookie settings.</footer>
</body></html>"""


def text_pdf(lines: Sequence[str], title: str | None = None) -> bytes:
    """A minimal valid PDF whose page draws `lines` in Helvetica: a real text layer."""
    ops = ["BT", "/F1 12 Tf", "14 TL", "72 720 Td"]
    for line in lines:
        escaped = line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
        ops.append(f"({escaped}) Tj T*")
    ops.append("ET")
    stream = "\n".join(ops).encode("latin-1")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
        b"/Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
    ]
    info = f"<< /Title ({title}) >>".encode("latin-1") if title else b"<< /Producer (tests) >>"
    objects.append(info)
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for offset in offsets:
        out.write(b"%010d 00000 n \n" % offset)
    out.write(
        b"trailer\n<< /Size %d /Root 1 0 R /Info %d 0 R >>\nstartxref\n%d\n%%%%EOF\n"
        % (len(objects) + 1, len(objects), xref)
    )
    return out.getvalue()


def blank_pdf() -> bytes:
    """A PDF with one empty page and no text, as a scan without OCR looks to a text reader."""
    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(width=612, height=792)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


REPORT_PDF = text_pdf(
    ["Humanitarian situation report, November 2024", "Power cuts affected 4 million people."],
    title="Situation report 12",
)


STORY_TOPICS = [
    "Power engineers restored electricity to the Kharkiv region after overnight strikes on substations",
    "Farmers in the Mykolaiv region began the winter wheat harvest despite mined fields nearby",
    "Volunteers delivered generators and blankets to villages along the Dnipro river before the frost",
    "Teachers in Zaporizhzhia moved classes underground as air raid alerts lasted for hours",
    "Railway workers repaired the bridge near Izium and resumed passenger trains to the east",
]


def story_html(number: int) -> str:
    """A distinct dated article for /story/N, so feed entries ingest as different documents."""
    topic = STORY_TOPICS[number % len(STORY_TOPICS)]
    return (
        f"<html><head><title>Story {number}</title>"
        '<meta property="article:published_time" content="2024-11-20"></head><body><article>'
        f"<h1>Story {number}</h1><p>{topic}, officials said on Tuesday in report number {number}.</p>"
        f"<p>Local residents told reporters that the situation in story {number} remained difficult "
        "but that help had arrived faster than during the previous winter.</p></article></body></html>"
    )


def rss_feed(items: Sequence[tuple[str, str]], base: str) -> bytes:
    """RSS 2.0 with one item per (path, title); links are absolute on `base`."""
    parts = [f"<item><title>{title}</title><link>{base}{path}</link>"
             "<pubDate>Wed, 20 Nov 2024 08:30:00 GMT</pubDate>"
             f"<description>About {title}.</description></item>" for path, title in items]
    return ('<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
            f"<title>Local wire</title><link>{base}/</link><description>Tests</description>"
            + "".join(parts) + "</channel></rss>").encode("utf-8")


def atom_feed(items: Sequence[tuple[str, str]], base: str) -> bytes:
    """Atom 1.0 with one entry per (path, title); links are relative to the feed."""
    parts = [f'<entry><title>{title}</title><link href="{path}"/><id>tag:test,2024:{path}</id>'
             f"<updated>2024-11-21T10:00:00Z</updated><summary>About {title}.</summary></entry>"
             for path, title in items]
    return ('<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
            f'<title>Local atom</title><id>tag:test,2024:feed</id><updated>2024-11-21T10:00:00Z</updated>'
            + "".join(parts) + "</feed>").encode("utf-8")


def compress(body: bytes, coding: str) -> bytes:
    """`body` in one Content-Encoding: "gzip", "deflate" (zlib) or "raw-deflate" (no header)."""
    wbits = {"gzip": 31, "deflate": 15, "raw-deflate": -15}[coding]
    packer = zlib.compressobj(9, zlib.DEFLATED, wbits)
    return packer.compress(body) + packer.flush()


def gzip_bomb(megabytes: int, layers: int) -> bytes:
    """`megabytes` MB of spaces (harmless HTML), gzipped `layers` times: 256 MB in two layers
    is 590 bytes on the wire."""
    body = _gzipped_spaces(megabytes)
    for _ in range(layers - 1):
        body = compress(body, "gzip")
    return body


@functools.lru_cache(maxsize=2)
def _gzipped_spaces(megabytes: int) -> bytes:
    """Built once a session (seconds for 256 MB) in 1 MB steps, never holding the whole."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    block = b" " * (1 << 20)
    return b"".join([packer.compress(block) for _ in range(megabytes)] + [packer.flush()])


HOLD_LIMIT = 60.0  # seconds a held page waits at most, so a failed test never strands a thread


class Hold:
    """Holds every /held/N request until `release()`: an import (or a feed poll) stays in
    progress, fetching, for as long as a test needs, with no sleeps. The fetcher gives up
    after 20 s (`FetchPolicy.timeout`), so a test releases well before that."""

    def __init__(self) -> None:
        self._arrived = threading.Condition()
        self._released = threading.Event()
        self.paths: list[str] = []  # the held requests, in the order they came

    def enter(self, path: str) -> None:
        """In the handler's thread: note the request, then wait for the release."""
        with self._arrived:
            self.paths.append(path)
            self._arrived.notify_all()
        self._released.wait(HOLD_LIMIT)

    def wait_for(self, count: int, timeout: float = 30.0) -> list[str]:
        """Block until `count` requests are held (call it in a thread from async code)."""
        with self._arrived:
            if not self._arrived.wait_for(lambda: len(self.paths) >= count, timeout):
                raise AssertionError(f"{len(self.paths)} held requests, not {count}, after {timeout:g} s")
            return list(self.paths)

    def release(self) -> None:
        """Let every held request, and every later one, through."""
        self._released.set()


class Handler(BaseHTTPRequestHandler):
    """Routes of the stand-in web server; every request path is recorded in `server.seen`."""

    server: LocalServer

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - keep test output quiet
        pass

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self.server.seen.append(self.path)
        self.server.hosts.append(self.headers.get("Host", ""))
        parts = urlsplit(self.path)
        route = getattr(self, "route_" + parts.path.strip("/").split("/")[0].replace("-", "_").replace(".", "_"), None)
        if route is None:
            self.send(404, "text/plain", b"not found")
        else:
            route(parts.path, parse_qs(parts.query))

    def send(self, status: int, content_type: str | None, body: bytes, length: bool = True) -> None:
        self.send_response(status)
        if content_type:
            self.send_header("Content-Type", content_type)
        if length:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def redirect(self, location: str) -> None:
        self.send_response(302)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def route_article(self, path: str, query: dict[str, list[str]]) -> None:
        self.send(200, "text/html; charset=utf-8", ARTICLE_HTML.encode("utf-8"))

    def route_report_pdf(self, path: str, query: dict[str, list[str]]) -> None:
        self.send(200, "application/pdf", REPORT_PDF)

    def route_scan_pdf(self, path: str, query: dict[str, list[str]]) -> None:
        self.send(200, "application/pdf", blank_pdf())

    def route_hops(self, path: str, query: dict[str, list[str]]) -> None:
        """/hops/N redirects N times (relative Locations), then serves the article."""
        left = int(path.rsplit("/", 1)[1])
        self.redirect(f"/hops/{left - 1}" if left > 1 else "/article")

    def route_to(self, path: str, query: dict[str, list[str]]) -> None:
        self.redirect(query["url"][0])

    def route_big_declared(self, path: str, query: dict[str, list[str]]) -> None:
        """Declares 6 MB but sends only a little: the client must refuse on the header."""
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(6 * 1024 * 1024))
        self.end_headers()
        self.wfile.write(b"<html>" + b"x" * 1000)

    def route_big_undeclared(self, path: str, query: dict[str, list[str]]) -> None:
        """No Content-Length (HTTP/1.0, body ends at close): 200 KB in 8 KB pieces."""
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.end_headers()
        try:
            for _ in range(25):
                self.wfile.write(b"y" * 8192)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client hung up at its limit, as it should

    def route_story(self, path: str, query: dict[str, list[str]]) -> None:
        """/story/N: a distinct article per N."""
        self.send(200, "text/html; charset=utf-8", story_html(int(path.rsplit("/", 1)[1])).encode("utf-8"))

    def route_feed_rss(self, path: str, query: dict[str, list[str]]) -> None:
        """RSS 2.0 of `server.feed_items`; a test appends to it between polls."""
        base = f"http://127.0.0.1:{self.server.port}"
        self.send(200, "application/rss+xml", rss_feed(self.server.feed_items, base))

    def route_feed_atom(self, path: str, query: dict[str, list[str]]) -> None:
        """Atom 1.0 of `server.feed_items`, with links relative to the feed."""
        self.send(200, "application/atom+xml", atom_feed(self.server.feed_items, ""))

    def route_raw(self, path: str, query: dict[str, list[str]]) -> None:
        """/raw/NAME: the (content type, bytes) a test put in `server.raw[NAME]`, as they are."""
        found = self.server.raw.get(path.rsplit("/", 1)[1])
        if found is None:
            self.send(404, "text/plain", b"not found")
        else:
            self.send(200, *found)

    def route_syndicated(self, path: str, query: dict[str, list[str]]) -> None:
        """The /article story as a partner site republishes it: its own title, site name and
        page, and one word changed, so neither the URL nor the content hash matches."""
        page = (ARTICLE_HTML.replace("| Kyiv Ledger", "| Wire Partner")
                .replace('content="Kyiv Ledger"', 'content="Wire Partner"')
                .replace("reopened on Wednesday", "reopened on Wednesday morning"))
        self.send(200, "text/html; charset=utf-8", page.encode("utf-8"))

    def route_image(self, path: str, query: dict[str, list[str]]) -> None:
        self.send(200, "image/png", b"\x89PNG\r\n\x1a\n")

    def route_untyped(self, path: str, query: dict[str, list[str]]) -> None:
        self.send(200, None, b"<html>hello</html>")

    def route_slow(self, path: str, query: dict[str, list[str]]) -> None:
        time.sleep(float(query.get("s", ["1.5"])[0]))
        self.send(200, "text/html", ARTICLE_HTML.encode("utf-8"))

    def route_held(self, path: str, query: dict[str, list[str]]) -> None:
        """/held/N: /story/N once the test releases `server.hold`."""
        self.server.hold.enter(path)
        try:
            self.route_story(path, query)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the fetcher gave up waiting (after 20 s): the test has failed already

    def route_changing(self, path: str, query: dict[str, list[str]]) -> None:
        """Whatever the test last put in `server.changing_html`: a page that gets updated."""
        self.send(200, "text/html; charset=utf-8", self.server.changing_html.encode("utf-8"))

    def route_encoded(self, path: str, query: dict[str, list[str]]) -> None:
        """/encoded?as=CODINGS: the article compressed with each of the comma-separated codings
        in turn ("raw-deflate" is deflate without its zlib header, sent as "deflate"; a coding
        the server cannot make, such as "br", is only named). With &bomb=MB&layers=N, a gzip
        bomb of MB megabytes in N layers instead, under the Content-Encoding given in `as`, and
        with &cut=1 only its first half (a complete response of a truncated stream)."""
        header = query["as"][0]
        if "bomb" in query:
            body = gzip_bomb(int(query["bomb"][0]), int(query.get("layers", ["1"])[0]))
            body = body[: len(body) // 2] if "cut" in query else body  # &cut=1: half a body
        else:
            body = ARTICLE_HTML.encode("utf-8")
            for coding in (c.strip() for c in header.split(",")):
                body = compress(body, coding) if coding in ("gzip", "deflate", "raw-deflate") else body
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Encoding", header.replace("raw-deflate", "deflate"))
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client refused on the header

    def route_typed(self, path: str, query: dict[str, list[str]]) -> None:
        """/typed?ct=...&enc=...: the article, its publisher in Ukrainian ("Київський вісник",
        so a wrong decoding shows), encoded in `enc` (UTF-8 if not given) and sent under
        whatever Content-Type the test names, charset parameter and all."""
        page = ARTICLE_HTML.replace("Kyiv Ledger", "Київський вісник").replace('<meta charset="utf-8">\n', "")
        self.send(200, query["ct"][0], page.encode(query.get("enc", ["utf-8"])[0]))

    def route_drip(self, path: str, query: dict[str, list[str]]) -> None:
        """A byte every 0.1 s for 30 s: never slow enough for a read timeout, far too slow overall."""
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.end_headers()
        try:
            for _ in range(300):
                self.wfile.write(b"z")
                self.wfile.flush()
                time.sleep(0.1)
        except (BrokenPipeError, ConnectionResetError):
            pass


class LocalServer(ThreadingHTTPServer):
    daemon_threads = True
    seen: list[str]
    hosts: list[str]  # the Host header of each request, in the order of `seen`
    accepted: list[Any]  # the peer of each TCP connection accepted, request or not
    _accepting: threading.Condition
    hold: Hold  # what /held/N waits for
    feed_items: list[tuple[str, str]]  # (path, title) of each feed entry, served newest last
    changing_html: str = ARTICLE_HTML  # what /changing serves; tests edit it to see a refresh
    raw: dict[str, tuple[str, bytes]]  # what /raw/NAME serves: (content type, body)

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"

    def get_request(self) -> tuple[socket.socket, Any]:
        request = super().get_request()
        with self._accepting:
            self.accepted.append(request[1])
            self._accepting.notify_all()
        return request

    def connections(self, timeout: float = 10.0) -> int:
        """How many TCP connections reached the server so far, counting any not yet accepted.

        A connection whose handshake completed waits in the listen queue until the server
        thread accepts it, so reading `accepted` alone could miss it. The queue is first come,
        first served: once a probe connection made now has been accepted, every earlier one
        has been too, and the probe's place in `accepted` is the count.
        """
        with socket.create_connection(("127.0.0.1", self.port), timeout=timeout) as probe:
            me = probe.getsockname()
            with self._accepting:
                if not self._accepting.wait_for(lambda: me in self.accepted, timeout):
                    raise AssertionError(f"the probe connection was not accepted in {timeout:g} s")
                return self.accepted.index(me)


def start_server() -> tuple[LocalServer, threading.Thread]:
    httpd = LocalServer(("127.0.0.1", 0), Handler)
    httpd.seen = []
    httpd.hosts = []
    httpd.accepted = []
    httpd._accepting = threading.Condition()
    httpd.hold = Hold()
    httpd.feed_items = [("/story/1", "Story 1"), ("/story/2", "Story 2")]
    httpd.raw = {}
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    return httpd, thread


def stop_server(httpd: LocalServer, thread: threading.Thread) -> None:
    httpd.hold.release()
    httpd.shutdown()
    httpd.server_close()
    thread.join(5)
