"""REST routes of users, the application, its commands, channels, messages, reactions, typing,
DMs and threads."""

from __future__ import annotations

import copy
from typing import Any

from multidict import MultiMapping

from tests.discord_server.interactions import InteractionRoutes
from tests.discord_server.state import JSON, now_iso
from tests.discord_server.validation import (ApiError, FormErrors, not_found, validate_command,
                                             validate_message)


class ChannelRoutes(InteractionRoutes):
    """Adds the route handlers for everything but interactions."""

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
            validate_command(errors, (index,), command)
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

    def _get_commands(self, match: dict[str, str], body: Any, query: MultiMapping[str]
                      ) -> list[JSON]:
        return copy.deepcopy(self.synced_commands.get(self._command_scope(match), []))

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
        validate_message(payload)
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
        validate_message(payload, partial=True)
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
