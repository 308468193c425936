"""A stand-in Telegram Bot API server on 127.0.0.1 for end-to-end adapter tests.

Telegram is unreachable from the test machines, so the real python-telegram-bot client talks to
this server over a real socket. It speaks the documented wire format, records what the bot sent,
and rejects what Telegram rejects (bad HTML, long texts, oversized callback data) so that such
bugs fail here rather than in production. Unknown methods answer 404 and are recorded.
"""

from __future__ import annotations

import asyncio
import copy
import inspect
import itertools
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

from aiohttp import web

from tests.stand_in import Address, FailureQueue, StandIn
from tests.telegram_html import ApiError, auto_entities, bad_request, parse_html

JSON = dict[str, Any]
TEXT_LIMIT = 4096  # characters, counted after entity parsing
CALLBACK_DATA_LIMIT = 64  # bytes
ANSWER_TEXT_LIMIT = 200  # characters of answerCallbackQuery text
# Telegram HTML tags and the entity type each produces.
STRING_PARAMS = frozenset({"text", "caption", "parse_mode", "callback_query_id", "url",
                           "secret_token", "description", "short_description", "question",
                           "file_id"})
GET_FILE_LIMIT = 20 * 1024 * 1024  # bytes a bot may download through getFile
NOT_MODIFIED = ("message is not modified: specified new message content and reply "
                "markup are exactly the same as a current content and reply markup of the message")


class Recorded(NamedTuple):
    """One request as the bot sent it, with form fields decoded (see `decode_param`)."""

    method: str
    params: dict[str, Any]


def decode_param(name: str, value: str) -> Any:
    """PTB JSON-encodes every non-string value (chat_id "42", reply_markup '{...}'); undo that."""
    if name in STRING_PARAMS:
        return value
    try:
        decoded = json.loads(value)
    except ValueError:
        return value
    return decoded if isinstance(decoded, (dict, list, bool, int, float)) else value


class StoredFile(NamedTuple):
    """A file a user sent: `size` is what Telegram reports, `data` what a download returns."""

    file_id: str
    unique_id: str
    path: str  # "documents/file_3.md": Telegram's own name, not the sender's
    size: int
    data: bytes


class Failure(NamedTuple):
    method: str
    error: ApiError


class FakeTelegram(StandIn[Recorded]):
    """The stand-in server: start(), point PTB at base_url, push updates, assert on requests."""

    token = "123456:TEST-TOKEN"
    base_url = Address("/bot")  # for PTB's base_url / base_file_url
    base_file_url = Address("/file/bot")
    bot_user: JSON = {"id": 1000, "is_bot": True, "first_name": "CrisisBot",
                      "username": "crisis_test_bot"}

    def __init__(self) -> None:
        super().__init__()
        self.sent_messages: list[JSON] = []
        self.chat_admins: dict[int, list[int]] = {}
        # Users who never pressed Start: Telegram refuses a bot's first message to them.
        self.not_started: set[int] = set()
        self.commands: list[JSON] = []
        self.webhook_url: str | None = None
        self._pending: list[JSON] = []
        self._messages: dict[tuple[int, int], JSON] = {}
        self._failures: FailureQueue[Failure] = FailureQueue()
        self._update_ids = itertools.count(10_001)  # never 0 or 1: catches offset mistakes
        self._message_ids = itertools.count(1)
        self._query_ids = itertools.count(1)
        self._file_ids = itertools.count(1)
        self.files: dict[str, StoredFile] = {}  # file_id -> what getFile and downloads serve
        self._updates_arrived = asyncio.Event()
        self._closing = False
        methods: dict[str, Callable[[JSON], Any]] = {
            "getMe": lambda p: {**self.bot_user, "can_join_groups": True,
                                "can_read_all_group_messages": False,
                                "supports_inline_queries": False},
            "getUpdates": self._get_updates, "sendMessage": self._send_message,
            "editMessageText": self._edit_message_text,
            "editMessageReplyMarkup": self._edit_reply_markup,
            "deleteMessage": self._delete_message, "answerCallbackQuery": self._answer_query,
            "setMyCommands": self._set_commands, "getMyCommands": lambda p: self.commands,
            "deleteMyCommands": lambda p: self._set_commands({}),
            "getChatAdministrators": self._get_admins, "getChatMember": self._get_member,
            "getChat": self._get_chat, "getFile": self._get_file,
            "setWebhook": lambda p: self._set_webhook(p, p.get("url") or None),
            "deleteWebhook": lambda p: self._set_webhook(p, None),
            **dict.fromkeys(["sendChatAction", "close", "logOut"], lambda p: True),
        }
        # Bot API method names are case-insensitive; record them under their documented name.
        self._methods = {name.lower(): (name, handler) for name, handler in methods.items()}

    # -- lifecycle -------------------------------------------------------------------------
    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        app.router.add_get("/file/bot{token}/{path:.+}", self._download)
        await self._serve(app)

    async def stop(self) -> None:
        self._closing = True
        self._updates_arrived.set()  # release every held getUpdates at once
        await self._shutdown()

    # -- test-side API ---------------------------------------------------------------------
    def calls(self, method: str) -> list[Recorded]:
        """Every request of one method, in arrival order (failed and refused ones included)."""
        return [r for r in self.requests if r.method == method]

    async def wait_for(self, method: str, predicate: Callable[[Recorded], bool] | None = None,
                       timeout: float = 15, after: int = 0) -> Recorded:
        """The first request (index >= after) of `method` matching `predicate`, waiting for it."""
        return await self._wait_for(
            lambda r: r.method == method and (predicate is None or predicate(r)),
            method, timeout, after, lambda r: r.method)

    def push_update(self, update: JSON) -> int:
        """Queue an update (numbering it if needed) and wake held getUpdates; returns its id."""
        if "update_id" in update:
            self._update_ids = itertools.count(max(next(self._update_ids), update["update_id"] + 1))
        else:
            update["update_id"] = next(self._update_ids)
        self._pending.append(update)
        self._updates_arrived.set()
        self._updates_arrived = asyncio.Event()
        return int(update["update_id"])

    def fail_next(self, method: str, status: int = 429, retry_after: int | None = 1,
                  description: str = "Too Many Requests: retry after 1") -> None:
        """Make the next call of `method` fail (still recorded); calls queue up one failure each."""
        self._failures.add(Failure(method, ApiError(status, description, retry_after)))

    # -- update builders: shaped like Telegram's, update_id left to push_update -------------
    def _message(self, chat: JSON, user: JSON, **fields: Any) -> JSON:
        return {"message_id": next(self._message_ids), "date": int(time.time()), "chat": chat,
                "from": user, **{k: v for k, v in fields.items() if v is not None}}

    @staticmethod
    def _user(user_id: int, first_name: str | None = None, language_code: str | None = "en") -> JSON:
        """A sender; `language_code` is the language of their Telegram app (None: not sent).
        English unless a test says otherwise: the bot answers a textless request (/help, a
        button) in it (tests/bot/adapters/telegram/test_languages.py)."""
        user = {"id": user_id, "is_bot": False, "first_name": first_name or f"User{user_id}"}
        return {**user, "language_code": language_code} if language_code else user

    @staticmethod
    def _chat(chat_id: int, first_name: str | None = None) -> JSON:
        if chat_id > 0:
            return {"id": chat_id, "type": "private", "first_name": first_name or f"User{chat_id}"}
        return {"id": chat_id, "type": "supergroup", "title": f"Group {chat_id}"}

    def private_message(self, text: str, user_id: int = 501, first_name: str = "Olena",
                        entities: list | None = None, language_code: str | None = "en") -> JSON:
        ents = auto_entities(text) if entities is None else entities
        return {"message": self._message(self._chat(user_id, first_name),
                                         self._user(user_id, first_name, language_code),
                                         text=text, entities=ents or None)}

    def group_message(self, text: str, chat_id: int = -100777, user_id: int = 502,
                      reply_to_message: JSON | None = None,
                      entities: list | None = None) -> JSON:
        ents = auto_entities(text) if entities is None else entities
        return {"message": self._message(self._chat(chat_id), self._user(user_id), text=text,
                                         entities=ents or None,
                                         reply_to_message=reply_to_message)}

    def callback_query(self, data: str, message: JSON, user_id: int = 501) -> JSON:
        return {"callback_query": {"id": str(next(self._query_ids)), "from": self._user(user_id),
                                   "chat_instance": f"instance{message['chat']['id']}",
                                   "data": data, "message": message}}

    def sticker_message(self, user_id: int = 501, chat_id: int | None = None) -> JSON:
        sticker = {"file_id": "CAACAgIAAxkBAAIBsticker", "file_unique_id": "AgADsticker",
                   "type": "regular", "width": 512, "height": 512, "is_animated": False,
                   "is_video": False, "emoji": "\N{THUMBS UP SIGN}"}
        chat = self._chat(user_id if chat_id is None else chat_id)
        return {"message": self._message(chat, self._user(user_id), sticker=sticker)}

    def photo_message(self, caption: str | None = None, user_id: int = 501) -> JSON:
        photo = [{"file_id": f"AgACAgIAAxkBAAIBphoto{size}", "file_unique_id": f"AQADphoto{size}",
                  "width": size, "height": size, "file_size": size * 40} for size in (90, 800)]
        return {"message": self._message(self._chat(user_id), self._user(user_id), photo=photo,
                                         caption=caption)}

    def add_file(self, data: bytes, suffix: str = "", size: int | None = None) -> StoredFile:
        """Store bytes as a file users sent; `size` may claim more than `data` holds (a large
        file whose download a test expects never to happen)."""
        number = next(self._file_ids)
        stored = StoredFile(f"BQACAgIAAxkBAAIBdoc{number}", f"AgADdoc{number}",
                            f"documents/file_{number}{suffix}", len(data) if size is None else size, data)
        self.files[stored.file_id] = stored
        return stored

    def document_message(self, file_name: str, data: bytes, user_id: int = 501,
                         chat_id: int | None = None, caption: str | None = None,
                         mime_type: str = "text/plain", file_size: int | None = None) -> JSON:
        """A message carrying a document, its bytes stored for getFile and the download."""
        stored = self.add_file(data, Path(file_name).suffix.lower(), file_size)
        document = {"file_id": stored.file_id, "file_unique_id": stored.unique_id,
                    "file_name": file_name, "mime_type": mime_type, "file_size": stored.size}
        chat = self._chat(user_id if chat_id is None else chat_id)
        return {"message": self._message(chat, self._user(user_id), document=document,
                                         caption=caption,
                                         caption_entities=(auto_entities(caption) or None) if caption else None)}

    def downloads(self) -> list[Recorded]:
        """Every file download the bot made (recorded as method "download")."""
        return self.calls("download")

    # -- HTTP ------------------------------------------------------------------------------
    async def _download(self, request: web.Request) -> web.Response:
        """GET /file/bot<token>/<file_path>: the bytes of a file getFile described."""
        path = request.match_info["path"]
        record = Recorded("download", {"file_path": path})
        self._record(record)
        if request.match_info["token"] != self.token:
            return web.Response(status=401, text="Unauthorized")
        stored = next((f for f in self.files.values() if f.path == path), None)
        if stored is None:
            self.unknown.append(record)
            return web.Response(status=404, text="Not Found")
        return web.Response(body=stored.data, content_type="application/octet-stream")

    async def _handle(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return self._reply(ApiError(401, "Unauthorized"))
        given = request.match_info["method"]
        method, implementation = self._methods.get(given.lower(), (given, None))
        record = Recorded(method, await self._read_params(request))
        self._record(record)
        if implementation is None:
            self.unknown.append(record)
            return self._reply(ApiError(404, "Not Found"))
        failure = self._failures.take(lambda f: f.method == method)
        if failure is not None:
            return self._reply(failure.error)
        try:
            result = implementation(record.params)
            if inspect.isawaitable(result):
                result = await result
        except ApiError as error:
            return self._reply(error)
        return web.json_response({"ok": True, "result": result})

    @staticmethod
    async def _read_params(request: web.Request) -> JSON:
        """Query string, then form/multipart or JSON body; uploads become {filename, data}."""
        params: JSON = {k: decode_param(k, v) for k, v in request.query.items()}
        if request.content_type == "application/json":
            params.update(await request.json())
        elif request.can_read_body:
            for key, value in (await request.post()).items():
                if isinstance(value, web.FileField):
                    params[key] = {"filename": value.filename, "data": value.file.read()}
                else:
                    params[key] = decode_param(key, str(value))
        return params

    @staticmethod
    def _reply(error: ApiError) -> web.Response:
        body: JSON = {"ok": False, "error_code": error.status, "description": error.description}
        if error.retry_after is not None:
            body["parameters"] = {"retry_after": error.retry_after}
        return web.json_response(body, status=error.status)

    # -- methods ---------------------------------------------------------------------------
    async def _get_updates(self, params: JSON) -> list[JSON]:
        """Long polling: confirm updates below `offset`, hold until one arrives or `timeout`."""
        if self.webhook_url:
            raise ApiError(409, "Conflict: can't use getUpdates method while webhook is active; "
                                "use deleteWebhook to delete the webhook first")
        offset, limit = int(params.get("offset") or 0), min(max(int(params.get("limit", 100)), 1), 100)
        if offset > 0:
            self._pending = [u for u in self._pending if u["update_id"] >= offset]
        elif offset < 0:
            self._pending = self._pending[offset:]
        deadline = asyncio.get_running_loop().time() + float(params.get("timeout") or 0)
        while not self._pending and not self._closing:
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                break
            try:
                await asyncio.wait_for(self._updates_arrived.wait(), remaining)
            except TimeoutError:
                break
        return list(self._pending[:limit])

    def _set_webhook(self, params: JSON, url: str | None) -> bool:
        """One delivery mode at a time, as on Telegram; either call may drop the queue."""
        if params.get("drop_pending_updates"):
            self._pending.clear()
        self.webhook_url = url
        return True

    def _chat_id(self, params: JSON) -> int:
        chat_id = params.get("chat_id")
        if chat_id in (None, ""):
            raise bad_request("chat_id is empty")
        if not isinstance(chat_id, int):
            raise bad_request("chat not found")
        return chat_id

    def _render(self, params: JSON) -> tuple[str, list[JSON]]:
        """Text and entities as Telegram would store them, validated like Telegram."""
        text = params.get("text")
        if not isinstance(text, str) or not text.strip():
            raise bad_request("message text is empty")
        parse_mode = str(params.get("parse_mode", "")).lower()
        plain, entities = parse_html(text) if parse_mode == "html" else (text, [])
        if not plain.strip():
            raise bad_request("message text is empty")
        if len(plain) > TEXT_LIMIT:
            raise bad_request("message is too long")
        return plain, entities

    @staticmethod
    def _markup(params: JSON) -> JSON | None:
        markup = params.get("reply_markup")
        if markup is None:
            return None
        if not isinstance(markup, dict):
            raise bad_request("can't parse reply keyboard markup JSON object")
        for row in markup.get("inline_keyboard", []):
            for button in row:
                if len(str(button.get("callback_data", "")).encode()) > CALLBACK_DATA_LIMIT:
                    raise bad_request("BUTTON_DATA_INVALID")
        return markup

    def _stored(self, params: JSON, missing: str) -> JSON:
        message = self._messages.get((self._chat_id(params), int(params.get("message_id") or 0)))
        if message is None:
            raise bad_request(missing)
        return message

    def _send_message(self, params: JSON) -> JSON:
        chat_id = self._chat_id(params)
        if chat_id in self.not_started:
            raise ApiError(403, "Forbidden: bot can't initiate conversation with a user")
        text, entities = self._render(params)
        markup = self._markup(params)
        message = self._message(self._chat(chat_id), dict(self.bot_user), text=text,
                                entities=entities or None, reply_markup=markup)
        self._messages[(chat_id, message["message_id"])] = message
        self.sent_messages.append(copy.deepcopy(message))
        return message

    def _edit_message_text(self, params: JSON) -> JSON:
        message = self._stored(params, "message to edit not found")
        text, entities = self._render(params)
        markup = self._markup(params)  # omitting reply_markup removes the keyboard, as on Telegram
        if (text, entities, markup) == (message["text"], message.get("entities", []),
                                        message.get("reply_markup")):
            raise bad_request(NOT_MODIFIED)
        message.update(text=text, edit_date=int(time.time()))
        for key, value in (("entities", entities), ("reply_markup", markup)):
            message.pop(key, None)
            if value:
                message[key] = value
        self.sent_messages.append(copy.deepcopy(message))
        return message

    def _edit_reply_markup(self, params: JSON) -> JSON:
        message = self._stored(params, "message to edit not found")
        markup = self._markup(params)
        if markup == message.get("reply_markup"):
            raise bad_request(NOT_MODIFIED)
        message.pop("reply_markup", None)
        if markup:
            message["reply_markup"] = markup
        return message

    def _delete_message(self, params: JSON) -> bool:
        message = self._stored(params, "message to delete not found")
        del self._messages[(message["chat"]["id"], message["message_id"])]
        return True

    @staticmethod
    def _answer_query(params: JSON) -> bool:
        if len(str(params.get("text", ""))) > ANSWER_TEXT_LIMIT:
            raise bad_request("MESSAGE_TOO_LONG")
        return True

    def _set_commands(self, params: JSON) -> bool:
        self.commands = list(params.get("commands", []))
        return True

    def _member(self, chat_id: int, user_id: int) -> JSON:
        user = dict(self.bot_user) if user_id == self.bot_user["id"] else self._user(user_id)
        admins = self.chat_admins.get(chat_id, [])
        if admins and admins[0] == user_id:
            return {"status": "creator", "user": user, "is_anonymous": False}
        if user_id in admins:  # PTB requires every one of these rights to be present
            rights = dict.fromkeys(("manage_chat delete_messages manage_video_chats pin_messages "
                                    "restrict_members promote_members change_info invite_users "
                                    "post_stories edit_stories delete_stories").split(), True)
            return {"status": "administrator", "user": user, "can_be_edited": False,
                    "is_anonymous": False, **{f"can_{k}": v for k, v in rights.items()}}
        return {"status": "member", "user": user}

    def _get_admins(self, params: JSON) -> list[JSON]:
        chat_id = self._chat_id(params)
        if chat_id > 0:
            raise bad_request("there are no administrators in the private chat")
        return [self._member(chat_id, user_id) for user_id in self.chat_admins.get(chat_id, [])]

    def _get_member(self, params: JSON) -> JSON:
        return self._member(self._chat_id(params), int(params["user_id"]))

    def _get_file(self, params: JSON) -> JSON:
        stored = self.files.get(str(params.get("file_id", "")))
        if stored is None:
            raise bad_request("invalid file_id")
        if stored.size > GET_FILE_LIMIT:
            raise bad_request("file is too big")
        return {"file_id": stored.file_id, "file_unique_id": stored.unique_id,
                "file_size": stored.size, "file_path": stored.path}

    def _get_chat(self, params: JSON) -> JSON:
        gifts = dict.fromkeys(["unlimited_gifts", "limited_gifts", "unique_gifts",
                               "premium_subscription", "gifts_from_channels"], False)
        return {**self._chat(self._chat_id(params)), "accent_color_id": 0,
                "max_reaction_count": 11, "accepted_gift_types": gifts}
