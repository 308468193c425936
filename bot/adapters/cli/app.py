"""The terminal adapter: `crisisbot ask|chat|ingest|sources|remove|reindex|prepare-answers|check|kb|summary|digest|migrate|serve|worker|eval`.

Imports stay light at module level (no torch, no faiss) so that `crisisbot --help` and bad
input are answered at once; the service, and with it the model, is built only when a command
needs it. User errors print one line and exit with status 1, the machine's failures (full disk,
read-only or damaged data) 4 or 5 (`failures.py`); bugs are logged with context (3).
"""

from __future__ import annotations

import argparse
import getpass
import json
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from bot.adapters.cli.check import cmd_check
from bot.adapters.cli.failures import EXIT_OK
from bot.adapters.cli.progress import _progress
from bot.adapters.cli.serving import cmd_serve, cmd_worker
from bot.adapters.cli.session import close_bots, failed, open_bot
from bot.runtime.log_redaction import configure_logging, secret_values, set_level
from knowledge.errors import CrisisbotError

if TYPE_CHECKING:
    from bot.core.actors import Actor
    from bot.core.answer import Answer
    from bot.core.conversation import Notice
    from bot.runtime.service import CrisisBot
    from bot.runtime.settings import Settings

log = logging.getLogger("crisisbot")

def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="crisisbot",
        description="Answers questions about the war in Ukraine with cited passages from a knowledge base.",
        epilog="Settings come from CRISISBOT_* environment variables and an optional TOML file "
        "named by CRISISBOT_CONFIG (see docs/configuration.md).",
    )
    parser.add_argument("--data-dir", type=Path, help="knowledge base folder (CRISISBOT_DATA_DIR)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log what happens")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    ask = commands.add_parser("ask", help="answer one question with cited sources")
    ask.add_argument("question", help="the question, in quotes")
    ask.add_argument("--format", choices=["text", "markdown", "json"], default="text")
    ask.add_argument("--explain", action="store_true",
                     help="also show each retrieved passage's relevance features and decision, "
                     "and why each quote was chosen")

    commands.add_parser("chat", help="ask questions interactively (empty line or Ctrl-D ends)")

    ingest = commands.add_parser("ingest", help="add files, folders or JSONL to the knowledge base")
    ingest.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    ingest.add_argument("--added-by", default=None, help="who is adding (default: your user name)")
    ingest.add_argument("--columns", default=None, metavar="FIELD=COLUMN,...",
                        help="CSV files: which column holds each field, e.g. text=body,title=headline")

    sources = commands.add_parser("sources", help="list the documents in the knowledge base")
    sources.add_argument("--format", choices=["text", "json"], default="text")

    remove = commands.add_parser("remove", help="remove a document with its passages and vectors")
    remove.add_argument("document_id", metavar="DOC_ID")

    commands.add_parser("reindex", help="embed every passage again and rebuild the index")
    commands.add_parser("prepare-answers",
                        help="embed ahead of time the sentences answers quote (makes answers quick)")

    commands.add_parser("check", help="check that the knowledge base is whole (database pages, index "
                        "against store); exit 5 if not")
    _add_kb_parser(commands)

    summary = commands.add_parser("summary", help="what the knowledge base says about a topic, quoted and cited")
    summary.add_argument("topic", nargs="?", default=None,
                         help="the topic, in quotes (none: everything published in the date range)")
    summary.add_argument("--since", metavar="DATE", help="sources published on or after (YYYY[-MM[-DD]])")
    summary.add_argument("--until", metavar="DATE", help="sources published on or before")
    summary.add_argument("--sentences", type=int, default=None, help="at most this many (default 6)")
    summary.add_argument("--format", choices=["text", "json"], default="text")

    digest = commands.add_parser("digest", help="the documents added recently, grouped into topics")
    digest.add_argument("--since", metavar="DATE", help="added on or after (default: the last 7 days)")
    digest.add_argument("--format", choices=["text", "json"], default="text")

    migrate = commands.add_parser(
        "migrate", help="copy an embedded knowledge base into PostgreSQL (CRISISBOT_DATABASE_URL), vectors included"
    )
    migrate.add_argument("--from-sqlite", type=Path, required=True, metavar="PATH",
                         help="the data folder (or its knowledge.sqlite3) to copy")

    serve = commands.add_parser("serve", help="run the bot on a chat platform")
    serve.add_argument("platform", choices=["telegram", "discord"], help="the platform to serve")
    serve.add_argument("--sync", action="store_true", help="discord: sync slash commands at start")
    serve.add_argument("--guild", type=int, help="discord: sync to this server only (immediate)")

    commands.add_parser(
        "worker", help="poll feeds and post the scheduled digest, with no chat gateway (until SIGTERM)",
        description="Runs the schedules of a multi-process deployment once: polls the feeds every "
        "feed_poll_minutes and posts the scheduled digest (digest_schedule, digest_timezone) to "
        "telegram_digest_chat_id and discord_digest_channel_id. Run the chat processes with "
        "CRISISBOT_RUN_SCHEDULES=false. Stops on SIGTERM or Ctrl-C.",
    )

    evaluate = commands.add_parser(
        "eval", help="measure retrieval on a BEIR folder (corpus.jsonl, queries.jsonl, qrels/test.tsv)"
    )
    evaluate.add_argument("dataset", type=Path, metavar="DATASET_DIR")
    evaluate.add_argument("--k", type=int, default=100, help="documents ranked per query (default 100)")
    evaluate.add_argument("--json", action="store_true", help="print the results as JSON")
    evaluate.add_argument("--limit", type=int, metavar="N", help="score only the first N queries")
    evaluate.add_argument("--keep", type=Path, metavar="DIR",
                          help="knowledge base folder to build and reuse (default: a temporary one)")
    evaluate.add_argument("--undated", action="store_true",
                          help="ask every query today instead of on its metadata.date")
    evaluate.add_argument("--answers", action="store_true",
                          help="also ask each query through the bot and score its answers")
    return parser


def _add_kb_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """`crisisbot kb ...`: the admin operations chat admins have, run as the terminal's user."""
    kb = commands.add_parser("kb", help="update the knowledge base as an admin (audited)")
    sub = kb.add_subparsers(dest="kb_command", required=True, metavar="SUBCOMMAND")

    add_url = sub.add_parser("add-url", help="fetch a web page or PDF and add it")
    add_url.add_argument("url", metavar="URL")
    add_url.add_argument("--kind", help="news, official-statement, analysis, fact-check or other")

    add_text = sub.add_parser("add-text", help="add text from a file or stdin (-) under a title")
    add_text.add_argument("file", metavar="FILE|-")
    add_text.add_argument("--title", required=True)
    add_text.add_argument("--kind")
    add_text.add_argument("--url", help="where the text was published")
    add_text.add_argument("--published", metavar="DATE", help="YYYY, YYYY-MM or YYYY-MM-DD")
    add_text.add_argument("--publisher")

    listing = sub.add_parser("list", help="list documents a page at a time, optionally filtered")
    listing.add_argument("--page", type=int, default=1)
    listing.add_argument("--per-page", type=int, default=10)
    listing.add_argument("--publisher", help="part of the publisher's name")
    listing.add_argument("--kind")
    listing.add_argument("--since", metavar="DATE", help="published on or after")
    listing.add_argument("--until", metavar="DATE", help="published on or before")
    listing.add_argument("--format", choices=["text", "json"], default="text")

    show = sub.add_parser("show", help="a document's details and first passage")
    show.add_argument("document_id", metavar="DOC_ID")
    set_kind = sub.add_parser("set-kind", help="change what sort of source a document is")
    set_kind.add_argument("document_id", metavar="DOC_ID")
    set_kind.add_argument("kind", metavar="KIND")
    refresh = sub.add_parser("refresh", help="fetch a document's URL again and store the new text")
    refresh.add_argument("document_id", metavar="DOC_ID")
    remove = sub.add_parser("remove", help="remove a document with its passages and vectors")
    remove.add_argument("document_id", metavar="DOC_ID")

    audit = sub.add_parser("log", help="who changed the knowledge base, most recent first")
    audit.add_argument("--limit", type=int, default=20)
    audit.add_argument("--page", type=int, default=1)

    subscribe = sub.add_parser("subscribe", help="follow an RSS or Atom feed; new entries are added when polled")
    subscribe.add_argument("url", metavar="FEED_URL")
    unsubscribe = sub.add_parser("unsubscribe", help="stop following a feed (its documents stay)")
    unsubscribe.add_argument("url", metavar="FEED_URL")
    sub.add_parser("feeds", help="the subscribed feeds and how their last poll went")
    sub.add_parser("poll", help="poll every subscribed feed now (for cron; a running bot polls on its own)")

    gaps = sub.add_parser("gaps", help="declined and 👎-voted questions, grouped, most frequent first")
    gaps.add_argument("--since", metavar="DATE", help="questions asked on or after")
    gaps.add_argument("--limit", type=int, default=10, help="how many groups")
    gaps.add_argument("--format", choices=["text", "json"], default="text")
    stats = sub.add_parser("stats", help="documents, passages, questions, answers and votes, by week")
    stats.add_argument("--weeks", type=int, default=8)
    stats.add_argument("--format", choices=["text", "json"], default="text")


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    redacting = configure_logging(logging.INFO if args.verbose else logging.WARNING)
    settings: Settings | None = None
    try:
        settings = _settings(args)
        redacting.add_secrets(secret_values(settings))
        set_level(logging.INFO if args.verbose else settings.log_level)
        status = COMMANDS[args.command](args, settings)
        sys.stdout.flush()  # a closed pipe fails here, handled, not in the interpreter's exit
        return status
    except BaseException as exc:  # noqa: BLE001 - the one place every outcome becomes a status
        return failed(args, settings, exc)
    finally:
        close_bots()  # background work joined: no thread may outlive the interpreter


def _settings(args: argparse.Namespace) -> Settings:
    from bot.runtime.settings import load_settings

    overrides = {"data_dir": args.data_dir} if args.data_dir else {}
    return load_settings(**overrides)


_bot = open_bot  # one name the commands call (tests swap in a bot with a fast embedder)


def _render(answer: Answer, fmt: str, explain: bool = False) -> str:
    from bot.adapters.cli.explain import explanation_json, render_explanation
    from bot.core.render import render_markdown, render_plain

    if fmt == "json":
        data = _answer_json(answer)
        if explain:
            data["explanation"] = explanation_json(answer.explanation)
        return json.dumps(data, ensure_ascii=False, indent=2)
    text = render_markdown(answer) if fmt == "markdown" else render_plain(answer)
    return text + render_explanation(answer) if explain else text


def _answer_json(answer: Answer) -> dict[str, object]:
    return {
        "question": answer.question,
        "found": answer.found,
        "best_passage_score": round(answer.best_passage_score, 4),
        "quotes": [
            {"text": q.text, "source": q.source, "passage_id": q.passage_id,
             "start": q.start, "end": q.end, "score": round(q.score, 4)}
            for q in answer.quotes
        ],
        "sources": [
            {"number": s.number, "document_id": s.document.id, "title": s.document.title,
             "publisher": s.document.publisher, "kind": s.document.kind.value,
             "published": s.document.published, "url": s.document.url, "as_of": s.as_of(),
             "score": round(s.score, 4)}
            for s in answer.sources
        ],
    }


def cmd_ask(args: argparse.Namespace, settings: Settings) -> int:
    from bot.core.conversation import small_talk_reply
    from bot.core.questions import clean_question

    clean_question(args.question, settings.max_question_chars)  # fail before loading anything
    bot = _bot(settings)
    notice = small_talk_reply(args.question)  # "hello", "help", "thanks": no search, no refusal
    if notice is not None:
        print(_notice_text(bot, notice))
        return EXIT_OK
    print(_render(bot.ask(args.question), args.format, args.explain))
    return EXIT_OK


def _notice_text(bot: CrisisBot, notice: Notice) -> str:
    from bot.core.messages import HELP
    from bot.core.translation import phrases

    if notice.wants_help:  # in the language the greeting or "help" was written in
        return phrases(notice.language).text(HELP, sources=bot.questions.source_count(),
                                             minutes=f"{bot.settings.conversation_minutes:g}")
    return notice.text


def cmd_chat(args: argparse.Namespace, settings: Settings) -> int:
    """Questions from stdin until end of input, each answered in turn; follow-ups ("and
    Biden?", "why?", "tell me more") lean on the previous question of this session. Exits 0 at
    the end of input; a question refused (empty, too long) is said and the session goes on;
    anything else ends it with the usual status."""
    from bot.core.answer import Answer
    from bot.core.conversation_memory import ConversationKey
    from bot.core.messages import READ_AS
    from bot.core.translation import phrases

    bot = _bot(settings)
    key = ConversationKey("terminal", str(os.getpid()), getpass.getuser())
    interactive = sys.stdin.isatty()
    if interactive:
        print("Ask about the war in Ukraine; every answer quotes its sources. Follow up with "
              "\"and ...?\", \"why?\" or \"tell me more\". Empty line or Ctrl-D ends.")
    while True:
        try:
            line = input("> " if interactive else "")
        except EOFError:
            break
        if not line.strip() or line.strip().lower() in {"quit", "exit"}:
            if interactive:
                break
            continue
        try:
            reply = bot.conversation.reply(line, None, key)
            resolved = reply.explanation.resolved_question if isinstance(reply, Answer) else ""
            if resolved and resolved != line.strip():
                print(phrases(reply.language).text(READ_AS, question=resolved))
            print(_render(reply, "text") if isinstance(reply, Answer) else _notice_text(bot, reply))
        except CrisisbotError as exc:  # one bad question does not end the session
            print(f"error: {exc}")
        print()
        sys.stdout.flush()
    return EXIT_OK


def cmd_ingest(args: argparse.Namespace, settings: Settings) -> int:
    bot = _bot(settings)
    update, close = _progress("ingesting")
    try:  # every file is read and validated before a single write
        from knowledge.readers import parse_column_mapping

        columns = parse_column_mapping(args.columns) if args.columns is not None else None
        added = bot.admin.add_files(_operator(bot), args.paths, update, added_by=args.added_by,
                                    csv_columns=columns)
    finally:
        close()
    for skipped in added.skipped:
        print(f"skipped {skipped}: not a file type crisisbot reads", file=sys.stderr)
    report = added.report
    print(
        f"{len(report.added)} added, {len(report.replaced)} replaced, "
        f"{len(report.unchanged)} unchanged, {report.passages} passages indexed"
    )
    for new_id, existing in report.unchanged:
        if new_id != existing:
            print(f"  {new_id}: same text as {existing}, not added again")
    return EXIT_OK


def cmd_sources(args: argparse.Namespace, settings: Settings) -> int:
    from bot.core.render import document_json, document_lines

    documents = _bot(settings).sources()
    if args.format == "json":
        print(json.dumps([document_json(d) for d in documents], ensure_ascii=False, indent=2))
        return EXIT_OK
    for d in documents:
        print("\n".join(document_lines(d)))
    print(f"{len(documents)} documents")
    return EXIT_OK


def cmd_remove(args: argparse.Namespace, settings: Settings) -> int:
    bot = _bot(settings)
    removed = bot.admin.remove(_operator(bot), args.document_id)
    print(f"removed {args.document_id} ({removed} passages)")
    return EXIT_OK


def _operator(bot: CrisisBot) -> Actor:
    """Whoever runs the command: an admin, since they own the data folder (and the audit log
    names them by their user name)."""
    return bot.local_operator(getpass.getuser())


def cmd_reindex(args: argparse.Namespace, settings: Settings) -> int:
    update, close = _progress("embedding")
    try:
        _bot(settings).reindex(update)
    finally:
        close()
    print("index rebuilt")
    return EXIT_OK


def cmd_prepare_answers(args: argparse.Namespace, settings: Settings) -> int:
    update, close = _progress("passages")
    try:
        embedded = _bot(settings).embed_answer_sentences(progress=update)
    finally:
        close()
    print(f"answer sentences ready ({embedded:,} embedded now, the rest were ready)")
    return EXIT_OK


def cmd_eval(args: argparse.Namespace, settings: Settings) -> int:
    """Retrieval quality on a benchmark, through the bot's own ingest and retriever; the
    knowledge base in --data-dir is never touched."""
    from bot.runtime.evaluation import evaluate, format_table

    if args.limit is not None and args.limit < 1:
        raise CrisisbotError("--limit must be at least 1")
    result = evaluate(args.dataset, k=args.k, limit=args.limit, keep=args.keep, bar=_progress,
                      dated=not args.undated, answers=args.answers,
                      embedding_cache=settings.embedding_cache_path if settings.embedding_cache else None)
    print(json.dumps(result, ensure_ascii=False, indent=2) if args.json else format_table(result))
    return EXIT_OK


def cmd_summary(args: argparse.Namespace, settings: Settings) -> int:
    from bot.core.render import render_summary_plain

    summary = _bot(settings).summarize(args.topic, args.since, args.until, args.sentences)
    if args.format == "json":
        payload = {"topic": summary.topic, "since": summary.since, "until": summary.until,
                   "heading": summary.heading, **_answer_json(summary.answer)}
        payload.pop("question")
        print(json.dumps(payload, ensure_ascii=False, indent=2))
    else:
        print(render_summary_plain(summary))
    return EXIT_OK


def cmd_digest(args: argparse.Namespace, settings: Settings) -> int:
    """Shows a digest; never marks it posted (only the chat schedulers do, once delivered)."""
    from bot.core.render import digest_heading, render_digest_plain

    digest = _bot(settings).digest(since=args.since)
    if args.format == "json":
        topics = [{"label": t.label, "document_ids": t.document_ids, **_answer_json(t.answer)}
                  for t in digest.topics]
        for topic in topics:
            topic.pop("question")
        print(json.dumps({"since": digest.since, "until": digest.until, "documents": digest.documents,
                          "heading": digest_heading(digest), "topics": topics,
                          "more_topics": digest.more_topics}, ensure_ascii=False, indent=2))
    else:
        print(render_digest_plain(digest))
    return EXIT_OK


def cmd_migrate(args: argparse.Namespace, settings: Settings) -> int:
    """Schema migrations, then the copy: all of it or nothing (one transaction)."""
    if settings.database_url is None:
        raise CrisisbotError("set CRISISBOT_DATABASE_URL=postgresql://… to the database to copy into")
    try:
        import psycopg
    except ImportError:
        raise CrisisbotError("the PostgreSQL driver is missing: pip install 'crisisbot[postgres]'") from None
    from knowledge.postgres.copy_from_sqlite import copy_from_sqlite

    try:
        connection = psycopg.connect(settings.database_url.get_secret_value(), connect_timeout=10)
    except psycopg.Error as exc:
        raise CrisisbotError(f"cannot connect to PostgreSQL: {exc}".strip()) from None
    update, close = _progress("copying passages")
    try:
        with connection:
            report = copy_from_sqlite(args.from_sqlite, connection, update)
    finally:
        close()
    rows = ", ".join(f"{count:,} {table}" for table, count in report.rows.items())
    print(f"copied {rows}; {report.checked_vectors} sampled vectors identical")
    return EXIT_OK


def cmd_kb(args: argparse.Namespace, settings: Settings) -> int:
    from bot.adapters.cli.kb import KB_COMMANDS

    bot = _bot(settings)
    return KB_COMMANDS[args.kb_command](args, bot, _operator(bot))


COMMANDS: dict[str, Callable[[argparse.Namespace, Settings], int]] = {
    "ask": cmd_ask,
    "chat": cmd_chat,
    "ingest": cmd_ingest,
    "sources": cmd_sources,
    "remove": cmd_remove,
    "reindex": cmd_reindex,
    "prepare-answers": cmd_prepare_answers,
    "kb": cmd_kb,
    "check": cmd_check,
    "summary": cmd_summary,
    "digest": cmd_digest,
    "migrate": cmd_migrate,
    "serve": cmd_serve,
    "worker": cmd_worker,
    "eval": cmd_eval,
}

if __name__ == "__main__":
    sys.exit(main())
