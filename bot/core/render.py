"""Plain-text and Markdown renderings of answers and admin reports, for the terminal and files.

Chat adapters reuse the plain-text admin renderings (escaped for their markup), so a report
reads the same on every surface.

A quote that does not continue the one before it (another part of a passage, another source)
is preceded by "[…]" (`Quote.gap_before`). Each quote is followed by its marker, "[1]", or "[1, 2024-10-20]" when the quoted sources differ
in date (`Answer.marker`). Dates are validated at ingest (YYYY[-MM[-DD]]), so a marker holds
nothing Markdown reacts to and is not escaped.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from bot.core.answer import GAP_MARK, NO_ANSWER, Answer, Quote, Source, describe_date
from bot.core.audit import AuditEntry
from bot.core.coverage import GapCluster, KnowledgeStats
from bot.core.messages import NO_DIGEST, NO_SUMMARY, NOT_READ_YET, PUBLISHER_UNKNOWN, QUOTES_IN_LANGUAGE, SOURCES
from bot.core.summary import Digest, Summary
from bot.core.text_split import one_line
from knowledge.documents import DocumentInfo
from knowledge.feeds import PollReport, Subscription
from knowledge.language import detect_language
from knowledge.text import strip_invisible


def link_url(url: str | None) -> str | None:
    """`url` when it may be shown as a link: http(s) only. Documents are checked when they are
    built, but one stored before that check (or by another tool) must still never become a
    clickable `javascript:` link in a chat; every renderer asks this before linking."""
    if not url:
        return None
    scheme, colon, rest = url.strip().partition(":")
    if not colon or scheme.lower() not in ("http", "https") or not rest.startswith("//"):
        return None
    return url


def display_line(text: str | None, missing: str = "") -> str:
    """A stored title, publisher or label as one line to show (`missing` when nothing is left).

    Documents are cleaned when they are built (`knowledge.text`), but one stored before that,
    or written by another tool, may still hold a bidi control that reverses the citation line
    around it ("— Kyiv Independent" read backwards, or as someone else), a zero-width
    character or a NUL. Every renderer, the core's and both adapters', passes titles and
    publishers through here, with the readers' own list of such characters.
    """
    return one_line(strip_invisible(text or "")) or missing


def source_meta(answer: Answer, source: Source, today: date | None = None) -> list[str]:
    """A citation's publisher, kind and age, in the asker's language (raw: callers escape)."""
    words = answer.words
    doc = source.document
    return [display_line(doc.publisher, words.text(PUBLISHER_UNKNOWN)), words.kind(doc.kind),
            source.as_of(today, words)]


def source_line(source: Source, today: date | None = None, answer: Answer | None = None) -> str:
    """'[1] Title — Publisher, analysis, as of 2024-11 (2 years ago)'."""
    parts = source_meta(answer or Answer(""), source, today)
    return f"[{source.number}] {display_line(source.document.title)} — " + ", ".join(parts)


def language_note(answer: Answer) -> str | None:
    """One line saying the quotes are in another language than the question, else None.

    Quotes are never translated (a translation is the bot's words, not the source's); a
    reader who asked in Ukrainian is told plainly why the answer is in English."""
    languages = []
    for quote in answer.quotes:
        language = detect_language(quote.text)
        if language is not None and language is not answer.language and language not in languages:
            languages.append(language)
    if not languages:
        return None
    words = answer.words
    return words.text(QUOTES_IN_LANGUAGE, languages=", ".join(words.language_name(x) for x in languages))


def no_answer_text(answer: Answer) -> str:
    """The refusal; for a question declined for its language, that reason instead of the
    advice to rephrase, which would not help."""
    if answer.explanation.unread_language:
        return answer.words.text(NOT_READ_YET)
    return answer.words.text(NO_ANSWER)


def render_plain(answer: Answer, today: date | None = None) -> str:
    if not answer.found:
        return no_answer_text(answer)
    body = " ".join(f"{gap_prefix(quote)}{quote.text} {answer.marker(quote)}" for quote in answer.quotes)
    note = language_note(answer)
    return "\n".join([body, *([note] if note else []), "", *_sources_block(answer, today)])


def gap_prefix(quote: Quote) -> str:
    """"[…] " before a quote that does not continue the one before it, else nothing."""
    return f"{GAP_MARK} " if quote.gap_before else ""


def _sources_block(answer: Answer, today: date | None) -> list[str]:
    """'Sources:', then each source's line with its URL indented below it."""
    lines = [answer.words.text(SOURCES) + ":"]
    for source in answer.sources:
        lines.append(source_line(source, today, answer))
        url = link_url(source.document.url)
        if url:
            lines.append(f"    {url}")
    return lines


def _escape_markdown(text: str) -> str:
    for char in "\\`*_[]<>#|":
        text = text.replace(char, "\\" + char)
    return text


def render_markdown(answer: Answer, today: date | None = None) -> str:
    if not answer.found:
        return no_answer_text(answer)
    body = " ".join(f"{gap_prefix(q)}{_escape_markdown(q.text)} {answer.marker(q)}" for q in answer.quotes)
    note = language_note(answer)
    lines = [body, *(["", f"*{_escape_markdown(note)}*"] if note else []), "", f"**{answer.words.text(SOURCES)}**", ""]
    for source in answer.sources:
        doc = source.document
        title = _escape_markdown(display_line(doc.title))
        url = link_url(doc.url)
        title = f"[{title}]({url})" if url else f"*{title}*"
        meta = ", ".join(_escape_markdown(part) for part in source_meta(answer, source, today))
        lines.append(f"{source.number}. {title} — {meta}")
    return "\n".join(lines)


def document_lines(document: DocumentInfo, today: date | None = None) -> list[str]:
    """Two lines a document for the terminal's source listings (`sources`, `kb list`)."""
    meta = (f"    {display_line(document.publisher, 'publisher unknown')}, {document.kind.value}, "
            f"{describe_date(document.published, today)}, {document.passage_count} passages")
    return [f"{document.id}  {display_line(document.title)}", meta + (f", {document.url}" if document.url else "")]


def document_json(document: DocumentInfo) -> dict[str, object]:
    """A document's listing fields as JSON-ready values (the kind as its name)."""
    return {**document.__dict__, "kind": document.kind.value}


def audit_line(entry: AuditEntry) -> str:
    """'2026-11-27T01:02:03+00:00  Olena (telegram:501)  add-url https://…  ok: added …'."""
    return f"{entry.at}  {entry.who}  {entry.action} {entry.target}  {entry.result}"


def subscription_lines(subscriptions: Sequence[Subscription]) -> list[str]:
    """Two lines a feed: its title and URL, then who added it and how the last poll went."""
    lines = []
    for sub in subscriptions:
        polled = f"last polled {sub.last_polled_at}" if sub.last_polled_at else "not polled yet"
        state = f"; last error: {sub.last_error}" if sub.last_error else ""
        lines.append(f"{display_line(sub.title, '(no title yet)')} — {sub.url}")
        lines.append(f"    added by {sub.added_by} on {sub.added_at[:10]}, {polled}{state}")
    return lines or ["no feeds are subscribed"]


def describe_poll(report: PollReport) -> str:
    """One feed's poll in a few words, for the audit log and for people."""
    if report.error:
        return f"feed not read: {report.error}"
    parts = [f"{len(report.added)} added"]
    if report.skipped:
        parts.append(f"{len(report.skipped)} skipped as copies")
    if report.failed:
        parts.append(f"{len(report.failed)} failed (first: {report.failed[0][0]}: {report.failed[0][1]})")
    if report.waiting:
        why = " (the poll's time budget was used up)" if report.out_of_time else ""
        parts.append(f"{report.waiting:,} more waiting for the next poll{why}")
    if report.backing_off:
        parts.append(f"{report.backing_off} waiting after repeated failures")
    return ", ".join(parts)


def poll_lines(reports: Sequence[PollReport]) -> list[str]:
    """One line a feed, then one line per entry skipped or failed."""
    if not reports:
        return ["no feeds are subscribed"]
    lines = []
    for report in reports:
        lines.append(f"{report.feed_url}: {describe_poll(report)}")
        lines.extend(f"    skipped {link}: {why}" for link, why in report.skipped)
        lines.extend(f"    failed {link}: {why}" for link, why in report.failed)
    return lines


def gap_lines(clusters: Sequence[GapCluster], examples: int = 3) -> list[str]:
    """Per group: how often it was asked and how it went, then up to `examples` wordings."""
    if not clusters:
        return ["no gaps: every recorded question was answered and none was voted down"]
    lines = []
    for number, cluster in enumerate(clusters, 1):
        how = [f"{cluster.declined} declined"] if cluster.declined else []
        how += [f"{cluster.voted_down} voted 👎"] if cluster.voted_down else []
        lines.append(f"{number}. asked {cluster.asked}× ({', '.join(how)}), last {cluster.last_asked[:10]}")
        lines.extend(f"    “{q}”" for q in cluster.questions[:examples])
        if len(cluster.questions) > examples:
            more = len(cluster.questions) - examples
            lines.append(f"    … and {more} more wording{'s' if more > 1 else ''}")
    return lines


def stats_lines(stats: KnowledgeStats) -> list[str]:
    """Totals, then a fixed-width table by week (for a terminal or a code block)."""
    share = f"{stats.answered_share:.0%}" if stats.answered_share is not None else "-"
    lines = [
        f"documents: {stats.documents:,}   passages: {stats.passages:,}",
        f"questions: {stats.questions:,}   answered: {stats.answered:,} ({share})   "
        f"votes: {stats.votes_up:,} 👍 / {stats.votes_down:,} 👎",
        "",
        f"{'week of':10}  {'docs+':>5}  {'asked':>5}  {'answered':>8}  {'up':>4}  {'down':>4}",
    ]
    for week in stats.weeks:
        answered = f"{week.answered / week.questions:.0%}" if week.questions else "-"
        lines.append(f"{week.week:10}  {week.documents_added:>5}  {week.questions:>5}  "
                     f"{answered:>8}  {week.votes_up:>4}  {week.votes_down:>4}")
    return lines


def poll_summary(reports: Sequence[PollReport]) -> str:
    """One line for the log after a scheduled poll: feeds, entries added, skipped, failed."""
    added = sum(len(r.added) for r in reports)
    skipped = sum(len(r.skipped) for r in reports)
    failed = sum(len(r.failed) for r in reports)
    unread = sum(1 for r in reports if r.error)
    waiting = sum(r.waiting for r in reports)
    return (f"{len(reports)} feeds, {added} entries added, {skipped} skipped as copies, "
            f"{failed} failed, {unread} feeds not read"
            + (f", {waiting:,} more waiting" if waiting else ""))


def render_summary_plain(summary: Summary, today: date | None = None) -> str:
    """Heading, one quoted sentence a line with its marker, then the numbered sources."""
    if not summary.found:
        return NO_SUMMARY
    answer = summary.answer
    lines = [summary.heading, ""]
    lines += [f"- {quote.text} {answer.marker(quote)}" for quote in answer.quotes]
    return "\n".join([*lines, "", *_sources_block(answer, today)])


def digest_heading(digest: Digest) -> str:
    """'What's new: 12 documents added 2024-11-18 to 2024-11-25, in 4 topics'."""
    first, last = digest.since[:10], digest.until[:10]
    noun = "document" if digest.documents == 1 else "documents"
    topics = len(digest.topics)
    return (f"What's new: {digest.documents} {noun} added {first} to {last}, "
            f"in {topics} topic{'s' if topics != 1 else ''}")


def render_digest_plain(digest: Digest, today: date | None = None) -> str:
    """The heading, then per topic its label, its quoted sentences and its sources."""
    if digest.empty:
        return NO_DIGEST
    lines = [digest_heading(digest)]
    for number, topic in enumerate(digest.topics, 1):
        answer = topic.answer
        lines += ["", f"{number}. {display_line(topic.label)}"]
        lines += [f"   {quote.text} {answer.marker(quote)}" for quote in answer.quotes]
        lines += [f"   {source_line(source, today)}" for source in answer.sources]
    if digest.more_topics:
        lines += ["", f"… and {digest.more_topics} smaller topic{'s' if digest.more_topics != 1 else ''}."]
    return "\n".join(lines)
