"""REST routes of interactions: the callback (acknowledgement rules, deadline) and the
application webhook (follow-ups, @original and follow-up messages)."""

from __future__ import annotations

import copy
import time
from typing import Any

from multidict import MultiMapping

from tests.discord_server.gateway import Gateway
from tests.discord_server.state import FLAG_EPHEMERAL, FLAG_LOADING, JSON, InteractionState
from tests.discord_server.validation import ApiError, not_found, validate_message

TRUE_VALUES = frozenset({"1", "true", "True"})


class InteractionRoutes(Gateway):
    """Adds the interaction and webhook route handlers."""

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
            validate_message(data, prefix=("data",))
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
            validate_message(data, prefix=("data",), partial=True)
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
        validate_message(payload)
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
        validate_message(payload, partial=True)
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
