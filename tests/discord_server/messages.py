"""The bot's own messages as Discord stores and returns them: creation, edits, embeds,
attachments and who a message actually pings."""

from __future__ import annotations

import copy
import re

from tests.discord_server.builders import EventBuilders
from tests.discord_server.state import (FLAG_EPHEMERAL, JSON, SETTABLE_FLAGS, InteractionState,
                                        now_iso)


class BotMessages(EventBuilders):
    """Adds storing and editing the bot's messages."""

    # -- messages: building, editing -----------------------------------------------------
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
