"""The docker compose deployment: docker-compose.yml, Dockerfile, .env.example, .dockerignore.

The container engine does not run in the test environment, so these tests read the files
(and run a real compose validator when one is installed) instead of starting the services.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.runtime.settings import Settings, load_settings

ROOT = Path(__file__).resolve().parent.parent
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
ENV_EXAMPLE = ROOT / ".env.example"
BOT_SERVICES = ("telegram", "discord", "worker")
COMMANDS = {
    "telegram": ["crisisbot", "serve", "telegram"],
    "discord": ["crisisbot", "serve", "discord"],
    "worker": ["crisisbot", "worker"],
}
SECRET_WORDS = re.compile(r"TOKEN|PASSWORD|SECRET", re.IGNORECASE)
INTERPOLATION = re.compile(r"\$\{(\w+)(?:[:?\-+][^}]*)?\}")
ENV_LINE = re.compile(r"^#?\s*([A-Z][A-Z0-9_]*)=(.*)$")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return compose["services"]


def environment(service: dict[str, Any]) -> dict[str, str]:
    """A service's `environment`, as a mapping whichever form the file uses."""
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {str(key): str(value) for key, value in env.items()}


def env_example() -> dict[str, tuple[str, bool]]:
    """NAME -> (value, active) for each `NAME=value` line of .env.example, commented or not."""
    found: dict[str, tuple[str, bool]] = {}
    for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        match = ENV_LINE.match(line.strip())
        if match:
            found[match.group(1)] = (match.group(2), not line.lstrip().startswith("#"))
    return found


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order, continuation lines joined, comments dropped."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for raw in DOCKERFILE.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        keyword, _, rest = (pending + line).partition(" ")
        instructions.append((keyword.upper(), " ".join(rest.split())))
        pending = ""
    return instructions


def env_names_used(services: dict[str, dict[str, Any]]) -> set[str]:
    names = {name for service in services.values() for name in environment(service)}
    names |= set(env_example())
    for keyword, args in dockerfile_instructions():
        if keyword == "ENV":
            names |= set(re.findall(r"([A-Z][A-Z0-9_]*)=", args))
    return names


def test_four_services(services: dict[str, dict[str, Any]]) -> None:
    assert set(services) == {"postgres", *BOT_SERVICES}


def test_postgres_is_pgvector_with_a_named_volume_and_a_healthcheck(
    compose: dict[str, Any], services: dict[str, dict[str, Any]]
) -> None:
    postgres = services["postgres"]
    assert postgres["image"] == "pgvector/pgvector:pg16"
    volume = next(v for v in postgres["volumes"] if v.split(":")[1] == "/var/lib/postgresql/data")
    assert volume.split(":")[0] in compose["volumes"]
    test = postgres["healthcheck"]["test"]
    assert "pg_isready" in (test if isinstance(test, str) else " ".join(test))
    assert postgres.get("restart") in {"always", "unless-stopped"}
    assert "ports" not in postgres, "the database stays on the compose network"


def test_bot_services_share_one_build_and_one_image(services: dict[str, dict[str, Any]]) -> None:
    builds = {repr(services[name]["build"]) for name in BOT_SERVICES}
    images = {services[name]["image"] for name in BOT_SERVICES}
    assert builds == {"'.'"} or builds == {repr({"context": "."})}
    assert len(images) == 1
    assert "build" not in services["postgres"]


@pytest.mark.parametrize("name", BOT_SERVICES)
def test_bot_service_runs_its_command_after_a_healthy_database(
    name: str, compose: dict[str, Any], services: dict[str, dict[str, Any]]
) -> None:
    service = services[name]
    assert service["command"] == COMMANDS[name]
    assert service["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    assert service["restart"] in {"always", "unless-stopped", "on-failure"}
    assert service["env_file"] in (".env", [".env"])
    env = environment(service)
    assert env["CRISISBOT_DATA_DIR"] == "/data"
    data_volumes = [v for v in service["volumes"] if v.split(":")[1] == "/data"]
    assert len(data_volumes) == 1 and data_volumes[0].split(":")[0] in compose["volumes"]
    url = env["CRISISBOT_DATABASE_URL"]
    assert re.fullmatch(r"postgresql://crisisbot:\$\{POSTGRES_PASSWORD[^}]*\}@postgres:5432/crisisbot", url)


def test_each_bot_service_has_its_own_data_volume(services: dict[str, dict[str, Any]]) -> None:
    volumes = [services[name]["volumes"][0].split(":")[0] for name in BOT_SERVICES]
    assert len(set(volumes)) == len(BOT_SERVICES)


def test_only_the_worker_runs_the_schedules(services: dict[str, dict[str, Any]]) -> None:
    flags = {name: environment(services[name])["CRISISBOT_RUN_SCHEDULES"] for name in BOT_SERVICES}
    assert flags == {"telegram": "false", "discord": "false", "worker": "true"}


def test_no_secret_value_in_the_compose_file(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        for key, value in environment(service).items():
            if SECRET_WORDS.search(key):
                assert INTERPOLATION.fullmatch(value), f"{name}: {key} must come from .env"
            for password in re.findall(r"://[^:/@]+:([^@]+)@", value):
                assert INTERPOLATION.fullmatch(password), f"{name}: {key} holds a password"


def test_no_secret_in_the_dockerfile() -> None:
    text = DOCKERFILE.read_text(encoding="utf-8")
    for keyword, args in dockerfile_instructions():
        if keyword in {"ENV", "ARG"}:
            assert not SECRET_WORDS.search(args), f"{keyword} {args}"
    assert not re.search(r"\d{6,}:[A-Za-z0-9_-]{30,}", text), "a Telegram token"
    assert not re.search(r"postgres(ql)?://\S+:\S+@", text), "a database password"
    for keyword, args in dockerfile_instructions():
        if keyword in {"COPY", "ADD"}:
            assert ".env" not in args and not args.startswith(". "), f"{keyword} {args}: copies secrets"


def test_every_interpolated_variable_is_documented() -> None:
    documented = env_example()
    used = set(INTERPOLATION.findall(COMPOSE_FILE.read_text(encoding="utf-8")))
    assert used, "the password at least comes from .env"
    for name in used:
        assert name in documented, f"${{{name}}} is not in .env.example"
        assert documented[name][1], f"{name} is required: .env.example must set it"


def test_env_example_documents_the_secrets() -> None:
    documented = env_example()
    for name in ("TELEGRAM_BOT_TOKEN", "DISCORD_BOT_TOKEN", "POSTGRES_PASSWORD", "TELEGRAM_WEBHOOK_SECRET"):
        assert name in documented
    text = ENV_EXAMPLE.read_text(encoding="utf-8")
    for name in ("CRISISBOT_DATABASE_URL", "CRISISBOT_TELEGRAM_ADMIN_IDS", "CRISISBOT_DISCORD_ADMIN_ROLE_IDS",
                 "CRISISBOT_TELEGRAM_DIGEST_CHAT_ID", "CRISISBOT_DISCORD_DIGEST_CHANNEL_ID"):
        assert name in text
    for name, (value, active) in documented.items():
        if active and SECRET_WORDS.search(name):
            assert "replace-me" in value, f"{name}: a placeholder, never a real secret"


def test_every_variable_is_a_real_setting(services: dict[str, dict[str, Any]]) -> None:
    fields = set(Settings.model_fields)
    aliases = {
        field.validation_alias
        for field in Settings.model_fields.values()
        if isinstance(field.validation_alias, str)
    }
    for name in env_names_used(services):
        if name.startswith("CRISISBOT_"):
            assert name.removeprefix("CRISISBOT_").lower() in fields, f"{name} is not a setting"
        elif name.startswith(("TELEGRAM_", "DISCORD_")):
            assert name in aliases, f"{name} is not read by the settings"


def test_the_example_settings_load(
    services: dict[str, dict[str, Any]], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """What the worker would start with, given .env.example as .env, passes validation."""
    values = {name: value for name, (value, active) in env_example().items() if active}
    for name, value in environment(services["worker"]).items():
        values[name] = INTERPOLATION.sub(lambda m: values[m.group(1)], value)
    values["CRISISBOT_DATA_DIR"] = str(tmp_path)
    fields = set(Settings.model_fields)
    for name, value in values.items():
        if name.startswith("CRISISBOT_") and name.removeprefix("CRISISBOT_").lower() not in fields:
            continue  # a pending setting (see test_every_variable_is_a_real_setting)
        monkeypatch.setenv(name, value)
    settings = load_settings()
    assert settings.database_url is not None
    assert settings.digest_schedule == values["CRISISBOT_DIGEST_SCHEDULE"]


def test_dockerfile_installs_cpu_torch_first_then_the_project() -> None:
    instructions = dockerfile_instructions()
    assert instructions[0] == ("FROM", "python:3.11-slim")
    runs = [args for keyword, args in instructions if keyword == "RUN"]
    torch = next(i for i, args in enumerate(runs) if "torch==2.13.0" in args)
    project = next(i for i, args in enumerate(runs) if "'.[postgres]'" in args or '".[postgres]"' in args)
    assert torch < project
    assert "--index-url https://download.pytorch.org/whl/cpu" in runs[torch]
    assert "-c constraints.txt" in runs[project]
    assert "torch==2.13.0" in (ROOT / "constraints.txt").read_text(encoding="utf-8").split()


def test_dockerfile_runs_offline_as_a_non_root_user() -> None:
    instructions = dockerfile_instructions()
    env = " ".join(args for keyword, args in instructions if keyword == "ENV")
    assert "HF_HUB_OFFLINE=1" in env and "TRANSFORMERS_OFFLINE=1" in env
    users = [(i, args) for i, (keyword, args) in enumerate(instructions) if keyword == "USER"]
    assert users, "no USER: the bot would run as root"
    last_user_at, user = users[-1]
    assert user.split(":")[0] not in {"root", "0"}
    assert all(keyword != "RUN" for keyword, _ in instructions[last_user_at:])


def test_secrets_and_data_stay_out_of_git_and_the_build_context() -> None:
    gitignore = (ROOT / ".gitignore").read_text(encoding="utf-8").split()
    assert ".env" in gitignore or "/.env" in gitignore
    assert ".env.example" not in gitignore
    dockerignore = (ROOT / ".dockerignore").read_text(encoding="utf-8").split()
    for entry in (".env", ".git", ".venv", ".demo-data", "/data"):
        assert entry in dockerignore, entry


def compose_validator() -> list[str] | None:
    """`docker compose` (the v2 plugin) or `docker-compose` (v1), whichever works here."""
    if shutil.which("docker"):
        probe = subprocess.run(["docker", "compose", "version"], capture_output=True, timeout=60, check=False)
        if probe.returncode == 0:
            return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    return None


@pytest.mark.slow
def test_a_real_compose_validator_accepts_the_file(tmp_path: Path) -> None:
    command = compose_validator()
    if command is None:
        pytest.skip("no compose validator on PATH (neither `docker compose` nor `docker-compose`)")
    for name in ("docker-compose.yml", "Dockerfile", ".dockerignore"):
        shutil.copy(ROOT / name, tmp_path / name)
    env = {key: value for key, value in os.environ.items() if key != "POSTGRES_PASSWORD"}

    (tmp_path / ".env").write_text("", encoding="utf-8")
    missing = subprocess.run([*command, "-f", "docker-compose.yml", "config", "--quiet"],
                             cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert missing.returncode != 0 and "POSTGRES_PASSWORD" in missing.stdout + missing.stderr

    shutil.copy(ENV_EXAMPLE, tmp_path / ".env")
    result = subprocess.run([*command, "-f", "docker-compose.yml", "config"],
                            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    resolved = yaml.safe_load(result.stdout)
    assert set(resolved["services"]) == {"postgres", *BOT_SERVICES}
    url = environment(resolved["services"]["worker"])["CRISISBOT_DATABASE_URL"]
    assert url == f"postgresql://crisisbot:{env_example()['POSTGRES_PASSWORD'][0]}@postgres:5432/crisisbot"
