"""A stand-in Discord (gateway WebSocket + REST API) on 127.0.0.1 for end-to-end adapter tests.

Discord is unreachable from the test machines, so the real discord.py client talks to this server
over real sockets: `patch_client_urls` points `discord.http.Route.BASE` and
`discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY` here. The server speaks the documented wire
format (checked against discord.py 2.7.1), records every REST call, and refuses what Discord
refuses (over-long content and embeds, empty messages, bad URLs, a second acknowledgement of an
interaction, a late one, follow-ups before the acknowledgement) so that such bugs fail here
rather than in production. Unknown routes answer 404 and are recorded in `unknown`.

Model, in short: one guild (`guild_id`) with one text channel (`channel_id`); DM channels are
created on demand, one per user; threads can be started from messages. Events reach the client
only through `dispatch`, built with `slash_interaction`, `component_interaction`,
`message_create` and `message_update`. Like Discord, `dispatch` honours the intents the client
identified with: guild messages need GUILD_MESSAGES, DMs need DIRECT_MESSAGES, and without the
MESSAGE_CONTENT intent a guild message that does not mention the bot arrives with empty content.
"""

from __future__ import annotations

import asyncio
import copy
import inspect
import itertools
import json
import math
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, NamedTuple

from aiohttp import WSMsgType, web
from multidict import MultiMapping

JSON = dict[str, Any]
DISCORD_EPOCH_MS = 1_420_070_400_000

# Message limits.
CONTENT_LIMIT = 2000
EMBEDS_PER_MESSAGE = 10
EMBED_TITLE_LIMIT = 256
EMBED_DESCRIPTION_LIMIT = 4096
EMBED_FIELDS_LIMIT = 25
EMBED_FIELD_NAME_LIMIT = 256
EMBED_FIELD_VALUE_LIMIT = 1024
EMBED_FOOTER_LIMIT = 2048
EMBED_AUTHOR_LIMIT = 256
EMBED_TOTAL_LIMIT = 6000  # characters over all embeds of one message
CUSTOM_ID_LIMIT = 100
BUTTON_LABEL_LIMIT = 80
ACTION_ROWS_LIMIT = 5
ROW_COMPONENTS_LIMIT = 5
ACK_DEADLINE = 3.0  # seconds to acknowledge an interaction

# Message flags the sender may set (Discord ignores or rejects the rest).
FLAG_SUPPRESS_EMBEDS = 1 << 2
FLAG_EPHEMERAL = 1 << 6
FLAG_LOADING = 1 << 7
FLAG_SUPPRESS_NOTIFICATIONS = 1 << 12
FLAG_COMPONENTS_V2 = 1 << 15
SETTABLE_FLAGS = FLAG_SUPPRESS_EMBEDS | FLAG_SUPPRESS_NOTIFICATIONS | FLAG_COMPONENTS_V2

# Gateway intents (bits of IDENTIFY `intents`).
INTENT_GUILD_MEMBERS = 1 << 1
INTENT_GUILD_PRESENCES = 1 << 8
INTENT_GUILD_MESSAGES = 1 << 9
INTENT_DIRECT_MESSAGES = 1 << 12
INTENT_MESSAGE_CONTENT = 1 << 15
PRIVILEGED_INTENTS = INTENT_GUILD_MEMBERS | INTENT_GUILD_PRESENCES | INTENT_MESSAGE_CONTENT

# Permission bits.
P_ADD_REACTIONS = 1 << 6
P_ADMINISTRATOR = 1 << 3
P_MANAGE_GUILD = 1 << 5
P_VIEW_CHANNEL = 1 << 10
P_SEND_MESSAGES = 1 << 11
P_MANAGE_MESSAGES = 1 << 13
P_EMBED_LINKS = 1 << 14
P_ATTACH_FILES = 1 << 15
P_READ_MESSAGE_HISTORY = 1 << 16
P_USE_EXTERNAL_EMOJIS = 1 << 18
P_USE_APPLICATION_COMMANDS = 1 << 31
P_CREATE_PUBLIC_THREADS = 1 << 35
P_SEND_MESSAGES_IN_THREADS = 1 << 38
MEMBER_PERMISSIONS = (P_ADD_REACTIONS | P_VIEW_CHANNEL | P_SEND_MESSAGES | P_EMBED_LINKS
                      | P_ATTACH_FILES | P_READ_MESSAGE_HISTORY | P_USE_EXTERNAL_EMOJIS
                      | P_USE_APPLICATION_COMMANDS | P_CREATE_PUBLIC_THREADS
                      | P_SEND_MESSAGES_IN_THREADS)
MODERATOR_PERMISSIONS = MEMBER_PERMISSIONS | P_MANAGE_MESSAGES | P_MANAGE_GUILD
BOT_PERMISSIONS = MEMBER_PERMISSIONS
DM_APP_PERMISSIONS = (P_ADD_REACTIONS | P_VIEW_CHANNEL | P_SEND_MESSAGES | P_EMBED_LINKS
                      | P_ATTACH_FILES | P_READ_MESSAGE_HISTORY | P_USE_EXTERNAL_EMOJIS
                      | P_USE_APPLICATION_COMMANDS)

# Application command option types whose Python value type is unambiguous.
OPTION_TYPES: list[tuple[type, int]] = [(bool, 5), (int, 4), (float, 10), (str, 3)]
COMMAND_NAME = re.compile(r"^[-_\w]{1,32}$")
URL_SCHEMES = ("http://", "https://", "attachment://")
TRUE_VALUES = frozenset({"1", "true", "True"})


class Recorded(NamedTuple):
    """One REST call as the bot sent it; `json` is the decoded body (multipart payload_json too)."""

    method: str
    path: str
    json: Any
    headers: dict[str, str]


class ApiError(Exception):
    """An error answer, raised inside a route so that the handler replies like Discord."""

    def __init__(self, status: int, code: int, message: str, errors: JSON | None = None,
                 headers: dict[str, str] | None = None, body: JSON | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.errors, self.headers, self.body = errors, headers or {}, body

    def payload(self) -> JSON:
        if self.body is not None:
            return self.body
        data: JSON = {"message": self.message, "code": self.code}
        if self.errors:
            data["errors"] = self.errors
        return data


class FormErrors:
    """Collects Discord's nested "Invalid Form Body" errors: {"embeds": {"0": {"title": ...}}}."""

    def __init__(self) -> None:
        self.tree: JSON = {}

    def add(self, path: tuple[str | int, ...], code: str, message: str) -> None:
        node = self.tree
        for key in path:
            node = node.setdefault(str(key), {})
        node.setdefault("_errors", []).append({"code": code, "message": message})

    def too_long(self, path: tuple[str | int, ...], value: Any, limit: int) -> None:
        if isinstance(value, str) and len(value) > limit:
            self.add(path, "BASE_TYPE_MAX_LENGTH", f"Must be {limit} or fewer in length.")

    def raise_if_any(self) -> None:
        if self.tree:
            raise ApiError(400, 50035, "Invalid Form Body", self.tree)


def not_found(code: int, what: str) -> ApiError:
    return ApiError(404, code, what)


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat()


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None
                  ) -> web.Response:
    """JSON with Content-Type exactly "application/json": discord.py compares the header
    verbatim, and aiohttp's json_response appends "; charset=utf-8" (login then fails)."""
    return web.Response(body=json.dumps(data).encode(), status=status,
                        headers={"Content-Type": "application/json", **(headers or {})})


def walk_components(components: list[JSON]) -> list[JSON]:
    """Every component, nested ones included (action rows, v2 containers, section accessories)."""
    found: list[JSON] = []
    for component in components or []:
        found.append(component)
        found.extend(walk_components(component.get("components") or []))
        accessory = component.get("accessory")
        if isinstance(accessory, dict):
            found.extend(walk_components([accessory]))
    return found


def embed_text_size(embed: JSON) -> int:
    """The characters Discord counts against the 6000 limit."""
    size = len(embed.get("title") or "") + len(embed.get("description") or "")
    for item in embed.get("fields") or []:
        size += len(item.get("name") or "") + len(item.get("value") or "")
    size += len((embed.get("footer") or {}).get("text") or "")
    size += len((embed.get("author") or {}).get("name") or "")
    return size


@dataclass
class InteractionState:
    """What the server knows about one interaction it built."""

    id: int
    token: str
    type: int
    channel_id: int
    guild_id: int | None
    user_id: int
    message_id: int | None = None  # the message a component sat on
    dispatched_at: float | None = None
    response_type: int | None = None
    original_id: int | None = None
    loading: bool = False  # deferred with "thinking" and not filled yet
    ephemeral: bool = False
    followup_ids: list[int] = field(default_factory=list)


@dataclass
class Failure:
    method: str
    path_contains: str
    status: int
    retry_after: float
    via: bool
    global_: bool
    code: int | None
    message: str | None


Handler = Callable[[dict[str, str], Any, MultiMapping[str]], Any]


class FakeDiscord:
    """The stand-in: start(), patch_client_urls(monkeypatch), log the client in, dispatch events,
    assert on `requests`, `sent_messages`, `synced_commands`."""

    token = "TEST.DISCORD.TOKEN"
    application_id = 9001
    bot_user: JSON = {"id": "9001", "username": "crisisbot", "discriminator": "0",
                      "global_name": "CrisisBot", "bot": True, "avatar": None}
    guild_id = 7000
    channel_id = 7100
    bot_role_id = 7001
    owner_id = 500
    heartbeat_interval = 41250  # milliseconds, as Discord sends

    def __init__(self) -> None:
        self.port = 0
        self.requests: list[Recorded] = []
        self.unknown: list[Recorded] = []
        self.uploads: list[JSON] = []  # {"path", "field", "filename", "data"} per uploaded file
        self.sent_messages: list[JSON] = []
        self.edited_messages: list[JSON] = []  # a snapshot after every edit of a message
        self.messages: dict[int, JSON] = {}  # current state of every message, by id
        self.channels: dict[int, JSON] = {}
        self.synced_commands: dict[str, list[JSON]] = {}
        self.dispatched: list[JSON] = []  # gateway frames sent with op 0
        self.dropped: list[JSON] = []  # events withheld because of the client's intents
        self.gateway_received: list[JSON] = []  # every frame the client sent
        self.identify: JSON | None = None  # the last IDENTIFY payload ("d")
        self.gateway_query: dict[str, str] = {}  # ?v=10&encoding=json&compress=zlib-stream
        self.gateway_connections = 0
        # Privileged intents switched on "in the developer portal"; IDENTIFY asking for others
        # is closed with 4014 (discord.py raises PrivilegedIntentsRequired).
        self.enabled_privileged_intents = PRIVILEGED_INTENTS
        self.ack_deadline = ACK_DEADLINE
        # Discord sends the bot its own messages as MESSAGE_CREATE too; off by default so that
        # tests see only the events they dispatch.
        self.echo_own_messages = False
        # Guild permissions of members, by user id; anyone else gets MEMBER_PERMISSIONS.
        self.member_permissions: dict[int, int] = {}
        self._interactions: dict[int, InteractionState] = {}
        self._tokens: dict[str, InteractionState] = {}
        self._dm_channels: dict[int, int] = {}  # user id -> DM channel id
        self._guild_members: dict[int, JSON] = {}
        self._failures: list[Failure] = []
        self._last_snowflake = 0
        self._increment = itertools.count()
        self._request_arrived = asyncio.Event()
        self._ready = asyncio.Event()
        self._ws: web.WebSocketResponse | None = None
        self._send_lock = asyncio.Lock()
        self._sequence = 0
        self._session_id: str | None = None
        self._runner: web.AppRunner | None = None
        self._routes: list[tuple[str, re.Pattern[str], Handler, bool]] = []
        self._build_routes()
        self.channels[self.channel_id] = self._text_channel_payload()
        self._guild_members[self.application_id] = self._member_payload(self.application_id,
                                                                        with_user=True)

    # -- lifecycle -------------------------------------------------------------------------
    async def start(self) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_get("/gateway", self._gateway)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=2)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]

    async def stop(self) -> None:
        ws, self._ws = self._ws, None
        self._ready.clear()
        if ws is not None and not ws.closed:
            await ws.close(code=1001, message=b"server stopping")
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def api_base(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/v10"

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/gateway"

    def patch_client_urls(self, monkeypatch: Any) -> None:
        """Point discord.py's REST base and default gateway here, undone by monkeypatch."""
        import discord.gateway
        import discord.http
        import yarl

        monkeypatch.setattr(discord.http.Route, "BASE", self.api_base)
        monkeypatch.setattr(discord.gateway.DiscordWebSocket, "DEFAULT_GATEWAY",
                            yarl.URL(self.gateway_url))

    # -- test-side API ---------------------------------------------------------------------
    def calls(self, method: str, path_contains: str = "") -> list[Recorded]:
        """Every REST call of `method` whose path contains `path_contains`, in arrival order
        (refused, failed and unknown ones included)."""
        return [r for r in self.requests
                if r.method == method.upper() and path_contains in r.path]

    async def wait_for(self, method: str, path_contains: str = "",
                       predicate: Callable[[Recorded], bool] | None = None,
                       timeout: float = 15, after: int = 0) -> Recorded:
        """The first call (index >= after) matching method, path and predicate, waiting for it."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            for rec in self.requests[after:]:
                if (rec.method == method.upper() and path_contains in rec.path
                        and (predicate is None or predicate(rec))):
                    return rec
            remaining = deadline - loop.time()
            if remaining <= 0:
                seen = [f"{r.method} {r.path}" for r in self.requests[after:]]
                raise TimeoutError(f"no matching {method} {path_contains!r} within {timeout}s; "
                                   f"saw {seen}")
            try:
                await asyncio.wait_for(self._request_arrived.wait(), remaining)
            except TimeoutError:
                pass

    async def wait_ready(self, timeout: float = 15) -> None:
        """Until a client has identified and received READY and GUILD_CREATE."""
        await asyncio.wait_for(self._ready.wait(), timeout)

    async def dispatch(self, event: str, data: JSON) -> None:
        """Send op 0 `event` with the next sequence number to the connected client (waiting for
        it to be ready). Message events the client's intents do not cover are withheld (kept in
        `dropped`), and without MESSAGE_CONTENT a guild message not mentioning the bot loses its
        content, embeds, attachments and components, as on Discord."""
        await self.wait_ready()
        payload = self._apply_intents(event, copy.deepcopy(data))
        if payload is None:
            self.dropped.append({"t": event, "d": data})
            return
        if event == "INTERACTION_CREATE":
            state = self._interactions.get(int(data["id"]))
            if state is not None:
                state.dispatched_at = time.monotonic()
        await self._send_event(event, payload)

    async def close_gateway(self, code: int = 4000) -> None:
        """Close the client's gateway connection with `code` (discord.py then resumes)."""
        ws = self._ws
        if ws is not None:
            self._ready.clear()
            await ws.close(code=code, message=b"closed by the stand-in")

    def fail_next(self, method: str, path_contains: str, status: int = 429,
                  retry_after: float = 0.5, via: bool = True, global_: bool = False,
                  code: int | None = None, message: str | None = None) -> None:
        """Make the next REST call of `method` whose path contains `path_contains` fail (it is
        still recorded). A 429 carries {"message", "retry_after", "global"}, X-RateLimit-* and
        Retry-After headers, and `Via: 1.1 google` when `via` (discord.py retries a 429 only
        with Via; without it raises HTTPException(status=429) at once, as for a Cloudflare ban).
        Failures queue up, one call each."""
        self._failures.append(Failure(method.upper(), path_contains, status, retry_after, via,
                                      global_, code, message))

    def user(self, user_id: int) -> JSON:
        """The user object of `user_id` (the bot's own for application_id)."""
        if user_id == self.application_id:
            return dict(self.bot_user)
        return {"id": str(user_id), "username": f"user{user_id}", "discriminator": "0",
                "global_name": f"User {user_id}", "avatar": None, "bot": False,
                "public_flags": 0}

    def dm_channel_id(self, user_id: int) -> int:
        """The DM channel between the bot and `user_id` (created on first use)."""
        if user_id not in self._dm_channels:
            channel_id = self._snowflake()
            self._dm_channels[user_id] = channel_id
            self.channels[channel_id] = {"id": str(channel_id), "type": 1, "last_message_id": None,
                                         "flags": 0, "recipients": [self.user(user_id)]}
        return self._dm_channels[user_id]

    def messages_in(self, channel_id: int) -> list[JSON]:
        """Current state of the messages in a channel, oldest first."""
        return [m for m in self.messages.values() if int(m["channel_id"]) == channel_id]

    # -- event builders --------------------------------------------------------------------
    def slash_interaction(self, name: str, options: dict[str, Any] | None = None,
                          user_id: int = 501, guild: bool = True, command_id: str | None = None,
                          permissions: int | None = None, locale: str = "en-US") -> JSON:
        """INTERACTION_CREATE data for a chat-input command. `name` may be "command sub" for a
        subcommand. Option types come from the synced command when there is one (unknown or
        missing required options then raise ValueError), else from the Python values."""
        parts = name.split()
        command = self._synced_command(parts[0], guild)
        data: JSON = {"id": command_id or (command["id"] if command else str(self._snowflake())),
                      "name": parts[0], "type": 1}
        if command is not None and command.get("guild_id"):
            data["guild_id"] = command["guild_id"]
        built = self._build_options(command, parts[1:], options or {})
        if built:
            data["options"] = built
        payload = self._interaction_payload(2, user_id, guild, self.channel_id if guild else None,
                                            permissions, locale)
        payload["data"] = data
        return payload

    def component_interaction(self, custom_id: str, message: JSON, user_id: int = 501,
                              values: list[str] | None = None, permissions: int | None = None,
                              locale: str = "en-US") -> JSON:
        """INTERACTION_CREATE data for a click on (or a choice in) the component `custom_id` of a
        message the bot sent, as the message is now (a removed button cannot be clicked:
        ValueError)."""
        current = self.messages.get(int(message["id"]), message)
        component = next((c for c in walk_components(current.get("components") or [])
                          if c.get("custom_id") == custom_id), None)
        if component is None:
            raise ValueError(f"message {message['id']} has no component {custom_id!r}")
        channel_id = int(current["channel_id"])
        channel = self.channels.get(channel_id)
        in_guild = channel is not None and channel.get("type") != 1
        if channel is not None and channel.get("type") == 1:
            # Only the DM's recipient can click there.
            user_id = int(channel["recipients"][0]["id"])
        payload = self._interaction_payload(3, user_id, in_guild, channel_id, permissions, locale)
        data: JSON = {"component_type": component["type"], "custom_id": custom_id}
        if "id" in component:
            data["id"] = component["id"]
        if component["type"] in (3, 5, 6, 7, 8):
            data["values"] = list(values or [])
        payload["data"] = data
        payload["message"] = copy.deepcopy(current)
        self._interactions[int(payload["id"])].message_id = int(current["id"])
        return payload

    def message_create(self, content: str, user_id: int = 502, guild: bool = True,
                       mentions_bot: bool = False, channel_id: int | None = None,
                       reply_to: JSON | None = None) -> JSON:
        """MESSAGE_CREATE data from a user. In a guild (default channel `channel_id`, or a thread
        the bot started) it carries guild_id and member; otherwise it is in the user's DM
        channel, which discord.py needs no CHANNEL_CREATE for. `mentions_bot` puts "<@9001>" in
        front and the bot in `mentions`; `reply_to` makes it a reply to that message."""
        author = self.user(user_id)
        if mentions_bot:
            content = f"<@{self.application_id}> {content}"
        if guild:
            target = self.channel_id if channel_id is None else channel_id
            if self.channels.get(target, {}).get("type") == 1:
                raise ValueError(f"channel {target} is a DM channel; pass guild=False")
        else:
            target = self.dm_channel_id(user_id) if channel_id is None else channel_id
        message: JSON = {
            "id": str(self._snowflake()), "channel_id": str(target), "author": author,
            "content": content, "timestamp": now_iso(), "edited_timestamp": None, "tts": False,
            "mention_everyone": False, "mentions": [], "mention_roles": [], "attachments": [],
            "embeds": [], "pinned": False, "type": 0, "flags": 0, "components": [],
            "nonce": str(self._snowflake()),
        }
        if mentions_bot:
            mentioned = self.user(self.application_id)
            if guild:
                mentioned["member"] = self._member_payload(self.application_id)
            message["mentions"].append(mentioned)
        if guild:
            message["guild_id"] = str(self.guild_id)
            message["member"] = self._member_payload(user_id)
            self._guild_members.setdefault(user_id, self._member_payload(user_id, with_user=True))
        else:
            message["channel_type"] = 1
        if reply_to is not None:
            message["type"] = 19
            message["message_reference"] = self._reference_to(reply_to)
            message["referenced_message"] = copy.deepcopy(
                self.messages.get(int(reply_to["id"]), reply_to))
        self.messages[int(message["id"])] = message
        return copy.deepcopy(message)

    def message_update(self, message: JSON, content: str) -> JSON:
        """MESSAGE_UPDATE data: a user edited `message` (from message_create) to `content`."""
        stored = self.messages.get(int(message["id"]), message)
        stored.update(content=content, edited_timestamp=now_iso())
        return copy.deepcopy(stored)

    # -- builders' helpers -----------------------------------------------------------------
    def _snowflake(self) -> int:
        """A Discord-like snowflake: creation time in the top bits, increasing."""
        value = ((int(time.time() * 1000) - DISCORD_EPOCH_MS) << 22) | (next(self._increment)
                                                                         & 0xFFF)
        self._last_snowflake = max(value, self._last_snowflake + 1)
        return self._last_snowflake

    def _permissions_of(self, user_id: int) -> int:
        return self.member_permissions.get(user_id, MEMBER_PERMISSIONS)

    def _member_payload(self, user_id: int, with_user: bool = False,
                        permissions: int | None = None) -> JSON:
        member: JSON = {"roles": [str(self.bot_role_id)] if user_id == self.application_id else [],
                        "joined_at": "2024-01-01T00:00:00+00:00", "deaf": False, "mute": False,
                        "flags": 0, "pending": False, "nick": None, "avatar": None,
                        "premium_since": None, "communication_disabled_until": None}
        if with_user:
            member["user"] = self.user(user_id)
        if permissions is not None:
            member["permissions"] = str(permissions)
        return member

    def _text_channel_payload(self) -> JSON:
        return {"id": str(self.channel_id), "type": 0, "guild_id": str(self.guild_id),
                "name": "general", "position": 0, "permission_overwrites": [], "nsfw": False,
                "topic": None, "last_message_id": None, "rate_limit_per_user": 0,
                "parent_id": None, "flags": 0}

    def _guild_payload(self) -> JSON:
        """GUILD_CREATE data: enough for channels, roles and the bot member to resolve."""
        everyone = {"id": str(self.guild_id), "name": "@everyone",
                    "permissions": str(MEMBER_PERMISSIONS), "position": 0, "color": 0,
                    "colors": {"primary_color": 0, "secondary_color": None,
                               "tertiary_color": None},
                    "hoist": False, "managed": False, "mentionable": False, "icon": None,
                    "unicode_emoji": None, "flags": 0}
        bot_role = {**everyone, "id": str(self.bot_role_id), "name": "CrisisBot",
                    "permissions": str(BOT_PERMISSIONS), "position": 1, "managed": True,
                    "tags": {"bot_id": str(self.application_id)}}
        channels = [c for c in self.channels.values() if c.get("type") in (0, 2, 4, 5, 13, 15)]
        threads = [c for c in self.channels.values() if c.get("type") in (10, 11, 12)]
        members = [self._guild_members[self.application_id]]
        return {
            "id": str(self.guild_id), "name": "Crisis Test Guild", "icon": None, "splash": None,
            "discovery_splash": None, "owner_id": str(self.owner_id), "afk_channel_id": None,
            "afk_timeout": 300, "verification_level": 0, "default_message_notifications": 1,
            "explicit_content_filter": 0, "roles": [everyone, bot_role], "emojis": [],
            "stickers": [], "features": [], "mfa_level": 0, "application_id": None,
            "system_channel_id": str(self.channel_id), "system_channel_flags": 0,
            "rules_channel_id": None, "vanity_url_code": None, "description": None,
            "banner": None, "premium_tier": 0, "premium_subscription_count": 0,
            "preferred_locale": "en-US", "public_updates_channel_id": None, "nsfw_level": 0,
            "premium_progress_bar_enabled": False, "safety_alerts_channel_id": None,
            "joined_at": "2024-01-01T00:00:00+00:00", "large": False, "unavailable": False,
            # member_count == len(members): discord.py then considers the guild chunked.
            "member_count": len(members), "members": members, "channels": channels,
            "threads": threads, "voice_states": [], "presences": [], "stage_instances": [],
            "guild_scheduled_events": [], "soundboard_sounds": [],
        }

    def _synced_command(self, name: str, guild: bool) -> JSON | None:
        scopes = [str(self.guild_id), "global"] if guild else ["global"]
        for scope in scopes:
            for command in self.synced_commands.get(scope, []):
                if command["name"] == name and command.get("type", 1) == 1:
                    return command
        return None

    def _build_options(self, command: JSON | None, path: list[str], values: dict[str, Any]
                       ) -> list[JSON]:
        declared: list[JSON] | None = None if command is None else command.get("options") or []
        for sub in path:
            option = next((o for o in declared or [] if o["name"] == sub), None)
            if declared is not None and (option is None or option["type"] not in (1, 2)):
                raise ValueError(f"{command and command['name']!r} has no subcommand {sub!r}")
            declared = None if option is None else option.get("options") or []
        built: list[JSON] = []
        for key, value in values.items():
            if declared is not None:
                option = next((o for o in declared if o["name"] == key), None)
                if option is None:
                    raise ValueError(f"the synced command has no option {key!r}")
                kind = option["type"]
            else:
                kind = next(t for py, t in OPTION_TYPES if isinstance(value, py))
            built.append({"name": key, "type": kind, "value": value})
        if declared is not None:
            missing = [o["name"] for o in declared if o.get("required") and o["name"] not in values]
            if missing:
                raise ValueError(f"required options missing: {missing}")
        for sub in reversed(path):
            built = [{"name": sub, "type": 1, "options": built}]
        return built

    def _interaction_payload(self, kind: int, user_id: int, guild: bool, channel_id: int | None,
                             permissions: int | None, locale: str) -> JSON:
        interaction_id = self._snowflake()
        token = f"aW50ZXJhY3Rpb246{interaction_id}:{secrets.token_urlsafe(48)}"
        if guild:
            target = self.channel_id if channel_id is None else channel_id
            perms = self._permissions_of(user_id) if permissions is None else permissions
            channel = {**self.channels[target], "permissions": str(perms)}
            payload: JSON = {
                "guild_id": str(self.guild_id), "guild_locale": "en-US",
                "guild": {"id": str(self.guild_id), "locale": "en-US", "features": []},
                "member": self._member_payload(user_id, with_user=True, permissions=perms),
                "app_permissions": str(BOT_PERMISSIONS), "context": 0,
                "authorizing_integration_owners": {"0": str(self.guild_id)},
            }
            self._guild_members.setdefault(user_id, self._member_payload(user_id, with_user=True))
        else:
            target = self.dm_channel_id(user_id) if channel_id is None else channel_id
            channel = copy.deepcopy(self.channels[target])
            payload = {"user": self.user(user_id), "app_permissions": str(DM_APP_PERMISSIONS),
                       "context": 1, "authorizing_integration_owners": {"0": "0"}}
        payload.update({
            "id": str(interaction_id), "application_id": str(self.application_id), "type": kind,
            "token": token, "version": 1, "channel_id": str(target), "channel": channel,
            "locale": locale, "entitlements": [], "entitlement_sku_ids": [],
            "attachment_size_limit": 10 * 1024 * 1024,
        })
        state = InteractionState(interaction_id, token, kind, target,
                                 self.guild_id if guild else None, user_id)
        self._interactions[interaction_id] = state
        self._tokens[token] = state
        return payload

    def _reference_to(self, message: JSON) -> JSON:
        reference: JSON = {"type": 0, "message_id": str(message["id"]),
                           "channel_id": str(message["channel_id"])}
        channel = self.channels.get(int(message["channel_id"]), {})
        if channel.get("guild_id"):
            reference["guild_id"] = channel["guild_id"]
        return reference

    # -- gateway ---------------------------------------------------------------------------
    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(max_msg_size=0)
        await ws.prepare(request)
        previous, self._ws = self._ws, ws
        self._ready.clear()
        if previous is not None and not previous.closed:
            await previous.close(code=4009, message=b"superseded by a new connection")
        self.gateway_connections += 1
        self.gateway_query = dict(request.query)
        await self._send(ws, {"op": 10, "d": {"heartbeat_interval": self.heartbeat_interval},
                              "s": None, "t": None})
        identified = False
        try:
            async for message in ws:
                if message.type not in (WSMsgType.TEXT, WSMsgType.BINARY):
                    continue
                raw = message.data if message.type is WSMsgType.TEXT else message.data.decode()
                try:
                    frame = json.loads(raw)
                except ValueError:
                    await ws.close(code=4002, message=b"Error while decoding payload.")
                    break
                self.gateway_received.append(frame)
                identified = await self._on_frame(ws, frame, identified)
        finally:
            if self._ws is ws:
                self._ws = None
                self._ready.clear()
        return ws

    async def _on_frame(self, ws: web.WebSocketResponse, frame: JSON, identified: bool) -> bool:
        op, data = frame.get("op"), frame.get("d")
        if op == 1:  # heartbeat
            await self._send(ws, {"op": 11, "d": None, "s": None, "t": None})
        elif op == 2:  # identify
            if identified:
                await ws.close(code=4005, message=b"Already authenticated.")
            elif not isinstance(data, dict) or data.get("token") != self.token:
                await ws.close(code=4004, message=b"Authentication failed.")
            elif (int(data.get("intents", 0)) & PRIVILEGED_INTENTS
                  & ~self.enabled_privileged_intents):
                await ws.close(code=4014, message=b"Disallowed intent(s).")
            else:
                self.identify = data
                await self._send_ready(ws)
                return True
        elif op == 6:  # resume
            if (isinstance(data, dict) and data.get("token") == self.token
                    and data.get("session_id") == self._session_id):
                await self._send_event("RESUMED", {}, ws)
                self._ready.set()
                return True
            await self._send(ws, {"op": 9, "d": False, "s": None, "t": None})
        elif op == 8 and identified:  # request guild members
            members = list(self._guild_members.values())
            await self._send_event("GUILD_MEMBERS_CHUNK", {
                "guild_id": str(self.guild_id), "members": members, "chunk_index": 0,
                "chunk_count": 1, "not_found": [], "nonce": (data or {}).get("nonce")}, ws)
        elif op in (3, 4, 8, 14, 31) and identified:
            pass  # presence, voice state, soundboard: recorded only
        elif not identified:
            await ws.close(code=4003, message=b"Not authenticated.")
        else:
            await ws.close(code=4001, message=b"Unknown opcode.")
        return identified

    async def _send_ready(self, ws: web.WebSocketResponse) -> None:
        self._sequence = 0
        self._session_id = secrets.token_hex(16)
        await self._send_event("READY", {
            "v": 10, "user": {**self.bot_user, "verified": True, "mfa_enabled": False,
                              "flags": 0, "email": None},
            "guilds": [{"id": str(self.guild_id), "unavailable": True}],
            "session_id": self._session_id, "session_type": "normal",
            "resume_gateway_url": self.gateway_url, "private_channels": [],
            "relationships": [], "presences": [], "guild_join_requests": [],
            "geo_ordered_rtc_regions": [], "user_settings": {}, "shard": [0, 1],
            "application": {"id": str(self.application_id), "flags": 0},
        }, ws)
        await self._send_event("GUILD_CREATE", self._guild_payload(), ws)
        self._ready.set()

    async def _send_event(self, event: str, data: JSON,
                          ws: web.WebSocketResponse | None = None) -> None:
        target = ws or self._ws
        if target is None or target.closed:
            raise RuntimeError(f"no client connected to the gateway for {event}")
        async with self._send_lock:
            self._sequence += 1
            frame = {"op": 0, "t": event, "s": self._sequence, "d": data}
            self.dispatched.append(frame)
            await target.send_str(json.dumps(frame))

    async def _send(self, ws: web.WebSocketResponse, frame: JSON) -> None:
        async with self._send_lock:
            if not ws.closed:
                await ws.send_str(json.dumps(frame))

    def _apply_intents(self, event: str, data: JSON) -> JSON | None:
        if event not in ("MESSAGE_CREATE", "MESSAGE_UPDATE"):
            return data
        intents = int((self.identify or {}).get("intents", 0))
        in_guild = "guild_id" in data
        needed = INTENT_GUILD_MESSAGES if in_guild else INTENT_DIRECT_MESSAGES
        if not intents & needed:
            return None
        author = (data.get("author") or {}).get("id")
        mentioned = any(str(m.get("id")) == str(self.application_id)
                        for m in data.get("mentions") or [])
        if (in_guild and not intents & INTENT_MESSAGE_CONTENT and not mentioned
                and author != str(self.application_id)):
            data.update(content="", embeds=[], attachments=[], components=[])
            data.pop("poll", None)
        return data

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
        self.requests.append(record)
        self._request_arrived.set()  # wake wait_for(); later waiters get a fresh event
        self._request_arrived = asyncio.Event()
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
        for index, failure in enumerate(self._failures):
            if failure.method == method and failure.path_contains in path:
                del self._failures[index]
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

    # -- routes: users, application, commands ----------------------------------------------
    def _get_user(self, match: dict[str, str], body: Any, query: MultiMapping[str]) -> JSON:
        try:
            return self.user(int(match["user"]))
        except ValueError:
            raise not_found(10013, "Unknown User") from None

    def _application_info(self, match: dict[str, str], body: Any, query: MultiMapping[str]
                          ) -> JSON:
        return {"id": str(self.application_id), "name": "CrisisBot",
                "description": "Answers questions about the war in Ukraine with cited passages.",
                "icon": None, "bot_public": False, "bot_require_code_grant": False,
                "verify_key": "0" * 64, "owner": self.user(self.owner_id), "flags": 0,
                "team": None, "summary": "", "rpc_origins": [], "tags": [],
                "bot": self.user(self.application_id), "redirect_uris": [],
                "interactions_endpoint_url": None, "approximate_guild_count": 1,
                "integration_types_config": {"0": {}}}

    def _check_application(self, match: dict[str, str]) -> None:
        if match["app"] != str(self.application_id):
            raise ApiError(403, 50001, "Missing Access")

    def _command_scope(self, match: dict[str, str]) -> str:
        self._check_application(match)
        guild = match.get("guild")
        if guild is not None and guild != str(self.guild_id):
            raise ApiError(403, 50001, "Missing Access")
        return guild or "global"

    def _put_commands(self, match: dict[str, str], body: Any, query: MultiMapping[str]
                      ) -> list[JSON]:
        scope = self._command_scope(match)
        if not isinstance(body, list):
            raise ApiError(400, 50035, "Invalid Form Body", {"_errors": [
                {"code": "LIST_TYPE_CONVERT",
                 "message": "Only iterables may be used in a ListType"}]})
        errors = FormErrors()
        for index, command in enumerate(body):
            self._validate_command(errors, (index,), command)
        errors.raise_if_any()
        previous = {(c["name"], c.get("type", 1)): c for c in self.synced_commands.get(scope, [])}
        stored = []
        for command in body:
            old = previous.get((command["name"], command.get("type", 1)))
            echoed = {"id": old["id"] if old else str(self._snowflake()),
                      "application_id": str(self.application_id), "version": str(self._snowflake()),
                      "type": 1, "description": "", "default_member_permissions": None,
                      "nsfw": False, "name_localizations": None,
                      "description_localizations": None, **copy.deepcopy(command)}
            if scope != "global":
                echoed["guild_id"] = scope
            stored.append(echoed)
        self.synced_commands[scope] = stored
        return copy.deepcopy(stored)

    def _validate_command(self, errors: FormErrors, path: tuple[str | int, ...], command: JSON
                          ) -> None:
        name = command.get("name")
        kind = command.get("type", 1)
        if not isinstance(name, str) or not COMMAND_NAME.match(name) or (
                kind == 1 and name != name.lower()):
            errors.add(path + ("name",), "APPLICATION_COMMAND_INVALID_NAME",
                       "Command name is invalid")
        if kind == 1:
            description = command.get("description")
            if not isinstance(description, str) or not 1 <= len(description) <= 100:
                errors.add(path + ("description",), "BASE_TYPE_BAD_LENGTH",
                           "Must be between 1 and 100 in length.")
        options = command.get("options") or []
        if len(options) > 25:
            errors.add(path + ("options",), "BASE_TYPE_MAX_LENGTH",
                       "Must be 25 or fewer in length.")
        seen_optional = False
        for index, option in enumerate(options):
            if option.get("type") in (1, 2):
                self._validate_command(errors, path + ("options", index), {**option, "type": 1})
                continue
            self._validate_command(errors, path + ("options", index),
                                   {"name": option.get("name"),
                                    "description": option.get("description"), "type": 1})
            if option.get("required"):
                if seen_optional:
                    errors.add(path + ("options",), "APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID",
                               "Required options must be placed before non-required options")
            else:
                seen_optional = True

    def _get_commands(self, match: dict[str, str], body: Any, query: MultiMapping[str]
                      ) -> list[JSON]:
        return copy.deepcopy(self.synced_commands.get(self._command_scope(match), []))

    # -- routes: interactions --------------------------------------------------------------
    async def _callback(self, match: dict[str, str], body: Any, query: MultiMapping[str]
                        ) -> JSON | None:
        try:
            state: InteractionState | None = self._interactions.get(int(match["interaction"]))
        except ValueError:
            state = None
        if state is None or state.token != match["token"]:
            raise not_found(10062, "Unknown interaction")
        if state.response_type is not None:
            raise ApiError(400, 40060, "Interaction has already been acknowledged.")
        if (state.dispatched_at is not None
                and time.monotonic() - state.dispatched_at > self.ack_deadline):
            raise not_found(10062, "Unknown interaction")
        if not isinstance(body, dict):
            raise ApiError(400, 50035, "Invalid Form Body", {"type": {"_errors": [
                {"code": "BASE_TYPE_REQUIRED", "message": "This field is required"}]}})
        kind = body.get("type")
        data = body.get("data") or {}
        resource: JSON | None = None
        if kind == 4 and state.type in (2, 3, 5):
            self._validate_message(data, prefix=("data",))
            message = self._new_message(state.channel_id, data, interaction=state)
            state.original_id, state.ephemeral = int(message["id"]), bool(
                message["flags"] & FLAG_EPHEMERAL)
            self.sent_messages.append(copy.deepcopy(message))
            await self._echo(message)
            resource = {"type": 4, "message": message}
        elif kind == 5 and state.type in (2, 3, 5):
            flags = FLAG_LOADING | (int(data.get("flags") or 0) & FLAG_EPHEMERAL)
            message = self._new_message(state.channel_id, {"content": "", "flags": flags},
                                        interaction=state, raw_flags=True)
            state.original_id, state.loading = int(message["id"]), True
            state.ephemeral = bool(flags & FLAG_EPHEMERAL)
            resource = {"type": 5, "message": message}
        elif kind == 6 and state.type in (3, 5) and state.message_id is not None:
            state.original_id = state.message_id
        elif kind == 6 and state.type == 5:
            pass
        elif kind == 7 and state.type in (3, 5) and state.message_id is not None:
            if state.message_id not in self.messages:
                raise not_found(10008, "Unknown Message")
            self._validate_message(data, prefix=("data",), partial=True)
            state.original_id = state.message_id
            resource = {"type": 7, "message": self._apply_edit(state.message_id, data)}
        elif kind == 8 and state.type == 4:
            pass
        elif kind == 9 and state.type in (2, 3):
            pass
        else:
            raise ApiError(400, 50035, "Invalid Form Body", {"type": {"_errors": [
                {"code": "INTERACTION_RESPONSE_TYPE_INVALID",
                 "message": f"Interaction response type {kind} is not valid here"}]}})
        state.response_type = int(kind)
        if query.get("with_response") not in TRUE_VALUES:
            return None
        answer: JSON = {"interaction": {
            "id": str(state.id), "type": state.type,
            "response_message_loading": state.loading,
            "response_message_ephemeral": state.ephemeral}}
        if state.original_id is not None and kind in (4, 5, 7):
            answer["interaction"]["response_message_id"] = str(state.original_id)
        if resource is not None:
            answer["resource"] = copy.deepcopy(resource)
        return answer

    def _webhook_state(self, match: dict[str, str]) -> InteractionState:
        """The interaction behind an application webhook: known token, acknowledged."""
        state = self._tokens.get(match["token"])
        if (match["app"] != str(self.application_id) or state is None
                or state.response_type is None):
            raise not_found(10015, "Unknown Webhook")
        return state

    def _webhook_message_id(self, state: InteractionState, match: dict[str, str]) -> int:
        wanted = match["message"]
        if wanted == "@original":
            if state.original_id is None:
                raise not_found(10008, "Unknown Message")
            return state.original_id
        try:
            message_id = int(wanted)
        except ValueError:
            raise not_found(10008, "Unknown Message") from None
        if message_id not in state.followup_ids and message_id != state.original_id:
            raise not_found(10008, "Unknown Message")
        if message_id not in self.messages:
            raise not_found(10008, "Unknown Message")
        return message_id

    async def _followup(self, match: dict[str, str], body: Any, query: MultiMapping[str]
                        ) -> JSON | None:
        state = self._webhook_state(match)
        payload = body if isinstance(body, dict) else {}
        self._validate_message(payload)
        if state.loading and state.original_id is not None:
            # The first follow-up after a "thinking" defer takes the place of the loading
            # message (same id, the defer's ephemerality).
            message = self._fill_loading(state, payload)
        else:
            message = self._new_message(state.channel_id, payload, interaction=state)
            state.followup_ids.append(int(message["id"]))
            self.sent_messages.append(copy.deepcopy(message))
        await self._echo(message)
        if query.get("wait") in TRUE_VALUES:
            return copy.deepcopy(message)
        return None

    def _get_webhook_message(self, match: dict[str, str], body: Any, query: MultiMapping[str]
                             ) -> JSON:
        state = self._webhook_state(match)
        return copy.deepcopy(self.messages[self._webhook_message_id(state, match)])

    async def _edit_webhook_message(self, match: dict[str, str], body: Any,
                                    query: MultiMapping[str]) -> JSON:
        state = self._webhook_state(match)
        message_id = self._webhook_message_id(state, match)
        payload = body if isinstance(body, dict) else {}
        self._validate_message(payload, partial=True)
        if message_id == state.original_id and state.loading:
            # Editing the "thinking" message fills it: the answer appears now.
            message = self._fill_loading(state, payload)
            await self._echo(message)
            return message
        return self._apply_edit(message_id, payload)

    def _fill_loading(self, state: InteractionState, payload: JSON) -> JSON:
        """Give a deferred ("thinking") response its content; it counts as sent from now."""
        assert state.original_id is not None
        self._apply_edit(state.original_id, payload, record=False)
        stored = self.messages[state.original_id]
        stored["flags"] = (stored["flags"] & ~FLAG_LOADING & ~FLAG_EPHEMERAL) | (
            FLAG_EPHEMERAL if state.ephemeral else 0)
        stored["edited_timestamp"] = None
        state.loading = False
        self.sent_messages.append(copy.deepcopy(stored))
        return copy.deepcopy(stored)

    def _delete_webhook_message(self, match: dict[str, str], body: Any, query: MultiMapping[str]
                                ) -> None:
        state = self._webhook_state(match)
        message_id = self._webhook_message_id(state, match)
        del self.messages[message_id]

    # -- routes: channels and messages -----------------------------------------------------
    def _channel(self, match: dict[str, str]) -> JSON:
        try:
            channel = self.channels.get(int(match["channel"]))
        except ValueError:
            channel = None
        if channel is None:
            raise not_found(10003, "Unknown Channel")
        return channel

    def _channel_message(self, match: dict[str, str]) -> JSON:
        channel = self._channel(match)
        try:
            message = self.messages.get(int(match["message"]))
        except ValueError:
            message = None
        if message is None or message["channel_id"] != channel["id"]:
            raise not_found(10008, "Unknown Message")
        return message

    def _get_channel(self, match: dict[str, str], body: Any, query: MultiMapping[str]) -> JSON:
        return copy.deepcopy(self._channel(match))

    async def _create_message(self, match: dict[str, str], body: Any, query: MultiMapping[str]
                              ) -> JSON:
        channel = self._channel(match)
        payload = body if isinstance(body, dict) else {}
        self._validate_message(payload)
        reference = payload.get("message_reference")
        referenced: JSON | None = None
        if reference:
            referenced = self.messages.get(int(reference.get("message_id") or 0))
            wrong_channel = (referenced is not None and "channel_id" in reference
                             and str(reference["channel_id"]) != referenced["channel_id"])
            if (referenced is None or wrong_channel) and reference.get("fail_if_not_exists",
                                                                       True):
                raise ApiError(400, 50035, "Invalid Form Body", {"message_reference": {
                    "_errors": [{"code": "MESSAGE_REFERENCE_UNKNOWN_MESSAGE",
                                 "message": "Unknown message"}]}})
            if wrong_channel:
                referenced = None
        message = self._new_message(int(channel["id"]), payload, referenced=referenced)
        self.sent_messages.append(copy.deepcopy(message))
        await self._echo(message)
        return message

    def _get_message(self, match: dict[str, str], body: Any, query: MultiMapping[str]) -> JSON:
        return copy.deepcopy(self._channel_message(match))

    def _edit_message(self, match: dict[str, str], body: Any, query: MultiMapping[str]) -> JSON:
        message = self._channel_message(match)
        if message["author"]["id"] != str(self.application_id):
            raise ApiError(403, 50005, "Cannot edit a message authored by another user")
        payload = body if isinstance(body, dict) else {}
        self._validate_message(payload, partial=True)
        return self._apply_edit(int(message["id"]), payload)

    def _delete_message(self, match: dict[str, str], body: Any, query: MultiMapping[str]) -> None:
        message = self._channel_message(match)
        del self.messages[int(message["id"])]

    def _reaction(self, match: dict[str, str], body: Any, query: MultiMapping[str]) -> None:
        self._channel_message(match)

    def _typing(self, match: dict[str, str], body: Any, query: MultiMapping[str]) -> None:
        self._channel(match)

    def _open_dm(self, match: dict[str, str], body: Any, query: MultiMapping[str]) -> JSON:
        recipient = (body or {}).get("recipient_id") if isinstance(body, dict) else None
        try:
            user_id = int(recipient)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise ApiError(400, 50035, "Invalid Form Body", {"recipient_id": {"_errors": [
                {"code": "BASE_TYPE_REQUIRED", "message": "This field is required"}]}}) from None
        return copy.deepcopy(self.channels[self.dm_channel_id(user_id)])

    async def _thread_from_message(self, match: dict[str, str], body: Any,
                                   query: MultiMapping[str]) -> JSON:
        message = self._channel_message(match)
        parent = self._channel(match)
        if parent.get("type") not in (0, 5):
            raise ApiError(400, 50024, "Cannot execute action on this channel type")
        if int(message["id"]) in self.channels:
            raise ApiError(400, 160004, "A thread has already been created for this message")
        # A thread started from a message has that message's id.
        thread = self._new_thread(int(message["id"]), parent, body, kind=11)
        message["thread"] = copy.deepcopy(thread)
        await self._announce_thread(thread)
        return thread

    async def _thread_without_message(self, match: dict[str, str], body: Any,
                                      query: MultiMapping[str]) -> JSON:
        parent = self._channel(match)
        if parent.get("type") not in (0, 5):
            raise ApiError(400, 50024, "Cannot execute action on this channel type")
        kind = int((body or {}).get("type") or 12) if isinstance(body, dict) else 12
        thread = self._new_thread(self._snowflake(), parent, body, kind=kind)
        await self._announce_thread(thread)
        return thread

    def _new_thread(self, thread_id: int, parent: JSON, body: Any, kind: int) -> JSON:
        options = body if isinstance(body, dict) else {}
        name = options.get("name")
        errors = FormErrors()
        if not isinstance(name, str) or not 1 <= len(name) <= 100:
            errors.add(("name",), "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length.")
        errors.raise_if_any()
        stamp = now_iso()
        thread = {
            "id": str(thread_id), "guild_id": parent["guild_id"], "parent_id": parent["id"],
            "owner_id": str(self.application_id), "type": kind, "name": name,
            "last_message_id": None, "rate_limit_per_user": options.get("rate_limit_per_user") or 0,
            "message_count": 0, "member_count": 1, "total_message_sent": 0, "flags": 0,
            "thread_metadata": {"archived": False,
                                "auto_archive_duration": options.get("auto_archive_duration")
                                or 1440,
                                "archive_timestamp": stamp, "locked": False,
                                "create_timestamp": stamp,
                                "invitable": options.get("invitable", True)},
            "member": {"id": str(thread_id), "user_id": str(self.application_id),
                       "join_timestamp": stamp, "flags": 1},
        }
        self.channels[thread_id] = thread
        return copy.deepcopy(thread)

    async def _echo(self, message: JSON) -> None:
        """With `echo_own_messages`, send the bot's own new message back as MESSAGE_CREATE, as
        Discord does (ephemeral ones excepted): a bot that does not ignore itself then loops."""
        if (not self.echo_own_messages or message["flags"] & FLAG_EPHEMERAL
                or self._ws is None or self._ws.closed or not self._ready.is_set()):
            return
        data = copy.deepcopy(message)
        channel = self.channels.get(int(message["channel_id"]), {})
        if channel.get("guild_id"):
            data["guild_id"] = channel["guild_id"]
            data["member"] = self._member_payload(self.application_id)
        payload = self._apply_intents("MESSAGE_CREATE", data)
        if payload is None:
            self.dropped.append({"t": "MESSAGE_CREATE", "d": data})
        else:
            await self._send_event("MESSAGE_CREATE", payload)

    async def _announce_thread(self, thread: JSON) -> None:
        """Discord tells the creator's gateway too (THREAD_CREATE, newly_created)."""
        if self._ws is not None and not self._ws.closed and self._ready.is_set():
            await self._send_event("THREAD_CREATE", {**thread, "newly_created": True})

    # -- messages: building, editing, validating -------------------------------------------
    def _new_message(self, channel_id: int, payload: JSON, *,
                     interaction: InteractionState | None = None,
                     referenced: JSON | None = None, raw_flags: bool = False) -> JSON:
        """Store and return a message by the bot, as Discord returns it to the sender."""
        flags = int(payload.get("flags") or 0)
        if not raw_flags:
            settable = SETTABLE_FLAGS | (FLAG_EPHEMERAL if interaction is not None else 0)
            flags &= settable
        message: JSON = {
            "id": str(self._snowflake()), "channel_id": str(channel_id),
            "author": self.user(self.application_id), "content": payload.get("content") or "",
            "timestamp": now_iso(), "edited_timestamp": None, "tts": bool(payload.get("tts")),
            "mention_everyone": False, "mentions": [], "mention_roles": [],
            "attachments": self._attachments(payload), "embeds": self._embeds(payload),
            "pinned": False, "type": 0, "flags": flags,
            "components": copy.deepcopy(payload.get("components") or []),
        }
        if payload.get("nonce") is not None:
            message["nonce"] = payload["nonce"]
        if payload.get("poll"):
            message["poll"] = copy.deepcopy(payload["poll"])
        if interaction is not None:
            message.update(webhook_id=str(self.application_id),
                           application_id=str(self.application_id),
                           type=20 if interaction.type == 2 else 0)
            message["interaction_metadata"] = {
                "id": str(interaction.id), "type": interaction.type,
                "user": self.user(interaction.user_id),
                "authorizing_integration_owners": (
                    {"0": str(interaction.guild_id)} if interaction.guild_id else {"0": "0"}),
            }
            if interaction.message_id is not None:
                message["interaction_metadata"]["interacted_message_id"] = str(
                    interaction.message_id)
        if referenced is not None:
            message.update(type=19, message_reference=self._reference_to(referenced),
                           referenced_message=copy.deepcopy(referenced))
        self._resolve_mentions(message, payload.get("allowed_mentions"), referenced)
        self.messages[int(message["id"])] = message
        channel = self.channels.get(channel_id)
        if channel is not None:
            channel["last_message_id"] = message["id"]
            if "message_count" in channel:
                channel["message_count"] += 1
                channel["total_message_sent"] += 1
        return copy.deepcopy(message)

    def _apply_edit(self, message_id: int, payload: JSON, record: bool = True) -> JSON:
        """Apply an edit (only the fields given change) and return the message."""
        message = self.messages[message_id]
        if "content" in payload:
            message["content"] = payload["content"] or ""
        if "embeds" in payload:
            message["embeds"] = self._embeds(payload)
        if "components" in payload:
            message["components"] = copy.deepcopy(payload["components"] or [])
        if "attachments" in payload or payload.get("files"):
            message["attachments"] = self._attachments(payload)
        if "flags" in payload and payload["flags"] is not None:
            keep = message["flags"] & ~SETTABLE_FLAGS
            message["flags"] = keep | (int(payload["flags"]) & SETTABLE_FLAGS)
        if "allowed_mentions" in payload or "content" in payload:
            self._resolve_mentions(message, payload.get("allowed_mentions"), None)
        message["edited_timestamp"] = now_iso()
        if record:
            self.edited_messages.append(copy.deepcopy(message))
        return copy.deepcopy(message)

    @staticmethod
    def _embeds(payload: JSON) -> list[JSON]:
        return [{"type": "rich", **copy.deepcopy(e)} for e in payload.get("embeds") or []]

    def _attachments(self, payload: JSON) -> list[JSON]:
        found = []
        for item in payload.get("attachments") or []:
            attachment_id = self._snowflake()
            filename = item.get("filename") or f"file{item.get('id')}"
            found.append({"id": str(attachment_id), "filename": filename, "size": 0,
                          "url": f"http://127.0.0.1:{self.port}/attachments/{attachment_id}/"
                                 f"{filename}",
                          "proxy_url": f"http://127.0.0.1:{self.port}/attachments/"
                                       f"{attachment_id}/{filename}",
                          "description": item.get("description")})
        return found

    def _resolve_mentions(self, message: JSON, allowed: JSON | None,
                          referenced: JSON | None) -> None:
        """Fill `mentions` / `mention_everyone` with who would actually be pinged (a stand-in
        convention): <@id> mentions and @everyone/@here filtered by allowed_mentions (absent:
        everything parsed, replies ping their author)."""
        content = message.get("content") or ""
        parse = None if allowed is None else set(allowed.get("parse") or [])
        users = [] if allowed is None else [str(u) for u in allowed.get("users") or []]
        mentioned_ids = re.findall(r"<@!?(\d+)>", content)
        pinged = [uid for uid in mentioned_ids
                  if parse is None or "users" in parse or uid in users]
        if referenced is not None:
            replied = True if allowed is None else bool(allowed.get("replied_user"))
            if replied and referenced["author"]["id"] not in pinged:
                pinged.append(referenced["author"]["id"])
        message["mentions"] = [self.user(int(uid)) for uid in dict.fromkeys(pinged)]
        everyone = bool(re.search(r"@(everyone|here)\b", content))
        message["mention_everyone"] = everyone and (parse is None or "everyone" in parse)

    def _validate_message(self, payload: JSON, prefix: tuple[str | int, ...] = (),
                          partial: bool = False) -> None:
        """Discord's cheap checks; `partial` for edits (no emptiness check)."""
        errors = FormErrors()
        content = payload.get("content")
        errors.too_long(prefix + ("content",), content, CONTENT_LIMIT)
        embeds = payload.get("embeds") or []
        if len(embeds) > EMBEDS_PER_MESSAGE:
            errors.add(prefix + ("embeds",), "BASE_TYPE_BAD_LENGTH",
                       f"Must be between 0 and {EMBEDS_PER_MESSAGE} in length.")
        total = 0
        for index, embed in enumerate(embeds):
            self._validate_embed(errors, prefix + ("embeds", index), embed)
            total += embed_text_size(embed)
        if total > EMBED_TOTAL_LIMIT:
            errors.add(prefix + ("embeds",), "MAX_EMBED_SIZE_EXCEEDED",
                       f"Embed size exceeds maximum size of {EMBED_TOTAL_LIMIT}")
        self._validate_components(errors, prefix + ("components",),
                                  payload.get("components") or [],
                                  v2=bool(int(payload.get("flags") or 0) & FLAG_COMPONENTS_V2))
        errors.raise_if_any()
        empty = (not (content or "").strip() and not embeds and not payload.get("components")
                 and not payload.get("attachments") and not payload.get("sticker_ids")
                 and not payload.get("poll"))
        if not partial and empty:
            raise ApiError(400, 50006, "Cannot send an empty message")

    @staticmethod
    def _validate_embed(errors: FormErrors, path: tuple[str | int, ...], embed: JSON) -> None:
        errors.too_long(path + ("title",), embed.get("title"), EMBED_TITLE_LIMIT)
        errors.too_long(path + ("description",), embed.get("description"),
                        EMBED_DESCRIPTION_LIMIT)
        fields = embed.get("fields") or []
        if len(fields) > EMBED_FIELDS_LIMIT:
            errors.add(path + ("fields",), "BASE_TYPE_MAX_LENGTH",
                       f"Must be {EMBED_FIELDS_LIMIT} or fewer in length.")
        for index, item in enumerate(fields):
            for key, limit in (("name", EMBED_FIELD_NAME_LIMIT),
                               ("value", EMBED_FIELD_VALUE_LIMIT)):
                value = item.get(key)
                if not isinstance(value, str) or not value.strip():
                    errors.add(path + ("fields", index, key), "BASE_TYPE_REQUIRED",
                               "This field is required")
                errors.too_long(path + ("fields", index, key), value, limit)
        errors.too_long(path + ("footer", "text"), (embed.get("footer") or {}).get("text"),
                        EMBED_FOOTER_LIMIT)
        errors.too_long(path + ("author", "name"), (embed.get("author") or {}).get("name"),
                        EMBED_AUTHOR_LIMIT)
        urls = [(("url",), embed.get("url")),
                (("author", "url"), (embed.get("author") or {}).get("url")),
                (("image", "url"), (embed.get("image") or {}).get("url")),
                (("thumbnail", "url"), (embed.get("thumbnail") or {}).get("url")),
                (("footer", "icon_url"), (embed.get("footer") or {}).get("icon_url"))]
        for key_path, url in urls:
            if url is not None and not (isinstance(url, str) and url.startswith(URL_SCHEMES)
                                        and len(url) > len("https://")):
                errors.add(path + key_path, "URL_TYPE_INVALID_URL", "Not a well formed URL.")

    @staticmethod
    def _validate_components(errors: FormErrors, path: tuple[str | int, ...],
                             components: list[JSON], v2: bool) -> None:
        if not v2 and len(components) > ACTION_ROWS_LIMIT:
            errors.add(path, "BASE_TYPE_BAD_LENGTH",
                       f"Must be between 0 and {ACTION_ROWS_LIMIT} in length.")
        seen: set[str] = set()

        def check(where: tuple[str | int, ...], component: JSON) -> None:
            children = component.get("components") or []
            if component.get("type") == 1 and len(children) > ROW_COMPONENTS_LIMIT:
                errors.add(where + ("components",), "BASE_TYPE_BAD_LENGTH",
                           f"Must be between 1 and {ROW_COMPONENTS_LIMIT} in length.")
            custom_id = component.get("custom_id")
            if custom_id is not None:
                errors.too_long(where + ("custom_id",), custom_id, CUSTOM_ID_LIMIT)
                if custom_id in seen:
                    errors.add(where + ("custom_id",), "COMPONENT_CUSTOM_ID_DUPLICATED",
                               "Component custom id cannot be duplicated")
                seen.add(custom_id)
            if component.get("type") == 2:
                errors.too_long(where + ("label",), component.get("label"), BUTTON_LABEL_LIMIT)
                is_link = component.get("style") == 5
                if is_link and (custom_id is not None or not component.get("url")):
                    errors.add(where, "BUTTON_COMPONENT_INVALID",
                               "A link button needs a url and no custom_id")
                if not is_link and component.get("style") != 6 and custom_id is None:
                    errors.add(where + ("custom_id",), "BASE_TYPE_REQUIRED",
                               "This field is required")
            for index, child in enumerate(children):
                check(where + ("components", index), child)
            accessory = component.get("accessory")
            if isinstance(accessory, dict):
                check(where + ("accessory",), accessory)

        for index, component in enumerate(components):
            check(path + (index,), component)
