"""No bot token in any log line or traceback: the filter itself, then `crisisbot serve telegram`
at DEBUG against the stand-in Bot API (a real process, the real python-telegram-bot), then a
token the server rejects."""

from __future__ import annotations

import asyncio
import io
import logging
import signal
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.runtime.log_redaction import REDACTED, RedactingFilter, configure_logging, set_level
from tests.bot.adapters.cli.operator import cli_env, lines
from tests.conftest import PROJECT
from tests.discord_server import FakeDiscord
from tests.telegram_server import FakeTelegram

TELEGRAM_TOKEN = "7012345678:AAHk3_fake-TokenForTests0123456789abcd"  # the real shape: 35 after ":"
DISCORD_TOKEN = "MTA5ODc2NTQzMjEwOTg3NjU0.GxYzAb.abcdefghijklmnopqrstuvwxyz0123456789AB"


@pytest.fixture
def captured() -> Iterator[tuple[logging.Logger, io.StringIO, RedactingFilter]]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    redacting = RedactingFilter()
    handler.addFilter(redacting)
    logger = logging.getLogger("test.redaction")
    logger.addHandler(handler)
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    yield logger, stream, redacting
    logger.removeHandler(handler)


def test_configured_secrets_and_token_shapes_are_redacted_everywhere(
    captured: tuple[logging.Logger, io.StringIO, RedactingFilter],
) -> None:
    logger, stream, redacting = captured
    redacting.add_secrets(["short-but-configured-secret", None, "x"])
    logger.info("HTTP Request: POST https://api.telegram.org/bot%s/getUpdates", TELEGRAM_TOKEN)
    logger.warning("login with %s failed", DISCORD_TOKEN)
    logger.info("webhook secret is short-but-configured-secret")
    try:
        raise RuntimeError(f"The token `{TELEGRAM_TOKEN}` was rejected by the server.")
    except RuntimeError:
        logger.exception("serving failed")
    logger.error("stack", stack_info=True, extra={"token": TELEGRAM_TOKEN})
    text = stream.getvalue()
    for secret in (TELEGRAM_TOKEN, DISCORD_TOKEN, "short-but-configured-secret", "AAHk3_fake"):
        assert secret not in text
    assert text.count(REDACTED) >= 4
    assert "https://api.telegram.org/bot[redacted]/getUpdates" in text
    assert "RuntimeError: The token `[redacted]` was rejected" in text  # the traceback too
    assert "webhook secret is [redacted]\n" in text
    redacting.add_secrets(["x"])  # too short to be a secret: it would eat every "x" of a log
    logger.info("max sixty")
    assert stream.getvalue().endswith("max sixty\n")


def test_httpx_stays_at_warning_whatever_the_level() -> None:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        configure_logging(logging.DEBUG)
        set_level("DEBUG")
        assert logging.getLogger("httpx").getEffectiveLevel() == logging.WARNING
        assert logging.getLogger("httpcore").getEffectiveLevel() == logging.WARNING
        assert logging.getLogger("telegram").getEffectiveLevel() == logging.DEBUG
    finally:
        for handler in root.handlers[:]:
            if handler not in handlers:
                root.removeHandler(handler)
        root.setLevel(level)


async def serve_telegram(server: FakeTelegram, data_dir: Path, token: str,
                         level: str = "DEBUG") -> asyncio.subprocess.Process:
    env = cli_env(data_dir, TELEGRAM_BOT_TOKEN=token, CRISISBOT_TELEGRAM_API_URL=server.base_url,
                  CRISISBOT_LOG_LEVEL=level, DISCORD_BOT_TOKEN=DISCORD_TOKEN)
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.adapters.cli.app", "serve", "telegram", cwd=PROJECT, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)


@pytest.mark.slow
@pytest.mark.asyncio
async def test_serve_telegram_at_debug_never_logs_the_token(telegram_server: FakeTelegram, tmp_path: Path) -> None:
    telegram_server.token = TELEGRAM_TOKEN
    process = await serve_telegram(telegram_server, tmp_path / "data", TELEGRAM_TOKEN)
    try:
        await telegram_server.wait_for("getUpdates", timeout=300)
        asked = len(telegram_server.requests)
        telegram_server.push_update(telegram_server.private_message("/help"))
        await telegram_server.wait_for("sendMessage", after=asked, timeout=60)
        await telegram_server.wait_for("getUpdates", after=asked + 1, timeout=60)  # polled again
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGINT)
        out, err = await asyncio.wait_for(process.communicate(), timeout=120)
    output = out.decode() + err.decode()
    assert process.returncode == 0, output[-3000:]
    assert "DEBUG telegram" in output  # it did log at DEBUG: the test could have caught a leak
    assert TELEGRAM_TOKEN not in output and TELEGRAM_TOKEN.split(":")[1] not in output
    assert DISCORD_TOKEN not in output
    assert "HTTP Request" not in output  # httpx's per-request lines stay off at DEBUG


@pytest.mark.slow
@pytest.mark.asyncio
async def test_a_rejected_token_is_one_line_without_it_and_exit_1(
    telegram_server: FakeTelegram, tmp_path: Path,
) -> None:
    """Telegram answers 401 to getMe for a revoked token. At the default level (WARNING)
    python-telegram-bot's message, through the CLI's traceback, printed the token in full."""
    telegram_server.token = TELEGRAM_TOKEN
    telegram_server.fail_next("getMe", status=401, retry_after=None, description="Unauthorized")
    process = await serve_telegram(telegram_server, tmp_path / "data", TELEGRAM_TOKEN, level="WARNING")
    out, err = await asyncio.wait_for(process.communicate(), timeout=300)
    assert telegram_server.calls("getMe"), "the token was never tried"
    output = out.decode() + err.decode()
    assert process.returncode == 1, output[-3000:]
    assert TELEGRAM_TOKEN.split(":")[1] not in output
    assert "Traceback" not in output
    assert lines(err.decode()) == [
        "crisisbot: error: Telegram rejected the bot token (TELEGRAM_BOT_TOKEN): copy it again from @BotFather"]


def test_env_example_ships_warning() -> None:
    """INFO logged every Bot API URL (41 lines in 40 s); WARNING is what an operator copies."""
    settings = [line for line in (PROJECT / ".env.example").read_text(encoding="utf-8").splitlines()
                if line.startswith("CRISISBOT_LOG_LEVEL=")]
    assert settings == ["CRISISBOT_LOG_LEVEL=WARNING"]


POINT_DISCORD_AT_THE_STAND_IN = '''
import os

import discord.http

discord.http.Route.BASE = os.environ["STAND_IN_DISCORD_API"]  # as patch_client_urls does in-process
'''


@pytest.mark.slow
@pytest.mark.asyncio
async def test_a_rejected_discord_token_is_one_line_without_it_and_exit_1(
    discord_server: FakeDiscord, tmp_path: Path,
) -> None:
    """discord.py raises LoginFailure when GET /users/@me answers 401 (the stand-in does for
    any token but its own)."""
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(POINT_DISCORD_AT_THE_STAND_IN, encoding="utf-8")
    env = cli_env(tmp_path / "data", DISCORD_BOT_TOKEN=DISCORD_TOKEN, STAND_IN_DISCORD_API=discord_server.api_base)
    env["PYTHONPATH"] = f"{hook}:{env['PYTHONPATH']}"
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.adapters.cli.app", "serve", "discord", cwd=PROJECT, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(process.communicate(), timeout=300)
    assert discord_server.calls("GET", "/users/@me"), "the token was never tried"
    output = out.decode() + err.decode()
    assert process.returncode == 1, output[-3000:]
    assert DISCORD_TOKEN not in output
    assert "Traceback" not in output
    voice = [line for line in lines(err.decode()) if "voice will NOT be supported" in line]  # discord.py's own
    assert [line for line in lines(err.decode()) if line not in voice] == [
        "crisisbot: error: Discord rejected the bot token (DISCORD_BOT_TOKEN): copy it again from the "
        "Developer Portal, Bot tab"]
