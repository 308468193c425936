"""Discord's limits and the errors it answers with: ApiError, nested "Invalid Form Body" errors,
and the checks on messages (content, embeds, components) and application commands."""

from __future__ import annotations

import re
from typing import Any

from tests.discord_server.state import FLAG_COMPONENTS_V2, JSON

# Message limits.
CONTENT_LIMIT = 2000
EMBEDS_PER_MESSAGE = 10
EMBED_TITLE_LIMIT = 256
EMBED_DESCRIPTION_LIMIT = 4096
EMBED_FIELDS_LIMIT = 25
EMBED_FIELD_NAME_LIMIT = 256
EMBED_FIELD_VALUE_LIMIT = 1024
EMBED_FOOTER_LIMIT = 2048
EMBED_AUTHOR_LIMIT = 256
EMBED_TOTAL_LIMIT = 6000  # characters over all embeds of one message
CUSTOM_ID_LIMIT = 100
BUTTON_LABEL_LIMIT = 80
ACTION_ROWS_LIMIT = 5
ROW_COMPONENTS_LIMIT = 5

COMMAND_NAME = re.compile(r"^[-_\w]{1,32}$")
URL_SCHEMES = ("http://", "https://", "attachment://")


class ApiError(Exception):
    """An error answer, raised inside a route so that the handler replies like Discord."""

    def __init__(self, status: int, code: int, message: str, errors: JSON | None = None,
                 headers: dict[str, str] | None = None, body: JSON | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.errors, self.headers, self.body = errors, headers or {}, body

    def payload(self) -> JSON:
        if self.body is not None:
            return self.body
        data: JSON = {"message": self.message, "code": self.code}
        if self.errors:
            data["errors"] = self.errors
        return data


class FormErrors:
    """Collects Discord's nested "Invalid Form Body" errors: {"embeds": {"0": {"title": ...}}}."""

    def __init__(self) -> None:
        self.tree: JSON = {}

    def add(self, path: tuple[str | int, ...], code: str, message: str) -> None:
        node = self.tree
        for key in path:
            node = node.setdefault(str(key), {})
        node.setdefault("_errors", []).append({"code": code, "message": message})

    def too_long(self, path: tuple[str | int, ...], value: Any, limit: int) -> None:
        if isinstance(value, str) and len(value) > limit:
            self.add(path, "BASE_TYPE_MAX_LENGTH", f"Must be {limit} or fewer in length.")

    def raise_if_any(self) -> None:
        if self.tree:
            raise ApiError(400, 50035, "Invalid Form Body", self.tree)


def not_found(code: int, what: str) -> ApiError:
    return ApiError(404, code, what)


def walk_components(components: list[JSON]) -> list[JSON]:
    """Every component, nested ones included (action rows, v2 containers, section accessories)."""
    found: list[JSON] = []
    for component in components or []:
        found.append(component)
        found.extend(walk_components(component.get("components") or []))
        accessory = component.get("accessory")
        if isinstance(accessory, dict):
            found.extend(walk_components([accessory]))
    return found


def embed_text_size(embed: JSON) -> int:
    """The characters Discord counts against the 6000 limit."""
    size = len(embed.get("title") or "") + len(embed.get("description") or "")
    for item in embed.get("fields") or []:
        size += len(item.get("name") or "") + len(item.get("value") or "")
    size += len((embed.get("footer") or {}).get("text") or "")
    size += len((embed.get("author") or {}).get("name") or "")
    return size


def validate_message(payload: JSON, prefix: tuple[str | int, ...] = (),
                      partial: bool = False) -> None:
    """Discord's cheap checks; `partial` for edits (no emptiness check)."""
    errors = FormErrors()
    content = payload.get("content")
    errors.too_long(prefix + ("content",), content, CONTENT_LIMIT)
    embeds = payload.get("embeds") or []
    if len(embeds) > EMBEDS_PER_MESSAGE:
        errors.add(prefix + ("embeds",), "BASE_TYPE_BAD_LENGTH",
                   f"Must be between 0 and {EMBEDS_PER_MESSAGE} in length.")
    total = 0
    for index, embed in enumerate(embeds):
        validate_embed(errors, prefix + ("embeds", index), embed)
        total += embed_text_size(embed)
    if total > EMBED_TOTAL_LIMIT:
        errors.add(prefix + ("embeds",), "MAX_EMBED_SIZE_EXCEEDED",
                   f"Embed size exceeds maximum size of {EMBED_TOTAL_LIMIT}")
    validate_components(errors, prefix + ("components",),
                              payload.get("components") or [],
                              v2=bool(int(payload.get("flags") or 0) & FLAG_COMPONENTS_V2))
    errors.raise_if_any()
    empty = (not (content or "").strip() and not embeds and not payload.get("components")
             and not payload.get("attachments") and not payload.get("sticker_ids")
             and not payload.get("poll"))
    if not partial and empty:
        raise ApiError(400, 50006, "Cannot send an empty message")

def validate_embed(errors: FormErrors, path: tuple[str | int, ...], embed: JSON) -> None:
    errors.too_long(path + ("title",), embed.get("title"), EMBED_TITLE_LIMIT)
    errors.too_long(path + ("description",), embed.get("description"),
                    EMBED_DESCRIPTION_LIMIT)
    fields = embed.get("fields") or []
    if len(fields) > EMBED_FIELDS_LIMIT:
        errors.add(path + ("fields",), "BASE_TYPE_MAX_LENGTH",
                   f"Must be {EMBED_FIELDS_LIMIT} or fewer in length.")
    for index, item in enumerate(fields):
        for key, limit in (("name", EMBED_FIELD_NAME_LIMIT),
                           ("value", EMBED_FIELD_VALUE_LIMIT)):
            value = item.get(key)
            if not isinstance(value, str) or not value.strip():
                errors.add(path + ("fields", index, key), "BASE_TYPE_REQUIRED",
                           "This field is required")
            errors.too_long(path + ("fields", index, key), value, limit)
    errors.too_long(path + ("footer", "text"), (embed.get("footer") or {}).get("text"),
                    EMBED_FOOTER_LIMIT)
    errors.too_long(path + ("author", "name"), (embed.get("author") or {}).get("name"),
                    EMBED_AUTHOR_LIMIT)
    urls = [(("url",), embed.get("url")),
            (("author", "url"), (embed.get("author") or {}).get("url")),
            (("image", "url"), (embed.get("image") or {}).get("url")),
            (("thumbnail", "url"), (embed.get("thumbnail") or {}).get("url")),
            (("footer", "icon_url"), (embed.get("footer") or {}).get("icon_url"))]
    for key_path, url in urls:
        if url is not None and not (isinstance(url, str) and url.startswith(URL_SCHEMES)
                                    and len(url) > len("https://")):
            errors.add(path + key_path, "URL_TYPE_INVALID_URL", "Not a well formed URL.")

def validate_components(errors: FormErrors, path: tuple[str | int, ...],
                         components: list[JSON], v2: bool) -> None:
    if not v2 and len(components) > ACTION_ROWS_LIMIT:
        errors.add(path, "BASE_TYPE_BAD_LENGTH",
                   f"Must be between 0 and {ACTION_ROWS_LIMIT} in length.")
    seen: set[str] = set()

    def check(where: tuple[str | int, ...], component: JSON) -> None:
        children = component.get("components") or []
        if component.get("type") == 1 and len(children) > ROW_COMPONENTS_LIMIT:
            errors.add(where + ("components",), "BASE_TYPE_BAD_LENGTH",
                       f"Must be between 1 and {ROW_COMPONENTS_LIMIT} in length.")
        custom_id = component.get("custom_id")
        if custom_id is not None:
            errors.too_long(where + ("custom_id",), custom_id, CUSTOM_ID_LIMIT)
            if custom_id in seen:
                errors.add(where + ("custom_id",), "COMPONENT_CUSTOM_ID_DUPLICATED",
                           "Component custom id cannot be duplicated")
            seen.add(custom_id)
        if component.get("type") == 2:
            errors.too_long(where + ("label",), component.get("label"), BUTTON_LABEL_LIMIT)
            is_link = component.get("style") == 5
            if is_link and (custom_id is not None or not component.get("url")):
                errors.add(where, "BUTTON_COMPONENT_INVALID",
                           "A link button needs a url and no custom_id")
            if not is_link and component.get("style") != 6 and custom_id is None:
                errors.add(where + ("custom_id",), "BASE_TYPE_REQUIRED",
                           "This field is required")
        for index, child in enumerate(children):
            check(where + ("components", index), child)
        accessory = component.get("accessory")
        if isinstance(accessory, dict):
            check(where + ("accessory",), accessory)

    for index, component in enumerate(components):
        check(path + (index,), component)


def validate_command(errors: FormErrors, path: tuple[str | int, ...], command: JSON
                      ) -> None:
    name = command.get("name")
    kind = command.get("type", 1)
    if not isinstance(name, str) or not COMMAND_NAME.match(name) or (
            kind == 1 and name != name.lower()):
        errors.add(path + ("name",), "APPLICATION_COMMAND_INVALID_NAME",
                   "Command name is invalid")
    if kind == 1:
        description = command.get("description")
        if not isinstance(description, str) or not 1 <= len(description) <= 100:
            errors.add(path + ("description",), "BASE_TYPE_BAD_LENGTH",
                       "Must be between 1 and 100 in length.")
    options = command.get("options") or []
    if len(options) > 25:
        errors.add(path + ("options",), "BASE_TYPE_MAX_LENGTH",
                   "Must be 25 or fewer in length.")
    seen_optional = False
    for index, option in enumerate(options):
        if option.get("type") in (1, 2):
            validate_command(errors, path + ("options", index), {**option, "type": 1})
            continue
        validate_command(errors, path + ("options", index),
                               {"name": option.get("name"),
                                "description": option.get("description"), "type": 1})
        if option.get("required"):
            if seen_optional:
                errors.add(path + ("options",), "APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID",
                           "Required options must be placed before non-required options")
        else:
            seen_optional = True
