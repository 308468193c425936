"""Self-tests of the Discord stand-in, driven by the real discord.py client (2.7.1).

The adapter tests trust this server; these tests show that discord.py accepts what it answers
(login, gateway handshake, interactions, follow-ups, views, replies, DMs, threads, so the shapes
are right) and that it behaves like Discord where the adapter's correctness depends on it:
acknowledgement rules, validation errors, rate limits, intents and unknown routes.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import re
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import discord
import pytest
from discord import app_commands

from tests.discord_server import FakeDiscord

INTENTS = discord.Intents.default() | discord.Intents(message_content=True)
NONE = discord.AllowedMentions.none()


class Client(discord.Client):
    """A discord.py client that records what reached it and every error its handlers raised."""

    def __init__(self, intents: discord.Intents = INTENTS, **options: Any) -> None:
        # A short guild_ready_timeout: on_ready otherwise waits 2 s after the last GUILD_CREATE.
        super().__init__(intents=intents, guild_ready_timeout=0.05, **options)
        self.tree = app_commands.CommandTree(self)
        self.errors: list[BaseException] = []
        self.received: list[discord.Message] = []
        self.own: list[discord.Message] = []  # the bot's own messages, if the server echoes them
        self.edits: list[tuple[discord.Message, discord.Message]] = []
        self.ready_count = 0
        self.on_message_hook: Callable[[discord.Message], Awaitable[None]] | None = None
        self.persistent: list[discord.ui.View] = []

        @self.tree.error
        async def record(interaction: discord.Interaction, error: Exception) -> None:
            self.errors.append(error)

    async def setup_hook(self) -> None:
        for view in self.persistent:
            self.add_view(view)

    async def on_ready(self) -> None:
        self.ready_count += 1

    async def on_message(self, message: discord.Message) -> None:
        if message.author.id == self.application_id:
            self.own.append(message)
            return
        self.received.append(message)
        if self.on_message_hook is not None:
            await self.on_message_hook(message)

    async def on_message_edit(self, before: discord.Message, after: discord.Message) -> None:
        self.edits.append((before, after))

    async def on_error(self, event_method: str, /, *args: Any, **kwargs: Any) -> None:
        self.errors.append(sys.exc_info()[1] or RuntimeError(event_method))


@contextlib.asynccontextmanager
async def connected(server: FakeDiscord, monkeypatch: pytest.MonkeyPatch,
                    client: Client) -> AsyncIterator[Client]:
    """Log the client in, run its gateway loop, wait for on_ready; close it cleanly after."""
    server.patch_client_urls(monkeypatch)
    await client.login(server.token)
    runner = asyncio.create_task(client.connect())
    try:
        await asyncio.wait_for(client.wait_until_ready(), 10)
        yield client
    finally:
        await client.close()
        await asyncio.wait_for(runner, 5)
    assert not client.errors, client.errors


async def until(condition: Callable[[], object], timeout: float = 5) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met")
        await asyncio.sleep(0.01)


# -- login and gateway ---------------------------------------------------------------------
@pytest.mark.asyncio
async def test_login_identify_ready_and_guild(discord_server: FakeDiscord,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    client = Client()
    async with connected(discord_server, monkeypatch, client):
        await until(lambda: client.ready_count == 1)
        assert client.user is not None and client.user.id == 9001
        assert client.application_id == discord_server.application_id
        guild = client.get_guild(discord_server.guild_id)
        assert guild is not None and guild.me is not None
        channel = guild.get_channel(discord_server.channel_id)
        assert isinstance(channel, discord.TextChannel) and channel.name == "general"
        perms = channel.permissions_for(guild.me)
        assert perms.send_messages and perms.embed_links and perms.create_public_threads
    calls = [f"{r.method} {r.path}" for r in discord_server.requests]
    assert calls == ["GET /api/v10/users/@me", "GET /api/v10/oauth2/applications/@me"]
    assert all(r.headers["Authorization"] == "Bot TEST.DISCORD.TOKEN"
               for r in discord_server.requests)
    assert discord_server.gateway_query == {"v": "10", "encoding": "json",
                                            "compress": "zlib-stream"}
    assert discord_server.identify is not None
    assert discord_server.identify["token"] == discord_server.token
    assert discord.Intents._from_value(discord_server.identify["intents"]).message_content
    ops = [frame["op"] for frame in discord_server.gateway_received]
    assert ops[:2] == [1, 2]  # a heartbeat right after HELLO, then IDENTIFY
    assert [f["t"] for f in discord_server.dispatched[:2]] == ["READY", "GUILD_CREATE"]


@pytest.mark.asyncio
async def test_wrong_token_is_a_login_failure(discord_server: FakeDiscord,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    discord_server.patch_client_urls(monkeypatch)
    client = Client()
    with pytest.raises(discord.LoginFailure):
        await client.login("not.the.token")
    await client.close()


@pytest.mark.asyncio
async def test_json_content_type_is_exact(discord_server: FakeDiscord) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{discord_server.api_base}/users/@me",
                               headers={"Authorization": f"Bot {discord_server.token}"}) as resp:
            assert resp.headers["Content-Type"] == "application/json"
            assert (await resp.json())["id"] == "9001"


@pytest.mark.asyncio
async def test_disallowed_privileged_intent_closes_with_4014(
        discord_server: FakeDiscord, monkeypatch: pytest.MonkeyPatch) -> None:
    discord_server.enabled_privileged_intents = 0  # message content not enabled "in the portal"
    discord_server.patch_client_urls(monkeypatch)
    client = Client()
    await client.login(discord_server.token)
    with pytest.raises(discord.PrivilegedIntentsRequired):
        await asyncio.wait_for(client.connect(), 10)
    await client.close()


@pytest.mark.asyncio
async def test_dropped_connection_resumes(discord_server: FakeDiscord,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    client = Client()
    async with connected(discord_server, monkeypatch, client):
        await discord_server.close_gateway(4000)
        await discord_server.dispatch("MESSAGE_CREATE",
                                      discord_server.message_create("after resume"))
        await until(lambda: client.received)
        assert client.received[0].content == "after resume"
    assert discord_server.gateway_connections == 2
    assert [f["op"] for f in discord_server.gateway_received].count(6) == 1  # RESUME
    assert "RESUMED" in [f["t"] for f in discord_server.dispatched]


# -- application commands ------------------------------------------------------------------
@pytest.mark.asyncio
async def test_tree_sync_is_recorded_and_echoed(discord_server: FakeDiscord,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    client = Client()

    @client.tree.command(name="ask", description="Ask about the war")
    @app_commands.describe(question="Your question", public="Show the answer to everyone")
    async def ask(interaction: discord.Interaction, question: str, public: bool = False) -> None:
        pass

    @client.tree.command(name="reindex", description="Rebuild the index",
                         guild=discord.Object(discord_server.guild_id))
    @app_commands.default_permissions(manage_guild=True)
    async def reindex(interaction: discord.Interaction) -> None:
        pass

    async with connected(discord_server, monkeypatch, client):
        synced = await client.tree.sync()
        guild_synced = await client.tree.sync(guild=discord.Object(discord_server.guild_id))
        fetched = await client.tree.fetch_commands()
    put = discord_server.calls("PUT", "/applications/9001/commands")
    assert len(put) == 1 and [c["name"] for c in put[0].json] == ["ask"]
    options = {o["name"]: (o["type"], o.get("required")) for o in put[0].json[0]["options"]}
    assert options == {"question": (3, True), "public": (5, False)}
    stored = discord_server.synced_commands["global"]
    assert [c.id for c in synced] == [int(c["id"]) for c in stored]
    assert [c.id for c in fetched] == [c.id for c in synced]
    guild_put = discord_server.calls("PUT", "/applications/9001/guilds/7000/commands")[0]
    # discord.py sends the permission bits as an int (Discord itself answers a string).
    manage_guild = discord.Permissions(manage_guild=True).value
    assert guild_put.json[0]["default_member_permissions"] == manage_guild
    assert guild_synced[0].default_member_permissions == discord.Permissions(manage_guild=True)
    assert discord_server.synced_commands["7000"][0]["guild_id"] == "7000"


@pytest.mark.asyncio
async def test_slash_command_defer_then_followup(discord_server: FakeDiscord,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    client = Client()
    got: dict[str, Any] = {}

    @client.tree.command(name="ask", description="Ask about the war")
    async def ask(interaction: discord.Interaction, question: str) -> None:
        got.update(question=question, user=interaction.user, guild=interaction.guild_id,
                   channel=interaction.channel)
        callback = await interaction.response.defer(thinking=True)
        got["thinking"] = callback is not None and callback.is_thinking()
        embed = discord.Embed(title="Answer", description="Kharkiv was shelled. @everyone")
        embed.add_field(name="Source", value="[1] https://example.org/report")
        got["message"] = await interaction.followup.send(embed=embed, allowed_mentions=NONE,
                                                         wait=True)

    async with connected(discord_server, monkeypatch, client):
        await client.tree.sync()
        payload = discord_server.slash_interaction("ask", {"question": "What about Kharkiv?"})
        await discord_server.dispatch("INTERACTION_CREATE", payload)
        follow = await discord_server.wait_for("POST", f"/webhooks/9001/{payload['token']}")
        await until(lambda: "message" in got)
    assert got["question"] == "What about Kharkiv?" and got["guild"] == 7000
    assert isinstance(got["user"], discord.Member) and got["user"].id == 501
    assert isinstance(got["channel"], discord.TextChannel) and got["thinking"]
    callback = discord_server.calls("POST", f"/interactions/{payload['id']}/")[0]
    assert callback.json == {"type": 5} and "Authorization" not in callback.headers
    assert follow.json["allowed_mentions"] == {"parse": []}
    assert follow.json["embeds"][0]["title"] == "Answer"
    assert follow.json["embeds"][0]["fields"] == [
        {"name": "Source", "value": "[1] https://example.org/report", "inline": True}]
    # The first follow-up after a "thinking" defer replaces the loading message.
    shown = discord_server.sent_messages[-1]
    assert got["message"].id == int(shown["id"]) and shown["flags"] == 0
    assert shown["mention_everyone"] is False and got["message"].embeds[0].title == "Answer"


@pytest.mark.asyncio
async def test_send_message_with_response_and_original_edits(
        discord_server: FakeDiscord, monkeypatch: pytest.MonkeyPatch) -> None:
    client = Client()
    got: dict[str, Any] = {}

    @client.tree.command(name="about", description="About the bot")
    async def about(interaction: discord.Interaction) -> None:
        callback = await interaction.response.send_message("Hello", ephemeral=True)
        got["callback_id"] = callback.message_id
        got["original"] = await interaction.original_response()
        got["edited"] = await interaction.edit_original_response(content="Hello again")

    async with connected(discord_server, monkeypatch, client):
        await client.tree.sync()
        payload = discord_server.slash_interaction("about", guild=False, user_id=777)
        await discord_server.dispatch("INTERACTION_CREATE", payload)
        await until(lambda: "edited" in got)
    callback = discord_server.calls("POST", "/callback")[0]
    assert callback.json["type"] == 4 and callback.json["data"]["flags"] == 64
    assert got["callback_id"] == got["original"].id == got["edited"].id
    assert got["edited"].content == "Hello again"
    assert discord_server.messages[got["edited"].id]["flags"] & 64
    assert discord_server.calls("PATCH", f"/webhooks/9001/{payload['token']}/messages/@original")


@pytest.mark.asyncio
async def test_defer_then_edit_original_fills_the_thinking_message(
        discord_server: FakeDiscord, monkeypatch: pytest.MonkeyPatch) -> None:
    client = Client()
    got: dict[str, Any] = {}

    @client.tree.command(name="ask", description="Ask about the war")
    async def ask(interaction: discord.Interaction, question: str) -> None:
        await interaction.response.defer(thinking=True, ephemeral=True)
        got["message"] = await interaction.edit_original_response(content="The answer")

    async with connected(discord_server, monkeypatch, client):
        await client.tree.sync()
        payload = discord_server.slash_interaction("ask", {"question": "q"})
        await discord_server.dispatch("INTERACTION_CREATE", payload)
        await until(lambda: "message" in got)
    assert discord_server.calls("POST", "/callback")[0].json == {"type": 5, "data": {"flags": 64}}
    assert [m["content"] for m in discord_server.sent_messages] == ["The answer"]
    assert discord_server.sent_messages[0]["flags"] == 64  # loading cleared, still ephemeral
    assert got["message"].id == int(discord_server.sent_messages[0]["id"])


@pytest.mark.asyncio
async def test_acknowledgement_rules(discord_server: FakeDiscord,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    client = Client()
    got: dict[str, Any] = {}

    @client.tree.command(name="ask", description="Ask about the war")
    async def ask(interaction: discord.Interaction, question: str) -> None:
        try:
            await interaction.followup.send("too early")
        except discord.NotFound as error:
            got["early"] = error.code
        if question == "slow":
            await asyncio.sleep(0.3)
            try:
                await interaction.response.defer()
            except discord.NotFound as error:
                got["late"] = error.code
            return
        await interaction.response.send_message("answer")
        got["done"] = True

    async with connected(discord_server, monkeypatch, client):
        await client.tree.sync()
        payload = discord_server.slash_interaction("ask", {"question": "fast"})
        await discord_server.dispatch("INTERACTION_CREATE", payload)
        await until(lambda: "done" in got)
        url = f"{discord_server.api_base}/interactions/{payload['id']}/{payload['token']}/callback"
        async with aiohttp.ClientSession() as session:
            async with session.post(url, json={"type": 5}) as resp:
                assert resp.status == 400 and (await resp.json())["code"] == 40060
        discord_server.ack_deadline = 0.2
        slow = discord_server.slash_interaction("ask", {"question": "slow"})
        await discord_server.dispatch("INTERACTION_CREATE", slow)
        await until(lambda: "late" in got)
    assert got["early"] == 10015 and got["late"] == 10062


@pytest.mark.asyncio
async def test_subcommand_options_follow_the_synced_types(
        discord_server: FakeDiscord, monkeypatch: pytest.MonkeyPatch) -> None:
    client = Client()
    got: list[tuple[int, float]] = []
    group = app_commands.Group(name="news", description="News")

    @group.command(name="latest", description="Latest articles")
    async def latest(interaction: discord.Interaction, count: int, weight: float) -> None:
        got.append((count, weight))
        await interaction.response.send_message(f"{count}")

    client.tree.add_command(group)
    async with connected(discord_server, monkeypatch, client):
        await client.tree.sync()
        with pytest.raises(ValueError):
            discord_server.slash_interaction("news latest", {"count": 3})  # weight is required
        payload = discord_server.slash_interaction("news latest", {"count": 3, "weight": 1})
        assert payload["data"]["options"][0]["options"][1]["type"] == 10
        await discord_server.dispatch("INTERACTION_CREATE", payload)
        await until(lambda: got)
    assert got == [(3, 1.0)]


# -- components ----------------------------------------------------------------------------
class MoreView(discord.ui.View):
    def __init__(self, clicks: list[discord.Interaction] | None = None) -> None:
        super().__init__(timeout=None)
        self.clicks = [] if clicks is None else clicks

    @discord.ui.button(label="More", custom_id="crisis:more", style=discord.ButtonStyle.secondary)
    async def more(self, interaction: discord.Interaction, button: discord.ui.Button[Any]) -> None:
        self.clicks.append(interaction)
        await interaction.response.edit_message(content="Expanded answer", view=None)


@pytest.mark.asyncio
async def test_persistent_view_survives_a_restart(discord_server: FakeDiscord,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    first = Client()
    async with connected(discord_server, monkeypatch, first):
        channel = first.get_channel(discord_server.channel_id)
        assert isinstance(channel, discord.TextChannel)
        await channel.send("Short answer", view=MoreView(), allowed_mentions=NONE)
    posted = discord_server.sent_messages[-1]
    assert posted["components"][0]["components"][0]["custom_id"] == "crisis:more"

    clicks: list[discord.Interaction] = []
    second = Client()  # a new process: the view is registered again, not tied to a message
    second.persistent.append(MoreView(clicks))
    async with connected(discord_server, monkeypatch, second):
        payload = discord_server.component_interaction("crisis:more", posted, user_id=503)
        await discord_server.dispatch("INTERACTION_CREATE", payload)
        update = await discord_server.wait_for("POST", f"/interactions/{payload['id']}/")
    assert len(clicks) == 1 and clicks[0].user.id == 503
    assert clicks[0].message is not None and clicks[0].message.id == int(posted["id"])
    assert update.json["type"] == 7 and update.json["data"]["components"] == []
    assert discord_server.messages[int(posted["id"])]["content"] == "Expanded answer"
    with pytest.raises(ValueError):  # the button is gone
        discord_server.component_interaction("crisis:more", posted)


class Vote(discord.ui.DynamicItem[discord.ui.Button[Any]],
           template=r"vote:(?P<answer>up|down):(?P<doc>\d+)"):
    votes: list[tuple[str, int]] = []

    def __init__(self, answer: str, doc: int) -> None:
        super().__init__(discord.ui.Button(label=answer, custom_id=f"vote:{answer}:{doc}"))
        self.answer, self.doc = answer, doc

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction,
                             item: discord.ui.Item[Any], match: re.Match[str]) -> Vote:
        return cls(match["answer"], int(match["doc"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        self.votes.append((self.answer, self.doc))
        await interaction.response.send_message("Thanks for the feedback", ephemeral=True)


@pytest.mark.asyncio
async def test_dynamic_item_custom_id_is_parsed(discord_server: FakeDiscord,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    Vote.votes = []
    client = Client()
    async with connected(discord_server, monkeypatch, client):
        client.add_dynamic_items(Vote)
        channel = client.get_channel(discord_server.channel_id)
        assert isinstance(channel, discord.TextChannel)
        view = discord.ui.View(timeout=None)
        view.add_item(Vote("up", 42))
        view.add_item(Vote("down", 42))
        await channel.send("Answer", view=view, allowed_mentions=NONE)
        posted = discord_server.sent_messages[-1]
        payload = discord_server.component_interaction("vote:down:42", posted)
        await discord_server.dispatch("INTERACTION_CREATE", payload)
        reply = await discord_server.wait_for("POST", f"/interactions/{payload['id']}/")
    assert Vote.votes == [("down", 42)]
    assert reply.json["type"] == 4 and reply.json["data"]["flags"] == 64


# -- messages ------------------------------------------------------------------------------
@pytest.mark.asyncio
async def test_guild_mention_reply_carries_reference(discord_server: FakeDiscord,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    client = Client()

    async def answer(message: discord.Message) -> None:
        assert client.user is not None
        if client.user.mentioned_in(message):
            await message.add_reaction("\N{HOURGLASS}")
            async with message.channel.typing():
                await message.reply("Pokrovsk is in Donetsk oblast.", allowed_mentions=NONE)

    client.on_message_hook = answer
    async with connected(discord_server, monkeypatch, client):
        event = discord_server.message_create("Where is Pokrovsk?", mentions_bot=True)
        await discord_server.dispatch("MESSAGE_CREATE", event)
        sent = await discord_server.wait_for("POST", "/channels/7100/messages")
    received = client.received[0]
    assert received.content == "<@9001> Where is Pokrovsk?"
    assert isinstance(received.author, discord.Member) and received.guild is not None
    assert sent.json["message_reference"]["message_id"] == int(event["id"])
    assert sent.json["message_reference"]["channel_id"] == 7100
    assert sent.json["allowed_mentions"] == {"parse": []}
    shown = discord_server.sent_messages[-1]
    assert shown["type"] == 19 and shown["referenced_message"]["id"] == event["id"]
    assert shown["mentions"] == []  # replied_user not allowed: nobody pinged
    reaction = discord_server.calls("PUT", "/reactions/")[0]
    assert reaction.path.endswith(f"/messages/{event['id']}/reactions/\N{HOURGLASS}/@me")
    assert discord_server.calls("POST", "/channels/7100/typing")


@pytest.mark.asyncio
async def test_own_messages_are_echoed_when_asked(discord_server: FakeDiscord,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    discord_server.echo_own_messages = True
    client = Client()

    async def answer(message: discord.Message) -> None:
        await message.channel.send("An answer", allowed_mentions=NONE)

    client.on_message_hook = answer
    async with connected(discord_server, monkeypatch, client):
        await discord_server.dispatch("MESSAGE_CREATE", discord_server.message_create("q?"))
        await until(lambda: client.own)
    own = client.own[0]
    assert own.content == "An answer" and own.guild is not None and own.author == client.user
    assert len(client.received) == 1  # the test client ignores itself, so no loop


@pytest.mark.asyncio
async def test_message_content_intent(discord_server: FakeDiscord,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    client = Client(intents=discord.Intents.default())  # without message_content
    async with connected(discord_server, monkeypatch, client):
        for event in (discord_server.message_create("plain question"),
                      discord_server.message_create("mentioned", mentions_bot=True),
                      discord_server.message_create("in a DM", guild=False)):
            await discord_server.dispatch("MESSAGE_CREATE", event)
        await until(lambda: len(client.received) == 3)
    assert [m.content for m in client.received] == ["", "<@9001> mentioned", "in a DM"]


@pytest.mark.asyncio
async def test_dm_reaches_on_message_and_reply_goes_to_the_dm(
        discord_server: FakeDiscord, monkeypatch: pytest.MonkeyPatch) -> None:
    client = Client()

    async def answer(message: discord.Message) -> None:
        if message.guild is None:
            await message.channel.send("Answer in the DM", allowed_mentions=NONE)
            await message.author.send("A second DM", allowed_mentions=NONE,
                                      file=discord.File(io.BytesIO(b"[1] report"), "sources.txt"))

    client.on_message_hook = answer
    dm = discord_server.dm_channel_id(503)
    async with connected(discord_server, monkeypatch, client):
        event = discord_server.message_create("hello", user_id=503, guild=False)
        assert event["channel_id"] == str(dm) and "guild_id" not in event
        await discord_server.dispatch("MESSAGE_CREATE", event)
        upload = await discord_server.wait_for(
            "POST", f"/channels/{dm}/messages",
            predicate=lambda r: r.json["content"] == "A second DM")
        await discord_server.dispatch("MESSAGE_UPDATE",
                                      discord_server.message_update(event, "hello again"))
        await until(lambda: client.edits)
    received = client.received[0]
    assert isinstance(received.channel, discord.DMChannel) and received.channel.id == dm
    assert received.guild is None and received.author.id == 503
    assert client.edits[0][1].content == "hello again"
    assert upload.headers["Content-Type"].startswith("multipart/form-data")
    assert upload.json["attachments"] == [{"id": 0, "filename": "sources.txt"}]
    assert discord_server.uploads[0]["data"] == b"[1] report"
    assert discord_server.sent_messages[-1]["attachments"][0]["filename"] == "sources.txt"
    assert discord_server.calls("POST", "/users/@me/channels")[0].json == {"recipient_id": 503}
    assert [m["content"] for m in discord_server.messages_in(dm)] == [
        "hello again", "Answer in the DM", "A second DM"]


@pytest.mark.asyncio
async def test_thread_from_message(discord_server: FakeDiscord,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    client = Client()

    async def answer(message: discord.Message) -> None:
        if isinstance(message.channel, discord.TextChannel):
            thread = await message.create_thread(name="Q: Kursk")
            await thread.send("Answer in the thread", allowed_mentions=NONE)
        elif isinstance(message.channel, discord.Thread):
            await message.channel.send("Follow-up answer", allowed_mentions=NONE)

    client.on_message_hook = answer
    async with connected(discord_server, monkeypatch, client):
        event = discord_server.message_create("What about Kursk?", mentions_bot=True)
        await discord_server.dispatch("MESSAGE_CREATE", event)
        thread_id = int(event["id"])  # a thread started from a message has its id
        await discord_server.wait_for("POST", f"/channels/{thread_id}/messages")
        await until(lambda: client.get_channel(thread_id) is not None)  # THREAD_CREATE arrived
        follow = discord_server.message_create("And Sudzha?", channel_id=thread_id)
        await discord_server.dispatch("MESSAGE_CREATE", follow)
        await discord_server.wait_for("POST", f"/channels/{thread_id}/messages", after=0,
                                      predicate=lambda r: r.json["content"] == "Follow-up answer")
    assert isinstance(client.received[1].channel, discord.Thread)
    assert discord_server.channels[thread_id]["type"] == 11
    assert discord_server.channels[thread_id]["parent_id"] == "7100"


# -- rate limits, errors, validation -------------------------------------------------------
@pytest.mark.asyncio
@pytest.mark.parametrize("via", [True, False])
async def test_rate_limited_followup(discord_server: FakeDiscord,
                                     monkeypatch: pytest.MonkeyPatch, via: bool) -> None:
    """With Via, discord.py's webhook adapter sleeps retry_after and retries; without it,
    it raises HTTPException(status=429) at once (it assumes a Cloudflare ban)."""
    client = Client()
    got: dict[str, Any] = {}

    @client.tree.command(name="ask", description="Ask about the war")
    async def ask(interaction: discord.Interaction, question: str) -> None:
        await interaction.response.defer(thinking=True)
        started = time.monotonic()
        try:
            await interaction.followup.send("answer", allowed_mentions=NONE)
        except discord.HTTPException as error:
            got["error"] = error
        got["elapsed"] = time.monotonic() - started

    async with connected(discord_server, monkeypatch, client):
        await client.tree.sync()
        discord_server.fail_next("POST", "/webhooks/9001/", retry_after=0.3, via=via)
        payload = discord_server.slash_interaction("ask", {"question": "q"})
        await discord_server.dispatch("INTERACTION_CREATE", payload)
        await until(lambda: "elapsed" in got)
    posts = discord_server.calls("POST", f"/webhooks/9001/{payload['token']}")
    if via:
        assert "error" not in got and len(posts) == 2 and got["elapsed"] >= 0.3
        assert discord_server.sent_messages[-1]["content"] == "answer"
    else:
        assert got["error"].status == 429 and len(posts) == 1


@pytest.mark.asyncio
@pytest.mark.parametrize("global_", [False, True])
async def test_rate_limited_channel_message_is_retried(
        discord_server: FakeDiscord, monkeypatch: pytest.MonkeyPatch, global_: bool) -> None:
    client = Client()
    async with connected(discord_server, monkeypatch, client):
        channel = client.get_channel(discord_server.channel_id)
        assert isinstance(channel, discord.TextChannel)
        discord_server.fail_next("POST", "/channels/7100/messages", retry_after=0.2,
                                 global_=global_)
        message = await channel.send("answer", allowed_mentions=NONE)
        discord_server.fail_next("POST", "/channels/7100/messages", via=False)
        with pytest.raises(discord.HTTPException) as raised:
            await channel.send("again", allowed_mentions=NONE)
    assert message.content == "answer" and raised.value.status == 429
    assert len(discord_server.calls("POST", "/channels/7100/messages")) == 3


@pytest.mark.asyncio
async def test_unknown_route_is_404_and_recorded(discord_server: FakeDiscord,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    client = Client()
    async with connected(discord_server, monkeypatch, client):
        with pytest.raises(discord.NotFound):
            await client.fetch_guild(discord_server.guild_id)
        with pytest.raises(discord.NotFound) as unknown_channel:
            await client.http.send_message(123, params=discord.http.handle_message_parameters(
                content="nowhere"))
    assert [r.path for r in discord_server.unknown] == ["/api/v10/guilds/7000"]
    assert unknown_channel.value.code == 10003


@pytest.mark.asyncio
async def test_validation_errors(discord_server: FakeDiscord,
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    def embed(**fields: Any) -> discord.Embed:
        return discord.Embed(**fields)

    with_empty_field = embed(title="t")
    with_empty_field.add_field(name="Source", value="")
    long_id = discord.ui.View()
    long_id.add_item(discord.ui.Button(label="x", custom_id="c" * 101))
    cases: list[tuple[dict[str, Any], int, str]] = [
        ({"content": "x" * 2001}, 50035, "content"),
        ({"embed": embed(description="d" * 4097)}, 50035, "embeds.0.description"),
        ({"embed": embed(title="t" * 257)}, 50035, "embeds.0.title"),
        ({"embeds": [embed(description="d" * 2500) for _ in range(3)]}, 50035, "embeds"),
        ({"embed": with_empty_field}, 50035, "embeds.0.fields.0.value"),
        ({"embed": embed(title="t", url="/articles/12")}, 50035, "embeds.0.url"),
        ({"view": long_id}, 50035, "components.0.components.0.custom_id"),
        ({"content": "   "}, 50006, ""),
    ]
    client = Client()
    async with connected(discord_server, monkeypatch, client):
        channel = client.get_channel(discord_server.channel_id)
        assert isinstance(channel, discord.TextChannel)
        for kwargs, code, where in cases:
            with pytest.raises(discord.HTTPException) as raised:
                await channel.send(allowed_mentions=NONE, **kwargs)
            assert raised.value.status == 400 and raised.value.code == code, kwargs
            assert where in raised.value.text, (where, raised.value.text)
        big = {"content": "x", "embeds": [{"title": "t"}] * 11}
        with pytest.raises(discord.HTTPException):  # discord.py itself stops at 10 embeds
            await client.http.request(discord.http.Route(
                "POST", "/channels/{channel_id}/messages", channel_id=channel.id), json=big)
        fields = embed(title="ok")
        for index in range(25):
            fields.add_field(name=f"n{index}", value="v" * 200)
        accepted = await channel.send(embed=fields, allowed_mentions=NONE)
    assert len(accepted.embeds[0].fields) == 25
    assert len(discord_server.sent_messages) == 1
