"""The REST front: the route table, recording and answering each call, and failures a test
asks for with `fail_next`. FakeDiscord, the whole stand-in, is defined here."""

from __future__ import annotations

import inspect
import json
import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from multidict import MultiMapping

from tests.discord_server.channels import ChannelRoutes
from tests.discord_server.state import JSON, Recorded
from tests.discord_server.validation import ApiError
from tests.stand_in import FailureQueue


@dataclass
class Failure:
    """One failure asked for with fail_next."""

    method: str
    path_contains: str
    status: int
    retry_after: float
    via: bool
    global_: bool
    code: int | None
    message: str | None


Handler = Callable[[dict[str, str], Any, MultiMapping[str]], Any]


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None
                  ) -> web.Response:
    """JSON with Content-Type exactly "application/json": discord.py compares the header
    verbatim, and aiohttp's json_response appends "; charset=utf-8" (login then fails)."""
    return web.Response(body=json.dumps(data).encode(), status=status,
                        headers={"Content-Type": "application/json", **(headers or {})})


class FakeDiscord(ChannelRoutes):
    """The stand-in: start(), patch_client_urls(monkeypatch), log the client in, dispatch events,
    assert on `requests`, `sent_messages`, `synced_commands`."""

    def __init__(self) -> None:
        super().__init__()
        self._failures: FailureQueue[Failure] = FailureQueue()
        self._routes: list[tuple[str, re.Pattern[str], Handler, bool]] = []
        self._build_routes()

    async def start(self) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_get("/gateway", self._gateway)
        app.router.add_get("/attachments/{channel}/{attachment}/{filename}", self._download)
        app.router.add_get("/proxy/attachments/{channel}/{attachment}/{filename}", self._download)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        await self._serve(app)

    def fail_next(self, method: str, path_contains: str, status: int = 429,
                  retry_after: float = 0.5, via: bool = True, global_: bool = False,
                  code: int | None = None, message: str | None = None) -> None:
        """Make the next REST call of `method` whose path contains `path_contains` fail (it is
        still recorded). A 429 carries {"message", "retry_after", "global"}, X-RateLimit-* and
        Retry-After headers, and `Via: 1.1 google` when `via` (discord.py retries a 429 only
        with Via; without it raises HTTPException(status=429) at once, as for a Cloudflare ban).
        Failures queue up, one call each."""
        self._failures.add(Failure(method.upper(), path_contains, status, retry_after, via,
                                      global_, code, message))
    async def _download(self, request: web.Request) -> web.Response:
        """The CDN: the bytes of a file a user attached (recorded like every request; 404 for
        an unknown one, as the CDN answers)."""
        self._record(Recorded(request.method, request.path, None, dict(request.headers)))
        try:
            stored = self.user_files.get(int(request.match_info["attachment"]))
        except ValueError:
            stored = None
        if stored is None:
            return web.Response(status=404, text="Not Found")
        return web.Response(body=stored["data"], headers={
            "Content-Type": stored["payload"].get("content_type") or "application/octet-stream"})

    # -- REST plumbing ---------------------------------------------------------------------
    def _route(self, method: str, pattern: str, handler: Handler, auth: bool = True) -> None:
        regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", pattern)
        self._routes.append((method, re.compile(f"^{regex}$"), handler, auth))

    def _build_routes(self) -> None:
        app = r"/applications/{app}"
        hook = r"/webhooks/{app}/{token}"
        msg = r"/channels/{channel}/messages/{message}"
        self._route("GET", "/users/@me", lambda m, b, q: self.user(self.application_id))
        self._route("GET", "/users/{user}", self._get_user)
        self._route("GET", "/oauth2/applications/@me", self._application_info)
        self._route("GET", "/gateway", lambda m, b, q: {"url": self.gateway_url})
        self._route("GET", "/gateway/bot", lambda m, b, q: {
            "url": self.gateway_url, "shards": 1,
            "session_start_limit": {"total": 1000, "remaining": 999, "reset_after": 14400000,
                                    "max_concurrency": 1}})
        self._route("PUT", f"{app}/commands", self._put_commands)
        self._route("GET", f"{app}/commands", self._get_commands)
        self._route("PUT", f"{app}/guilds/{{guild}}/commands", self._put_commands)
        self._route("GET", f"{app}/guilds/{{guild}}/commands", self._get_commands)
        self._route("POST", "/interactions/{interaction}/{token}/callback", self._callback,
                    auth=False)
        self._route("POST", hook, self._followup, auth=False)
        self._route("GET", f"{hook}/messages/{{message}}", self._get_webhook_message, auth=False)
        self._route("PATCH", f"{hook}/messages/{{message}}", self._edit_webhook_message,
                    auth=False)
        self._route("DELETE", f"{hook}/messages/{{message}}", self._delete_webhook_message,
                    auth=False)
        self._route("GET", "/channels/{channel}", self._get_channel)
        self._route("POST", "/channels/{channel}/messages", self._create_message)
        self._route("GET", msg, self._get_message)
        self._route("PATCH", msg, self._edit_message)
        self._route("DELETE", msg, self._delete_message)
        self._route("PUT", f"{msg}/reactions/{{emoji}}/{{user}}", self._reaction)
        self._route("DELETE", f"{msg}/reactions/{{emoji}}/{{user}}", self._reaction)
        self._route("POST", f"{msg}/threads", self._thread_from_message)
        self._route("POST", "/channels/{channel}/threads", self._thread_without_message)
        self._route("POST", "/channels/{channel}/typing", self._typing)
        self._route("POST", "/users/@me/channels", self._open_dm)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await self._read_body(request)
        headers = {key: value for key, value in request.headers.items()}
        record = Recorded(request.method, request.path, body, headers)
        self._record(record)
        prefix = "/api/v10"
        path = request.path[len(prefix):] if request.path.startswith(prefix + "/") else None
        found = None
        for method, regex, handler, auth in self._routes if path is not None else []:
            match = regex.match(path or "")
            if match and method == request.method:
                found = (match.groupdict(), handler, auth)
                break
        if found is None:
            self.unknown.append(record)
            return json_response({"message": "404: Not Found", "code": 0}, status=404)
        params, handler, auth = found
        try:
            if auth and headers.get("Authorization") != f"Bot {self.token}":
                raise ApiError(401, 0, "401: Unauthorized")
            self._maybe_fail(request.method, request.path)
            result = handler(params, body, request.query)
            if inspect.isawaitable(result):
                result = await result
        except ApiError as error:
            return json_response(error.payload(), status=error.status, headers=error.headers)
        if result is None:
            return web.Response(status=204)
        return json_response(result)

    async def _read_body(self, request: web.Request) -> Any:
        if not request.can_read_body:
            return None
        if request.content_type == "multipart/form-data":
            body: Any = None
            for name, value in (await request.post()).items():
                if isinstance(value, web.FileField):
                    self.uploads.append({"path": request.path, "field": name,
                                         "filename": value.filename, "data": value.file.read()})
                elif name == "payload_json":
                    body = json.loads(str(value))
            return body
        raw = await request.read()
        if not raw:
            return None
        try:
            return json.loads(raw)
        except ValueError:
            return raw.decode(errors="replace")

    def _maybe_fail(self, method: str, path: str) -> None:
        failure = self._failures.take(lambda f: f.method == method and f.path_contains in path)
        if failure is not None:
            raise self._failure_error(failure)

    @staticmethod
    def _failure_error(failure: Failure) -> ApiError:
        if failure.status != 429:
            defaults = {400: (50035, "Invalid Form Body"), 401: (0, "401: Unauthorized"),
                        403: (50013, "Missing Permissions"), 404: (0, "404: Not Found")}
            code, message = defaults.get(failure.status,
                                         (0, f"{failure.status}: Server Error"))
            return ApiError(failure.status, failure.code if failure.code is not None else code,
                            failure.message or message)
        reset_after = failure.retry_after
        headers = {
            "Retry-After": str(max(1, math.ceil(reset_after))),
            "X-RateLimit-Limit": "5", "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": f"{time.time() + reset_after:.3f}",
            "X-RateLimit-Reset-After": f"{reset_after:.3f}",
            "X-RateLimit-Bucket": "f4ke6ucket0000000000000000000000",
            "X-RateLimit-Scope": "global" if failure.global_ else "user",
        }
        if failure.global_:
            headers["X-RateLimit-Global"] = "true"
        if failure.via:
            headers["Via"] = "1.1 google"
        body: JSON = {"message": failure.message or "You are being rate limited.",
                      "retry_after": reset_after, "global": failure.global_}
        if failure.code is not None:
            body["code"] = failure.code
        return ApiError(429, failure.code or 0, body["message"], headers=headers, body=body)
