#!/usr/bin/env python
"""Discord latency: from an INTERACTION_CREATE (/ask) to the follow-up carrying the answer.

The real discord.py client connects to the stand-in gateway and REST server of the test suite
(`tests/discord_server/`, 127.0.0.1 only) and answers N different questions over the seed
knowledge base, one at a time.

    .venv/bin/python -m benchmarks.chat.discord [--questions 50] [--shared PATH]
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from benchmarks.chat import latency


async def measure(texts: list[str], data_dir: Path) -> list[tuple[float, bool]]:
    import discord
    import yarl

    from bot.adapters.discord.client import CrisisDiscordClient
    from tests.discord_server import FakeDiscord

    server = FakeDiscord()
    await server.start()
    discord.http.Route.BASE = server.api_base
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(server.gateway_url)
    service = latency.open_service(data_dir, texts[0], discord_guild_ids=str(server.guild_id))  # the community's
    client = CrisisDiscordClient(service, config=service.settings.discord, guild_ready_timeout=0.05)
    await client.login(server.token)
    task = asyncio.create_task(client.connect(reconnect=False))
    await asyncio.wait_for(client.wait_until_ready(), 30)
    results: list[tuple[float, bool]] = []
    try:
        for text in texts:
            interaction = server.slash_interaction("ask", {"question": text})
            start_index = len(server.requests)
            started = time.perf_counter()
            await server.dispatch("INTERACTION_CREATE", interaction)
            follow = await server.wait_for("POST", "/webhooks/", after=start_index, timeout=60)
            found = "no answer" not in follow.json["embeds"][0]["description"]
            results.append((time.perf_counter() - started, found))
    finally:
        await client.close()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await server.stop()
        service.close()
    return results


if __name__ == "__main__":
    raise SystemExit(latency.main("discord: INTERACTION_CREATE -> follow-up", measure, __doc__))
