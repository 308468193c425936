"""The stand-in's model: constants, recorded calls, interactions, the guild, its channel, users
and messages, and the lifecycle (start, stop, patching discord.py's URLs)."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, NamedTuple

from aiohttp import web

from tests.stand_in import Address, StandIn

JSON = dict[str, Any]
DISCORD_EPOCH_MS = 1_420_070_400_000
ACK_DEADLINE = 3.0  # seconds to acknowledge an interaction


def bits(*positions: int) -> int:
    """The integer with exactly these bits set."""
    return sum(1 << position for position in set(positions))


# Message flags; the sender may set SETTABLE_FLAGS (Discord ignores or rejects the rest).
FLAG_SUPPRESS_EMBEDS, FLAG_EPHEMERAL, FLAG_LOADING = bits(2), bits(6), bits(7)
FLAG_SUPPRESS_NOTIFICATIONS, FLAG_COMPONENTS_V2 = bits(12), bits(15)
SETTABLE_FLAGS = FLAG_SUPPRESS_EMBEDS | FLAG_SUPPRESS_NOTIFICATIONS | FLAG_COMPONENTS_V2

# Gateway intents (bits of IDENTIFY `intents`).
INTENT_GUILD_MEMBERS, INTENT_GUILD_PRESENCES, INTENT_GUILD_MESSAGES = bits(1), bits(8), bits(9)
INTENT_DIRECT_MESSAGES, INTENT_MESSAGE_CONTENT = bits(12), bits(15)
PRIVILEGED_INTENTS = INTENT_GUILD_MEMBERS | INTENT_GUILD_PRESENCES | INTENT_MESSAGE_CONTENT

# Permission bits by their name in Discord's documentation.
PERMISSION_BITS = {"administrator": 3, "manage_guild": 5, "add_reactions": 6, "view_channel": 10,
                   "send_messages": 11, "manage_messages": 13, "embed_links": 14,
                   "attach_files": 15, "read_message_history": 16, "use_external_emojis": 18,
                   "use_application_commands": 31, "create_public_threads": 35,
                   "send_messages_in_threads": 38}


def permissions(*names: str) -> int:
    """The permission integer granting exactly `names` (keys of PERMISSION_BITS)."""
    return bits(*(PERMISSION_BITS[name] for name in names))


DM_APP_PERMISSIONS = permissions("add_reactions", "view_channel", "send_messages", "embed_links",
                                 "attach_files", "read_message_history", "use_external_emojis",
                                 "use_application_commands")
MEMBER_PERMISSIONS = DM_APP_PERMISSIONS | permissions("create_public_threads",
                                                      "send_messages_in_threads")
MODERATOR_PERMISSIONS = MEMBER_PERMISSIONS | permissions("manage_messages", "manage_guild")
BOT_PERMISSIONS = MEMBER_PERMISSIONS


class Recorded(NamedTuple):
    """One REST call as the bot sent it; `json` is the decoded body (multipart payload_json too)."""

    method: str
    path: str
    json: Any
    headers: dict[str, str]



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


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat()


class DiscordState(StandIn[Recorded]):
    """What the stand-in knows, and its test-side basics; see FakeDiscord for the whole."""

    token = "TEST.DISCORD.TOKEN"
    application_id = 9001
    bot_user: JSON = {"id": "9001", "username": "crisisbot", "discriminator": "0",
                      "global_name": "CrisisBot", "bot": True, "avatar": None}
    guild_id = 7000
    channel_id = 7100
    bot_role_id = 7001
    owner_id = 500
    heartbeat_interval = 41250  # milliseconds, as Discord sends
    api_base = Address("/api/v10")  # discord.http.Route.BASE
    gateway_url = Address("/gateway", "ws")

    def __init__(self) -> None:
        super().__init__()
        self.uploads: list[JSON] = []  # {"path", "field", "filename", "data"} per uploaded file
        # Files users attached to slash commands, by attachment id: {"payload", "data"}; the
        # stand-in serves their bytes at the payload's `url` (see `user_attachment`).
        self.user_files: dict[int, JSON] = {}
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
        # Server roles beyond @everyone and the bot's (see `add_role`), and who holds them. A
        # member's guild permissions come from these, as on Discord: discord.py computes
        # `Member.guild_permissions` from the roles, not from an interaction's permissions.
        self.extra_roles: list[JSON] = []
        self.member_roles: dict[int, list[int]] = {}
        # Display names (`global_name`) of users, by id; anyone else is "User <id>".
        self.display_names: dict[int, str] = {}
        self._interactions: dict[int, InteractionState] = {}
        self._tokens: dict[str, InteractionState] = {}
        self._dm_channels: dict[int, int] = {}  # user id -> DM channel id
        self._guild_members: dict[int, JSON] = {}
        self._last_snowflake = 0
        self._increment = itertools.count()
        self._ready = asyncio.Event()
        self._ws: web.WebSocketResponse | None = None
        self._send_lock = asyncio.Lock()
        self._sequence = 0
        self._session_id: str | None = None
        self.channels[self.channel_id] = self._text_channel_payload()
        self._guild_members[self.application_id] = self._member_payload(self.application_id,
                                                                        with_user=True)

    # -- lifecycle (start() is FakeDiscord's: it needs the routes) --------------------------
    async def stop(self) -> None:
        ws, self._ws = self._ws, None
        self._ready.clear()
        if ws is not None and not ws.closed:
            await ws.close(code=1001, message=b"server stopping")
        await self._shutdown()

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
        return await self._wait_for(
            lambda r: (r.method == method.upper() and path_contains in r.path
                       and (predicate is None or predicate(r))),
            f"{method} {path_contains!r}", timeout, after, lambda r: f"{r.method} {r.path}")

    def user(self, user_id: int) -> JSON:
        """The user object of `user_id` (the bot's own for application_id)."""
        if user_id == self.application_id:
            return dict(self.bot_user)
        return {"id": str(user_id), "username": f"user{user_id}", "discriminator": "0",
                "global_name": self.display_names.get(user_id, f"User {user_id}"), "avatar": None,
                "bot": False,
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

    def add_role(self, name: str, permissions: int, members: list[int]) -> int:
        """A server role granting `permissions`, held by `members`; returns its id. Add roles
        before the client connects: they travel in GUILD_CREATE."""
        role_id = self._snowflake()
        self.extra_roles.append({
            "id": str(role_id), "name": name, "permissions": str(permissions),
            "position": len(self.extra_roles) + 2, "color": 0,
            "colors": {"primary_color": 0, "secondary_color": None, "tertiary_color": None},
            "hoist": False, "managed": False, "mentionable": False, "icon": None,
            "unicode_emoji": None, "flags": 0})
        for member in members:
            self.member_roles.setdefault(member, []).append(role_id)
        return role_id

    # -- builders' helpers -----------------------------------------------------------------
    def _snowflake(self) -> int:
        """A Discord-like snowflake: creation time in the top bits, increasing."""
        value = ((int(time.time() * 1000) - DISCORD_EPOCH_MS) << 22) | (next(self._increment)
                                                                         & 0xFFF)
        self._last_snowflake = max(value, self._last_snowflake + 1)
        return self._last_snowflake

    def _member_payload(self, user_id: int, with_user: bool = False,
                        permissions: int | None = None) -> JSON:
        roles = ([self.bot_role_id] if user_id == self.application_id
                 else self.member_roles.get(user_id, []))
        member: JSON = {"roles": [str(role) for role in roles],
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
