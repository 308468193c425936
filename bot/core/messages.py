"""Every sentence the bot says to people in its own words, in one place.

One wording for every platform (a Telegram and a Discord user are told the same thing in the
same words). The English here is also the gettext message id: `bot.core.translation` looks
each sentence up in the Ukrainian and Russian catalogues (`bot/core/locale/`) for people who
write in those languages.
Quotes from sources are never here: they are the sources' words. Placeholders are
`str.format` fields; the code that fills them names each one.

Sections follow who reads them: everyone, members asking, moderators, admins; then one section
per platform for what is about the platform itself (its private chat and Start button, its
command menu and help layout, embed titles) or is still worded differently there.
"""

from __future__ import annotations

from knowledge.documents import Kind

# -- everyone ----------------------------------------------------------------------------------

APOLOGY = "Sorry, something went wrong. It has been logged; please try again in a moment."
NOT_ALLOWED = "Only {role}s may do that."
PREVIOUS = "‹ Previous"  # pager buttons
NEXT = "Next ›"
RATE_LIMITED = ("You have asked {limit} questions in the last {window:g} seconds. "
                "Please wait {seconds} second{plural} and ask again.")
READS_LIMITED = ("You have asked for the sources or the help {limit} times in the last {window:g} "
                 "seconds. Please wait {seconds} second{plural} and try again.")
MODERATOR_LIMITED = ("You have asked for {limit} summaries or digests in the last {window:g} seconds. "
                     "Please wait {seconds} second{plural} and try again.")
SUMMARY_BUSY = "Another summary is being made right now. Please try again in a minute."

# -- members: questions, answers, votes --------------------------------------------------------

EMPTY_QUESTION = "Please ask a question: the message is empty."
LONG_QUESTION = "The question is too long ({length:,} characters; the limit is {limit:,})."
NOT_TEXT = "I can only read questions sent as text. Please type your question."
GAP_MARK = "[…]"  # between quoted spans that are not one run of text (another place, another source)
NO_ANSWER = (
    "The knowledge base has no answer to that. Try rephrasing with specific names, places or "
    "dates, or ask an admin to add a source that covers it."
)
# A question in Ukrainian or Russian, while the relevance gate reads English only (issue 20).
NOT_READ_YET = ("I can't answer questions in this language yet: the check that keeps me from quoting "
                "unrelated passages reads English questions only for now. Please ask in English.")
UNKNOWN_DATE = "date unknown"
PUBLISHER_UNKNOWN = "publisher unknown"
SOURCES = "Sources"  # the heading of an answer's source list
AS_OF = "as of {date} ({age})"  # a source's date and how old it is
AGE_FUTURE = "in the future"
AGE_TODAY = "today"
AGE_THIS_MONTH = "this month"
AGE_THIS_YEAR = "this year"
DAYS_AGO = ("{count} day ago", "{count} days ago")  # singular and plural message ids
MONTHS_AGO = ("{count} month ago", "{count} months ago")
YEARS_AGO = ("{count} year ago", "{count} years ago")
# Under an answer whose quotes are in another language than the question (never translated).
QUOTES_IN_LANGUAGE = "The quotes are given as their sources wrote them, in {languages}."
UNKNOWN_ANSWER = "That answer is no longer on record; your vote was not counted."
VOTE_RECORDED = "Thanks, your feedback was recorded."
VOTE_FLAGGED = "Thanks, the maintainers will look at this answer."
EMPTY_KNOWLEDGE = "The knowledge base is empty."

# -- members: conversations and small talk (bot/core/conversation.py) -------------------------

NOTHING_MORE = "That is all the knowledge base has on this."
NOTHING_TO_CONTINUE = "There is no earlier answer to continue here. Please ask a question."
MORE_EXPIRED = "That answer is too old to continue. Please ask the question again."
MORE_BUTTON = "More"
THANKS_REPLY = "You're welcome. Ask another question any time."
READ_AS = "(read as: {question})"  # `crisisbot chat`, above the answer to a resolved follow-up
HELP = (  # plain text: the terminal, and Discord (Telegram has its own HTML layout below)
    "I answer questions about the war in Ukraine with sentences quoted from a knowledge base "
    "of {sources} sources, each cited with its publisher, kind and date. When the sources do "
    "not answer a question, I say so instead of guessing.\n\n"
    "Ask in plain words, for example: why did the US allow ATACMS strikes? Then you can follow "
    "up with a short question such as \"and Biden?\", \"why?\" or \"what about Kherson?\", or "
    "say \"tell me more\" for the next passages (in a private chat, a thread, or a reply to my "
    "answer; I remember your last few questions for {minutes} minutes)."
)

# -- moderators: summaries and digests ---------------------------------------------------------

NO_SUMMARY = ("The knowledge base has nothing on that topic in that period. Try other words, a "
              "wider date range, or ask an admin to add sources.")
NO_DIGEST = "Nothing new: no documents were added in that period."
BAD_DATE = "bad {name} date {value!r} (use YYYY, YYYY-MM or YYYY-MM-DD)"
LONG_TOPIC = "The topic is too long ({length:,} characters; the limit is {limit:,})."
BACKWARD_RANGE = "the range ends ({last}) before it starts ({first})"
SENTENCE_COUNT = "the number of sentences must be between 1 and {limit}"
MORE_TOPICS = "… and {more} smaller topic{plural}."  # under a digest

# -- admins: the knowledge base ----------------------------------------------------------------

KB_REMOVED = "Removed {document} ({passages} passages)."
KB_KIND_SET = "{document} is now {kind}."

# -- moderators: preview -> post (bot/core/previews.py) --------------------------------------

POST_BUTTON = "Post to channel"
POSTING = "Posting…"
EXPIRED = "This preview has expired; run /{command} again."
NOT_YOURS = "Only the moderator who asked for this preview can post it."
NO_LONGER_MODERATOR = "You are no longer a moderator here, so this preview can't be posted in your name."
POST_FAILED = "I couldn't post to {place}: {reason}"
POSTED_TO = "✅ Posted to {place}."
POSTED_BY = "Posted by {name}"
A_MODERATOR = "a moderator"  # POSTED_BY's name for someone the platform gives no name

# -- admins: /kb requests and buttons (bot/core/kb_requests.py) ------------------------------

_KINDS = ", ".join(k.value for k in Kind)
USAGE = {
    "add": "/kb add <url> [kind]",
    "text": "/kb text <title>, then the text on the next lines (or as a reply to the text)",
    "list": "/kb list [page] [publisher=…] [kind=…] [since=YYYY-MM-DD] [until=YYYY-MM-DD]",
    "show": "/kb show <id>",
    "remove": "/kb remove <id>",
    "kind": f"/kb kind <id> <kind>   (kinds: {_KINDS})",
    "refresh": "/kb refresh <id>",
    "log": "/kb log [page]",
    "subscribe": "/kb subscribe <feed url>",
    "unsubscribe": "/kb unsubscribe <feed url>",
    "feeds": "/kb feeds",
    "poll": "/kb poll",
    "gaps": "/kb gaps [since YYYY-MM-DD]",
    "stats": "/kb stats [weeks]",
}
USAGE_LINE = "Usage: {usage}"
UNREADABLE = "I can't read {word!r}."
UNKNOWN_SUBCOMMAND = "I don't know /kb {subcommand}."
BUTTON_EXPIRED = "This button is no longer active."

# -- admins: progress of long changes (bot/core/progress.py) ---------------------------------

WORKING = "Working on it…"
PROGRESS = "{working} {done} of {total} {unit}"
DOCUMENTS_ADDED = "documents added"
FEEDS_POLLED = "feeds polled"

# -- admins: uploads (bot/core/uploads.py) ---------------------------------------------------

NOT_ACCEPTED = ("I can't add {name}: send a .txt, .md, .html, .htm or .pdf file. "
                "(Other formats can be added from the server's terminal.)")
TOO_BIG = "{name} is {megabytes:.1f} MB; uploads are limited to {limit} MB."
NOT_HANDED_OVER = "I could not download {name}: {reason}"
SKIPPED = "Not read: {names}."

# -- Telegram --------------------------------------------------------------------------------
# Only what is about Telegram itself: its private chat and Start button, the command menu, the
# /help and /kb help layouts (HTML: the adapter escapes every value it fills in; the fixed text
# here needs no escaping beyond the `&lt;`/`&gt;` written in place), and the replies of its
# text commands. Names start with TELEGRAM_ so that each platform's section stays its own.

TELEGRAM_COMMANDS = {  # the command menu: everyone's
    "ask": "Ask a question about the war in Ukraine",
    "sources": "List the sources the answers come from",
    "help": "How to ask, and what the bot knows",
}
TELEGRAM_MODERATOR_COMMANDS = {  # shown to group administrators only
    "summary": "Moderators: preview a quoted summary of a topic",
    "digest": "Moderators: preview what is new in the knowledge base",
}
TELEGRAM_HELP = (  # HTML; {sources} a number, {bot} and {maintainer} escaped by the adapter
    "I answer questions about the war in Ukraine with sentences quoted from a knowledge "
    "base of {sources} sources, each cited with its publisher, kind and date. "
    "When the sources do not answer a question, I say so instead of guessing.\n\n"
    "<b>How to ask</b>\nIn a private chat, just write your question. In a group, "
    "mention me (@{bot}), reply to one of my messages, or use "
    "/ask followed by your question.\n\n"
    "In a private chat, or in a reply to my answer, you can follow up with a short question "
    "(\"and Biden?\", \"why?\") or \"tell me more\"; the More button under an answer "
    "continues it too.\n\n"
    "/sources lists what I know. Use 👍 / 👎 under an answer to tell the maintainers "
    "whether it helped.\n\n"
    "Maintained by {maintainer}."
)
TELEGRAM_HELP_MODERATOR = (
    "As a moderator, /summary &lt;topic&gt; [since=YYYY-MM-DD] [until=YYYY-MM-DD] "
    "sends you a preview of a quoted summary, and /digest one of what is new; "
    "a button posts it to the group."
)
TELEGRAM_HELP_ADMIN = "As an admin, you can change the knowledge base: /kb help lists how."
TELEGRAM_ASK_USAGE = "Write your question after /ask, for example: /ask how many troops did North Korea send?"
TELEGRAM_UNKNOWN_COMMAND = "I don't know the command {command}. Try /help."

TELEGRAM_SUMMARY_USAGE = "/summary [topic] [since=YYYY-MM-DD] [until=YYYY-MM-DD]"
TELEGRAM_DIGEST_USAGE = "/digest [since=YYYY-MM-DD]"
TELEGRAM_DIGEST_NO_TOPIC = "/digest takes no topic."
TELEGRAM_SENT_PREVIEW = "Sent you a preview in a private message."
TELEGRAM_SENT_RESULT = "Sent you the result in a private message."
TELEGRAM_START_PRIVATE = ("I can't send you a private message yet. Open a private chat with @{bot}, press "
                          "Start, then run /{command} here again.")
TELEGRAM_NO_TARGET = ("There is no chat to post this to from here: run /{command} in the group, or ask an "
                      "admin to set telegram_digest_chat_id.")
# A Post button from before a restart: Telegram's button no longer says which command made it.
TELEGRAM_PREVIEW_GONE = "This preview has expired; run /summary or /digest again."

TELEGRAM_KB_HELP_TITLE = "Knowledge base (admins)"
TELEGRAM_KB_UPLOAD_HINT = ("Send a .txt, .md, .html or .pdf file (up to 10 MB) in a private chat to add it; "
                           "in a group, caption it /kb add.")
TELEGRAM_KB_LOG_TITLE = "Audit log, page {page}"
TELEGRAM_KB_LOG_EMPTY = "No entries."
TELEGRAM_KB_LOG_OLDER = "Older entries: /kb log {page}"
TELEGRAM_KB_SUBSCRIBED = "Subscribed to {feed}. Its entries come in with the next poll (/kb poll polls now)."
TELEGRAM_KB_UNSUBSCRIBED = "Unsubscribed from {feed}."
TELEGRAM_KB_GAPS_TITLE = "Questions the knowledge base misses"
TELEGRAM_KB_NO_MATCH = "No documents match."
TELEGRAM_NOTHING = "(nothing)"  # a /kb reply with no lines at all

TELEGRAM_LISTING = "Knowledge base: {count} {noun} (page {page} of {pages})"  # /sources and /kb list

# -- Discord -----------------------------------------------------------------------------------
# What only the Discord adapter says, or says in words not shared yet.

MENTION_HINT = "Ask me something after the mention, for example: how many troops did North Korea send?"
PREVIEW_NOTE = "Only you can see this preview. “{button}” posts it here, with your name."
THE_CHANNEL = "the channel"  # where a preview goes: the channel it was asked in
KB_SUBSCRIBED = "Subscribed to {feed}. Its entries are added at the next poll."
KB_UNSUBSCRIBED = "Unsubscribed from {url}."
KB_NO_MATCH = "no documents match"
KB_NO_ENTRIES = "no entries"
KB_LIST_FOOTER = "Page {page} of {pages} · {total} documents"
KB_LOG_FOOTER = "Page {page}"
KB_TITLE = "Knowledge base"
KB_LOG_TITLE = "Audit log"
KB_FEEDS_TITLE = "Feeds"
KB_POLLED_TITLE = "Feeds polled"
KB_GAPS_TITLE = "Unanswered questions"
KB_STATS_TITLE = "Knowledge base statistics"
KB_FIRST_PASSAGE = "First passage"
SOURCES_FOOTER = "Page {page} of {pages} · {documents}"
QUOTED_FOOTER = "Quoted verbatim from the sources below · {sources}"
SOURCE_COUNT = ("{count} source", "{count} sources")  # QUOTED_FOOTER's {sources}
READ_LINK = "Read"  # the link to a source under an answer
MORE_LINES = "… {count} more lines"
# A server that is not one of the community's (`discord_guild_ids`): the bot works there for no one.
DISCORD_UNLISTED_GUILD = ("I only work in this community's own servers, and this is not one of them. "
                          "You can ask me in a direct message instead.")

# -- translations --------------------------------------------------------------------------------
# The sentences each catalogue in bot/core/locale must translate (its test checks it): what a
# member reads. Plural sentences are (singular, plural) pairs. Moderators' and admins' own
# sentences are still English only.

TRANSLATED: tuple[str | tuple[str, str], ...] = (
    APOLOGY, PREVIOUS, NEXT, RATE_LIMITED, READS_LIMITED, MODERATOR_LIMITED, SUMMARY_BUSY,
    EMPTY_QUESTION, LONG_QUESTION, NOT_TEXT, NO_ANSWER, NOT_READ_YET, UNKNOWN_DATE, PUBLISHER_UNKNOWN, SOURCES,
    AS_OF, AGE_FUTURE, AGE_TODAY, AGE_THIS_MONTH, AGE_THIS_YEAR, DAYS_AGO, MONTHS_AGO, YEARS_AGO,
    QUOTES_IN_LANGUAGE, UNKNOWN_ANSWER, VOTE_RECORDED, VOTE_FLAGGED, EMPTY_KNOWLEDGE, NOTHING_MORE,
    NOTHING_TO_CONTINUE, MORE_EXPIRED, MORE_BUTTON, THANKS_REPLY, READ_AS, HELP, NO_SUMMARY, NO_DIGEST,
    TELEGRAM_HELP, TELEGRAM_ASK_USAGE, TELEGRAM_UNKNOWN_COMMAND, MENTION_HINT, QUOTED_FOOTER, SOURCE_COUNT,
    READ_LINK,
)
