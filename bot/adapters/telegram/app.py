"""Builds and runs the python-telegram-bot `Application` around the core service."""

from __future__ import annotations

import logging
from concurrent.futures import Executor
from typing import Any

from telegram import BotCommand, BotCommandScopeAllChatAdministrators, Update
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    InvalidCallbackData,
    MessageHandler,
    filters,
)

from bot.runtime.executors import CoreExecutors
from bot.runtime.service import CrisisBot
from bot.runtime.sections import TelegramSection
from bot.adapters.telegram.button_store import ButtonStore
from bot.adapters.telegram.chat_roles import ChatModerators
from bot.adapters.telegram.buttons import BUTTON_CACHE, MoreAnswer, PostPreview, SourcesPage, Vote
from bot.adapters.telegram.digest_post import api_urls, bot_token
from bot.adapters.telegram.handlers import COMMANDS, MODERATOR_COMMANDS, TelegramHandlers
from bot.adapters.telegram.kb import KB_CAPTION, KnowledgeHandlers
from bot.adapters.telegram.log_context import leave_rejected_tokens_to_the_cli
from bot.adapters.telegram.summaries import SummaryHandlers, ptb_days
from bot.core.kb_requests import ListRequest
from knowledge.errors import ConfigError

log = logging.getLogger(__name__)


class CrisisApplication(Application[Any, Any, Any, Any, Any, Any]):
    """PTB's Application, which also shuts down the core's executors when it shuts down,
    however it was run (`run_polling`, `run_webhook`, or started and stopped by hand).

    `stop()` has already waited for the updates and jobs in progress by then, so no core call
    is cut off."""

    __slots__ = ("executors",)

    def __init__(self, executors: CoreExecutors, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.executors = executors

    async def shutdown(self) -> None:
        try:
            await super().shutdown()
        finally:
            if not self.running:  # else it refused: "This Application is still running!"
                self.executors.shutdown()


def build_application(
    service: CrisisBot,
    config: TelegramSection,
    executor: Executor | None = None,
    message_limit: int | None = None,
    knowledge_executor: Executor | None = None,
) -> Application:  # type: ignore[type-arg]
    """An Application with every handler, flood control and the command list registered.

    Questions and reads run on `executor`, changes to the knowledge base on
    `knowledge_executor` (see `bot.runtime.executors`); by default the first is the application's own
    and the second the process's knowledge thread, both shut down with the application. An
    executor passed in is the caller's to shut down.
    """
    api, file_api = api_urls(config)
    executors = CoreExecutors(executor, knowledge_executor)
    builder = (
        ApplicationBuilder()
        .application_class(CrisisApplication, {"executors": executors})
        .token(bot_token(config))
        .base_url(api)
        .base_file_url(file_api)
        .rate_limiter(AIORateLimiter(max_retries=3))
        .arbitrary_callback_data(BUTTON_CACHE)  # buttons carry objects: `bot.adapters.telegram.buttons`
        .concurrent_updates(True)
        .post_init(_register_commands)
    )
    if config.buttons_path is not None:  # buttons sent before a restart keep working
        builder = builder.persistence(ButtonStore(config.buttons_path))
    application = builder.build()
    moderators = ChatModerators(config.moderator_chat_ids)  # one cache for commands and presses
    handlers = TelegramHandlers(
        service, executors.questions, lambda: application.bot.username, config.maintainer,
        moderators=moderators, **({"message_limit": message_limit} if message_limit else {}),
    )
    kb = KnowledgeHandlers(service, executors, lambda: application.bot.username)
    summaries = SummaryHandlers(
        service, executors.questions, handlers.actor_with_chat_roles, lambda: application.bot.username,
        config.digest_chat_id, moderators=moderators,
        **({"message_limit": message_limit} if message_limit else {}),
    )
    # An edited message is not asked (or run) again: every handler of messages takes `new`
    # (CommandHandler's default, UpdateType.MESSAGES, would take edits too).
    new = filters.UpdateType.MESSAGE
    application.add_handler(CommandHandler("start", handlers.start, filters=new))
    application.add_handler(CommandHandler("help", handlers.help, filters=new))
    application.add_handler(CommandHandler("ask", handlers.ask_command, filters=new))
    application.add_handler(CommandHandler("sources", handlers.sources, filters=new))
    application.add_handler(CommandHandler("kb", kb.command, filters=new))
    application.add_handler(CommandHandler("summary", summaries.summary, filters=new))
    application.add_handler(CommandHandler("digest", summaries.digest, filters=new))
    application.add_handler(MessageHandler(new & filters.COMMAND, handlers.unknown_command))
    # Before the caption handler: a document is an upload (private chat, or captioned
    # "/kb add" in a group), never a question.
    uploads = filters.ChatType.PRIVATE | filters.CaptionRegex(KB_CAPTION)
    application.add_handler(MessageHandler(new & filters.Document.ALL & uploads, kb.document))
    application.add_handler(MessageHandler(new & filters.TEXT & ~filters.COMMAND, handlers.text))
    application.add_handler(MessageHandler(new & filters.CAPTION & ~filters.COMMAND, handlers.text))
    application.add_handler(CallbackQueryHandler(handlers.vote, pattern=Vote))
    application.add_handler(CallbackQueryHandler(handlers.more, pattern=MoreAnswer))
    application.add_handler(CallbackQueryHandler(handlers.sources_page, pattern=SourcesPage))
    application.add_handler(CallbackQueryHandler(kb.button, pattern=ListRequest))
    application.add_handler(CallbackQueryHandler(summaries.button, pattern=PostPreview))
    application.add_handler(CallbackQueryHandler(handlers.expired, pattern=InvalidCallbackData))
    application.add_handler(CallbackQueryHandler(handlers.expired))  # data no handler above knows
    application.add_handler(MessageHandler(new & ~filters.TEXT & ~filters.StatusUpdate.ALL, handlers.not_text))
    application.add_error_handler(handlers.error)
    if config.schedules.run_schedules:
        _schedule_feed_polls(application, kb, config.schedules.feed_poll_minutes)
        _schedule_digest(application, summaries, config)
    else:  # `crisisbot worker` runs them, once for every process
        log.info("run_schedules is off: no scheduled feed poll or digest in this process")
    return application


def _schedule_feed_polls(
    application: Application, kb: KnowledgeHandlers, minutes: int,  # type: ignore[type-arg]
) -> None:
    """Poll the subscribed feeds every `feed_poll_minutes` (0: never) with PTB's JobQueue.

    The first run waits one interval: a restart loop must not hammer the feeds.
    """
    if minutes <= 0:
        return
    if application.job_queue is None:
        raise ConfigError("scheduled feed polling needs python-telegram-bot[job-queue] (APScheduler)")
    seconds = minutes * 60
    application.job_queue.run_repeating(kb.poll_feeds_job, interval=seconds, first=seconds, name="poll-feeds")


def _schedule_digest(
    application: Application, summaries: SummaryHandlers, config: TelegramSection,  # type: ignore[type-arg]
) -> None:
    """Post the digest to `telegram_digest_chat_id` on the configured days and time (in the
    configured zone: the time carries its ZoneInfo, so daylight saving is APScheduler's job)."""
    if config.digest_chat_id is None:
        return
    if application.job_queue is None:
        raise ConfigError("the scheduled digest needs python-telegram-bot[job-queue] (APScheduler)")
    schedule = config.schedules.digest
    application.job_queue.run_daily(summaries.digest_job, time=schedule.at, days=ptb_days(schedule.days),
                                    name="digest", chat_id=config.digest_chat_id)
    log.info("digest to chat %s: %s", config.digest_chat_id, schedule.describe())


async def _register_commands(application: Application) -> None:  # type: ignore[type-arg]
    """Everyone sees the members' commands; group administrators (moderators) also see theirs."""
    moderators = [BotCommand(name, text) for name, text in COMMANDS + MODERATOR_COMMANDS]
    await application.bot.set_my_commands(moderators, scope=BotCommandScopeAllChatAdministrators())
    await application.bot.set_my_commands([BotCommand(name, text) for name, text in COMMANDS])


def webhook_options(config: TelegramSection) -> dict[str, object]:
    """Arguments of `run_webhook` / `Updater.start_webhook`: Telegram posts updates to the URL
    with the secret token in a header, and updates without it are refused (403)."""
    secret = config.webhook_secret
    if secret is None:
        raise ConfigError("webhook mode needs TELEGRAM_WEBHOOK_SECRET so that forged updates are refused")
    return {
        "listen": config.webhook_listen,
        "port": config.webhook_port,
        "url_path": config.webhook_path,
        "webhook_url": config.webhook_url,
        "secret_token": secret.get_secret_value(),
        "allowed_updates": Update.ALL_TYPES,
    }


def run(service: CrisisBot, config: TelegramSection) -> None:
    """Long polling by default; webhook mode when a webhook URL is configured."""
    bot_token(config)
    leave_rejected_tokens_to_the_cli()
    options = webhook_options(config) if config.webhook_url else None
    service.warm_up()  # model, index and lexical index ready before the first question
    application = build_application(service, config)
    if options is not None:
        application.run_webhook(**options)  # type: ignore[arg-type]
    else:
        application.run_polling(allowed_updates=Update.ALL_TYPES)
