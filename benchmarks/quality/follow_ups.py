#!/usr/bin/env python
"""How follow-ups fare: each asked as written, and resolved against the question before it.

Twelve two-turn conversations over a knowledge base of the seed article and news-2022.jsonl
("What happened in Bucha?" then "who was responsible?", ...). For each follow-up it reports
whether the bot answers it when asked as written (`CrisisBot.ask`) and when asked in a
conversation (`Conversation.reply`, the rules of `bot/core/followups.py`), and whether a quote
of the answer names the topic the follow-up is about ("about": a rough check of the right
subject, not of the right fact).

Run from the project root, with a data folder that already holds news-2022.jsonl (it is only
read: `crisisbot --data-dir DIR ingest ../shared/corpus/news-2022.jsonl` makes one):

    .venv/bin/python -m benchmarks.quality.follow_ups --data-dir DIR
"""

from __future__ import annotations

import argparse
from pathlib import Path

import benchmarks  # noqa: F401  (models stay offline)

PAIRS: list[tuple[str, str, str]] = [  # question, follow-up, what the answer must name
    ("What happened in Bucha?", "who was responsible?", "Bucha"),
    ("Why did the US allow ATACMS strikes?", "and Biden?", "Biden"),
    ("How many North Korean troops arrived in Russia?", "why?", "North Korea"),
    ("What happened in Bucha?", "what about Irpin?", "Irpin"),
    ("What is the latest on Kherson?", "and Mariupol?", "Mariupol"),
    ("What happened at Azovstal?", "when?", "Azovstal"),
    ("Who attacked the Kerch bridge?", "when?", "bridge"),
    ("What did Zelensky say to Trump?", "and O'Brien?", "O'Brien"),
    ("How many refugees have left Ukraine?", "and Poland?", "Poland"),
    ("What happened to the Moskva?", "why did it sink?", "Moskva"),
    ("What happened at the Zaporizhzhia nuclear plant?", "is it safe?", "Zaporizhzhia"),
    ("What sanctions did the EU impose on Russia?", "what about the US?", "US"),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, required=True, help="a knowledge base with news-2022.jsonl")
    args = parser.parse_args()

    from bot.core.answer import Answer
    from bot.core.conversation import Conversation
    from bot.core.conversation_memory import ConversationKey
    from bot.runtime.service import CrisisBot
    from bot.runtime.settings import load_settings

    bot = CrisisBot(load_settings(data_dir=args.data_dir))
    try:
        bot.open()
        totals = [0, 0, 0, 0]
        print("| follow-up | after | as written: answered, about | resolved | answered, about |")
        print("|---|---|---|---|---|")
        for number, (question, follow_up, topic) in enumerate(PAIRS):
            written = bot.ask(follow_up)
            talk = Conversation(bot.questions)
            key = ConversationKey("benchmark", str(number), "reader")
            talk.reply(question, None, key)
            reply = talk.reply(follow_up, None, key)
            resolved = reply if isinstance(reply, Answer) else Answer(follow_up)
            row = [written.found, _names(written, topic), resolved.found, _names(resolved, topic)]
            totals = [t + int(v) for t, v in zip(totals, row)]
            print(f"| {follow_up} | {question} | {_yes(row[0])}, {_yes(row[1])} | "
                  f"{resolved.explanation.resolved_question or follow_up} | {_yes(row[2])}, {_yes(row[3])} |")
        count = len(PAIRS)
        print(f"\nas written: answered {totals[0]}/{count}, about the topic {totals[1]}/{count}; "
              f"resolved: answered {totals[2]}/{count}, about the topic {totals[3]}/{count}")
    finally:
        bot.close()


def _names(answer: object, topic: str) -> bool:
    from bot.core.answer import Answer

    return isinstance(answer, Answer) and any(topic.lower() in q.text.lower() for q in answer.quotes)


def _yes(value: bool) -> str:
    return "yes" if value else "no"


if __name__ == "__main__":
    main()
