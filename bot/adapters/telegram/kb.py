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
import itertools
import logging
import re
import shlex
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TypeVar
from urllib.parse import parse_qsl, urlencode

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

from bot.core.actors import Action, Actor, may
from bot.core.admin import Page, describe
from bot.runtime.executors import CoreExecutors
from bot.core.render import (
    audit_line,
    gap_lines,
    poll_lines,
    stats_lines,
    subscription_lines,
)
from bot.runtime.service import CrisisBot
from bot.adapters.telegram.core_calls import CoreCalls
from bot.core.uploads import safe_upload_name, upload_problem
from bot.adapters.telegram.formatting import escape
from bot.adapters.telegram.kb_format import (
    USAGE,
    clip,
    help_text,
    list_page,
    pack,
    plain,
    show_text,
)
from knowledge.errors import CrisisbotError

log = logging.getLogger(__name__)

T = TypeVar("T")

KB_PREFIX = "k"  # callback data "k:l:<page>[:<filters>]"; "v" and "s" belong to handlers.py
EDIT_INTERVAL = 2.0  # seconds between progress edits: Telegram rate-limits edits per chat
PER_PAGE = 10
MAX_KEPT_FILTERS = 256
DOWNLOAD_TIMEOUT = 120.0  # seconds: 10 MB over a slow link, well past PTB's 5 s default
LOG_PER_PAGE = 20
WORKING = "Working on it…"
APOLOGY = "Sorry, something went wrong while doing that. The error was logged."
NO_PREVIEW = LinkPreviewOptions(is_disabled=True)
KB_CAPTION = re.compile(r"^/kb(?:@(\w+))?\s+add\s*$", re.IGNORECASE)  # a group upload's caption
_LIST_FILTERS = {"publisher": "p", "kind": "k", "since": "s", "until": "u"}


class UsageError(CrisisbotError):
    """A /kb command that is missing an argument or has one it cannot read."""

    def __init__(self, subcommand: str, problem: str = "") -> None:
        super().__init__(f"{problem + ' ' if problem else ''}Usage: {USAGE[subcommand]}")


class UploadError(CrisisbotError):
    """A document that cannot be taken in (the message names the file, never the temp path)."""


@dataclass(frozen=True)
class KbRequest:
    """One /kb command: `args` are the first line's words after the subcommand, `body` the
    lines after the first (the text of `/kb text`)."""

    message: Message
    actor: Actor
    subcommand: str
    args: list[str]
    rest: str  # the first line after the subcommand, unsplit
    body: str


# -- progress -----------------------------------------------------------------------------


class ProgressMessage:
    """A "Working on it…" reply that follows a long core operation, then shows its outcome.

    The core reports progress from the executor thread; `report` hands edits to the event loop
    and throttles them to one per `interval`, since Telegram answers faster edits with 429 and
    the flood-control retries would then delay the final result.
    """

    def __init__(self, message: Message, loop: asyncio.AbstractEventLoop,
                 interval: float = EDIT_INTERVAL, clock: Callable[[], float] = time.monotonic,
                 unit: str = "documents added") -> None:
        self.message = message
        self.unit = unit
        self._loop = loop
        self._interval = interval
        self._clock = clock
        self._last = clock()
        self._lock = threading.Lock()
        self._pending: list[Future[None]] = []
        self._finished = False

    @classmethod
    async def send(cls, reply_to: Message, interval: float = EDIT_INTERVAL,
                   clock: Callable[[], float] = time.monotonic, unit: str = "documents added") -> ProgressMessage:
        sent = await reply_to.reply_text(WORKING)
        return cls(sent, asyncio.get_running_loop(), interval, clock, unit)

    def report(self, done: int, total: int) -> None:
        """The core's `progress` callback (any thread): at most one edit per interval."""
        now = self._clock()
        with self._lock:
            if self._finished or now - self._last < self._interval:
                return
            self._last = now
            text = f"{WORKING} {done} of {total} {self.unit}"
            self._pending.append(asyncio.run_coroutine_threadsafe(self._edit(text), self._loop))

    async def _edit(self, text: str) -> None:
        with contextlib.suppress(TelegramError):  # a lost progress edit is harmless
            await self.message.edit_text(text)

    async def finish(self, parts: Sequence[str]) -> None:
        """Edit the message into the first part (after any progress edit), send the rest."""
        with self._lock:
            self._finished = True
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
        self._list_filters: dict[int, dict[str, str]] = {}  # long filters behind a button
        self._filter_keys = itertools.count(1)
        self._subcommands: dict[str, Callable[[KbRequest], Awaitable[None]]] = {
            "add": self._add, "text": self._text, "list": self._list, "show": self._show,
            "remove": self._remove, "kind": self._kind, "refresh": self._refresh,
            "log": self._log, "subscribe": self._subscribe, "unsubscribe": self._unsubscribe,
            "feeds": self._feeds, "poll": self._poll, "gaps": self._gaps, "stats": self._stats,
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
        handler = self._subcommands.get(subcommand)
        if handler is None:
            known = subcommand == "help"
            text = help_text() if known else f"I don't know /kb {escape(subcommand)}.\n\n{help_text()}"
            await message.reply_text(text, parse_mode=ParseMode.HTML)
            return
        request = KbRequest(message, self._actor(update), subcommand, rest.split(), rest, body)
        try:
            await handler(request)
        except CrisisbotError as exc:
            await message.reply_text(str(exc))

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
                    unit: str = "documents added") -> None:
        """Run a long operation behind a "Working on it…" message edited into its outcome."""
        progress = await ProgressMessage.send(message, interval=self.edit_interval, unit=unit)
        try:
            parts = await work(progress)
        except CrisisbotError as exc:
            parts = [escape(str(exc))]
        except Exception:
            log.exception("knowledge-base operation failed for %s", message.text or message.caption)
            parts = [escape(APOLOGY)]
        await progress.finish(parts)

    @staticmethod
    def _one(request: KbRequest) -> str:
        if len(request.args) != 1:
            raise UsageError(request.subcommand)
        return request.args[0]

    async def _add(self, request: KbRequest) -> None:
        if not 1 <= len(request.args) <= 2:
            raise UsageError("add")
        url, kind = request.args[0], (request.args[1] if len(request.args) > 1 else None)

        async def work(progress: ProgressMessage) -> list[str]:
            report = await self._change(self.service.admin.add_url, request.actor, url, kind, progress.report)
            return [escape(describe(report))]

        await self._long(request.message, work)

    async def _text(self, request: KbRequest) -> None:
        title, body = request.rest.strip(), request.body
        replied = request.message.reply_to_message
        if not body.strip() and replied is not None:
            body = replied.text or replied.caption or ""
        if not title or not body.strip():
            raise UsageError("text")
        report = await self._change(self.service.admin.add_text, request.actor, title, body)
        await self._reply(request.message, [escape(describe(report))])

    async def _list(self, request: KbRequest) -> None:
        page, filters = parse_list_args(request.rest)
        await self._send_page(request.message, request.actor, page, filters)

    async def _send_page(self, message: Message, actor: Actor, page: int, filters: dict[str, str]) -> None:
        result = await self._list_page(actor, page, filters)
        await self._reply(message, [list_page(result, filters)], self._pager(result, filters))

    async def _list_page(self, actor: Actor, page: int, filters: dict[str, str]) -> Page:
        return await self._run(partial(self.service.admin.list, actor, page, PER_PAGE, **filters))

    async def _show(self, request: KbRequest) -> None:
        info, first = await self._run(self.service.admin.show, request.actor, self._one(request))
        await self._reply(request.message, [show_text(info, first)])

    async def _remove(self, request: KbRequest) -> None:
        document_id = self._one(request)
        removed = await self._change(self.service.admin.remove, request.actor, document_id)
        await self._reply(request.message, [f"Removed <code>{escape(document_id)}</code> ({removed} passages)."])

    async def _kind(self, request: KbRequest) -> None:
        if len(request.args) != 2:
            raise UsageError("kind")
        info = await self._change(self.service.admin.set_kind, request.actor, *request.args)
        await self._reply(request.message, [f"<code>{escape(info.id)}</code> is now {escape(info.kind.value)}."])

    async def _refresh(self, request: KbRequest) -> None:
        document_id = self._one(request)

        async def work(progress: ProgressMessage) -> list[str]:
            report = await self._change(self.service.admin.refresh, request.actor, document_id, progress.report)
            return [escape(describe(report))]

        await self._long(request.message, work)

    async def _log(self, request: KbRequest) -> None:
        page = _page_number(request, "log")
        entries = await self._run(self.service.admin.log, request.actor, LOG_PER_PAGE, page)
        lines = plain([audit_line(e) for e in entries], 500) or ["No entries."]
        if len(entries) == LOG_PER_PAGE:
            lines.append(f"<i>Older entries: /kb log {page + 1}</i>")
        await self._reply(request.message, pack([f"<b>Audit log, page {page}</b>", *lines]))

    async def _subscribe(self, request: KbRequest) -> None:
        sub = await self._change(self.service.admin.subscribe, request.actor, self._one(request))
        text = (f"Subscribed to {escape(clip(sub.title or sub.url, 300))}. Its entries come in "
                "with the next poll (/kb poll polls now).")
        await self._reply(request.message, [text])

    async def _unsubscribe(self, request: KbRequest) -> None:
        url = self._one(request)
        await self._change(self.service.admin.unsubscribe, request.actor, url)
        await self._reply(request.message, [f"Unsubscribed from {escape(clip(url, 500))}."])

    async def _feeds(self, request: KbRequest) -> None:
        subscriptions = await self._run(self.service.admin.feeds, request.actor)
        await self._reply(request.message, pack(plain(subscription_lines(subscriptions))))

    async def _poll(self, request: KbRequest) -> None:
        async def work(progress: ProgressMessage) -> list[str]:
            reports = await self._change(self.service.admin.poll_feeds, request.actor, progress.report)
            return pack(plain(poll_lines(reports)))

        await self._long(request.message, work, unit="feeds polled")

    async def _gaps(self, request: KbRequest) -> None:
        since = request.args[0] if request.args else None
        if len(request.args) > 1:
            raise UsageError("gaps")
        clusters = await self._run(self.service.admin.gaps, request.actor, since)
        await self._reply(request.message, pack(["<b>Questions the knowledge base misses</b>",
                                                 *plain(gap_lines(clusters), 400)]))

    async def _stats(self, request: KbRequest) -> None:
        weeks = _page_number(request, "stats", default=8)
        stats = await self._run(self.service.admin.stats, request.actor, weeks)
        await self._reply(request.message, pack(plain(stats_lines(stats)), pre=True))

    # -- the list's buttons -------------------------------------------------------------------

    def _pager(self, page: Page, filters: dict[str, str]) -> InlineKeyboardMarkup | None:
        buttons = []
        if page.page > 1:
            buttons.append(InlineKeyboardButton("‹ Previous", callback_data=self._page_data(page.page - 1, filters)))
        if page.page < page.pages:
            buttons.append(InlineKeyboardButton("Next ›", callback_data=self._page_data(page.page + 1, filters)))
        return InlineKeyboardMarkup([buttons]) if buttons else None

    def _page_data(self, page: int, filters: dict[str, str]) -> str:
        """Callback data within Telegram's 64 bytes: the filters inline when they fit, else
        kept here under a number (such a button stops working when the bot restarts)."""
        data = f"{KB_PREFIX}:l:{page}"
        if not filters:
            return data
        inline = f"{data}:{urlencode({_LIST_FILTERS[k]: v for k, v in filters.items()})}"
        if len(inline.encode()) <= 64:
            return inline
        key = next((k for k, v in self._list_filters.items() if v == filters), None)
        if key is None:
            key = next(self._filter_keys)
            self._list_filters[key] = filters
            if len(self._list_filters) > MAX_KEPT_FILTERS:  # the oldest buttons stop working
                del self._list_filters[next(iter(self._list_filters))]
        return f"{data}:@{key}"

    async def button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A Previous/Next press: the core checks the presser's role again, so a member who
        taps an admin's list in a group is refused (and audited) like any other attempt."""
        query = update.callback_query
        if query is None or query.data is None or not isinstance(query.message, Message):
            return
        _, _, payload = query.data.partition(f"{KB_PREFIX}:l:")
        page_text, _, encoded = payload.partition(":")
        names = {v: k for k, v in _LIST_FILTERS.items()}
        if encoded.startswith("@"):
            filters = self._list_filters.get(int(encoded[1:]) if encoded[1:].isdigit() else 0)
        else:
            filters = {names[k]: v for k, v in parse_qsl(encoded) if k in names}
        if not page_text.isdigit() or filters is None:
            await query.answer("This button is no longer active.")
            return
        try:
            result = await self._list_page(self._actor(update), int(page_text), filters)
        except CrisisbotError as exc:
            await query.answer(clip(str(exc), 200))
            return
        await query.answer()
        with contextlib.suppress(BadRequest):  # "message is not modified" on a double tap
            await query.message.edit_text(list_page(result, filters), parse_mode=ParseMode.HTML,
                                          link_preview_options=NO_PREVIEW,
                                          reply_markup=self._pager(result, filters))

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
        name = safe_upload_name(message.document.file_name)
        if not may(actor, Action.CHANGE_KNOWLEDGE):
            # The refusal comes from the core's one gate, so it is audited like any other:
            # `may` only spares downloading a file the core would refuse. An empty path list
            # can read nothing, should the two ever disagree. (It runs on the question pool:
            # a refusal must not wait behind an import.)
            try:
                await self._run(partial(self.service.admin.add_files, actor, [], label=name))
            except CrisisbotError as exc:
                await message.reply_text(str(exc))
            return
        problem = upload_problem(name, message.document.file_size)
        if problem is not None:
            await message.reply_text(problem)
            return
        await self._long(message, partial(self._add_upload, actor, message.document, name))

    async def _add_upload(self, actor: Actor, document: TelegramDocument, name: str,
                          progress: ProgressMessage) -> list[str]:
        with tempfile.TemporaryDirectory(prefix="crisisbot-upload-") as folder:
            path = Path(folder) / name
            try:
                file = await document.get_file()
                problem = upload_problem(name, file.file_size)
                if problem is not None:
                    raise UploadError(problem)
                await file.download_to_drive(path, read_timeout=DOWNLOAD_TIMEOUT)
            except BadRequest as exc:
                raise UploadError(f"Telegram would not hand over {name}: {exc.message}") from exc
            try:
                added = await self._change(partial(self.service.admin.add_files, label=f"upload {name}"),
                                           actor, [path], progress.report)
            except CrisisbotError as exc:  # name the file, not the temporary folder
                raise UploadError(str(exc).replace(str(path), name)) from exc
        return [escape(describe(added.report))]

    # -- the scheduled feed poll --------------------------------------------------------------

    async def poll_feeds_job(self, context: ContextTypes.DEFAULT_TYPE) -> None:
        """The JobQueue callback: poll every feed as the scheduler (audited per feed, logged,
        and never raising: the core sees to that) on the knowledge thread."""
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self.executors.knowledge, self.service.poll_feeds_scheduled)


def parse_list_args(rest: str) -> tuple[int, dict[str, str]]:
    """`[page] [publisher=…] [kind=…] [since=…] [until=…]`; quotes allow spaces in a value."""
    try:
        words = shlex.split(rest)
    except ValueError:
        words = rest.split()
    page, filters = 1, {}
    for word in words:
        key, equals, value = word.partition("=")
        if word.isdigit():
            page = int(word)
        elif equals and key.lower() in _LIST_FILTERS and value:
            filters[key.lower()] = value
        else:
            raise UsageError("list", f"I can't read {word!r}.")
    return page, filters


def _page_number(request: KbRequest, subcommand: str, default: int = 1) -> int:
    if not request.args:
        return default
    if len(request.args) > 1 or not request.args[0].isdigit():
        raise UsageError(subcommand)
    return int(request.args[0])
