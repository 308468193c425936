"""The one clamp between numbers people type and SQL's LIMIT/OFFSET."""

from __future__ import annotations

import sqlite3

from knowledge.sql_bounds import SQL_INTEGER_MAX, page_offset, sql_count


def test_counts_are_clamped_into_what_sqlite_accepts() -> None:
    assert sql_count(-3) == 0 and sql_count(7) == 7
    assert sql_count(10**40) == SQL_INTEGER_MAX
    assert page_offset(1, 10) == 0 and page_offset(3, 10) == 20
    assert page_offset(10**20, 10) == SQL_INTEGER_MAX
    with sqlite3.connect(":memory:") as db:  # the largest value really is accepted
        assert db.execute("SELECT 1 LIMIT ? OFFSET ?", (sql_count(10**30), page_offset(10**30, 100))).fetchall() == []
