"""The one settings object: environment variables (CRISISBOT_...) over an optional TOML file.

Built and validated once at start; components receive what they need from it and never read
the environment themselves.
"""

from __future__ import annotations

import importlib.util
import os
import re
import tomllib
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic_settings import (
    NoDecode,
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from bot.core import gate_model
from bot.core.schedule import DigestSchedule, parse_schedule
from bot.runtime.sections import DiscordSection, ScheduleSection, TelegramSection
from knowledge.errors import ConfigError

CONFIG_FILE_VARIABLE = "CRISISBOT_CONFIG"
SECRET_NAMES = {"telegram_bot_token", "telegram_webhook_secret", "discord_bot_token", "database_url"}


def default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "crisisbot"


class Settings(BaseSettings):
    """Every knob, with defaults that work out of the box on the embedded backend."""

    model_config = SettingsConfigDict(env_prefix="CRISISBOT_", extra="forbid", frozen=True)

    data_dir: Path = Field(default_factory=default_data_dir)
    # PostgreSQL + pgvector (postgresql://user:password@host/db): only `crisisbot migrate` uses it
    # so far; the bot refuses to start with it set until the shared backend is finished.
    database_url: SecretStr | None = None
    model_path: Path | None = None  # None: the bundled all-MiniLM-L6-v2
    model_name: str = "all-MiniLM-L6-v2"
    # "auto": ONNX Runtime when installed (the `onnx` extra, in every install path of the
    # install path) and agreeing with torch (exported once into <data_dir>/onnx), else torch;
    # "torch" (sentence-transformers); "onnx": ONNX or refuse to start.
    embedding_backend: Literal["auto", "torch", "onnx"] = "auto"
    embedding_quantize: bool = False  # int8 ONNX; falls back to fp32 ONNX if it disagrees
    # The relevance gate's probability a passage needs to be quoted; the default is the one
    # `make calibrate` chose with the model (docs/evaluation.md, "The relevance gate").
    gate_threshold: float = Field(default=gate_model.THRESHOLD, ge=0.0, le=1.0)
    min_sentence_score: float = Field(default=0.30, ge=-1.0, le=1.0)
    max_answer_sentences: int = Field(default=3, ge=1, le=10)
    retrieve_k: int = Field(default=8, ge=1, le=100)
    lexical_weight: float = Field(default=0.3, ge=0.0, le=10.0)
    retrieval_candidates: int = Field(default=100, ge=1, le=10_000)
    recency_weight: float = Field(default=1.0, ge=0.0, le=10.0)
    recency_days: float = Field(default=30.0, gt=0.0, le=36_500.0)
    max_question_chars: int = Field(default=1000, ge=10)
    load_builtin_knowledge: bool = True
    # Above this many passages the FAISS index becomes approximate (IVF, nprobe chosen for
    # recall@10 >= 0.95 against exact), built in the background; 0 = always exact.
    approximate_index_above: int = Field(default=200_000, ge=0)
    # How the FAISS copy holds vectors: "auto" (float32 up to 50,000 passages, sq8 above),
    # "float32", "float16" (half the memory, same ranking on the benchmarks) or "sq8" (8-bit, a
    # quarter; used from 1,000 passages, trained on them). The store keeps float32 whatever
    # this says; changing it rebuilds the copy in the background. PostgreSQL ignores it.
    vector_storage: Literal["auto", "float32", "float16", "sq8"] = "auto"
    # multilingual-e5-small beside MiniLM (issue 20): a second vector per passage, so that
    # Ukrainian and Russian questions find English passages. Turning it on for an existing
    # knowledge base embeds its passages in the background (answers use MiniLM and BM25 until
    # every passage has one); turning it off ignores them. Embedded backend only for now.
    # Off by default until its import cost is settled (e5 embeds 10-25 passages a second here).
    multilingual_retrieval: bool = False
    multilingual_quantize: bool = True  # int8 e5 (falls back to fp32 if rejected at export)
    multilingual_weight: float = Field(default=1.0, ge=0.0, le=10.0)  # e5's half in fusion
    # BM25's weight beside e5's half. On the dev sets (realtimeqa-dev dated, the cross-lingual
    # set): e5 1.0 with BM25 0.2 gave nDCG@10 0.811 (en), 0.668 (uk), 0.679 (ru); BM25 0.3 gave
    # 0.810 / 0.663 / 0.669, e5 1.5 0.810 / 0.677 / 0.684, e5 0.7 0.810 / 0.650 / 0.664.
    multilingual_lexical_weight: float = Field(default=0.2, ge=0.0, le=10.0)
    embedding_cache: bool = True  # keep passage vectors in the data folder (never questions)
    # After each import, embed in a background thread the sentences answers may quote from the
    # new passages (into the embedding cache), so the first answers from them are quick.
    warm_answer_sentences: bool = True
    log_level: str = "WARNING"
    questions_per_minute: int = Field(default=5, ge=1, le=1000)
    # Per person too: /sources, /help and the sources pager (each reads the store), and the
    # moderators' /summary and /digest. At most `max_concurrent_summaries` summaries or digests
    # are made at once (the others are refused as busy): they run on the two question threads,
    # so 1 keeps one of them for members' answers whatever the moderators do.
    source_requests_per_minute: int = Field(default=20, ge=1, le=1000)
    moderator_requests_per_minute: int = Field(default=6, ge=1, le=1000)
    max_concurrent_summaries: int = Field(default=1, ge=1, le=8)
    maintainer: str = "the community's moderators"
    # Conversations (private chats, replies to the bot, threads, `crisisbot chat`): how many
    # turns of each person's conversation are kept, for how long after their last question,
    # for at most how many conversations at once (the least recently active forgotten first),
    # and how long the More button under an answer keeps working. In memory only.
    conversation_turns: int = Field(default=5, ge=1, le=50)
    conversation_minutes: float = Field(default=30.0, gt=0.0, le=24 * 60)
    conversation_max_keys: int = Field(default=10_000, ge=1, le=1_000_000)
    more_button_hours: float = Field(default=24.0, gt=0.0, le=24 * 30)
    # Admins may add URLs on loopback and private networks (self-hosted sources); off by
    # default, so an admin's link can never make the server probe its own network.
    allow_private_urls: bool = False
    # How often a running bot polls the subscribed RSS/Atom feeds; 0 turns scheduled polling
    # off (`crisisbot kb poll` from cron still works).
    feed_poll_minutes: int = Field(default=60, ge=0, le=7 * 24 * 60)
    # How many new entries of one feed a poll takes in (newest first; the rest wait for the
    # next poll), and how long a whole poll may spend taking entries in: each is a page fetched
    # on the one knowledge thread.
    feed_max_new_entries: int = Field(default=20, ge=1, le=1000)
    feed_poll_budget_seconds: int = Field(default=300, ge=10, le=24 * 60 * 60)
    # Whether `serve telegram` / `serve discord` run the feed poll and the scheduled digest
    # themselves. False in a deployment with `crisisbot worker`: schedules must run once, in
    # the worker, not in every chat process.
    run_schedules: bool = True
    # Summaries and digests (moderators).
    summary_sentences: int = Field(default=6, ge=1, le=20)
    digest_topics: int = Field(default=8, ge=1, le=25)
    digest_schedule: str = "mon 09:00"  # days and a time: "mon,thu 18:30", "mon-fri 08:00", "daily 09:00"
    digest_timezone: str = "UTC"  # an IANA zone such as Europe/Kyiv

    # Telegram. The token only ever comes from the environment (TELEGRAM_BOT_TOKEN).
    telegram_bot_token: SecretStr | None = Field(default=None, validation_alias="TELEGRAM_BOT_TOKEN")
    telegram_admin_ids: Annotated[list[int], NoDecode] = Field(default_factory=list)
    telegram_moderator_ids: Annotated[list[int], NoDecode] = Field(default_factory=list)
    # Groups whose administrators count as moderators; in any other chat only configured ids do.
    telegram_moderator_chat_ids: Annotated[list[int], NoDecode] = Field(default_factory=list)
    telegram_api_url: str = "https://api.telegram.org/bot"  # a stand-in server in tests
    telegram_webhook_url: str | None = None  # set: webhook mode; unset: long polling
    telegram_webhook_listen: str = "127.0.0.1"
    telegram_webhook_port: int = Field(default=8443, ge=1, le=65535)
    telegram_webhook_path: str = "telegram"
    telegram_digest_chat_id: int | None = None  # receives the scheduled digest
    telegram_webhook_secret: SecretStr | None = Field(
        default=None, validation_alias="TELEGRAM_WEBHOOK_SECRET"
    )

    # Discord. The token only ever comes from the environment (DISCORD_BOT_TOKEN).
    discord_bot_token: SecretStr | None = Field(default=None, validation_alias="DISCORD_BOT_TOKEN")
    discord_admin_role_ids: Annotated[list[int], NoDecode] = Field(default_factory=list)
    discord_moderator_role_ids: Annotated[list[int], NoDecode] = Field(default_factory=list)
    discord_thread_guild_ids: Annotated[list[int], NoDecode] = Field(default_factory=list)
    discord_digest_channel_id: int | None = None  # receives the scheduled digest
    # The community's servers: the only ones where the bot answers and grants roles (DMs: always).
    discord_guild_ids: Annotated[list[int], NoDecode] = Field(default_factory=list)
    # Opt-in: Manage Server (admin) and Manage Messages (moderator) count inside listed servers.
    discord_manage_server_is_admin: bool = False

    @field_validator(
        "telegram_admin_ids", "telegram_moderator_ids", "discord_admin_role_ids",
        "discord_moderator_role_ids", "discord_thread_guild_ids", "telegram_moderator_chat_ids",
        "discord_guild_ids", mode="before",
    )
    @classmethod
    def _id_list(cls, value: object) -> object:
        """Accept "1, 2" from the environment as well as a TOML list."""
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("database_url")
    @classmethod
    def _postgres_url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not re.match(r"postgres(ql)?://", value.get_secret_value()):
            raise ValueError("expected a postgresql:// URL")
        return value

    @field_validator("embedding_quantize")
    @classmethod
    def _quantize_needs_onnx(cls, value: bool, info: ValidationInfo) -> bool:
        if value and info.data.get("embedding_backend") == "torch":
            raise ValueError("int8 needs CRISISBOT_EMBEDDING_BACKEND auto or onnx")
        return value

    @field_validator("multilingual_retrieval")
    @classmethod
    def _multilingual_is_embedded(cls, value: bool, info: ValidationInfo) -> bool:
        """Refused rather than half done: the PostgreSQL store has no table for the second
        vector yet, and the e5 model needs onnxruntime and tokenizers (the `onnx` extra)."""
        if not value:
            return value
        if info.data.get("database_url") is not None:
            raise ValueError("multilingual retrieval is embedded-only for now: unset "
                             "CRISISBOT_DATABASE_URL, or CRISISBOT_MULTILINGUAL_RETRIEVAL")
        missing = [name for name in ("onnxruntime", "tokenizers") if importlib.util.find_spec(name) is None]
        if missing:
            raise ValueError(f"multilingual retrieval needs {' and '.join(missing)} (install the onnx extra)")
        return value

    @field_validator("digest_schedule")
    @classmethod
    def _schedule_is_readable(cls, value: str) -> str:
        parse_schedule(value, "UTC")  # a ValueError says what is wrong
        return value

    @field_validator("digest_timezone")
    @classmethod
    def _zone_is_known(cls, value: str) -> str:
        parse_schedule("daily 00:00", value)
        return value

    @property
    def schedule(self) -> DigestSchedule:
        return parse_schedule(self.digest_schedule, self.digest_timezone)

    @field_validator("telegram_webhook_secret")
    @classmethod
    def _secret_token_charset(cls, value: SecretStr | None) -> SecretStr | None:
        # Telegram allows 1-256 characters A-Z, a-z, 0-9, _ and - in a webhook secret token.
        if value is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", value.get_secret_value()):
            raise ValueError("1-256 characters of A-Z, a-z, 0-9, _ and -")
        return value

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        level = value.upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError("must be DEBUG, INFO, WARNING, ERROR or CRITICAL")
        return level

    @property
    def schedules(self) -> ScheduleSection:
        return ScheduleSection(self.run_schedules, self.feed_poll_minutes, self.schedule)

    @property
    def telegram(self) -> TelegramSection:
        return TelegramSection(
            bot_token=self.telegram_bot_token, api_url=self.telegram_api_url,
            webhook_url=self.telegram_webhook_url, webhook_listen=self.telegram_webhook_listen,
            webhook_port=self.telegram_webhook_port, webhook_path=self.telegram_webhook_path,
            webhook_secret=self.telegram_webhook_secret, digest_chat_id=self.telegram_digest_chat_id,
            maintainer=self.maintainer, schedules=self.schedules,
            buttons_path=self.data_dir / "telegram-buttons.pickle",
            moderator_chat_ids=frozenset(self.telegram_moderator_chat_ids),
        )

    @property
    def discord(self) -> DiscordSection:
        return DiscordSection(
            bot_token=self.discord_bot_token, thread_guild_ids=frozenset(self.discord_thread_guild_ids),
            digest_channel_id=self.discord_digest_channel_id, maintainer=self.maintainer,
            schedules=self.schedules,
            guild_ids=frozenset(self.discord_guild_ids),
            manage_server_is_admin=self.discord_manage_server_is_admin,
        )

    @property
    def database_path(self) -> Path:
        return self.data_dir / "knowledge.sqlite3"

    @property
    def index_path(self) -> Path:
        return self.data_dir / "passages.faiss"

    @property
    def multilingual_index_path(self) -> Path:
        return self.data_dir / "passages-multilingual.faiss"

    @property
    def lock_path(self) -> Path:
        return self.data_dir / "write.lock"

    @property
    def embedding_cache_path(self) -> Path:
        return self.data_dir / "embeddings.sqlite3"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config_file = os.environ.get(CONFIG_FILE_VARIABLE)
        if config_file:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=Path(config_file)))
        return tuple(sources)


def load_settings(**overrides: object) -> Settings:
    """Build the settings or raise `ConfigError` with one line per bad value."""
    config_file = os.environ.get(CONFIG_FILE_VARIABLE)
    if config_file:
        _check_config_file(Path(config_file))
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            name = str(error["loc"][0]) if error["loc"] else "settings"
            variable = name if name.isupper() else f"CRISISBOT_{name.upper()}"
            problems.append(f"{variable}: {error['msg']}")
        raise ConfigError("invalid settings: " + "; ".join(problems)) from None
    except ValueError as exc:  # a malformed TOML file
        raise ConfigError(f"invalid settings file {config_file}: {exc}") from None


def _check_config_file(path: Path) -> None:
    """Secrets never live in a file that may be committed: refuse them there."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{CONFIG_FILE_VARIABLE}={path}: no such file") from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"invalid settings file {path}: {exc}") from None
    secrets = sorted(k for k in data if k.lower() in SECRET_NAMES or k.isupper())
    if secrets:
        raise ConfigError(
            f"{path}: {', '.join(secrets)} must come from the environment, not a settings file"
        )
