"""Hostile and broken input to every reader: one clear `SourceError`, never a crash.

Each case is one the outside audit of issue 17 found escaping as an "unexpected" error or
being stored as it came: a YAML alias bomb, JSONL nested 100,000 deep, a lone surrogate, a
PDF with a 30-digit `startxref`, a text of only invisible characters, NUL bytes past the
first 64 KB, bidi controls that reverse a citation line, and `javascript:` URLs.
"""

from __future__ import annotations

import re
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import pytest

from knowledge.errors import SourceError
from knowledge.readers import read_file
from knowledge.text import MAX_PUBLISHER_CHARS, MAX_TITLE_CHARS, normalise_text
from tests.knowledge.conftest import jsonl, record
from tests.web_server import text_pdf

Write = Callable[[str, "str | bytes"], Path]

# 422 bytes: nine anchors, each a list of nine of the one before; expanded, a 52-million
# character title (816 MB in the audit).
ALIAS_BOMB = "\n".join(
    ["---", 'a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    + [f"a{n}: &a{n} [{','.join(['*a' + str(n - 1)] * 9)}]" for n in range(1, 9)]
    + ["title: *a8", "---", "Body text."]
)
BIDI = "\u202e\u2066\u200f\u061c"
ZERO_WIDTH = "\u200b\u200c\u200d\u2060\ufeff"


def refusal(path: Path) -> str:
    with pytest.raises(SourceError) as caught:
        read_file(path, "tester")
    return str(caught.value)


# -- item 10: front matter --------------------------------------------------------------------


def test_the_alias_bomb_is_refused_quickly_in_bounded_memory(write_file: Write) -> None:
    path = write_file("bomb.md", ALIAS_BOMB)
    tracemalloc.start()
    started = time.monotonic()
    try:
        message = refusal(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert time.monotonic() - started < 1.0
    assert peak < 5 * 1024 * 1024
    assert "anchors (&name) are not allowed" in message and "bomb.md" in message


@pytest.mark.parametrize(
    ("front", "problem"),
    [
        ("base: x\ntitle: *base", "aliases (*name) are not allowed"),
        ("title: &t Grain corridor", "anchors (&name) are not allowed"),
        ("title: [Grain, corridor]", "a single value, not a list or a mapping"),
        ("title: Grain\npublisher: {name: Ledger}", "a single value, not a list or a mapping"),
        ("title: " + "[" * 60_000, "a single value"),
        ("? [a, b]\n: title", "a single value"),
    ],
)
def test_front_matter_takes_single_values_only(write_file: Write, front: str, problem: str) -> None:
    assert problem in refusal(write_file("doc.md", f"---\n{front}\n---\nBody text."))


def test_front_matter_has_a_size_limit(write_file: Write) -> None:
    front = "title: Grain\n" + "".join(f"k{n}: {'x' * 50}\n" for n in range(2000))
    assert "front matter is too long" in refusal(write_file("doc.md", f"---\n{front}---\nBody."))


def test_plain_front_matter_still_reads(write_file: Write) -> None:
    [document] = read_file(write_file("doc.md", "---\ntitle: Grain corridor\npublished: 2024-11-20\n"
                                                "publisher: Kyiv Ledger\n---\nBody text."), "tester")
    assert (document.title, document.published, document.publisher) == (
        "Grain corridor", "2024-11-20", "Kyiv Ledger")


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("long.md", f"---\ntitle: {'t' * (MAX_TITLE_CHARS + 1)}\n---\nBody."),
        ("long.jsonl", jsonl(record("a", title="t" * (MAX_TITLE_CHARS + 1)))),
        ("long.csv", f"id,title,text\na,{'t' * (MAX_TITLE_CHARS + 1)},Body.\n"),
    ],
)
def test_an_over_long_title_is_refused_by_every_reader(write_file: Write, name: str, content: str) -> None:
    message = refusal(write_file(name, content))
    assert f"the title is too long ({MAX_TITLE_CHARS + 1} characters; the limit is {MAX_TITLE_CHARS})" in message
    assert name in message


@pytest.mark.parametrize(
    ("name", "content", "field"),
    [
        ("p.md", f"---\ntitle: T\npublisher: {'p' * (MAX_PUBLISHER_CHARS + 1)}\n---\nBody.", "the publisher"),
        ("p.jsonl", jsonl(record("a", publisher="p" * (MAX_PUBLISHER_CHARS + 1))), "the publisher"),
        ("i.jsonl", jsonl(record("i" * 201)), "the id"),
        ("i.csv", f"id,title,text\n{'i' * 201},T,Body.\n", "the id"),
        ("i.md", f"---\nid: {'i' * 201}\ntitle: T\n---\nBody.", "the id"),
    ],
)
def test_over_long_publishers_and_ids_are_refused(write_file: Write, name: str, content: str, field: str) -> None:
    assert f"{field} is too long" in refusal(write_file(name, content))


@pytest.mark.parametrize("name", ["first.txt", "first.md"])
def test_a_title_taken_from_a_long_first_line_is_cut(write_file: Write, name: str) -> None:
    line = " ".join(["word"] * 200)
    [document] = read_file(write_file(name, f"{line}\nBody."), "tester")
    assert len(document.title) <= MAX_TITLE_CHARS and document.title.endswith("word …")


def test_a_page_title_that_is_too_long_is_cut_not_refused(write_file: Write) -> None:
    title = " ".join(["word"] * 200)
    [document] = read_file(write_file("long.pdf", text_pdf(["Grain corridor reopens."], title=title)), "t")
    assert len(document.title) <= MAX_TITLE_CHARS and document.title.endswith(" …")


# -- item 12: reader cases --------------------------------------------------------------------


def test_jsonl_nested_100000_deep_is_one_clear_error(write_file: Write) -> None:
    path = write_file("deep.jsonl", "[" * 100_000 + "]" * 100_000 + "\n")
    assert refusal(path) == f"{path}:1: malformed JSON (nested too deeply)"


def test_a_jsonl_number_of_too_many_digits_is_one_clear_error(write_file: Write) -> None:
    path = write_file("digits.jsonl", '{"id": "a", "text": "x", "n": ' + "9" * 5000 + "}\n")
    assert refusal(path).startswith(f"{path}:1: malformed JSON (")


@pytest.mark.parametrize("field", ["text", "title", "publisher", "id"])
def test_a_lone_surrogate_in_jsonl_is_refused(write_file: Write, field: str) -> None:
    line = '{"id": "a", "title": "T", "text": "Body.", "publisher": "P"}'
    line = line.replace(f'"{field}": "', f'"{field}": "\\ud800', 1)
    message = refusal(write_file("s.jsonl", line + "\n"))
    assert re.search(rf"s\.jsonl:1: field '{field}' holds an invalid character \(lone surrogate U\+D800", message)


def test_a_pdf_with_a_30_digit_startxref_is_one_clear_error(write_file: Write) -> None:
    broken = re.sub(rb"startxref\n\d+", b"startxref\n" + b"9" * 30, text_pdf(["Some text."]))
    message = refusal(write_file("broken.pdf", broken))
    assert message.startswith(f"{write_file('x', '').parent / 'broken.pdf'}: the PDF cannot be read (")


def test_garbage_after_a_pdf_header_is_one_clear_error(write_file: Write) -> None:
    assert "the PDF cannot be read" in refusal(write_file("junk.pdf", b"%PDF-1.4\n" + bytes(range(256)) * 40))


# -- item 13: invisible characters and links ----------------------------------------------------


@pytest.mark.parametrize("name", ["only.txt", "only.md"])
def test_a_file_of_only_invisible_characters_is_empty(write_file: Write, name: str) -> None:
    content = (ZERO_WIDTH + BIDI + "\n") * 50
    assert "empty document" in refusal(write_file(name, content))


def test_a_jsonl_text_of_only_invisible_characters_is_empty(write_file: Write) -> None:
    assert "empty document" in refusal(write_file("z.jsonl", jsonl(record("a", text=ZERO_WIDTH + BIDI))))


def test_nul_bytes_anywhere_make_a_file_binary(write_file: Write) -> None:
    content = b"Title\n" + b"text " * 20_000 + b"\x00" + b" more text"
    assert len(content) > 65536
    assert "binary data" in refusal(write_file("late-nul.txt", content))


def test_nul_and_controls_in_jsonl_text_never_reach_the_document(write_file: Write) -> None:
    [document] = read_file(write_file("n.jsonl", jsonl(record("a", text="Kyiv\u0000 said\u001b[2J so."))), "t")
    assert document.text == "Kyiv said[2J so."


@pytest.mark.parametrize("name", ["b.md", "b.jsonl", "b.csv"])
def test_bidi_and_zero_width_are_stripped_from_titles_and_publishers(write_file: Write, name: str) -> None:
    title, publisher = f"Grain{BIDI} corridor{ZERO_WIDTH}", f"{BIDI}Kyiv Ledger"
    content = {
        "b.md": f"---\ntitle: \"{title}\"\npublisher: \"{publisher}\"\n---\nBody{BIDI} text.",
        "b.jsonl": jsonl(record("a", title=title, publisher=publisher, text=f"Body{BIDI} text.")),
        "b.csv": f"id,title,publisher,text\na,{title},{publisher},Body{BIDI} text.\n",
    }[name]
    [document] = read_file(write_file(name, content), "tester")
    assert (document.title, document.publisher, document.text) == ("Grain corridor", "Kyiv Ledger", "Body text.")


@pytest.mark.parametrize("name", ["i.jsonl", "i.csv"])
def test_an_id_of_only_invisible_characters_is_empty(write_file: Write, name: str) -> None:
    content = jsonl(record(ZERO_WIDTH)) if name == "i.jsonl" else f"id,title,text\n{ZERO_WIDTH},T,Body.\n"
    assert refusal(write_file(name, content)).endswith(f"{name}:{1 if name == 'i.jsonl' else 2}: empty id")


def test_a_title_of_only_invisible_characters_is_missing(write_file: Write) -> None:
    message = refusal(write_file("t.jsonl", jsonl(record("a", title=BIDI, text=ZERO_WIDTH))))
    assert "empty document" in message or "missing title" in message


@pytest.mark.parametrize(
    "url", ["javascript:alert(1)", "JavaScript:alert(1)", "data:text/html,<b>x</b>", "ftp://example.org/a",
            "file:///etc/passwd", "//example.org/a", "https://user:pw@example.org/"],
)
@pytest.mark.parametrize("name", ["u.md", "u.jsonl", "u.csv"])
def test_only_http_links_are_accepted_as_a_documents_url(write_file: Write, name: str, url: str) -> None:
    content = {
        "u.md": f"---\ntitle: T\nurl: \"{url}\"\n---\nBody.",
        "u.jsonl": jsonl(record("a", url=url)),
        "u.csv": f"id,title,url,text\na,T,\"{url}\",Body.\n",
    }[name]
    message = refusal(write_file(name, content))
    assert name in message and "url " in message


def test_an_http_url_is_kept(write_file: Write) -> None:
    [document] = read_file(write_file("u.jsonl", jsonl(record("a", url="https://example.org/a?b=1"))), "t")
    assert document.url == "https://example.org/a?b=1"


def test_normalise_text_strips_what_cannot_be_seen() -> None:
    assert normalise_text(f"\ufeff  a{BIDI}b\r\nc\x0cd\x00e{ZERO_WIDTH}  ") == "ab\nc\nde"


@pytest.mark.parametrize("front_matter", ["title: &a x\nb: *a\n", "a: b: c\n", "title: 'unclosed\n"])
def test_a_front_matter_refusal_is_one_line_with_its_place(tmp_path: Path, front_matter: str) -> None:
    """PyYAML's own messages span three lines (problem, quoted line, caret)."""
    path = tmp_path / "note.md"
    path.write_text(f"---\n{front_matter}---\nBody text.\n", encoding="utf-8")
    with pytest.raises(SourceError) as refused:
        read_file(path, "test")
    assert "\n" not in str(refused.value) and "front matter line" in str(refused.value)
