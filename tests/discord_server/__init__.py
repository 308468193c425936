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

Modules, each one layer of FakeDiscord (each class extends the one before):
state (model, lifecycle, constants) -> builders (events a test dispatches) -> messages (the bot's
stored messages) -> gateway (WebSocket session, dispatch, intents) -> interactions (callback and
webhook routes) -> channels (the other routes) -> rest (route table, recording, `fail_next`);
validation holds Discord's limits and its Invalid Form Body errors.
"""

from tests.discord_server.rest import FakeDiscord
from tests.discord_server.state import Recorded
from tests.discord_server.validation import ApiError, FormErrors

__all__ = ["ApiError", "FakeDiscord", "FormErrors", "Recorded"]
