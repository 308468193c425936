"""Webhook mode: setWebhook with a secret token, updates refused without it."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import aiohttp
import pytest

from bot.runtime.service import CrisisBot
from bot.runtime.settings import load_settings
from bot.adapters.telegram.app import build_application, webhook_options
from index.embedder import SentenceTransformerEmbedder
from tests.telegram_server import FakeTelegram


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.asyncio
async def test_webhook_checks_the_secret_token(
    telegram_server: FakeTelegram, tmp_path: Path, real_embedder: SentenceTransformerEmbedder
) -> None:
    port = free_port()
    settings = load_settings(
        data_dir=tmp_path / "data", TELEGRAM_BOT_TOKEN=telegram_server.token,
        telegram_api_url=telegram_server.base_url, telegram_webhook_url=f"http://127.0.0.1:{port}/hook-path",
        telegram_webhook_port=port, telegram_webhook_path="hook-path", TELEGRAM_WEBHOOK_SECRET="s3cret-token",
    )
    service = CrisisBot(settings, real_embedder)
    service.open()
    application = build_application(service, settings.telegram)
    await application.initialize()
    await application.start()
    assert application.updater is not None
    await application.updater.start_webhook(**webhook_options(settings.telegram))  # type: ignore[arg-type]
    try:
        registered = await telegram_server.wait_for("setWebhook")
        assert registered.params["url"] == f"http://127.0.0.1:{port}/hook-path"
        assert registered.params["secret_token"] == "s3cret-token"

        update = telegram_server.private_message("How many North Korean troops arrived in Russia?")
        update["update_id"] = 4242
        url = f"http://127.0.0.1:{port}/hook-path"
        async with aiohttp.ClientSession() as session:
            for header in ({}, {"X-Telegram-Bot-Api-Secret-Token": "wrong"}):
                async with session.post(url, data=json.dumps(update), headers={"Content-Type": "application/json", **header}) as refused:
                    assert refused.status == 403
            async with session.post(url, data=json.dumps(update), headers={
                "Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": "s3cret-token"}) as accepted:
                assert accepted.status == 200
        reply = await telegram_server.wait_for("sendMessage")
        assert "10,000" in reply.params["text"]
        assert len(telegram_server.calls("sendMessage")) == 1  # the refused posts were never handled
    finally:
        await application.updater.stop()
        await application.stop()
        await application.shutdown()


def test_webhook_mode_requires_a_secret(tmp_path: Path) -> None:
    from knowledge.errors import ConfigError

    settings = load_settings(data_dir=tmp_path, telegram_webhook_url="https://bot.example.org/hook")
    with pytest.raises(ConfigError, match="TELEGRAM_WEBHOOK_SECRET"):
        webhook_options(settings.telegram)
