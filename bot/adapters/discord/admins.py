"""The admins' cog: the `/kb` group (add, list, remove, re-kind and refresh sources, feeds,
the audit log, coverage gaps and usage statistics), its list pager, and the scheduled feed poll.

Translation only: every command calls one `KnowledgeAdmin` operation with the person's `Actor`,
and the core's one role check decides (and audits refusals). The group is hidden from members
with `default_permissions`, but that is only a display hint: a server can change the overwrite
and a stale client can still send the command, so nothing here trusts it. How each response is
acknowledged and edited: `bot.adapters.discord.kb_response`.

Which thread a command runs on (`bot.runtime.executors`; each command says so in its `_respond`
call): every change, quick or long, runs on the process's one knowledge thread (add-url,
add-file, add-text, remove, set-kind, refresh, subscribe, unsubscribe, poll, and the scheduled
poll), so however many imports are waiting, members' questions keep the question pool to
themselves. The reads (list and its buttons, show, log, feeds, gaps, stats) run on the question
pool like any other read: an admin can look at the knowledge base while an import runs, and a
read never waits behind one.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import discord
from discord import app_commands
from discord.ext import commands, tasks

from bot.adapters.discord.core_calls import NO_MENTIONS, CoreCalls, cog_of, refused_privately
from bot.adapters.discord.formatting import COLOUR, FIELD_VALUE_LIMIT, TITLE_LIMIT
from bot.adapters.discord.kb_format import code_block, lines_embed, plain
from bot.adapters.discord.kb_response import ProgressEdits, Reply, edit_original, outcome, text
from bot.core.actors import Actor
from bot.core.admin import MAX_STATS_WEEKS, FilesAdded, KnowledgeAdmin, Page, describe
from bot.core.kb_requests import (
    BUTTON_EXPIRED, DEFAULT_STATS_WEEKS, LOG_PER_PAGE, ListFilters, ListRequest, PageButtons, list_request,
)
from bot.core.messages import (
    KB_FEEDS_TITLE, KB_FIRST_PASSAGE, KB_GAPS_TITLE, KB_KIND_SET, KB_LIST_FOOTER, KB_LOG_FOOTER, KB_LOG_TITLE,
    KB_NO_ENTRIES, KB_NO_MATCH, KB_POLLED_TITLE, KB_REMOVED, KB_STATS_TITLE, KB_SUBSCRIBED, KB_TITLE,
    KB_UNSUBSCRIBED, NEXT, PREVIOUS,
)
from bot.core.progress import DOCUMENTS_ADDED, FEEDS_POLLED
from bot.core.render import audit_line, display_line, document_lines, gap_lines, poll_lines, stats_lines, subscription_lines
from bot.core.uploads import Upload
from bot.runtime.sections import DiscordSection
from index.writer import IngestReport, Progress
from knowledge.documents import DocumentInfo, Kind
from knowledge.errors import CrisisbotError

T = TypeVar("T")
LIST_ID = "crisisbot:kb-list:{label}:"  # then the core's page payload
KIND_CHOICES = [app_commands.Choice(name=kind.value, value=kind.value) for kind in Kind]
KIND_HELP = "What sort of source it is"
ID_HELP = "The document id (see /kb list)"

Work = Callable[[KnowledgeAdmin, Actor, Progress], T]


def ingested(report: IngestReport) -> Reply:
    return Reply(plain(describe(report)))


@app_commands.default_permissions(manage_guild=True)
class Admins(commands.GroupCog, group_name="kb", group_description="Admins: manage the knowledge base and its feeds."):
    """`core` runs the operations (changes on the knowledge thread); `config` has the feed
    poll's interval; `pages` holds the list buttons' payloads (filters kept for long ones)."""

    def __init__(self, core: CoreCalls, config: DiscordSection) -> None:
        super().__init__()
        self.core = core
        self.pages = PageButtons()
        self.feed_loop = feed_poll_loop(core, config.schedules.feed_poll_minutes) if config.schedules.run_schedules else None

    async def cog_load(self) -> None:
        if self.feed_loop is not None:
            self.feed_loop.start()

    async def cog_unload(self) -> None:
        if self.feed_loop is not None:
            self.feed_loop.cancel()

    async def _respond(self, interaction: discord.Interaction[Any], work: Work[T], render: Callable[[T], Reply], *,
                       changes: bool, unit: str = DOCUMENTS_ADDED) -> None:
        """Acknowledge privately at once, run `work` with progress edits, then edit the rendered
        result (or the error) into the response.

        `changes`: `work` changes the knowledge base and runs on the knowledge thread; a read
        (False) runs on the question pool. Every command says which, so none lands on the
        question pool by default.
        """
        actor = await self.core.actor_of(interaction)
        await interaction.response.defer(ephemeral=True, thinking=True)
        edits = ProgressEdits(partial(edit_original, interaction), unit=unit)
        admin = self.core.service.admin

        async def act() -> Reply:
            if changes:
                return render(await self.core.run_change(partial(work, admin), actor, edits.progress))
            return render(await self.core.run_core(work, admin, actor, edits.progress))

        name = interaction.command.name if interaction.command else "command"
        await edits.finish(await outcome(act(), name))

    @app_commands.command(name="add-url")
    @app_commands.describe(url="A web page or PDF (http or https)", kind=KIND_HELP)
    @app_commands.choices(kind=KIND_CHOICES)
    async def add_url(self, interaction: discord.Interaction[Any], url: str, kind: str | None = None) -> None:
        """Fetch a web page or PDF and add it; the same URL again replaces it."""
        await self._respond(interaction, lambda kb, actor, progress: kb.add_url(actor, url, kind, progress), ingested,
                      changes=True)

    @app_commands.command(name="add-file")
    @app_commands.describe(file="A .txt, .md, .html, .htm or .pdf file of at most 10 MB", kind=KIND_HELP)
    @app_commands.choices(kind=KIND_CHOICES)
    async def add_file(self, interaction: discord.Interaction[Any], file: discord.Attachment,
                       kind: str | None = None) -> None:
        """Add an uploaded file (.txt, .md, .html, .htm, .pdf; at most 10 MB)."""
        actor = await self.core.actor_of(interaction)
        await interaction.response.defer(ephemeral=True, thinking=True)
        edits = ProgressEdits(partial(edit_original, interaction))
        await edits.finish(await outcome(self._add_file(actor, file, kind, edits.progress), "add-file"))

    @app_commands.command(name="add-text")
    @app_commands.describe(title="The title citations show", text="The text (a statement, a transcript)",
                           kind=KIND_HELP)
    @app_commands.choices(kind=KIND_CHOICES)
    async def add_text(self, interaction: discord.Interaction[Any], title: app_commands.Range[str, 1, 300],
                       text: app_commands.Range[str, 1, 6000], kind: str | None = None) -> None:
        """Add pasted text under a title; the same title again replaces it.

        A slash option takes up to 6000 characters, more than a modal's paragraph input (4000).
        """
        await self._respond(interaction, lambda kb, actor, _: kb.add_text(actor, title, text, kind), ingested, changes=True)

    @app_commands.command(name="list")
    @app_commands.describe(page="Page number, from 1", publisher="Only this publisher", kind="Only this kind",
                           since="Published on or after (YYYY, YYYY-MM or YYYY-MM-DD)", until="Published up to")
    @app_commands.choices(kind=KIND_CHOICES)
    async def list_documents(self, interaction: discord.Interaction[Any], page: app_commands.Range[int, 1] = 1,
                             publisher: str | None = None, kind: str | None = None,
                             since: str | None = None, until: str | None = None) -> None:
        """List the documents, newest first, optionally filtered."""
        request = list_request(page, publisher, kind, since, until)
        await self._respond(interaction, lambda kb, actor, _: _list(kb, actor, request),
                      lambda listed: list_reply(listed, request.filters, self.pages), changes=False)

    @app_commands.command(name="show")
    @app_commands.rename(document="id")
    @app_commands.describe(document=ID_HELP)
    async def show(self, interaction: discord.Interaction[Any], document: str) -> None:
        """Show a document's details and its first passage."""
        await self._respond(interaction, lambda kb, actor, _: kb.show(actor, document), show_reply, changes=False)

    @app_commands.command(name="remove")
    @app_commands.rename(document="id")
    @app_commands.describe(document=ID_HELP)
    async def remove(self, interaction: discord.Interaction[Any], document: str) -> None:
        """Remove a document with its passages."""
        await self._respond(interaction, lambda kb, actor, _: kb.remove(actor, document),
                      lambda removed: text(KB_REMOVED.format(document=document, passages=removed)), changes=True)

    @app_commands.command(name="set-kind")
    @app_commands.rename(document="id")
    @app_commands.describe(document=ID_HELP, kind=KIND_HELP)
    @app_commands.choices(kind=KIND_CHOICES)
    async def set_kind(self, interaction: discord.Interaction[Any], document: str, kind: str) -> None:
        """Say what sort of source a document is; citations show it."""
        await self._respond(interaction, lambda kb, actor, _: kb.set_kind(actor, document, kind),
                      lambda info: text(KB_KIND_SET.format(document=info.id, kind=info.kind.value)), changes=True)

    @app_commands.command(name="refresh")
    @app_commands.rename(document="id")
    @app_commands.describe(document=ID_HELP)
    async def refresh(self, interaction: discord.Interaction[Any], document: str) -> None:
        """Fetch a document's URL again and store the new text."""
        await self._respond(interaction, lambda kb, actor, progress: kb.refresh(actor, document, progress), ingested,
                      changes=True)

    @app_commands.command(name="log")
    @app_commands.describe(page="Page number, from 1 (20 entries a page, newest first)")
    async def log(self, interaction: discord.Interaction[Any], page: app_commands.Range[int, 1] = 1) -> None:
        """Show the audit log of changes and refusals, newest first."""
        await self._respond(interaction, lambda kb, actor, _: kb.log(actor, LOG_PER_PAGE, page), lambda entries: Reply(
            embed=lines_embed(KB_LOG_TITLE, [audit_line(e) for e in entries] or [KB_NO_ENTRIES],
                                   KB_LOG_FOOTER.format(page=page))),
            changes=False)

    @app_commands.command(name="subscribe")
    @app_commands.describe(url="The RSS or Atom feed's address")
    async def subscribe(self, interaction: discord.Interaction[Any], url: str) -> None:
        """Follow an RSS or Atom feed; new entries are added at each poll."""
        await self._respond(interaction, lambda kb, actor, _: kb.subscribe(actor, url), lambda sub: text(
            KB_SUBSCRIBED.format(feed=sub.title or sub.url)), changes=True)

    @app_commands.command(name="unsubscribe")
    @app_commands.describe(url="The feed's address (see /kb feeds)")
    async def unsubscribe(self, interaction: discord.Interaction[Any], url: str) -> None:
        """Stop following a feed; its documents stay."""
        await self._respond(interaction, lambda kb, actor, _: kb.unsubscribe(actor, url),
                      lambda _: text(KB_UNSUBSCRIBED.format(url=url)), changes=True)

    @app_commands.command(name="feeds")
    async def feeds(self, interaction: discord.Interaction[Any]) -> None:
        """List the subscribed feeds and how their last poll went."""
        await self._respond(interaction, lambda kb, actor, _: kb.feeds(actor),
                      lambda subs: Reply(embed=lines_embed(KB_FEEDS_TITLE, subscription_lines(subs))), changes=False)

    @app_commands.command(name="poll")
    async def poll(self, interaction: discord.Interaction[Any]) -> None:
        """Poll every subscribed feed now."""
        await self._respond(interaction, lambda kb, actor, progress: kb.poll_feeds(actor, progress),
                      lambda reports: Reply(embed=lines_embed(KB_POLLED_TITLE, poll_lines(reports))), changes=True,
                      unit=FEEDS_POLLED)

    @app_commands.command(name="gaps")
    @app_commands.describe(since="Questions asked on or after (YYYY, YYYY-MM or YYYY-MM-DD)")
    async def gaps(self, interaction: discord.Interaction[Any], since: str | None = None) -> None:
        """What people asked that the knowledge base could not answer, grouped."""
        await self._respond(interaction, lambda kb, actor, _: kb.gaps(actor, since),
                      lambda groups: Reply(embed=lines_embed(KB_GAPS_TITLE, gap_lines(groups))), changes=False)

    @app_commands.command(name="stats")
    @app_commands.describe(weeks=f"How many recent weeks to show (1-{MAX_STATS_WEEKS})")
    async def stats(self, interaction: discord.Interaction[Any],
                    weeks: app_commands.Range[int, 1, MAX_STATS_WEEKS] = DEFAULT_STATS_WEEKS) -> None:
        """Totals, and documents, questions and votes by week."""
        await self._respond(interaction, lambda kb, actor, _: kb.stats(actor, weeks),
                      lambda stats: Reply(embed=lines_embed(KB_STATS_TITLE, stats_lines(stats))),
                      changes=False)


    async def _add_file(self, actor: Actor, file: discord.Attachment, kind: str | None, progress: Progress) -> Reply:
        """The core's upload intake: refused before any download, else fetched, added, deleted."""
        upload = Upload.of(file.filename, file.size)

        async def add(paths: list[Path], label: str) -> FilesAdded:
            return await self.core.run_change(partial(self.core.service.admin.add_files, label=label, kind=kind),
                                              actor, paths, progress if paths else None)

        async def download(path: Path) -> None:
            try:
                path.write_bytes(await file.read())
            except discord.HTTPException as exc:
                raise upload.not_handed_over(exc.text or str(exc.status)) from exc

        await upload.admit(actor, add)
        taken = await upload.take_in(download, add)
        return Reply(plain(taken.text))

    async def turn_page(self, interaction: discord.Interaction[Any], payload: str) -> None:
        """A Previous / Next press: the core checks the presser's role again, like the command."""
        actor = await self.core.actor_of(interaction)
        await interaction.response.defer()  # edit the listing in place, once the page is read
        request = self.pages.decode(payload)
        try:
            if request is None:
                raise CrisisbotError(BUTTON_EXPIRED)
            page = await self.core.run_core(_list, self.core.service.admin, actor, request)
        except CrisisbotError as exc:
            await interaction.followup.send(plain(str(exc)), ephemeral=True, allowed_mentions=NO_MENTIONS)
            return
        await edit_original(interaction, list_reply(page, request.filters, self.pages))


# -- the listing and its page buttons -------------------------------------------------------------


class KbListButton(discord.ui.DynamicItem[discord.ui.Button[Any]],
                   template=r"crisisbot:kb-list:(?P<label>prev|next):(?P<payload>[0-9]+(?::.*)?)"):
    """Paging of `/kb list`; the page and the filters are in the id (the core's page payload),
    so old buttons still work after a restart unless their filters were too long to fit. The
    click goes through the core's role check like the command."""

    def __init__(self, label: str, custom_id: str) -> None:
        super().__init__(discord.ui.Button(
            label=PREVIOUS if label == "prev" else NEXT, style=discord.ButtonStyle.secondary, custom_id=custom_id,
        ))
        self.payload = custom_id.removeprefix(LIST_ID.format(label=label))

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any],
                             match: re.Match[str], /) -> KbListButton:
        return cls(match["label"], match.string)

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        await refused_privately(interaction, cog_of(interaction, Admins).turn_page(interaction, self.payload))


BUTTONS = (KbListButton,)


def _list(admin: KnowledgeAdmin, actor: Actor, request: ListRequest) -> Page:
    return admin.list(actor, request.page, request.per_page, **request.filters.as_kwargs())


def list_view(page: int, pages: int, filters: ListFilters, payloads: PageButtons) -> discord.ui.View | None:
    """Previous / Next as needed."""
    if pages <= 1:
        return None
    view = discord.ui.View(timeout=None)
    for label, target in (("prev", page - 1), ("next", page + 1)):
        if 1 <= target <= pages:
            view.add_item(KbListButton(label, payloads.encode(LIST_ID.format(label=label), target, filters)))
    return view


def list_reply(page: Page, filters: ListFilters, payloads: PageButtons) -> Reply:
    lines = [line for doc in page.items for line in document_lines(doc)] or [KB_NO_MATCH]
    footer = KB_LIST_FOOTER.format(page=page.page, pages=page.pages, total=page.total)
    view = list_view(page.page, page.pages, filters, payloads)
    return Reply(embed=lines_embed(KB_TITLE, lines, footer), view=view)


def show_reply(shown: tuple[DocumentInfo, str]) -> Reply:
    info, passage = shown
    title = plain(display_line(info.title, info.id), TITLE_LIMIT)
    embed = discord.Embed(title=title, description=code_block(document_lines(info)), colour=COLOUR)
    if passage.strip():
        embed.add_field(name=KB_FIRST_PASSAGE, value=plain(passage, FIELD_VALUE_LIMIT), inline=False)
    return Reply(embed=embed)


# -- the scheduled feed poll ----------------------------------------------------------------------


def feed_poll_loop(core: CoreCalls, minutes: int) -> tasks.Loop[Any] | None:
    """Every `minutes` (none when 0): poll all feeds on the knowledge thread, log one line.

    The first poll comes one interval after start, not at once: a bot restarted often (or
    crash-looping) must not fetch every feed each time.
    """
    if minutes <= 0:
        return None

    async def poll_feeds() -> None:
        # The core never raises here (an exception would end the tasks.loop and every later
        # poll): it audits each feed and logs the run.
        await core.run_scheduled_poll()

    loop: tasks.Loop[Any] = tasks.loop(minutes=minutes)(poll_feeds)

    @loop.before_loop
    async def wait_one_interval() -> None:
        await asyncio.sleep(minutes * 60)

    return loop
