"""`/kb ...` and document uploads: the knowledge base's admin operations in Telegram.

The adapter only translates. Who may do what is decided by the core (`service.admin`, one
role check, every refusal audited): each command builds the person's `Actor` and calls the core
whatever their role, so a member's attempt is refused and logged by the same gate a terminal
admin passes. Long operations (adding a URL or a file, refreshing, polling) answer at once with
"Working on it…" and edit that message as the core reports progress, then into the outcome.

Which thread a command runs on (`bot.runtime.executors`): every change, quick or long, runs on the
process's one knowledge thread (add, text, uploads, remove, kind, refresh, subscribe,
unsubscribe, poll, and the scheduled poll), so however many imports are waiting, members'
questions keep the question pool to themselves. The reads (list and its buttons, show, log,
feeds, gaps, stats) run on the question pool like any other read: an admin can look at the
knowledge base while an import runs, and a read never waits behind one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from telegram import Document as TelegramDocument
from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    LinkPreviewOptions,
    Message,
    Update,
)
from telegram.constants import ChatType, ParseMode
from telegram.error import BadRequest, TelegramError
from telegram.ext import ContextTypes

from bot.adapters.telegram.core_calls import CoreCalls
from bot.adapters.telegram.formatting import escape
from bot.adapters.telegram.kb_format import clip, help_text, list_page, pack, plain, show_text
from bot.core.actors import Actor
from bot.core.admin import FilesAdded, Page, describe
from bot.core.kb_requests import (
    UNKNOWN_SUBCOMMAND,
    AddTextRequest,
    AddUrlRequest,
    BareRequest,
    DocumentRequest,
    FeedRequest,
    GapsRequest,
    KindRequest,
    ListFilters,
    ListRequest,
    LogRequest,
    StatsRequest,
    parse_request,
)
from bot.core import messages as phrases
from bot.core.progress import DOCUMENTS_ADDED, EDIT_INTERVAL, FEEDS_POLLED, WORKING, ProgressThrottle
from bot.core.render import audit_line, gap_lines, poll_lines, stats_lines, subscription_lines
from bot.core.uploads import Upload
from bot.runtime.executors import CoreExecutors
from bot.runtime.service import CrisisBot
from knowledge.errors import CrisisbotError

log = logging.getLogger(__name__)

T = TypeVar("T")

DOWNLOAD_TIMEOUT = 120.0  # seconds: 10 MB over a slow link, well past PTB's 5 s default
NO_PREVIEW = LinkPreviewOptions(is_disabled=True)
KB_CAPTION = re.compile(r"^/kb(?:@(\w+))?\s+add\s*$", re.IGNORECASE)  # a group upload's caption


@dataclass(frozen=True)
class Command:
    """One /kb message: the person, the message to answer and what the core grammar read."""

    message: Message
    actor: Actor
    request: Any  # one of the `KbRequest` types; each handler takes its own


# -- progress -----------------------------------------------------------------------------


class ProgressMessage:
    """A "Working on it…" reply that follows a long core operation, then shows its outcome.

    The core reports progress from the executor thread; `report` asks the core's throttle
    whether an edit is due and hands it to the event loop (Telegram answers faster edits with
    429, and the flood-control retries would then delay the final result).
    """

    def __init__(self, message: Message, loop: asyncio.AbstractEventLoop,
                 interval: float = EDIT_INTERVAL, clock: Callable[[], float] = time.monotonic,
                 unit: str = DOCUMENTS_ADDED) -> None:
        self.message = message
        self._loop = loop
        self._throttle = ProgressThrottle(unit, interval, clock, working_shown=True)
        self._lock = threading.Lock()
        self._pending: list[Future[None]] = []

    @classmethod
    async def send(cls, reply_to: Message, interval: float = EDIT_INTERVAL,
                   clock: Callable[[], float] = time.monotonic, unit: str = DOCUMENTS_ADDED) -> ProgressMessage:
        sent = await reply_to.reply_text(WORKING)
        return cls(sent, asyncio.get_running_loop(), interval, clock, unit)

    def report(self, done: int, total: int) -> None:
        """The core's `progress` callback (any thread): an edit when the throttle says so."""
        with self._lock:
            text = self._throttle.update(done, total)
            if text is not None:
                self._pending.append(asyncio.run_coroutine_threadsafe(self._edit(text), self._loop))

    async def _edit(self, text: str) -> None:
        with contextlib.suppress(TelegramError):  # a lost progress edit is harmless
            await self.message.edit_text(text)

    async def finish(self, parts: Sequence[str]) -> None:
        """Edit the message into the first part (after any progress edit), send the rest."""
        with self._lock:
            self._throttle.finish()
            pending = list(self._pending)
        for future in pending:
            with contextlib.suppress(Exception):
                await asyncio.wrap_future(future)
        first, *rest = parts
        try:
            await self.message.edit_text(first, parse_mode=ParseMode.HTML, link_preview_options=NO_PREVIEW)
        except BadRequest as exc:
            if "not modified" not in exc.message.lower():  # e.g. the message was deleted
                rest = [first, *rest]
        for part in rest:
            await self.message.reply_text(part, parse_mode=ParseMode.HTML,
                                          link_preview_options=NO_PREVIEW, do_quote=False)


# -- handlers -----------------------------------------------------------------------------


class KnowledgeHandlers(CoreCalls):
    """`/kb`, admin uploads, the list's page buttons and the scheduled feed poll.

    Reads go through `_run` (the question pool), changes through `_change` (the knowledge
    thread); see the module's docstring for which is which.
    """

    def __init__(self, service: CrisisBot, executors: CoreExecutors, bot_username: Callable[[], str],
                 edit_interval: float = EDIT_INTERVAL) -> None:
        super().__init__(service, executors.questions)
        self.executors = executors
        self._username = bot_username
        self.edit_interval = edit_interval
        self._handlers: dict[type, Callable[[Command], Awaitable[None]]] = {
            AddUrlRequest: self._add, AddTextRequest: self._text, ListRequest: self._list,
            DocumentRequest: self._document, KindRequest: self._kind, LogRequest: self._log,
            FeedRequest: self._feed, BareRequest: self._bare, GapsRequest: self._gaps,
            StatsRequest: self._stats,
        }

    # -- /kb ----------------------------------------------------------------------------------

    async def command(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Dispatch `/kb <subcommand> …`; a user error becomes a plain-text reply."""
        message = update.effective_message
        if message is None or message.text is None:
            return
        first, _, body = message.text.partition("\n")
        words = first.split(maxsplit=2)
        subcommand = words[1].lower() if len(words) > 1 else "help"
        rest = words[2] if len(words) > 2 else ""
        try:
            request = parse_request(subcommand, rest, self._body(message, body))
        except KeyError:
            text = help_text() if subcommand == "help" else (
                f"{escape(UNKNOWN_SUBCOMMAND.format(subcommand=subcommand))}\n\n{help_text()}")
            await message.reply_text(text, parse_mode=ParseMode.HTML)
            return
        except CrisisbotError as exc:
            await message.reply_text(str(exc))
            return
        try:
            await self._handlers[type(request)](Command(message, self._actor(update), request))
        except CrisisbotError as exc:
            await message.reply_text(str(exc))

    @staticmethod
    def _body(message: Message, body: str) -> str:
        """`/kb text`'s text: the lines after the first, else the message it replies to."""
        replied = message.reply_to_message
        if not body.strip() and replied is not None:
            return replied.text or replied.caption or ""
        return body

    async def _change(self, function: Callable[..., T], actor: Actor, *args: object) -> T:
        """`function(actor, *args)`, a change to the knowledge base, on the knowledge thread
        (a refused attempt on the question pool: `CoreExecutors.for_change`)."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.executors.for_change(actor), partial(function, actor, *args))

    async def _reply(self, message: Message, parts: Sequence[str],
                     markup: InlineKeyboardMarkup | None = None) -> None:
        for number, part in enumerate(parts):
            await message.reply_text(part, parse_mode=ParseMode.HTML, link_preview_options=NO_PREVIEW,
                                     reply_markup=markup if number == len(parts) - 1 else None)

    async def _long(self, message: Message, work: Callable[[ProgressMessage], Awaitable[list[str]]],
                    unit: str = DOCUMENTS_ADDED) -> None:
        """Run a long operation behind a "Working on it…" message edited into its outcome."""
        progress = await ProgressMessage.send(message, interval=self.edit_interval, unit=unit)
        try:
            parts = await work(progress)
        except CrisisbotError as exc:
            parts = [escape(str(exc))]
        except Exception:
            log.exception("knowledge-base operation failed for message %s in chat %s",  # ids, no text
                          message.message_id, message.chat.id)
            parts = [escape(phrases.APOLOGY)]
        await progress.finish(parts)

    async def _add(self, command: Command) -> None:
        request: AddUrlRequest = command.request

        async def work(progress: ProgressMessage) -> list[str]:
            report = await self._change(self.service.admin.add_url, command.actor, request.url, request.kind,
                                        progress.report)
            return [escape(describe(report))]

        await self._long(command.message, work)

    async def _text(self, command: Command) -> None:
        request: AddTextRequest = command.request
        report = await self._change(self.service.admin.add_text, command.actor, request.title, request.body)
        await self._reply(command.message, [escape(describe(report))])

    async def _list(self, command: Command) -> None:
        request: ListRequest = command.request
        result = await self._list_page(command.actor, request)
        await self._reply(command.message, [list_page(result, dict(request.filters.items()))],
                          self._pager(result, request.filters))

    async def _list_page(self, actor: Actor, request: ListRequest) -> Page:
        return await self._run(partial(self.service.admin.list, actor, request.page, request.per_page,
                                       **request.filters.as_kwargs()))

    async def _document(self, command: Command) -> None:
        """`show`, `remove` and `refresh`."""
        request: DocumentRequest = command.request
        admin, actor, document_id = self.service.admin, command.actor, request.document_id
        if request.subcommand == "show":
            info, first = await self._run(admin.show, actor, document_id)
            await self._reply(command.message, [show_text(info, first)])
        elif request.subcommand == "remove":
            removed = await self._change(admin.remove, actor, document_id)
            text = phrases.KB_REMOVED.format(document=f"<code>{escape(document_id)}</code>", passages=removed)
            await self._reply(command.message, [text])
        else:
            async def work(progress: ProgressMessage) -> list[str]:
                report = await self._change(admin.refresh, actor, document_id, progress.report)
                return [escape(describe(report))]

            await self._long(command.message, work)

    async def _kind(self, command: Command) -> None:
        request: KindRequest = command.request
        info = await self._change(self.service.admin.set_kind, command.actor, request.document_id, request.kind)
        text = phrases.KB_KIND_SET.format(document=f"<code>{escape(info.id)}</code>",
                                                   kind=escape(info.kind.value))
        await self._reply(command.message, [text])

    async def _log(self, command: Command) -> None:
        request: LogRequest = command.request
        entries = await self._run(self.service.admin.log, command.actor, request.per_page, request.page)
        lines = plain([audit_line(e) for e in entries], 500) or [phrases.TELEGRAM_KB_LOG_EMPTY]
        if len(entries) == request.per_page:
            lines.append(f"<i>{phrases.TELEGRAM_KB_LOG_OLDER.format(page=request.page + 1)}</i>")
        title = f"<b>{phrases.TELEGRAM_KB_LOG_TITLE.format(page=request.page)}</b>"
        await self._reply(command.message, pack([title, *lines]))

    async def _feed(self, command: Command) -> None:
        """`subscribe` and `unsubscribe`."""
        request: FeedRequest = command.request
        if request.subcommand == "subscribe":
            sub = await self._change(self.service.admin.subscribe, command.actor, request.url)
            text = phrases.TELEGRAM_KB_SUBSCRIBED.format(feed=escape(clip(sub.title or sub.url, 300)))
        else:
            await self._change(self.service.admin.unsubscribe, command.actor, request.url)
            text = phrases.TELEGRAM_KB_UNSUBSCRIBED.format(feed=escape(clip(request.url, 500)))
        await self._reply(command.message, [text])

    async def _bare(self, command: Command) -> None:
        """`feeds` and `poll`."""
        request: BareRequest = command.request
        if request.subcommand == "feeds":
            subscriptions = await self._run(self.service.admin.feeds, command.actor)
            await self._reply(command.message, pack(plain(subscription_lines(subscriptions))))
            return

        async def work(progress: ProgressMessage) -> list[str]:
            reports = await self._change(self.service.admin.poll_feeds, command.actor, progress.report)
            return pack(plain(poll_lines(reports)))

        await self._long(command.message, work, unit=FEEDS_POLLED)

    async def _gaps(self, command: Command) -> None:
        request: GapsRequest = command.request
        clusters = await self._run(self.service.admin.gaps, command.actor, request.since)
        await self._reply(command.message, pack([f"<b>{phrases.TELEGRAM_KB_GAPS_TITLE}</b>",
                                                 *plain(gap_lines(clusters), 400)]))

    async def _stats(self, command: Command) -> None:
        request: StatsRequest = command.request
        stats = await self._run(self.service.admin.stats, command.actor, request.weeks)
        await self._reply(command.message, pack(plain(stats_lines(stats)), pre=True))

    # -- the list's buttons -------------------------------------------------------------------

    @staticmethod
    def _pager(page: Page, filters: ListFilters) -> InlineKeyboardMarkup | None:
        """Previous/Next, each carrying its whole listing (`ListRequest`: page and filters) as
        PTB's arbitrary callback data, so no filter is ever left out of a button."""
        buttons = []
        if page.page > 1:
            previous = ListRequest(page.page - 1, filters)
            buttons.append(InlineKeyboardButton(phrases.PREVIOUS, callback_data=previous))
        if page.page < page.pages:
            following = ListRequest(page.page + 1, filters)
            buttons.append(InlineKeyboardButton(phrases.NEXT, callback_data=following))
        return InlineKeyboardMarkup([buttons]) if buttons else None

    async def button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A Previous/Next press: the core checks the presser's role again, so a member who
        taps an admin's list in a group is refused (and audited) like any other attempt. (A
        button PTB no longer knows goes to `TelegramHandlers.expired`.)"""
        query = update.callback_query
        if query is None or not isinstance(query.data, ListRequest) or not isinstance(query.message, Message):
            return
        request = query.data
        try:
            result = await self._list_page(self._actor(update), request)
        except CrisisbotError as exc:
            await query.answer(clip(str(exc), 200))
            return
        await query.answer()
        with contextlib.suppress(BadRequest):  # "message is not modified" on a double tap
            await query.message.edit_text(list_page(result, dict(request.filters.items())),
                                          parse_mode=ParseMode.HTML, link_preview_options=NO_PREVIEW,
                                          reply_markup=self._pager(result, request.filters))

    # -- uploads ------------------------------------------------------------------------------

    async def document(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A file sent in a private chat, or captioned `/kb add` in a group."""
        message = update.effective_message
        if message is None or message.document is None:
            return
        if message.chat.type != ChatType.PRIVATE:
            caption = KB_CAPTION.match(message.caption or "")
            if caption is None or (caption.group(1) or self._username()).lower() != self._username().lower():
                return
        actor = self._actor(update)
        upload = Upload.of(message.document.file_name, message.document.file_size)
        try:  # refused before "Working on it…" and before any download
            await upload.admit(actor, partial(self._add_files, actor, None))
        except CrisisbotError as exc:
            await message.reply_text(str(exc))
            return
        await self._long(message, partial(self._take_in, actor, message.document, upload))

    async def _add_files(self, actor: Actor, progress: ProgressMessage | None, paths: list[Path],
                         label: str) -> FilesAdded:
        return await self._change(partial(self.service.admin.add_files, label=label), actor, paths,
                                  progress.report if progress is not None else None)

    async def _take_in(self, actor: Actor, document: TelegramDocument, upload: Upload,
                       progress: ProgressMessage) -> list[str]:
        async def download(path: Path) -> None:
            try:
                file = await document.get_file()
                upload.check(file.file_size)  # Telegram's own count, before fetching the bytes
                await file.download_to_drive(path, read_timeout=DOWNLOAD_TIMEOUT)
            except BadRequest as exc:
                raise upload.not_handed_over(exc.message) from exc

        outcome = await upload.take_in(download, partial(self._add_files, actor, progress))
        return [escape(outcome.text)]

    # -- the scheduled feed poll --------------------------------------------------------------

    async def poll_feeds_job(self, context: ContextTypes.DEFAULT_TYPE) -> None:
        """The JobQueue callback: poll every feed as the scheduler (audited per feed, logged,
        and never raising: the core sees to that) on the knowledge thread."""
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self.executors.knowledge, self.service.poll_feeds_scheduled)

