"""Each chat adapter receives its section (`TelegramSection`, `DiscordSection`) and reads no
settings of its own: no module of it imports `bot.runtime.settings` or reaches for a
`.settings` attribute (the service's whole settings object, the other platform's included)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ADAPTERS = Path(__file__).resolve().parents[3] / "bot" / "adapters"
CHAT_MODULES = sorted([*ADAPTERS.glob("telegram/*.py"), *ADAPTERS.glob("discord/*.py")])


def settings_reads(source: str) -> list[int]:
    """Lines that import the settings module or read a `.settings` attribute."""
    lines = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute) and node.attr == "settings":
            lines.append(node.lineno)
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("bot.runtime.settings"):
            lines.append(node.lineno)
        elif isinstance(node, ast.Import) and any(a.name.startswith("bot.runtime.settings") for a in node.names):
            lines.append(node.lineno)
    return lines


def test_the_check_sees_a_settings_read() -> None:
    assert settings_reads("def f(service):\n    return service.settings.telegram_bot_token\n") == [2]
    assert settings_reads("from bot.runtime.settings import Settings\n") == [1]
    assert settings_reads("from bot.runtime.sections import TelegramSection\n") == []


@pytest.mark.parametrize("module", CHAT_MODULES, ids=lambda path: f"{path.parent.name}/{path.name}")
def test_no_adapter_module_reads_settings(module: Path) -> None:
    assert settings_reads(module.read_text()) == [], f"{module.parent.name}/{module.name} reads settings"
