"""Real summaries and a weekly digest from `../shared/corpus/news-2022.jsonl`, timed.

The corpus is ingested into a temporary knowledge base with each article "added" at noon UTC
on its publication day, so that a digest for a week sees the articles of that week, as a
running bot would have. Then it prints and times:
- a topic summary (`CrisisBot.summarize`), with and without a date range;
- a summary of everything published in the week (no topic);
- the weekly digest (`CrisisBot.digest`) and how its documents fell into topics.

    .venv/bin/python -m benchmarks.speed.summaries [--topic "grain exports from Odesa"] [--week 2022-07-18]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import replace
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

from benchmarks.common import add_shared_option

from bot.core.render import render_digest_plain, render_summary_plain
from bot.runtime.service import CrisisBot
from bot.runtime.settings import load_settings
from knowledge.readers import read_jsonl


def timed(label: str, work):  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    value = work()
    print(f"\n=== {label}: {time.perf_counter() - started:.2f} s")
    return value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_shared_option(parser)
    parser.add_argument("--topic", default="grain exports from Odesa")
    parser.add_argument("--week", type=date.fromisoformat, default=date(2022, 7, 18), help="its Monday")
    args = parser.parse_args()
    documents = read_jsonl(Path(args.shared) / "corpus/news-2022.jsonl", "corpus")
    documents = [replace(d, added_at=f"{d.published[:10]}T12:00:00+00:00") if d.published and len(d.published) == 10
                 else replace(d, added_at="2022-01-01T00:00:00+00:00") for d in documents]
    with tempfile.TemporaryDirectory() as folder:
        bot = CrisisBot(load_settings(data_dir=Path(folder), load_builtin_knowledge=False))
        try:
            started = time.perf_counter()
            report = bot.ingest(documents)
            print(f"ingested {len(report.added)} documents ({report.passages} passages) in "
                  f"{time.perf_counter() - started:.0f} s")
            bot.retriever.embed_query("warm up the model")
            week_end = args.week + timedelta(days=6)
            summary = timed(f"summary of “{args.topic}”", lambda: bot.summarize(args.topic))
            print(render_summary_plain(summary))
            ranged = timed(f"summary of “{args.topic}”, {args.week} to {week_end}",
                           lambda: bot.summarize(args.topic, args.week.isoformat(), week_end.isoformat()))
            print(render_summary_plain(ranged))
            overall = timed(f"summary of everything published {args.week} to {week_end}",
                            lambda: bot.summarize(None, args.week.isoformat(), week_end.isoformat()))
            print(render_summary_plain(overall))
            now = datetime.combine(args.week + timedelta(days=7), datetime.min.time(), tzinfo=timezone.utc)
            digest = timed(f"digest of the week to {now.date()}", lambda: bot.digest(since=args.week.isoformat(), now=now))
            print(render_digest_plain(digest))
            print("\ntopics (documents each):", [len(t.document_ids) for t in digest.topics],
                  f"+ {digest.more_topics} smaller")
        finally:
            bot.close()


if __name__ == "__main__":
    main()
