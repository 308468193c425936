"""`crisisbot kb ...`: the knowledge base's admin operations from a terminal.

The person at the terminal acts as an admin (`CrisisBot.local_operator`) and goes through the
same core calls, role check and audit log as a chat admin does; this module only reads the
arguments and prints the results.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

from bot.adapters.cli.progress import _progress
from bot.core.actors import Actor
from bot.core.admin import describe
from bot.core.kb_requests import list_request
from bot.core.render import (
    audit_line, document_json, document_lines, gap_lines, poll_lines, stats_lines, subscription_lines,
)
from bot.runtime.service import CrisisBot
from knowledge.readers import read_text_file

EXIT_OK = 0  # `bot.adapters.cli.app`'s exit status for success (app imports this module)


def kb_add_url(args: argparse.Namespace, bot: CrisisBot, actor: Actor) -> int:
    update, close = _progress("fetching and ingesting")
    try:
        report = bot.admin.add_url(actor, args.url, args.kind, update)
    finally:
        close()
    print(describe(report))
    return EXIT_OK


def kb_add_text(args: argparse.Namespace, bot: CrisisBot, actor: Actor) -> int:
    text = _read_text(args.file)
    report = bot.admin.add_text(
        actor, args.title, text, kind=args.kind, url=args.url, published=args.published,
        publisher=args.publisher,
    )
    print(describe(report))
    return EXIT_OK


def _read_text(name: str) -> str:
    """The pasted text: from stdin with "-", else a text file read as `ingest` reads one."""
    return sys.stdin.read() if name == "-" else read_text_file(Path(name))


def kb_list(args: argparse.Namespace, bot: CrisisBot, actor: Actor) -> int:
    request = list_request(args.page, args.publisher, args.kind, args.since, args.until)  # as chat reads it
    page = bot.admin.list(actor, page=request.page, per_page=args.per_page, **request.filters.as_kwargs())
    if args.format == "json":
        payload = {"page": page.page, "pages": page.pages, "total": page.total,
                   "items": [document_json(d) for d in page.items]}
        print(json.dumps(payload, ensure_ascii=False, indent=2))
        return EXIT_OK
    for d in page.items:
        print("\n".join(document_lines(d)))
    print(f"page {page.page} of {page.pages} ({page.total} documents)")
    return EXIT_OK


def kb_show(args: argparse.Namespace, bot: CrisisBot, actor: Actor) -> int:
    info, first = bot.admin.show(actor, args.document_id)
    rows = [("id", info.id), ("title", info.title), ("url", info.url or "-"),
            ("publisher", info.publisher or "-"), ("kind", info.kind.value),
            ("published", info.published or "unknown"), ("language", info.language),
            ("added by", info.added_by), ("added at", info.added_at),
            ("passages", str(info.passage_count))]
    for name, value in rows:
        print(f"{name + ':':11} {value}")
    if first:
        print()
        print(first)
    return EXIT_OK


def kb_set_kind(args: argparse.Namespace, bot: CrisisBot, actor: Actor) -> int:
    info = bot.admin.set_kind(actor, args.document_id, args.kind)
    print(f"{info.id} is now {info.kind.value}")
    return EXIT_OK


def kb_refresh(args: argparse.Namespace, bot: CrisisBot, actor: Actor) -> int:
    update, close = _progress("fetching and ingesting")
    try:
        report = bot.admin.refresh(actor, args.document_id, update)
    finally:
        close()
    print(describe(report))
    return EXIT_OK


def kb_remove(args: argparse.Namespace, bot: CrisisBot, actor: Actor) -> int:
    removed = bot.admin.remove(actor, args.document_id)
    print(f"removed {args.document_id} ({removed} passages)")
    return EXIT_OK


def kb_log(args: argparse.Namespace, bot: CrisisBot, actor: Actor) -> int:
    entries = bot.admin.log(actor, limit=args.limit, page=args.page)
    for e in entries:
        print(audit_line(e))
    if not entries:
        print("no entries")
    return EXIT_OK


def kb_subscribe(args: argparse.Namespace, bot: CrisisBot, actor: Actor) -> int:
    sub = bot.admin.subscribe(actor, args.url)
    print(f"subscribed to {sub.title or sub.url} ({sub.url}); new entries are added at each poll")
    return EXIT_OK


def kb_unsubscribe(args: argparse.Namespace, bot: CrisisBot, actor: Actor) -> int:
    bot.admin.unsubscribe(actor, args.url)
    print(f"unsubscribed from {args.url}; the documents it brought in stay")
    return EXIT_OK


def kb_feeds(args: argparse.Namespace, bot: CrisisBot, actor: Actor) -> int:
    print("\n".join(subscription_lines(bot.admin.feeds(actor))))
    return EXIT_OK


def kb_poll(args: argparse.Namespace, bot: CrisisBot, actor: Actor) -> int:
    """Exit 1 when a feed could not be read or an entry failed, so cron mails someone."""
    update, close = _progress("polling feeds")
    try:
        reports = bot.admin.poll_feeds(actor, update)
    finally:
        close()
    print("\n".join(poll_lines(reports)))
    return EXIT_OK if all(r.error is None and not r.failed for r in reports) else 1


def kb_gaps(args: argparse.Namespace, bot: CrisisBot, actor: Actor) -> int:
    clusters = bot.admin.gaps(actor, since=args.since, limit=args.limit)
    if args.format == "json":
        print(json.dumps([asdict(c) for c in clusters], ensure_ascii=False, indent=2))
    else:
        print("\n".join(gap_lines(clusters)))
    return EXIT_OK


def kb_stats(args: argparse.Namespace, bot: CrisisBot, actor: Actor) -> int:
    stats = bot.admin.stats(actor, weeks=args.weeks)
    if args.format == "json":
        print(json.dumps(asdict(stats), ensure_ascii=False, indent=2))
    else:
        print("\n".join(stats_lines(stats)))
    return EXIT_OK


KB_COMMANDS: dict[str, Callable[[argparse.Namespace, CrisisBot, Actor], int]] = {
    "add-url": kb_add_url,
    "add-text": kb_add_text,
    "list": kb_list,
    "show": kb_show,
    "set-kind": kb_set_kind,
    "refresh": kb_refresh,
    "remove": kb_remove,
    "log": kb_log,
    "subscribe": kb_subscribe,
    "unsubscribe": kb_unsubscribe,
    "feeds": kb_feeds,
    "poll": kb_poll,
    "gaps": kb_gaps,
    "stats": kb_stats,
}
