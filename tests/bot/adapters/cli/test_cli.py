"""The terminal adapter: each bad input gets one clear line and a non-zero exit, nothing written."""

from __future__ import annotations

import getpass
import io
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from bot.core.new_documents import text_document_id
from bot.adapters.cli.app import main
from knowledge.extraction import document_id
from tests.conftest import PROJECT, SEED_ARTICLE
from tests.web_server import ARTICLE_HTML, LocalServer


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "data"
    monkeypatch.setenv("CRISISBOT_DATA_DIR", str(folder))
    monkeypatch.delenv("CRISISBOT_CONFIG", raising=False)
    return folder


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


def document_count(data_dir: Path) -> int:
    database = data_dir / "knowledge.sqlite3"
    if not database.exists():
        return 0
    with sqlite3.connect(database) as db:
        if db.execute("SELECT 1 FROM sqlite_master WHERE name = 'documents'").fetchone() is None:
            return 0  # only the audit log was written (a refused or failed change)
        return int(db.execute("SELECT COUNT(*) FROM documents").fetchone()[0])


def error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.startswith("crisisbot: error:")]
    assert len(lines) == 1, err
    return lines[0]


def test_help_does_not_import_torch() -> None:
    code = (
        "import sys\nfrom bot.adapters.cli.app import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('torch', 'sentence_transformers', 'faiss', 'transformers') if m in sys.modules]\n"
        "print('HEAVY', heavy)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=PROJECT, timeout=120)
    assert "usage: crisisbot" in result.stdout
    assert "HEAVY []" in result.stdout


@pytest.mark.parametrize(
    ("question", "message"),
    [("", "the message is empty"), ("   ", "the message is empty"), ("q" * 1001, "too long (1,001 characters")],
)
def test_bad_questions_exit_non_zero_before_loading_anything(
    data_dir: Path, capsys: pytest.CaptureFixture[str], question: str, message: str
) -> None:
    code, out, err = run(["ask", question], capsys)
    assert code == 1 and out == ""
    assert message in error_line(err)
    assert not data_dir.exists()  # refused before the knowledge base was even opened


def write(path: Path, content: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


GOOD_LINE = json.dumps({"id": "n1", "title": "Grain deal", "text": "Ships left Odesa with grain.", "kind": "news"})


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("missing.md", None, "no such file or folder"),
        ("image.md", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary data"),
        ("latin.txt", "Kyiv caf\xe9".encode("latin-1"), "not UTF-8 text"),
        ("empty.txt", "  \n\n ", "empty document"),
        ("front.md", "---\ntitle: Only a title\n---\n\n", "empty document"),
        ("bad.jsonl", GOOD_LINE + "\n" + GOOD_LINE.replace("n1", "n2") + "\n{not json\n", "bad.jsonl:3: malformed JSON"),
        ("notext.jsonl", GOOD_LINE + '\n{"id": "n9", "title": "No text"}\n', "notext.jsonl:2: missing or empty field 'text'"),
        ("kind.jsonl", GOOD_LINE.replace('"news"', '"gossip"'), "kind.jsonl:1: unknown kind 'gossip'"),
        ("date.jsonl", GOOD_LINE[:-1] + ', "published": "2024-13-01"}', "bad published date"),
        ("broken.pdf", b"%PDF-1.4", "the PDF cannot be read"),
        ("notes.docx", b"PK", "unsupported file type"),
    ],
)
def test_bad_sources_fail_the_whole_batch_with_nothing_ingested(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    name: str, content: str | bytes | None, message: str,
) -> None:
    good = write(tmp_path / "in" / "good.md", "---\ntitle: Good\n---\nA perfectly fine document about grain.\n")
    bad = tmp_path / "in" / name
    if content is not None:
        write(bad, content)
    code, out, err = run(["ingest", str(good), str(bad)], capsys)
    assert code == 1
    assert message in error_line(err)
    assert document_count(data_dir) == 0


def test_unreadable_file_is_reported(data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    secret = write(tmp_path / "secret.txt", "Title\nBody text.")
    secret.chmod(0)
    try:
        if os.access(secret, os.R_OK):
            pytest.skip("running as a user who can read anything (root)")
        code, _, err = run(["ingest", str(secret)], capsys)
        assert code == 1 and "cannot be read" in error_line(err)
    finally:
        secret.chmod(0o644)


def test_folder_without_sources_is_an_error(data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(tmp_path / "in" / "notes.docx", b"PK")
    code, _, err = run(["ingest", str(tmp_path / "in")], capsys)
    assert code == 1 and "no .md, .txt or .jsonl files" in error_line(err)


def test_remove_unknown_document(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["remove", "no-such-doc"], capsys)
    assert code == 1 and "no document with id 'no-such-doc'" in error_line(err)


def test_bad_setting_is_named(data_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRISISBOT_GATE_THRESHOLD", "high")
    code, _, err = run(["sources"], capsys)
    assert code == 1 and "CRISISBOT_GATE_THRESHOLD" in error_line(err)


def test_missing_config_file_is_named(data_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CRISISBOT_CONFIG", str(tmp_path / "nope.toml"))
    code, _, err = run(["sources"], capsys)
    assert code == 1 and "nope.toml: no such file" in error_line(err)


@pytest.mark.slow
def test_ingest_ask_sources_remove_round_trip(data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "in"
    write(folder / "a.jsonl", GOOD_LINE + "\n" + json.dumps({
        "id": "n2", "title": "Drone strikes", "url": "https://example.org/drones", "publisher": "Example News",
        "kind": "news", "published": "2024-10-02",
        "text": "Drones struck an oil depot near Belgorod overnight. Local officials reported no casualties."}) + "\n")
    write(folder / "sub" / "note.txt", "Evacuation notice\nResidents of Pokrovsk were told to leave the city by Friday.")
    write(folder / "ignored.docx", b"PK\x03\x04")
    code, out, err = run(["ingest", str(folder)], capsys)
    assert code == 0, err
    assert "3 added, 0 replaced, 0 unchanged" in out
    assert "ignored.docx" in err

    code, out, _ = run(["ask", "Were there casualties after the drone strike on the oil depot?"], capsys)
    assert code == 0
    assert "Local officials reported no casualties. [1]" in out
    assert "[1] Drone strikes — Example News, news, as of 2024-10-02" in out
    assert "https://example.org/drones" in out

    code, out, _ = run(["ask", "--format", "json", "Which city were residents told to leave?"], capsys)
    payload = json.loads(out)
    assert payload["found"] and payload["sources"][0]["document_id"] == "note"

    code, out, _ = run(["sources"], capsys)
    assert code == 0 and "4 documents" in out and SEED_ARTICLE.stem in out

    code, out, _ = run(["ingest", str(folder / "a.jsonl")], capsys)
    assert "0 added, 0 replaced, 2 unchanged" in out

    assert run(["remove", "n2"], capsys)[0] == 0
    code, out, _ = run(["ask", "Were there casualties after the drone strike on the oil depot?"], capsys)
    assert "Belgorod" not in out

    code, out, _ = run(["reindex"], capsys)
    assert code == 0 and "index rebuilt" in out


@pytest.mark.slow
def test_chat_answers_each_line_and_survives_a_bad_one(data_dir: Path) -> None:
    env = {**os.environ, "CRISISBOT_DATA_DIR": str(data_dir)}
    result = subprocess.run(
        [sys.executable, "-m", "bot", "chat"],
        input="How many North Korean troops arrived in Russia?\n" + "x" * 1200 + "\nWho won the World Cup in 2022?\n",
        capture_output=True, text=True, env=env, cwd=PROJECT, timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "10,000 North Korean troops" in result.stdout
    assert "error: The question is too long" in result.stdout
    assert "The knowledge base has no answer" in result.stdout


@pytest.mark.slow
def test_chat_resolves_follow_ups_and_exits_zero_at_the_end_of_input(data_dir: Path) -> None:
    env = {**os.environ, "CRISISBOT_DATA_DIR": str(data_dir)}
    lines = ["why?", "How many North Korean troops arrived in Russia?", "why?", "tell me more", "hello", "thanks"]
    result = subprocess.run(
        [sys.executable, "-m", "bot", "chat"], input="\n".join(lines) + "\n",
        capture_output=True, text=True, env=env, cwd=PROJECT, timeout=300,
    )
    assert result.returncode == 0, result.stderr
    replies = result.stdout.split("\n\n")
    assert "The knowledge base has no answer" in replies[0]  # "why?" alone
    read_as = "(read as: why: How many North Korean troops arrived in Russia?)"
    assert read_as in result.stdout  # shown again above the "tell me more" continuation
    after = result.stdout.split(read_as, 1)[1]
    assert "10,000 North Korean troops" in after.split("Sources:")[0]  # answered, from the article
    assert "I answer questions about the war in Ukraine" in result.stdout
    assert "You're welcome" in result.stdout


def test_chat_with_a_bad_setting_exits_non_zero_with_one_line(data_dir: Path) -> None:
    env = {**os.environ, "CRISISBOT_DATA_DIR": str(data_dir), "CRISISBOT_CONVERSATION_TURNS": "0"}
    result = subprocess.run([sys.executable, "-m", "bot", "chat"], input="hello\n", capture_output=True,
                            text=True, env=env, cwd=PROJECT, timeout=120)
    assert result.returncode == 1
    assert "CRISISBOT_CONVERSATION_TURNS" in error_line(result.stderr)


def test_ask_hello_prints_the_help_not_a_refusal(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["ask", "hello"], capsys)
    assert code == 0 and "I answer questions about the war in Ukraine" in out and "no answer" not in out


def test_file_that_cannot_be_opened_is_reported(data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    loop = tmp_path / "loop.md"
    loop.symlink_to(loop)  # opening it fails with ELOOP, even for root
    code, _, err = run(["ingest", str(loop)], capsys)
    assert code == 1 and "cannot be read" in error_line(err)
    assert document_count(data_dir) == 0


def test_serve_telegram_without_a_token(data_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TELEGRAM_BOT_TOKEN", raising=False)
    code, _, err = run(["serve", "telegram"], capsys)
    assert code == 1 and "TELEGRAM_BOT_TOKEN is not set" in error_line(err)


def test_serve_telegram_webhook_without_a_secret(data_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "123:abc")
    monkeypatch.setenv("CRISISBOT_TELEGRAM_WEBHOOK_URL", "https://bot.example.org/telegram")
    monkeypatch.delenv("TELEGRAM_WEBHOOK_SECRET", raising=False)
    code, _, err = run(["serve", "telegram"], capsys)
    assert code == 1 and "TELEGRAM_WEBHOOK_SECRET" in error_line(err)
    assert not data_dir.exists()  # refused before opening the knowledge base


def test_serve_discord_without_a_token(data_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DISCORD_BOT_TOKEN", raising=False)
    code, _, err = run(["serve", "discord", "--sync"], capsys)
    assert code == 1 and "DISCORD_BOT_TOKEN is not set" in error_line(err)
    assert not data_dir.exists()


def test_sync_is_for_discord_only(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["serve", "telegram", "--sync"], capsys)
    assert code == 1 and "--sync and --guild are for discord" in error_line(err)


# -- crisisbot kb: the admin operations from a terminal ------------------------------------------


@pytest.fixture
def fast_bot(monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI's bot with the hashing embedder: these tests need no model judgement."""
    import bot.adapters.cli.app
    from bot.runtime.service import CrisisBot
    from tests.fakes import HashingEmbedder

    monkeypatch.setattr(bot.adapters.cli.app, "_bot", lambda settings: CrisisBot(settings, HashingEmbedder()))
    monkeypatch.setenv("CRISISBOT_LOAD_BUILTIN_KNOWLEDGE", "false")


def test_kb_add_text_list_show_set_kind_remove_and_log(
    data_dir: Path, fast_bot: None, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    statement = write(tmp_path / "statement.txt", "The ministry said the corridor stays open.\n")
    code, out, err = run(["kb", "add-text", "--title", "Corridor statement", "--kind", "official-statement",
                          "--published", "2024-11-02", "--publisher", "Ministry", str(statement)], capsys)
    assert code == 0, err
    doc = text_document_id("Corridor statement")
    assert out.startswith(f"added {doc} (1 passages)")
    monkeypatch.setattr("sys.stdin", io.StringIO("A viral video was staged, the check found.\n"))
    code, out, _ = run(["kb", "add-text", "--title", "Viral video", "--kind", "fact-check",
                        "--url", "https://example.org/check", "-"], capsys)
    assert code == 0 and out.startswith("added example-org-check-")

    code, out, _ = run(["kb", "list", "--per-page", "1"], capsys)
    assert code == 0 and "Corridor statement" in out and "Viral video" not in out
    assert "Ministry, official-statement, as of 2024-11-02" in out
    assert out.rstrip().endswith("page 1 of 2 (2 documents)")
    code, out, _ = run(["kb", "list", "--kind", "fact-check", "--format", "json"], capsys)
    payload = json.loads(out)
    assert (payload["total"], payload["items"][0]["title"], payload["items"][0]["kind"]) == (1, "Viral video", "fact-check")
    code, out, _ = run(["kb", "list", "--publisher", "minis", "--since", "2024-11", "--until", "2024-11-30"], capsys)
    assert "Corridor statement" in out and "(1 documents)" in out

    code, out, _ = run(["kb", "show", doc], capsys)
    assert code == 0 and f"id:         {doc}" in out and "kind:       official-statement" in out
    assert out.rstrip().endswith("The ministry said the corridor stays open.")

    code, out, _ = run(["kb", "set-kind", doc, "analysis"], capsys)
    assert code == 0 and out.strip() == f"{doc} is now analysis"
    code, out, _ = run(["kb", "remove", doc], capsys)
    assert code == 0 and out.strip() == f"removed {doc} (1 passages)"
    assert document_count(data_dir) == 1

    code, out, _ = run(["kb", "log", "--limit", "3"], capsys)
    user = getpass.getuser()
    lines = out.strip().splitlines()
    assert len(lines) == 3
    assert f"{user} (cli:{user})  remove {doc}  ok: removed {doc} 'Corridor statement' (1 passages)" in lines[0]
    assert f"set-kind {doc}  ok: {doc} kind official-statement -> analysis" in lines[1]
    assert "add-text Viral video  ok: added" in lines[2]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["kb", "show", "no-such-doc"], "no document with id 'no-such-doc'"),
        (["kb", "remove", "no-such-doc"], "no document with id 'no-such-doc'"),
        (["kb", "refresh", "no-such-doc"], "no document with id 'no-such-doc'"),
        (["kb", "set-kind", "no-such-doc", "news"], "no document with id 'no-such-doc'"),
        (["kb", "list", "--kind", "gossip"], "unknown kind 'gossip'"),
        (["kb", "list", "--since", "last week"], "bad since date 'last week'"),
        (["kb", "list", "--until", "2024-13"], "bad until date '2024-13'"),
        (["kb", "list", "--page", "2"], "there is no page 2"),
        (["kb", "log", "--limit", "0"], "the limit must be between 1 and 1000"),
        (["kb", "add-text", "--title", "T", "missing.txt"], "missing.txt: no such file"),
    ],
)
def test_kb_errors_are_one_line(
    data_dir: Path, fast_bot: None, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    code, out, err = run(args, capsys)
    assert code == 1 and out == ""
    assert message in error_line(err)


@pytest.mark.slow
def test_huge_page_numbers_answer_past_the_end_not_an_overflow(data_dir: Path) -> None:
    """A page number of any size reaches SQL clamped: the usual "no page" line and exit 1 for
    `kb list`, "no entries" for `kb log`; never OverflowError's exit 3."""
    env = {**os.environ, "CRISISBOT_DATA_DIR": str(data_dir), "CRISISBOT_LOAD_BUILTIN_KNOWLEDGE": "false"}
    huge = "9" * 25

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "bot", "kb", *args], capture_output=True, text=True,
                              env=env, cwd=PROJECT, timeout=300)

    listing = cli("list", "--page", huge)
    assert listing.returncode == 1 and listing.stdout == "", listing.stderr
    assert f"there is no page {huge}: 0 documents make 1 page(s)" in error_line(listing.stderr)
    assert "Traceback" not in listing.stderr
    for args in (["--page", huge], ["--limit", "1000", "--page", huge]):
        log = cli("log", *args)
        assert log.returncode == 0 and log.stdout.strip() == "no entries", log.stderr
    stats = cli("stats", "--weeks", huge)
    assert stats.returncode == 1 and "the number of weeks must be between 1 and 104" in error_line(stats.stderr)
    gaps = cli("gaps", "--limit", huge)
    assert gaps.returncode == 1 and "between 1 and 100" in error_line(gaps.stderr)


@pytest.mark.parametrize(
    ("extra", "text", "message"),
    [
        ([], "  \n", "the text is empty"),
        (["--published", "2024-02-30"], "Text.", "bad published date '2024-02-30': no such date"),
        (["--kind", "rumour"], "Text.", "unknown kind 'rumour'"),
    ],
)
def test_kb_add_text_errors_write_nothing_but_are_audited(
    data_dir: Path, fast_bot: None, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    extra: list[str], text: str, message: str,
) -> None:
    source = write(tmp_path / "text.txt", text)
    code, _, err = run(["kb", "add-text", "--title", "Title", *extra, str(source)], capsys)
    assert code == 1 and message in error_line(err)
    assert document_count(data_dir) == 0
    code, out, _ = run(["kb", "log"], capsys)
    assert "add-text Title  error: " in out and message in out


def test_kb_set_kind_bad_kind(data_dir: Path, fast_bot: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run(["kb", "add-text", "--title", "Note", str(write(tmp_path / "n.txt", "Some text."))], capsys)
    code, _, err = run(["kb", "set-kind", text_document_id("Note"), "blog"], capsys)
    assert code == 1 and "unknown kind 'blog' (allowed: news, official-statement, analysis, fact-check, other)" in error_line(err)


def test_kb_add_url_and_refresh(
    data_dir: Path, fast_bot: None, web: LocalServer, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    url = web.url("/changing")
    code, _, err = run(["kb", "add-url", url], capsys)  # private addresses are off by default
    assert code == 1 and "127.0.0.1" in error_line(err) and web.seen == []

    monkeypatch.setenv("CRISISBOT_ALLOW_PRIVATE_URLS", "true")
    code, out, err = run(["kb", "add-url", url, "--kind", "news"], capsys)
    assert code == 0, err
    doc = document_id(url)
    assert out.startswith(f"added {doc} (")
    code, out, _ = run(["kb", "refresh", doc], capsys)
    assert code == 0 and out.strip() == "unchanged"
    web.changing_html = ARTICLE_HTML.replace("Twelve ships", "Fifteen ships")
    code, out, _ = run(["kb", "refresh", doc], capsys)
    assert code == 0 and out.startswith(f"replaced {doc} (")
    code, out, _ = run(["kb", "show", doc], capsys)
    assert "kind:       news" in out and "Grain corridor reopens after talks" in out

    code, out, _ = run(["kb", "log"], capsys)
    results = [line.split("  ")[-1] for line in out.strip().splitlines()]
    assert results[0].startswith(f"ok: replaced {doc}") and results[1] == "ok: unchanged"
    assert results[2].startswith(f"ok: added {doc}") and results[3].startswith("error: ") and "127.0.0.1" in results[3]


def test_kb_feeds_subscribe_poll_unsubscribe(
    data_dir: Path, fast_bot: None, web: LocalServer, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CRISISBOT_ALLOW_PRIVATE_URLS", "true")
    feed = web.url("/feed.rss")
    code, out, err = run(["kb", "subscribe", feed], capsys)
    assert code == 0, err
    assert out.strip() == f"subscribed to Local wire ({feed}); new entries are added at each poll"
    code, out, _ = run(["kb", "feeds"], capsys)
    assert out.splitlines()[0] == f"Local wire — {feed}" and "not polled yet" in out
    code, out, _ = run(["kb", "poll"], capsys)
    assert (code, out.strip()) == (0, f"{feed}: 2 added")
    assert document_count(data_dir) == 2
    web.feed_items.append(("/image", "A picture"))
    code, out, _ = run(["kb", "poll"], capsys)
    assert code == 1  # cron sees that an entry failed
    assert out.splitlines() == [
        f"{feed}: 0 added, 1 failed (first: {web.url('/image')}: unsupported content type image/png: "
        "send an HTML page or a PDF)",
        f"    failed {web.url('/image')}: unsupported content type image/png: send an HTML page or a PDF",
    ]
    code, out, _ = run(["kb", "feeds"], capsys)
    assert "last error: 1 of 1 new entries failed" in out
    code, out, _ = run(["kb", "unsubscribe", feed], capsys)
    assert code == 0 and document_count(data_dir) == 2
    code, out, _ = run(["kb", "feeds"], capsys)
    assert out.strip() == "no feeds are subscribed"
    code, _, err = run(["kb", "subscribe", web.url("/article")], capsys)
    assert code == 1 and "send an RSS or Atom feed" in error_line(err)


def test_kb_gaps_and_stats(data_dir: Path, fast_bot: None, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["kb", "gaps"], capsys)
    assert (code, out.strip()) == (0, "no gaps: every recorded question was answered and none was voted down")
    from bot.runtime.service import CrisisBot
    from bot.runtime.settings import load_settings
    from tests.fakes import HashingEmbedder

    bot = CrisisBot(load_settings(), HashingEmbedder())
    try:
        for _ in range(2):
            assert not bot.ask("Who won the world cup?", bot.actor("telegram", 5)).found
    finally:
        bot.close()
    code, out, _ = run(["kb", "gaps", "--format", "json"], capsys)
    (group,) = json.loads(out)
    assert (group["questions"], group["asked"], group["declined"]) == (["Who won the world cup?"], 2, 2)
    code, out, _ = run(["kb", "stats", "--weeks", "2"], capsys)
    lines = out.splitlines()
    assert code == 0 and lines[0] == "documents: 0   passages: 0"
    assert lines[1].startswith("questions: 2   answered: 0 (0%)") and len(lines) == 6
    code, out, _ = run(["kb", "stats", "--format", "json"], capsys)
    assert json.loads(out)["questions"] == 2 and len(json.loads(out)["weeks"]) == 8
    code, _, err = run(["kb", "stats", "--weeks", "500"], capsys)
    assert code == 1 and "between 1 and 104" in error_line(err)


def test_summary_and_digest_from_the_terminal(
    data_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The real model over the seed article: a topic summary, its JSON, and the digest of what
    was just added (the seed itself)."""
    code, out, err = run(["summary", "north korean troops"], capsys)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].startswith("What the knowledge base says about “north korean troops”, 2024-11")
    quotes = [line for line in lines if line.startswith("- ")]
    assert quotes and all(line.endswith("[1]") for line in quotes)
    assert "Sources:" in lines and any(line.startswith("[1] Turning Tides") for line in lines)
    code, out, _ = run(["summary", "north korean troops", "--sentences", "2", "--format", "json"], capsys)
    payload = json.loads(out)
    assert payload["found"] and len(payload["quotes"]) == 2 and payload["heading"].startswith("What the")
    seed = SEED_ARTICLE.read_text(encoding="utf-8")
    assert all(" ".join(q["text"].split()) in " ".join(seed.split()) for q in payload["quotes"])
    code, out, _ = run(["summary", "north korean troops", "--since", "2025"], capsys)
    assert code == 0 and out.startswith("The knowledge base has nothing on that topic in that period.")
    code, _, err = run(["summary", "troops", "--since", "2024-12", "--until", "2024-11"], capsys)
    assert code == 1 and "the range ends (2024-11) before it starts (2024-12)" in error_line(err)

    # A digest covers what was added before the current second (a document added within it
    # waits for the next digest); let the clock move on an hour, as it would have by then.
    import bot.core.summaries
    from datetime import datetime, timedelta

    class AnHourLater(datetime):
        @classmethod
        def now(cls, tz=None):  # type: ignore[no-untyped-def,override]
            return datetime.now(tz) + timedelta(hours=1)

    monkeypatch.setattr(bot.core.summaries, "datetime", AnHourLater)
    code, out, _ = run(["digest"], capsys)
    assert code == 0 and out.startswith("What's new: 1 document added ") and "Turning Tides" in out
    code, out, _ = run(["digest", "--format", "json"], capsys)
    assert json.loads(out)["documents"] == 1
    code, out, _ = run(["digest", "--since", "2999-01-01"], capsys)
    assert out.strip() == "Nothing new: no documents were added in that period."


def test_top_level_ingest_and_remove_are_audited_too(
    data_dir: Path, fast_bot: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = write(tmp_path / "in" / "grain.md", "---\ntitle: Grain\n---\nShips left Odesa with grain.\n")
    assert run(["ingest", str(source), "--added-by", "newsroom"], capsys)[0] == 0
    assert run(["remove", "grain"], capsys)[0] == 0
    code, out, _ = run(["kb", "log"], capsys)
    lines = out.strip().splitlines()
    assert "remove grain  ok: removed grain 'Grain' (1 passages)" in lines[0]
    assert f"add-files {source}  ok: added grain (1 passages)" in lines[1]


def test_ingest_csv_with_a_column_mapping(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    table = tmp_path / "reports.csv"
    table.write_text("ref,headline,body\nr1,Grain deal,Ships carrying wheat left Odesa on Monday.\n",
                     encoding="utf-8")
    data = tmp_path / "csv-data"
    args = ["--data-dir", str(data), "ingest", str(table)]
    assert main([*args, "--columns", "id=ref,title=headline,text=body"]) == 0
    assert "1 added" in capsys.readouterr().out
    assert main(["--data-dir", str(data), "ingest", str(table), "--columns", "text"]) == 1
    assert capsys.readouterr().err.startswith("crisisbot: error: ")
