"""Files people send to the bot in chat: which are taken, how big, the name they are saved
under, and the intake itself (a private temporary folder, the add, the clean-up).

Both chat adapters ask this before downloading anything, so that a refused upload costs no
bandwidth and reads the same on Telegram and Discord; the adapter only fetches the bytes and
runs the add on the right thread.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from bot.core.actors import Action, Actor, may
from bot.core.admin import FilesAdded, describe
from index.writer import IngestReport
from knowledge.errors import CrisisbotError

from bot.core.messages import (  # the sentences of this flow live with all the others
    NOT_ACCEPTED as NOT_ACCEPTED,
    TOO_BIG as TOO_BIG,
    NOT_HANDED_OVER as NOT_HANDED_OVER,
    SKIPPED as SKIPPED,
)

# -- limits -------------------------------------------------------------------------------------

UPLOAD_SUFFIXES = (".txt", ".md", ".html", ".htm", ".pdf")
"""What chat uploads may be: the readers of `knowledge.readers` for one document a file
(JSONL and CSV bulk imports stay on the terminal, where a mistake is easier to see)."""

MAX_UPLOAD_BYTES = 10 * 1024 * 1024
TEMP_PREFIX = "crisisbot-upload-"

AddFiles = Callable[[list[Path], str], Awaitable[FilesAdded]]
"""The adapter's way to run `KnowledgeAdmin.add_files(actor, paths, label=…)` on its thread."""
Download = Callable[[Path], Awaitable[None]]
"""The adapter's way to fetch the upload's bytes into the given path."""


class UploadError(CrisisbotError):
    """An upload that cannot be taken in (the message names the file, never a temporary path)."""


def safe_upload_name(name: str | None) -> str:
    """The uploaded file's own name, reduced to a safe one that keeps its stem and suffix.

    The stem becomes the document's id and the suffix picks the reader, so both are kept;
    folders, leading dots and characters a file system may not like are dropped.
    """
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    stem, dot, suffix = base.rpartition(".")
    if not dot:
        stem, suffix = base, ""
    stem = re.sub(r"[^\w-]+", "_", stem).strip("_")[:80] or "upload"
    suffix = re.sub(r"[^\w]+", "", suffix).lower()[:10]
    return f"{stem}.{suffix}" if suffix else stem


def upload_problem(name: str, size: int | None) -> str | None:
    """Why an upload is refused before it is downloaded, or None when it may be."""
    if Path(name).suffix.lower() not in UPLOAD_SUFFIXES:
        return NOT_ACCEPTED.format(name=name)
    if size is not None and size > MAX_UPLOAD_BYTES:
        return TOO_BIG.format(name=name, megabytes=size / 1024 / 1024, limit=MAX_UPLOAD_BYTES // 2**20)
    return None


@dataclass(frozen=True)
class UploadOutcome:
    """What an upload did, for the adapter to render."""

    name: str
    report: IngestReport
    skipped: list[Path]

    @property
    def text(self) -> str:
        said = describe(self.report)
        if self.skipped:
            said += "\n" + SKIPPED.format(names=", ".join(p.name for p in self.skipped))
        return said


@dataclass(frozen=True)
class Upload:
    """One file sent in chat, under its safe name; `declared_size` is what the platform says."""

    name: str
    declared_size: int | None = None

    @classmethod
    def of(cls, file_name: str | None, declared_size: int | None) -> Upload:
        return cls(safe_upload_name(file_name), declared_size)

    @property
    def label(self) -> str:
        """How the audit log names the add (the temporary path would mean nothing)."""
        return f"upload {self.name}"

    def check(self, size: int | None = None) -> None:
        """Raise `UploadError` when the file is not one we take (of `size`, else as declared)."""
        problem = upload_problem(self.name, self.declared_size if size is None else size)
        if problem is not None:
            raise UploadError(problem)

    def not_handed_over(self, reason: str) -> UploadError:
        """The error for a platform that would not give the file's bytes."""
        return UploadError(NOT_HANDED_OVER.format(name=self.name, reason=reason))

    async def admit(self, actor: Actor, add: AddFiles) -> None:
        """Before anything is downloaded: refuse one who may not add, or a file we do not take.

        The refusal of a person comes from the core's one gate (`add` with no files raises
        `NotAllowed` and audits it under the file's name); `may` only spares downloading a
        file the core would refuse. An empty path list can read nothing, should the two ever
        disagree.
        """
        if not may(actor, Action.CHANGE_KNOWLEDGE):
            await add([], self.name)
        self.check()

    async def take_in(self, download: Download, add: AddFiles) -> UploadOutcome:
        """Download into a private temporary folder under the safe name, check the real size,
        add, and delete the folder whatever happens."""
        with tempfile.TemporaryDirectory(prefix=TEMP_PREFIX) as folder:
            path = Path(folder) / self.name
            await download(path)
            self.check(path.stat().st_size)  # the declared size may have been wrong
            try:
                added = await add([path], self.label)
            except CrisisbotError as exc:  # readers name the file by its temporary path
                raise UploadError(str(exc).replace(str(path), self.name).replace(f"{folder}/", "")) from exc
        return UploadOutcome(self.name, added.report, added.skipped)
