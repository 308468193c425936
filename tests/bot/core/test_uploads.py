"""Chat uploads: the names they are saved under and what is refused before any download."""

from __future__ import annotations

import pytest

from bot.core.uploads import MAX_UPLOAD_BYTES, safe_upload_name, upload_problem


@pytest.mark.parametrize(
    ("sent", "saved"),
    [
        ("../../etc/passwd", "passwd"),
        ("../../etc/passwd.TXT", "passwd.txt"),
        ("C:\\Users\\me\\звіт 2024.md", "звіт_2024.md"),
        ("Ferry notice (v2).MD", "Ferry_notice_v2.md"),
        (".bashrc", "upload.bashrc"),
        (".md", "upload.md"),
        (None, "upload"),
        ("x" * 300 + ".pdf", "x" * 80 + ".pdf"),
    ],
)
def test_uploaded_file_names_are_made_safe(sent: str | None, saved: str) -> None:
    assert safe_upload_name(sent) == saved


def test_what_is_refused_before_downloading() -> None:
    assert upload_problem("notes.txt", 10) is None
    assert upload_problem("Report.PDF", MAX_UPLOAD_BYTES) is None
    assert upload_problem("report.pdf", None) is None  # the size is checked again after download
    assert "send a .txt, .md, .html, .htm or .pdf file" in (upload_problem("minutes.docx", 10) or "")
    assert "send a .txt" in (upload_problem("corpus.jsonl", 10) or "")  # bulk imports: terminal only
    assert upload_problem("big.pdf", MAX_UPLOAD_BYTES + 1) == "big.pdf is 10.0 MB; uploads are limited to 10 MB."
