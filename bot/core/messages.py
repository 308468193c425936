"""Every sentence the bot says to people in its own words, in one place.

One wording for every platform (a Telegram and a Discord user are told the same thing in the
same words), and one module to translate when the bot learns the community's languages.
Quotes from sources are never here: they are the sources' words. Placeholders are
`str.format` fields; the code that fills them names each one.

Sections follow who reads them: everyone, members asking, moderators, admins. Platform
adapters add only what is about the platform itself (how to open a private chat, the name of a
button) and keep those few phrases beside their own code.
"""

from __future__ import annotations

# -- everyone ----------------------------------------------------------------------------------

APOLOGY = "Sorry, something went wrong. It has been logged; please try again in a moment."
NOT_ALLOWED = "Only {role}s may do that."
RATE_LIMITED = ("You have asked {limit} questions in the last {window:g} seconds. "
                "Please wait {seconds} second{plural} and ask again.")

# -- members: questions, answers, votes --------------------------------------------------------

EMPTY_QUESTION = "Please ask a question: the message is empty."
LONG_QUESTION = "The question is too long ({length:,} characters; the limit is {limit:,})."
NOT_TEXT = "I can only read questions sent as text. Please type your question."
NO_ANSWER = (
    "The knowledge base has no answer to that. Try rephrasing with specific names, places or "
    "dates, or ask an admin to add a source that covers it."
)
UNKNOWN_DATE = "date unknown"
UNKNOWN_ANSWER = "That answer is no longer on record; your vote was not counted."

# -- moderators: summaries and digests ---------------------------------------------------------

NO_SUMMARY = ("The knowledge base has nothing on that topic in that period. Try other words, a "
              "wider date range, or ask an admin to add sources.")
NO_DIGEST = "Nothing new: no documents were added in that period."
BAD_DATE = "bad {name} date {value!r} (use YYYY, YYYY-MM or YYYY-MM-DD)"
LONG_TOPIC = "The topic is too long ({length:,} characters; the limit is {limit:,})."
BACKWARD_RANGE = "the range ends ({last}) before it starts ({first})"
SENTENCE_COUNT = "the number of sentences must be between 1 and {limit}"

# -- Discord -----------------------------------------------------------------------------------
# What only the Discord adapter says, or says in words not shared yet. VOTE_RECORDED,
# VOTE_FLAGGED, PREVIOUS and NEXT read as Telegram's do today: one constant for both once its
# adapter takes them from here too.

MENTION_HINT = "Ask me something after the mention, for example: how many troops did North Korea send?"
VOTE_RECORDED = "Thanks, your feedback was recorded."
VOTE_FLAGGED = "Thanks, the maintainers will look at this answer."
PREVIOUS = "‹ Previous"
NEXT = "Next ›"
PREVIEW_NOTE = "Only you can see this preview. “{button}” posts it here, with your name."
THE_CHANNEL = "the channel"  # where a preview goes: the channel it was asked in
KB_REMOVED = "Removed {document} ({passages} passages)."
KB_KIND_SET = "{document} is now {kind}."
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
SOURCES_EMPTY = "The knowledge base is empty."
SOURCES_FOOTER = "Page {page} of {pages} · {documents}"
QUOTED_FOOTER = "Quoted verbatim from the sources below · {sources}"
MORE_TOPICS = "… and {more} smaller topic{plural}."
MORE_LINES = "… {count} more lines"
