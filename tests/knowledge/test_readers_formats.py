"""Readers for saved web pages, PDFs and CSV files, and the size limit every file is held to."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from knowledge import readers
from knowledge.documents import Kind
from knowledge.errors import SourceError
from knowledge.readers import parse_column_mapping, read_csv, read_file, read_paths
from tests.web_server import ARTICLE_HTML, blank_pdf, text_pdf

Write = Callable[[str, "str | bytes"], Path]


def error_of(call: Callable[[], object]) -> str:
    with pytest.raises(SourceError) as caught:
        call()
    return str(caught.value)


# -- HTML and PDF -------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["grain.html", "grain.HTM"])
def test_a_saved_page_reads_like_a_fetched_one(write_file: Write, name: str) -> None:
    path = write_file(name, ARTICLE_HTML)
    [document] = read_file(path, "tester")
    assert document.id == path.stem
    assert document.title == "Grain corridor reopens after talks"
    assert document.published == "2024-11-20"
    assert document.publisher == "Kyiv Ledger"
    assert document.url is None and document.kind is Kind.OTHER
    assert "Twelve ships left Odesa" in document.text
    assert "newsletter" not in document.text


def test_a_page_without_article_text_is_refused(write_file: Write) -> None:
    path = write_file("empty.html", "<html><head><title>Empty</title></head><body></body></html>")
    message = error_of(lambda: read_file(path, "tester"))
    assert message.startswith(f"{path}: no article text found")


def test_a_pdf_with_a_text_layer(write_file: Write) -> None:
    path = write_file("sitrep.pdf", text_pdf(["Situation report", "Power cuts affected 4 million people."]))
    [document] = read_file(path, "tester")
    assert document.id == "sitrep"
    assert document.title == "Situation report"
    assert "Power cuts affected 4 million people." in document.text


def test_a_scanned_pdf_is_refused(write_file: Write) -> None:
    path = write_file("scan.pdf", blank_pdf())
    assert error_of(lambda: read_file(path, "tester")) == f"{path}: no text found in the PDF (is it a scan?)"


def test_files_over_the_limit_are_refused_before_reading(
    write_file: Write, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(readers, "MAX_FILE_BYTES", 1000)
    path = write_file("big.md", "# Big\n\n" + "word " * 400)

    def never(self: Path) -> bytes:
        raise AssertionError("read a file that was too large")

    monkeypatch.setattr(Path, "read_bytes", never)
    message = error_of(lambda: read_file(path, "tester"))
    assert message.startswith(f"{path}: too large") and "split it" in message


def test_one_bad_pdf_in_a_folder_stops_the_batch(write_file: Write, tmp_path: Path) -> None:
    write_file("in/a.md", "# A\n\nText.")
    write_file("in/b.pdf", blank_pdf())
    message = error_of(lambda: read_paths([tmp_path / "in"], "tester"))
    assert "b.pdf: no text found" in message


# -- CSV ------------------------------------------------------------------------------------


def test_csv_with_default_columns_bom_and_multiline_fields(write_file: Write) -> None:
    content = (
        "\ufeffid,title,text,url,kind,published,extra\r\n"
        'n1,Grain deal,"First line.\r\nSecond line, with a comma and ""quotes"".",'
        "https://example.org/n1,news,2024-11,x\r\n"
        "n2,,No title here.,,,,\r\n"
    )
    path = write_file("batch.csv", content.encode("utf-8"))
    first, second = read_file(path, "tester")
    assert (first.id, first.title, first.kind, first.published) == ("n1", "Grain deal", Kind.NEWS, "2024-11")
    assert first.text == 'First line.\nSecond line, with a comma and "quotes".'
    assert first.url == "https://example.org/n1"
    assert (second.id, second.title, second.url) == ("n2", "No title here.", None)


def test_csv_with_a_column_mapping(write_file: Write) -> None:
    path = write_file("export.csv", "slug,headline,body\na,Headline A,Body of A.\n")
    [document] = read_csv(path, parse_column_mapping("id=slug, text=body,title=headline"), "tester")
    assert (document.id, document.title, document.text) == ("a", "Headline A", "Body of A.")
    result = read_paths([path], "tester", csv_columns={"id": "slug", "text": "body", "title": "headline"})
    assert [d.id for d in result.documents] == ["a"]


def test_csv_errors_name_the_line_and_the_column(write_file: Write) -> None:
    good = "id,title,text\n"
    cases = {
        "a.csv": (good + "a,A,Text.\n\nb,B,\n", None, ":4: empty text (column 'text')"),
        "b.csv": ("id,title,body\na,A,Text.\n", None, ":1: missing column 'text'"),
        "c.csv": (good + "a,A,Text.\n", {"text": "body"}, ":1: unknown column 'body' (mapped to text)"),
        "d.csv": (good + 'a,A,"multi\nline"\na,B,Again.\n', None, ":4: duplicate id 'a' (first on line 2)"),
        "e.csv": (good + "a,A,Text.,extra\n", None, ":2: 4 fields, but the header has 3"),
        "f.csv": (good + 'a,A,"never closed\n', None, "malformed CSV"),
        "g.csv": ("", None, "empty document (no header row)"),
        "h.csv": (good, None, "empty document (a header but no records)"),
        "i.csv": (good + "a,A,Text.\n", {"body": "text"}, "unknown field 'body'"),
        "j.csv": (good + ",A,Text.\n", None, ":2: empty id (column 'id')"),
    }
    for name, (content, mapping, expected) in cases.items():
        path = write_file(name, content)
        message = error_of(lambda: read_csv(path, mapping, "tester"))
        assert message.startswith(str(path)) and expected in message, (name, message)


def test_csv_accepts_long_fields(write_file: Write) -> None:
    text = "A long sentence about the front line. " * 5000  # beyond csv's default 128 KB field
    path = write_file("long.csv", f'id,title,text\na,A,"{text}"\n')
    [document] = read_csv(path, None, "tester")
    assert len(document.text) == len(text.strip())


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("text", "write FIELD=COLUMN"),
        ("body=text", "unknown field 'body'"),
        ("text=", "no column name"),
        ("text=a,text=b", "'text' is mapped twice"),
        (" , ", "empty column mapping"),
    ],
)
def test_parse_column_mapping_errors(spec: str, expected: str) -> None:
    assert expected in error_of(lambda: parse_column_mapping(spec))


def test_parse_column_mapping() -> None:
    assert parse_column_mapping("text=body,title=headline") == {"text": "body", "title": "headline"}
    assert parse_column_mapping(" id = My Id ") == {"id": "My Id"}
