"""Readers: markdown with front matter, plain text, JSONL, folders; and every refusal."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from knowledge.documents import Kind
from knowledge.errors import SourceError
from knowledge.readers import read_file, read_jsonl, read_markdown, read_paths, read_plain_text
from tests.conftest import shared_file
from tests.knowledge.conftest import jsonl, record

Write = Callable[[str, "str | bytes"], Path]


def read_error(path: Path) -> str:
    with pytest.raises(SourceError) as caught:
        read_file(path, "tester")
    return str(caught.value)


# -- markdown -------------------------------------------------------------------------------


def test_seed_article_front_matter(seed_path: Path) -> None:
    document = read_markdown(seed_path, "tester")
    assert document.title.startswith("Turning Tides: The Impact of North Korean Troops")
    assert document.published == "2024-11"
    assert document.kind is Kind.ANALYSIS
    assert document.url is None
    assert document.language == "en"
    assert document.id == "turning-tides-2024-11" == seed_path.stem
    assert document.added_by == "tester"
    assert not document.text.startswith("---")
    assert "title:" not in document.text
    assert document.text.startswith("The ongoing Ukrainian crisis")


def test_seed_article_copy_reads_the_same(seed_path: Path, tmp_path: Path) -> None:
    copy = tmp_path / seed_path.name
    shutil.copyfile(seed_path, copy)
    assert read_file(copy, "tester") == [read_markdown(seed_path, "tester")]


def test_front_matter_yaml_date_and_fields(write_file: Write) -> None:
    path = write_file(
        "note.md",
        "---\ntitle: Grain deal\npublished: 2024-11-20\nkind: Official Statement\n"
        "url: https://example.org/a\nid: grain-1\npublisher: '  UN  '\n---\n\nThe deal was renewed.\n",
    )
    document = read_markdown(path, "tester")
    assert document.published == "2024-11-20"
    assert document.kind is Kind.OFFICIAL_STATEMENT
    assert (document.id, document.url, document.publisher) == ("grain-1", "https://example.org/a", "UN")
    assert document.text == "The deal was renewed."


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("---\ntitle: T\n\nBody without an end.\n", "never ends"),
        ("---\n- a\n- b\n---\nBody.\n", "must be a mapping"),
        ("---\njust a string\n---\nBody.\n", "must be a mapping"),
        ("---\ntitle: [unclosed\n---\nBody.\n", "not valid YAML"),
        ("---\ntitle: T\npublished: Nov 2024\n---\nBody.\n", "bad published date"),
        ("---\ntitle: T\nkind: blog\n---\nBody.\n", "unknown kind"),
        ("---\ntitle: T\n---\n\n", "empty document"),
    ],
)
def test_bad_front_matter_is_refused(write_file: Write, content: str, expected: str) -> None:
    path = write_file("bad.md", content)
    message = read_error(path)
    assert expected in message
    assert str(path) in message


def test_empty_front_matter_block_is_accepted(write_file: Write) -> None:
    document = read_markdown(write_file("empty-fm.md", "---\n---\n# Heading\n\nBody.\n"), "t")
    assert document.title == "Heading"


def test_markdown_without_front_matter_takes_first_line_as_title(write_file: Write) -> None:
    path = write_file("plain.md", "\n\n## Kherson  retaken ##\n\nUkrainian forces entered the city.\n")
    document = read_markdown(path, "tester")
    assert document.title == "Kherson retaken ##"  # leading hashes stripped, spaces collapsed
    assert document.text.startswith("## Kherson")
    assert document.kind is Kind.OTHER and document.published is None
    assert document.id == "plain"


# -- plain text and encodings ---------------------------------------------------------------


def test_plain_text_first_line_is_title(write_file: Write) -> None:
    document = read_plain_text(write_file("t.txt", "Ceasefire talks\nThey met.\nThey left.\n"), "t")
    assert document.title == "Ceasefire talks"
    assert document.text == "They met.\nThey left."


def test_plain_text_single_line_is_title_and_text(write_file: Write) -> None:
    document = read_plain_text(write_file("one.txt", "Only one line here.\n"), "t")
    assert document.title == document.text == "Only one line here."


def test_crlf_and_bom_are_normalised(write_file: Write) -> None:
    crlf = read_file(write_file("a.txt", "Title\r\nLine one.\r\n\r\nLine two.\r\n"), "t")[0]
    bom = read_file(write_file("b.md", "\ufeff---\r\ntitle: Bom\r\n---\r\nText.\r\n".encode()), "t")[0]
    assert crlf.text == "Line one.\n\nLine two."
    assert "\r" not in crlf.text
    assert (bom.title, bom.text) == ("Bom", "Text.")
    same = read_file(write_file("c.txt", "Title\nLine one.\n\nLine two.\n"), "t")[0]
    assert crlf.sha256 == same.sha256


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("bin.txt", b"Title\n\x00\x01\x02binary", "binary"),
        ("bin.md", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary"),
        ("latin.txt", "Título\nCafé in Kyiv.".encode("latin-1"), "not UTF-8"),
        ("empty.txt", b"", "empty document"),
        ("blank.md", b"  \n\n\t \r\n", "empty document"),
        ("blank.jsonl", b"\n \n", "empty document"),
        ("report.pdf", b"%PDF-1.4", "the PDF cannot be read"),
        ("notes.docx", b"PK\x03\x04", "unsupported file type"),
    ],
)
def test_unreadable_files_are_refused(write_file: Write, name: str, content: bytes, expected: str) -> None:
    path = write_file(name, content)
    message = read_error(path)
    assert expected in message
    assert str(path) in message


def test_missing_file(tmp_path: Path) -> None:
    assert "no such file" in read_error(tmp_path / "gone.md")
    with pytest.raises(SourceError, match="no such file"):
        read_paths([tmp_path / "gone.md"], "t")


# -- JSONL ----------------------------------------------------------------------------------


def test_jsonl_reads_every_line(write_file: Write) -> None:
    path = write_file(
        "docs.jsonl",
        jsonl(
            record("a", kind="news", published="2022-03-01", url="https://a.example"),
            record("b", text="Line one.\r\nLine two."),
            record("c", kind="official-statement", published=None, publisher="Kremlin"),
        ),
    )
    documents = read_jsonl(path, "tester")
    assert [d.id for d in documents] == ["a", "b", "c"]
    assert documents[0].kind is Kind.NEWS and documents[0].published == "2022-03-01"
    assert documents[1].text == "Line one.\nLine two."
    assert documents[2].publisher == "Kremlin" and documents[2].published is None
    assert all(d.added_by == "tester" for d in documents)


def test_jsonl_blank_lines_are_skipped(write_file: Write) -> None:
    path = write_file("gaps.jsonl", "\n" + jsonl(record("a")) + "\n   \n" + jsonl(record("b")) + "\n")
    assert [d.id for d in read_jsonl(path, "t")] == ["a", "b"]


@pytest.mark.parametrize(
    ("line2", "expected"),
    [
        ('{"id": "b", "title": "T", "text": ', "malformed JSON"),
        (json.dumps({"id": "b", "title": "T"}), "'text'"),
        (json.dumps({"id": "b", "title": "T", "text": "   "}), "'text'"),
        (json.dumps({"title": "T", "text": "x"}), "'id'"),
        (json.dumps({"id": "b", "title": "T", "text": 42}), "must be a string"),
        (json.dumps(["b", "T", "x"]), "expected a JSON object, got list"),
        (json.dumps(record("b", published="2022-02-30")), "no such date"),
        (json.dumps(record("b", kind="blog")), "unknown kind"),
    ],
)
def test_jsonl_bad_line_names_file_and_line(write_file: Write, line2: str, expected: str) -> None:
    path = write_file("bad.jsonl", jsonl(record("a")) + line2 + "\n" + jsonl(record("c")))
    message = read_error(path)
    assert f"{path}:2:" in message
    assert expected in message


def test_jsonl_record_without_title_gets_the_start_of_its_text(write_file: Write) -> None:
    text = "Officials in Kharkiv said the shelling had stopped overnight and that repairs to the power grid would begin today."
    path = write_file("untitled.jsonl", jsonl(record("a", title=""), record("b", text=text, title=None)))
    titles = [d.title for d in read_jsonl(path, "t")]
    assert titles[1].endswith(" …") and len(titles[1]) <= 82
    assert text.startswith(titles[1][:-2])
    assert titles[0] and titles[0] in record("a")["text"]


def test_jsonl_duplicate_id_names_both_lines(write_file: Write) -> None:
    path = write_file("dup.jsonl", jsonl(record("a"), record("b"), record("a", text="Other.")))
    message = read_error(path)
    assert f"{path}:3:" in message
    assert "'a'" in message and "line 1" in message


@pytest.mark.parametrize("separator", ["\u2028", "\u2029", "\x85"])
def test_jsonl_text_may_hold_unicode_line_separators(write_file: Write, separator: str) -> None:
    path = write_file("seps.jsonl", jsonl(record("a", text=f"First part.{separator}Second part.")))
    assert [d.id for d in read_jsonl(path, "t")] == ["a"]


# -- folders and batches --------------------------------------------------------------------


def test_read_paths_recurses_and_skips(write_file: Write, tmp_path: Path) -> None:
    write_file("in/top.md", "# Top\n\nText.")
    write_file("in/sub/deeper/note.txt", "Note\nText.")
    write_file("in/sub/many.jsonl", jsonl(record("j1"), record("j2")))
    write_file("in/.hidden.md", "# Hidden\n\nText.")
    write_file("in/.git/config.md", "# Also hidden\n\nText.")
    write_file("in/sub/photo.png", b"\x89PNG")
    write_file("in/README.rst", "Not ours.")
    result = read_paths([tmp_path / "in"], "tester")
    assert sorted(d.id for d in result.documents) == ["j1", "j2", "note", "top"]
    assert sorted(p.name for p in result.skipped) == ["README.rst", "photo.png"]


def test_read_paths_folder_without_supported_files(write_file: Write, tmp_path: Path) -> None:
    write_file("odd/a.docx", b"PK")
    write_file("odd/.secret.md", "# Hidden\n\nText.")
    with pytest.raises(SourceError, match=r"no \.md, \.txt or \.jsonl files"):
        read_paths([tmp_path / "odd"], "t")


def test_read_paths_explicit_files_and_duplicate_ids(write_file: Write) -> None:
    one = write_file("x/report.md", "# One\n\nText one.")
    two = write_file("y/report.txt", "Two\nText two.")
    with pytest.raises(SourceError, match="'report' appears twice"):
        read_paths([one, two], "t")
    jsonl_file = write_file("z.jsonl", jsonl(record("report")))
    with pytest.raises(SourceError, match="appears twice"):
        read_paths([one, jsonl_file], "t")
    assert [d.id for d in read_paths([one], "t").documents] == ["report"]


def test_read_paths_stops_on_any_bad_file(write_file: Write, tmp_path: Path) -> None:
    write_file("mix/good.md", "# Good\n\nText.")
    write_file("mix/bad.txt", b"\x00\x00")
    with pytest.raises(SourceError, match="binary"):
        read_paths([tmp_path / "mix"], "t")


def test_real_news_corpus() -> None:
    documents = read_jsonl(shared_file("corpus/news-2022.jsonl"), "tester")
    assert len(documents) == 397
    assert len({d.id for d in documents}) == 397
    for document in documents:
        assert document.kind is Kind.NEWS
        assert document.published is not None and len(document.published) == 10
        assert "2022-02-24" <= document.published <= "2022-08-06"
        assert document.title and document.text == document.text.strip()


def test_shipped_seed_article_is_the_shared_one() -> None:
    from tests.conftest import SEED_ARTICLE

    assert SEED_ARTICLE.read_bytes() == shared_file("knowledge/turning-tides-2024-11.md").read_bytes()
