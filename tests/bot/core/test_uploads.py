"""Chat uploads: the names they are saved under, what is refused before any download, and the
intake (temporary folder, add, clean-up) with the real admin operations."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

import pytest

from bot.core.actors import Actor, NotAllowed
from bot.core.admin import FilesAdded
from bot.core.uploads import (
    MAX_UPLOAD_BYTES,
    AddFiles,
    Download,
    Upload,
    UploadError,
    safe_upload_name,
    upload_problem,
)
from bot.runtime.service import CrisisBot


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


# -- the intake, with the real admin operations ---------------------------------------------------

NOTE = b"Kherson ferry schedule\nThe river ferry between Kherson and Hola Prystan runs twice a day again."


class Intake:
    """An admin and a member of `bot`, with the add run as an adapter runs it."""

    def __init__(self, bot: CrisisBot) -> None:
        self.bot = bot
        self.admin = bot.actor("telegram", 1, "Olena", platform_admin=True)
        self.member = bot.actor("telegram", 2, "Taras")
        self.seen: list[Path] = []

    def add(self, actor: Actor) -> AddFiles:
        async def add(paths: list[Path], label: str) -> FilesAdded:
            self.seen.extend(paths)
            return await asyncio.to_thread(self.bot.admin.add_files, actor, paths, label=label)

        return add

    @staticmethod
    def download(data: bytes) -> Download:
        async def download(path: Path) -> None:
            path.write_bytes(data)

        return download


@pytest.fixture
def intake(bot: CrisisBot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Intake:
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return Intake(bot)


@pytest.mark.asyncio
async def test_a_good_upload_is_added_under_its_safe_name_and_the_folder_deleted(intake: Intake) -> None:
    upload = Upload.of("Ferry notice (v2).TXT", len(NOTE))
    await upload.admit(intake.admin, intake.add(intake.admin))
    outcome = await upload.take_in(intake.download(NOTE), intake.add(intake.admin))
    assert outcome.name == "Ferry_notice_v2.txt" and outcome.text.startswith("added Ferry_notice_v2 (")
    assert intake.bot.store.document_info("Ferry_notice_v2").title == "Kherson ferry schedule"
    assert intake.bot.audit.entries(1)[0].target == "upload Ferry_notice_v2.txt"
    (path,) = intake.seen
    assert path.name == "Ferry_notice_v2.txt" and not path.parent.exists()  # cleaned up
    assert list(Path(tempfile.gettempdir()).iterdir()) == []


@pytest.mark.asyncio
async def test_bad_uploads_are_refused_before_any_download(intake: Intake) -> None:
    with pytest.raises(UploadError, match=r"^I can't add minutes\.docx: send a \.txt"):
        await Upload.of("minutes.docx", 10).admit(intake.admin, intake.add(intake.admin))
    with pytest.raises(UploadError, match=r"^big\.pdf is 11\.0 MB; uploads are limited to 10 MB\.$"):
        await Upload.of("big.pdf", 11 * 1024 * 1024).admit(intake.admin, intake.add(intake.admin))
    with pytest.raises(NotAllowed, match="Only admins may do that."):
        await Upload.of("notes.txt", 10).admit(intake.member, intake.add(intake.member))
    refusal = intake.bot.audit.entries(1)[0]
    assert (refusal.action, refusal.target) == ("add-files", "notes.txt") and refusal.result.startswith("refused")
    assert intake.seen == []


@pytest.mark.asyncio
async def test_a_file_bigger_than_declared_is_refused_after_download_and_deleted(intake: Intake) -> None:
    upload = Upload.of("report.txt", 10)
    with pytest.raises(UploadError, match="uploads are limited to 10 MB"):
        await upload.take_in(intake.download(b"x" * (MAX_UPLOAD_BYTES + 1)), intake.add(intake.admin))
    assert intake.seen == [] and list(Path(tempfile.gettempdir()).iterdir()) == []


@pytest.mark.asyncio
async def test_a_failing_read_names_the_file_not_the_temporary_path(intake: Intake) -> None:
    with pytest.raises(UploadError) as raised:
        await Upload.of("broken.pdf", 9).take_in(intake.download(b"not a pdf"), intake.add(intake.admin))
    assert "broken.pdf" in str(raised.value) and tempfile.gettempdir() not in str(raised.value)
    assert list(Path(tempfile.gettempdir()).iterdir()) == []
    assert "broken" not in {d.id for d in intake.bot.store.documents()}


def test_a_platform_that_will_not_hand_over_the_file_is_told_plainly() -> None:
    error = Upload.of("a.txt", 1).not_handed_over("file is too big")
    assert str(error) == "I could not download a.txt: file is too big"
