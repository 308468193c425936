"""How long `kb gaps` takes, and what it groups, on real questions.

Asks the realtimeqa-dev questions (general news, 2022-2023) of `../shared/eval` against the seed
article, as chat users would, so most are declined and land in the feedback log; then times
`KnowledgeAdmin.gaps` (reading the log, embedding the distinct questions, grouping) and prints
the biggest groups, which a person can check for sense.

    .venv/bin/python -m benchmarks.speed.gaps [--questions 2056] [--repeat 3]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from benchmarks.common import REALTIMEQA_QUERIES, add_shared_option, read_jsonl
from bot.core.render import gap_lines
from bot.runtime.service import CrisisBot
from bot.runtime.settings import load_settings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_shared_option(parser)
    parser.add_argument("--questions", type=int, default=2056)
    parser.add_argument("--repeat", type=int, default=3, help="timed runs of gaps")
    args = parser.parse_args()
    questions = [record["text"] for record in read_jsonl(args.shared / REALTIMEQA_QUERIES)][: args.questions]
    with tempfile.TemporaryDirectory() as folder:
        bot = CrisisBot(load_settings(data_dir=Path(folder), questions_per_minute=1000))
        try:
            bot.open()
            started = time.perf_counter()
            for number, question in enumerate(questions):
                bot.ask(question, bot.actor("telegram", number % 50))
            asked = time.perf_counter() - started
            totals = bot.feedback.totals()
            print(f"asked {totals.questions} questions in {asked:.0f} s; declined {totals.questions - totals.answered}")
            operator = bot.local_operator()
            timings = []
            for _ in range(args.repeat):
                started = time.perf_counter()
                groups = bot.admin.gaps(operator, limit=100)
                timings.append(time.perf_counter() - started)
            rows = bot.feedback.gap_questions()
            print(f"kb gaps over {len(rows)} gap questions: "
                  + ", ".join(f"{t:.2f} s" for t in timings) + " (first includes loading the model)")
            multi = [g for g in groups if len(g.questions) > 1]
            print(f"groups in the top 100 with more than one wording: {len(multi)}")
            print("\n".join(gap_lines(groups[:8])))
        finally:
            bot.close()


if __name__ == "__main__":
    main()
