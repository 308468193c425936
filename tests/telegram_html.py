"""Telegram's HTML parse mode and automatic entities, as strict as the Bot API (or stricter).

Split from the stand-in server so that each file has one job: this one turns message text into
(plain text, entities) or the 400 error Telegram would give.
"""

from __future__ import annotations

import html
import re
from typing import Any

JSON = dict[str, Any]

HTML_TAGS = {"b": "bold", "strong": "bold", "i": "italic", "em": "italic", "u": "underline",
             "ins": "underline", "s": "strikethrough", "strike": "strikethrough",
             "del": "strikethrough", "span": "spoiler", "tg-spoiler": "spoiler", "a": "text_link",
             "code": "code", "pre": "pre", "blockquote": "blockquote",
             "tg-emoji": "custom_emoji", "tg-time": "date_time"}
HTML_ENTITY = re.compile(r"&(?:#([0-9]+)|#[xX]([0-9a-fA-F]+)|(lt|gt|amp|quot));")
NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
# Free-text parameters: never JSON-decode these, or a user text "42" would turn into an int.
COMMAND = re.compile(r"/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]{3,32})?")
MENTION = re.compile(r"(?<![\w/@])@[A-Za-z0-9_]{5,32}\b")

class ApiError(Exception):
    """An ok=false answer; raised inside a method so the handler can reply like Telegram."""

    def __init__(self, status: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.status, self.description, self.retry_after = status, description, retry_after


def bad_request(reason: str) -> ApiError:
    return ApiError(400, f"Bad Request: {reason}")


def utf16_len(text: str) -> int:
    """Telegram counts entity offsets and lengths in UTF-16 code units, not code points."""
    return len(text.encode("utf-16-le")) // 2


def parse_html(source: str) -> tuple[str, list[JSON]]:
    """Parse Telegram HTML strictly into (plain text, entities), raising 400 like Telegram.

    Stricter than Telegram on one point: a bare "&" is rejected, because an unescaped "&"
    means the sender forgot html.escape and the next "<" in user text would break the message.
    """
    out: list[str] = []
    pos16 = 0
    stack: list[tuple[str, int, str]] = []  # (tag, UTF-16 start, attributes)
    entities: list[JSON] = []
    i = 0

    def fail(reason: str, at: int | None = None) -> ApiError:
        where = "" if at is None else f" at byte offset {len(source[:at].encode())}"
        return bad_request(f"can't parse entities: {reason}{where}")

    while i < len(source):
        char = source[i]
        if char == "<":
            end = source.find(">", i)
            if end < 0:
                raise fail("Unclosed start tag", i)
            inner = source[i + 1:end]
            if inner.startswith("/"):
                name = inner[1:].strip().lower()
                if not stack:
                    raise fail("Unexpected end tag", i)
                tag, start, attrs = stack.pop()
                if tag != name:
                    raise fail(f'Unmatched end tag at byte offset {len(source[:i].encode())}, '
                               f'expected "</{tag}>", found "</{name}>"')
                if pos16 > start:
                    entity: JSON = {"type": HTML_TAGS[tag], "offset": start, "length": pos16 - start}
                    href = re.search(r"""href\s*=\s*["']([^"']*)["']""", attrs)
                    if tag == "a" and href:
                        entity["url"] = html.unescape(href.group(1))
                    entities.append(entity)
            else:
                match = re.match(r"([A-Za-z][A-Za-z0-9-]*)(.*)\Z", inner, re.S)
                name = match.group(1).lower() if match else inner.strip()
                if match is None or name not in HTML_TAGS:
                    raise fail(f'Unsupported start tag "{name}"', i)
                if name == "span" and "tg-spoiler" not in match.group(2):
                    raise fail('Tag "span" must have class "tg-spoiler"', i)
                stack.append((name, pos16, match.group(2)))
            i = end + 1
            continue
        if char == "&":
            entity_match = HTML_ENTITY.match(source, i)
            if entity_match is None:
                raise fail('Unescaped "&" (use &amp;)', i)
            dec, hexa, named = entity_match.groups()
            try:
                char = NAMED_ENTITIES[named] if named else chr(int(dec or hexa, 16 if hexa else 10))
            except (ValueError, OverflowError):
                raise fail("Invalid character entity", i) from None
            i = entity_match.end()
        else:
            i += 1
        out.append(char)
        pos16 += utf16_len(char)
    if stack:
        raise fail(f'Can\'t find end tag corresponding to start tag "{stack[-1][0]}"')
    return "".join(out), sorted(entities, key=lambda e: (e["offset"], -e["length"]))


def auto_entities(text: str) -> list[JSON]:
    """The entities Telegram itself adds to an incoming text: a leading command, @mentions."""
    found = []
    command = COMMAND.match(text)
    if command:
        found.append({"type": "bot_command", "offset": 0, "length": utf16_len(command.group())})
    for mention in MENTION.finditer(text):
        found.append({"type": "mention", "offset": utf16_len(text[:mention.start()]),
                      "length": utf16_len(mention.group())})
    return found
