"""Admin operations: one role check, everything audited, nothing half-written.

Uses the fast hashing embedder (no model judgement needed) and a stand-in web server on
127.0.0.1, which the bot may fetch only with `allow_private_urls`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from bot.core.actors import Actor, NotAllowed
from bot.core.admin import AdminError, describe
from bot.core.new_documents import MAX_TEXT_CHARS, text_document_id
from bot.runtime.service import CrisisBot
from index.search_index import SearchIndex
from index.writer import IngestReport
from knowledge.documents import Kind
from knowledge.errors import CrisisbotError, SourceError, StoreError
from knowledge.extraction import document_id
from tests.web_server import ARTICLE_HTML, LocalServer


def admin_of(bot: CrisisBot) -> Actor:
    return bot.actor("telegram", 42, "Olena", platform_admin=True)


def member_of(bot: CrisisBot) -> Actor:
    return bot.actor("telegram", 7, "Petro")


def last_result(bot: CrisisBot) -> str:
    return bot.audit.entries(limit=1)[0].result


STATEMENT = "The ministry said the grain corridor would stay open through the winter. Ports are insured."


def add_statement(bot: CrisisBot, title: str = "Corridor statement", **extra: object) -> str:
    report = bot.admin.add_text(admin_of(bot), title, extra.pop("text", STATEMENT), **extra)  # type: ignore[arg-type]
    return (report.added or report.replaced)[0]


# -- roles and refusals ---------------------------------------------------------------------


def test_a_member_is_refused_everything_and_each_refusal_is_audited(bot: CrisisBot, web: LocalServer, tmp_path: Path) -> None:
    doc = add_statement(bot)
    generation = bot.store.generation()
    member = member_of(bot)
    story = tmp_path / "story.md"
    story.write_text("---\ntitle: Story\n---\nSome text.\n")
    attempts: list[tuple[str, Callable[[], object]]] = [
        ("add-url", lambda: bot.admin.add_url(member, web.url("/article"))),
        ("add-text", lambda: bot.admin.add_text(member, "Title", "Text.")),
        ("add-files", lambda: bot.admin.add_files(member, [story])),
        ("remove", lambda: bot.admin.remove(member, doc)),
        ("set-kind", lambda: bot.admin.set_kind(member, doc, "news")),
        ("refresh", lambda: bot.admin.refresh(member, doc)),
        ("list", lambda: bot.admin.list(member)),
        ("show", lambda: bot.admin.show(member, doc)),
        ("log", lambda: bot.admin.log(member)),
    ]
    for action, attempt in attempts:
        with pytest.raises(NotAllowed, match="Only admins"):
            attempt()
        entry = bot.audit.entries(limit=1)[0]
        assert (entry.action, entry.result, entry.who) == (action, "refused: not an admin", "Petro (telegram:7)")
    assert web.seen == []  # nothing was fetched
    assert bot.store.generation() == generation  # nothing was written
    assert [d.id for d in bot.sources()] == [doc]
    assert bot.store.document_info(doc).kind is Kind.OTHER


def test_moderators_are_not_admins(bot: CrisisBot) -> None:
    moderator = bot.actor("discord", 5, "Mod", platform_moderator=True)
    with pytest.raises(NotAllowed):
        bot.admin.add_text(moderator, "Title", "Text.")
    assert last_result(bot) == "refused: not an admin"


def test_the_terminal_operator_is_an_admin(bot: CrisisBot) -> None:
    operator = bot.local_operator("ops")
    assert (operator.platform, operator.user_id, operator.name) == ("cli", "ops", "ops")
    assert bot.admin.log(operator) == []


# -- add-url ------------------------------------------------------------------------------------


def test_add_url_fetches_extracts_ingests_and_audits(bot: CrisisBot, web: LocalServer) -> None:
    url = web.url("/article")
    seen: list[tuple[int, int]] = []
    report = bot.admin.add_url(admin_of(bot), url, "news", progress=lambda d, t: seen.append((d, t)))
    doc = document_id(url)
    assert report.added == [doc] and report.passages >= 1
    assert seen and seen[-1] == (1, 1)
    info, first = bot.admin.show(admin_of(bot), doc)
    assert (info.title, info.kind, info.url, info.published) == (
        "Grain corridor reopens after talks", Kind.NEWS, url, "2024-11-20")
    assert info.added_by == "telegram:42"
    assert "grain corridor reopened" in first
    entry = bot.audit.entries(limit=1)[0]
    assert (entry.action, entry.target) == ("add-url", url)
    assert entry.result == f"ok: added {doc} ({report.passages} passages)"


def test_private_addresses_are_refused_by_default_and_the_refusal_audited(
    make_bot: Callable[..., CrisisBot], web: LocalServer
) -> None:
    bot = make_bot(allow_private_urls=False)
    with pytest.raises(SourceError, match="127.0.0.1"):
        bot.admin.add_url(admin_of(bot), web.url("/article"))
    assert web.seen == []
    assert last_result(bot).startswith("error: ") and "127.0.0.1" in last_result(bot)
    assert bot.store.document_count() == 0


@pytest.mark.parametrize(
    ("path", "message"),
    [("/missing", "404"), ("/image", "unsupported content type"), ("/scan.pdf", "no text found")],
)
def test_a_failing_url_writes_nothing_and_is_audited(bot: CrisisBot, web: LocalServer, path: str, message: str) -> None:
    with pytest.raises(SourceError, match=message):
        bot.admin.add_url(admin_of(bot), web.url(path))
    assert message in last_result(bot) and last_result(bot).startswith("error: ")
    assert bot.store.document_count() == 0 and bot.store.generation() == 0


def test_a_bad_kind_is_refused_before_fetching(bot: CrisisBot, web: LocalServer) -> None:
    with pytest.raises(SourceError, match="unknown kind 'gossip'.*fact-check"):
        bot.admin.add_url(admin_of(bot), web.url("/article"), "gossip")
    assert web.seen == []


# -- add-text ---------------------------------------------------------------------------------


def test_add_text_with_metadata(bot: CrisisBot) -> None:
    doc = add_statement(bot, kind="official-statement", published="2024-11", publisher=" Ministry ",
                        url="https://example.org/statement")
    assert doc == document_id("https://example.org/statement")
    info = bot.store.document_info(doc)
    assert (info.kind, info.published, info.publisher, info.url) == (
        Kind.OFFICIAL_STATEMENT, "2024-11", "Ministry", "https://example.org/statement")
    assert bot.store.document_text(doc) == STATEMENT
    assert last_result(bot).startswith(f"ok: added {doc} (")


def test_pasting_again_under_the_same_title_replaces_the_text(bot: CrisisBot) -> None:
    first = add_statement(bot, "  Corridor   statement ")
    assert first == text_document_id("Corridor statement")
    again = add_statement(bot, text="The corridor closes on Monday.")
    assert again == first and bot.store.document_count() == 1
    assert bot.store.document_text(first) == "The corridor closes on Monday."
    assert last_result(bot).startswith(f"ok: replaced {first}")
    bot.admin.add_text(admin_of(bot), "Corridor statement", "The corridor closes on Monday.")
    assert last_result(bot) == "ok: unchanged"


@pytest.mark.parametrize(
    ("title", "text", "extra", "message"),
    [
        ("Title", "   \n\t ", {}, "the text is empty"),
        ("  ", "Some text.", {}, "give the text a title"),
        ("T" * 301, "Some text.", {}, "the title is too long"),
        ("Title", "x" * (MAX_TEXT_CHARS + 1), {}, "the text is too long (200,001 characters; the limit is 200,000)"),
        ("Title", "Some text.", {"published": "2024-13-01"}, "bad published date"),
        ("Title", "Some text.", {"kind": "blog"}, "unknown kind 'blog'"),
        ("Title", "Some text.", {"url": "ftp://example.org/x"}, "http"),
    ],
)
def test_bad_pasted_text_is_refused_clearly_and_audited(
    bot: CrisisBot, title: str, text: str, extra: dict[str, str], message: str
) -> None:
    with pytest.raises(SourceError) as caught:
        bot.admin.add_text(admin_of(bot), title, text, **extra)  # type: ignore[arg-type]
    assert message in str(caught.value)
    assert last_result(bot) == f"error: {caught.value}"
    assert bot.store.document_count() == 0


def test_add_files_goes_through_the_readers(bot: CrisisBot, tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.md").write_text("---\ntitle: A\nkind: fact-check\n---\nClaim checked: false.\n")
    (tmp_path / "in" / "b.txt").write_text("B\nAnother text.\n")
    added = bot.admin.add_files(admin_of(bot), [tmp_path / "in"])
    assert sorted(added.report.added) == ["a", "b"]
    assert bot.store.document_info("a").kind is Kind.FACT_CHECK
    assert bot.store.document_info("b").added_by == "telegram:42"
    assert last_result(bot) == f"ok: 2 added, 0 replaced, 0 unchanged ({added.report.passages} passages)"
    with pytest.raises(SourceError, match="no such file"):
        bot.admin.add_files(admin_of(bot), [tmp_path / "nope.md"])
    assert "no such file" in last_result(bot)


# -- remove, set-kind -------------------------------------------------------------------------


def searchable(bot: CrisisBot) -> set[int]:
    """The passage ids a vector search can still return (FAISS file or pgvector)."""
    probe = np.ones(bot.embedder.dimension, dtype=np.float32) / np.sqrt(bot.embedder.dimension)
    return {passage_id for passage_id, _ in bot.index.search(probe, 1000)}


def test_remove_takes_passages_and_vectors_and_is_audited(bot: CrisisBot) -> None:
    doc = add_statement(bot)
    passages = bot.store.passage_ids().tolist()
    assert bot.admin.remove(admin_of(bot), doc) == len(passages) >= 1
    assert bot.store.document_count() == 0 and searchable(bot) == set()
    assert last_result(bot) == f"ok: removed {doc} 'Corridor statement' ({len(passages)} passages)"
    with pytest.raises(StoreError, match="no document with id 'gone'"):
        bot.admin.remove(admin_of(bot), "gone")
    assert last_result(bot).startswith("error: no document with id 'gone'")


def test_set_kind_changes_citations_and_moves_the_generation(bot: CrisisBot) -> None:
    doc = add_statement(bot)
    generation = bot.store.generation()
    info = bot.admin.set_kind(admin_of(bot), doc, "Fact Check")
    assert info.kind is Kind.FACT_CHECK and bot.store.document_info(doc).kind is Kind.FACT_CHECK
    assert bot.store.generation() == generation + 1
    if isinstance(bot.index, SearchIndex):  # the FAISS copy needs no repair
        assert bot.index.vectors.generation == bot.store.generation()
    passage = bot.store.passage_ids()[0]
    assert bot.store.stored_passages([int(passage)])[int(passage)].document.kind is Kind.FACT_CHECK
    assert last_result(bot) == f"ok: {doc} kind other -> fact-check"


@pytest.mark.parametrize(("doc", "kind", "error", "message"), [
    ("missing", "news", StoreError, "no document with id 'missing'"),
    (None, "rumour", SourceError, "unknown kind 'rumour'"),
    (None, "", SourceError, "say which kind"),
])
def test_set_kind_errors(bot: CrisisBot, doc: str | None, kind: str, error: type[CrisisbotError], message: str) -> None:
    existing = add_statement(bot)
    generation = bot.store.generation()
    with pytest.raises(error, match=message):
        bot.admin.set_kind(admin_of(bot), doc or existing, kind)
    assert message in last_result(bot)
    assert bot.store.generation() == generation


# -- refresh ----------------------------------------------------------------------------------


def test_refresh_replaces_the_text_under_the_same_id(bot: CrisisBot, web: LocalServer) -> None:
    url = web.url("/changing")
    doc = bot.admin.add_url(admin_of(bot), url, "news").added[0]
    bot.admin.set_kind(admin_of(bot), doc, "analysis")
    old_passages = set(bot.store.passage_ids().tolist())

    report = bot.admin.refresh(admin_of(bot), doc)
    assert report.unchanged == [(doc, doc)] and last_result(bot) == "ok: unchanged"

    web.changing_html = ARTICLE_HTML.replace("Twelve ships", "Fifteen ships")
    seen: list[tuple[int, int]] = []
    report = bot.admin.refresh(bot.local_operator("ops"), doc, progress=lambda d, t: seen.append((d, t)))
    assert report.replaced == [doc] and report.added == [] and seen[-1] == (1, 1)
    assert "Fifteen ships" in bot.store.document_text(doc)
    assert bot.store.document_count() == 1
    new_passages = set(bot.store.passage_ids().tolist())
    assert not new_passages & old_passages
    assert searchable(bot) == new_passages
    info = bot.store.document_info(doc)
    assert (info.kind, info.url, info.added_by) == (Kind.ANALYSIS, url, "telegram:42")
    entry = bot.audit.entries(limit=1)[0]
    assert (entry.who, entry.action, entry.target) == ("ops (cli:ops)", "refresh", doc)
    assert entry.result == f"ok: replaced {doc} ({report.passages} passages)"


def test_refresh_failures_keep_the_old_version(bot: CrisisBot, web: LocalServer) -> None:
    url = web.url("/changing")
    doc = bot.admin.add_url(admin_of(bot), url).added[0]
    text = bot.store.document_text(doc)
    web.changing_html = "<html><body></body></html>"
    with pytest.raises(SourceError, match="no article text"):
        bot.admin.refresh(admin_of(bot), doc)
    assert bot.store.document_text(doc) == text
    assert last_result(bot).startswith("error: no article text")

    pasted = add_statement(bot)
    with pytest.raises(AdminError, match="has no URL to refresh from"):
        bot.admin.refresh(admin_of(bot), pasted)
    with pytest.raises(StoreError, match="no document with id 'nope'"):
        bot.admin.refresh(admin_of(bot), "nope")


# -- list, show, log --------------------------------------------------------------------------

LIBRARY = [
    ("Kyiv report one", "Kyiv Ledger", "news", "2024-11-20"),
    ("Kyiv report two", "Kyiv Ledger", "news", "2024-10"),
    ("Ministry statement", "Ministry of Defence", "official-statement", "2024-11-02"),
    ("Think tank paper", "ISW", "analysis", "2023"),
    ("Viral claim checked", "StopFake", "fact-check", "2024-12-01"),
    ("Undated note", None, "other", None),
]


@pytest.fixture
def library(bot: CrisisBot) -> dict[str, str]:
    ids = {}
    for n, (title, publisher, kind, published) in enumerate(LIBRARY):
        ids[title] = add_statement(bot, title, text=f"Text number {n} about {title}.", kind=kind,
                                   publisher=publisher, published=published)
    return ids


def titles(bot: CrisisBot, **query: object) -> list[str]:
    return [d.title for d in bot.admin.list(admin_of(bot), per_page=100, **query).items]  # type: ignore[arg-type]


def test_list_pages_newest_first(bot: CrisisBot, library: dict[str, str]) -> None:
    admin = admin_of(bot)
    first = bot.admin.list(admin, page=1, per_page=4)
    assert (first.page, first.pages, first.total) == (1, 2, 6)
    assert [d.title for d in first.items] == [
        "Viral claim checked", "Kyiv report one", "Ministry statement", "Kyiv report two"]
    second = bot.admin.list(admin, page=2, per_page=4)
    assert [d.title for d in second.items] == ["Think tank paper", "Undated note"]
    assert all(d.passage_count == 1 for d in first.items + second.items)
    with pytest.raises(AdminError, match="no page 3: 6 documents make 2 page"):
        bot.admin.list(admin, page=3, per_page=4)
    with pytest.raises(AdminError, match="numbered from 1"):
        bot.admin.list(admin, page=0)
    with pytest.raises(AdminError, match="between 1 and 100"):
        bot.admin.list(admin, per_page=101)


def test_list_filters(bot: CrisisBot, library: dict[str, str]) -> None:
    assert titles(bot, publisher="kyiv") == ["Kyiv report one", "Kyiv report two"]
    assert titles(bot, publisher="%") == []  # a wildcard is just a character
    assert titles(bot, kind="fact check") == ["Viral claim checked"]
    assert titles(bot, kind=Kind.ANALYSIS) == ["Think tank paper"]
    assert titles(bot, since="2024-11") == ["Viral claim checked", "Kyiv report one", "Ministry statement"]
    assert titles(bot, since="2024-11-10") == ["Viral claim checked", "Kyiv report one"]
    assert titles(bot, until="2024-10-31") == ["Kyiv report two", "Think tank paper"]
    assert titles(bot, since="2024-10-15", until="2024-11-05") == ["Ministry statement", "Kyiv report two"]
    assert titles(bot, since="2024", until="2024") == [
        "Viral claim checked", "Kyiv report one", "Ministry statement", "Kyiv report two"]
    assert titles(bot, publisher="Kyiv", kind="news", since="2024-11") == ["Kyiv report one"]
    empty = bot.admin.list(admin_of(bot), kind="news", since="2030")
    assert (empty.items, empty.pages, empty.total) == ([], 1, 0)


@pytest.mark.parametrize(("query", "message"), [
    ({"since": "yesterday"}, "bad since date 'yesterday'"),
    ({"until": "2024-02-30"}, "bad until date '2024-02-30'"),
    ({"kind": "blog"}, "unknown kind 'blog'"),
])
def test_list_refuses_bad_filters(bot: CrisisBot, query: dict[str, str], message: str) -> None:
    with pytest.raises(SourceError, match=message):
        bot.admin.list(admin_of(bot), **query)  # type: ignore[arg-type]


def test_reads_are_not_audited_but_changes_are(bot: CrisisBot, library: dict[str, str]) -> None:
    count = bot.audit.count()
    bot.admin.list(admin_of(bot))
    bot.admin.show(admin_of(bot), library["Think tank paper"])
    bot.admin.log(admin_of(bot))
    assert bot.audit.count() == count == len(LIBRARY)


def test_show_and_log(bot: CrisisBot, library: dict[str, str]) -> None:
    doc = library["Ministry statement"]
    info, first = bot.admin.show(admin_of(bot), doc)
    assert (info.id, info.publisher, info.kind, info.passage_count) == (
        doc, "Ministry of Defence", Kind.OFFICIAL_STATEMENT, 1)
    assert first == "Text number 2 about Ministry statement."
    with pytest.raises(StoreError, match="no document with id 'x'"):
        bot.admin.show(admin_of(bot), "x")

    entries = bot.admin.log(admin_of(bot), limit=2)
    assert [e.target for e in entries] == ["Undated note", "Viral claim checked"]
    assert [e.target for e in bot.admin.log(admin_of(bot), limit=2, page=3)] == ["Kyiv report two", "Kyiv report one"]
    assert all(e.who == "Olena (telegram:42)" and e.action == "add-text" for e in entries)
    with pytest.raises(AdminError):
        bot.admin.log(admin_of(bot), limit=0)


@pytest.mark.parametrize(("report", "text"), [
    (IngestReport(added=["a"], passages=3), "added a (3 passages)"),
    (IngestReport(replaced=["a"], passages=2), "replaced a (2 passages)"),
    (IngestReport(unchanged=[("a", "a")]), "unchanged"),
    (IngestReport(unchanged=[("b", "a")]), "unchanged (same text as a)"),
    (IngestReport(near_duplicates=[("b", "a")]), "not added: b nearly repeats a"),
    (IngestReport(added=["a", "b"], unchanged=[("c", "c")], passages=4), "2 added, 0 replaced, 1 unchanged (4 passages)"),
    (IngestReport(added=["a"], near_duplicates=[("b", "a")], passages=1),
     "1 added, 0 replaced, 0 unchanged, 1 near-duplicates skipped (1 passages)"),
])
def test_describe_an_ingest(report: IngestReport, text: str) -> None:
    assert describe(report) == text
