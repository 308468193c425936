"""Builders of the events a test dispatches (interactions, user messages) and of the payloads
they and READY/GUILD_CREATE carry, shaped like Discord's."""

from __future__ import annotations

import copy
import secrets
from urllib.parse import quote
from typing import Any

from tests.discord_server.state import (BOT_PERMISSIONS, DM_APP_PERMISSIONS, JSON,
                                        MEMBER_PERMISSIONS, DiscordState, InteractionState,
                                        now_iso)
from tests.discord_server.validation import walk_components

# Application command option types whose Python value type is unambiguous.
OPTION_TYPES: list[tuple[type, int]] = [(bool, 5), (int, 4), (float, 10), (str, 3)]


class EventBuilders(DiscordState):
    """Adds the event builders to the state."""

    # -- event builders --------------------------------------------------------------------
    def slash_interaction(self, name: str, options: dict[str, Any] | None = None,
                          user_id: int = 501, guild: bool = True, command_id: str | None = None,
                          permissions: int | None = None, locale: str = "en-US") -> JSON:
        """INTERACTION_CREATE data for a chat-input command. `name` may be "command sub" for a
        subcommand, or "command group sub". Option types come from the synced command when there
        is one (unknown or missing required options then raise ValueError), else from the Python
        values. An attachment option takes the payload `user_attachment` returned: the option
        carries its id and `data.resolved.attachments` the attachment, as on Discord."""
        parts = name.split()
        command = self._synced_command(parts[0], guild)
        data: JSON = {"id": command_id or (command["id"] if command else str(self._snowflake())),
                      "name": parts[0], "type": 1}
        if command is not None and command.get("guild_id"):
            data["guild_id"] = command["guild_id"]
        built = self._build_options(command, parts[1:], options or {})
        if built:
            data["options"] = built
        files = {str(v["id"]): copy.deepcopy(v) for v in (options or {}).values()
                 if isinstance(v, dict)}
        if files:
            data["resolved"] = {"attachments": files}
        payload = self._interaction_payload(2, user_id, guild, self.channel_id if guild else None,
                                            permissions, locale)
        payload["data"] = data
        return payload

    def user_attachment(self, filename: str, data: bytes, content_type: str | None = None,
                        size: int | None = None) -> JSON:
        """A file a user attached to a slash command, as Discord resolves it; the stand-in serves
        `data` at its `url` (each download is recorded as a GET of /attachments/...). `size`
        overrides the declared size, so a test can claim a huge file without sending one."""
        attachment_id = self._snowflake()
        url = (f"http://127.0.0.1:{self.port}/attachments/{self.channel_id}/{attachment_id}/"
               f"{quote(filename)}")
        payload: JSON = {"id": str(attachment_id), "filename": filename,
                         "size": len(data) if size is None else size, "url": url,
                         "proxy_url": url.replace("/attachments/", "/proxy/attachments/", 1),
                         "ephemeral": True}
        if content_type is not None:
            payload["content_type"] = content_type
        self.user_files[attachment_id] = {"payload": payload, "data": data}
        return copy.deepcopy(payload)

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

    def _permissions_of(self, user_id: int) -> int:
        """`member_permissions` when set, else @everyone's and those of the member's roles."""
        if user_id in self.member_permissions:
            return self.member_permissions[user_id]
        held = {str(role) for role in self.member_roles.get(user_id, [])}
        granted = MEMBER_PERMISSIONS
        for role in self.extra_roles:
            if role["id"] in held:
                granted |= int(role["permissions"])
        return granted

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
            "explicit_content_filter": 0, "roles": [everyone, bot_role, *self.extra_roles],
            "emojis": [],
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
        # A subcommand is type 1; in front of it, a subcommand group is type 2.
        kinds = [2 if n < len(path) - 1 else 1 for n in range(len(path))]
        for number, sub in enumerate(path):
            option = next((o for o in declared or [] if o["name"] == sub), None)
            if declared is not None and (option is None or option["type"] not in (1, 2)):
                raise ValueError(f"{command and command['name']!r} has no subcommand {sub!r}")
            if option is not None:
                kinds[number] = option["type"]
            declared = None if option is None else option.get("options") or []
        built: list[JSON] = []
        for key, value in values.items():
            if declared is not None:
                option = next((o for o in declared if o["name"] == key), None)
                if option is None:
                    raise ValueError(f"the synced command has no option {key!r}")
                kind = option["type"]
            elif isinstance(value, dict):
                kind = 11  # an attachment
            else:
                kind = next(t for py, t in OPTION_TYPES if isinstance(value, py))
            if kind == 11:
                if not isinstance(value, dict) or "id" not in value:
                    raise ValueError(f"option {key!r} takes a payload from user_attachment")
                value = str(value["id"])
            built.append({"name": key, "type": kind, "value": value})
        if declared is not None:
            missing = [o["name"] for o in declared if o.get("required") and o["name"] not in values]
            if missing:
                raise ValueError(f"required options missing: {missing}")
        for sub, kind in reversed(list(zip(path, kinds))):
            built = [{"name": sub, "type": kind, "options": built}]
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
