"""The gateway WebSocket: HELLO, IDENTIFY/READY, RESUME, heartbeats, dispatching events, and
the intents that decide what a client receives."""

from __future__ import annotations

import asyncio
import copy
import json
import secrets
import time

from aiohttp import WSMsgType, web

from tests.discord_server.messages import BotMessages
from tests.discord_server.state import (FLAG_EPHEMERAL, INTENT_DIRECT_MESSAGES,
                                        INTENT_GUILD_MESSAGES, INTENT_MESSAGE_CONTENT, JSON,
                                        PRIVILEGED_INTENTS)


class Gateway(BotMessages):
    """Adds the gateway session and event dispatch."""

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
