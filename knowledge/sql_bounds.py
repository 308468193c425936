"""Numbers typed by people, made safe to hand to SQL as a LIMIT or an OFFSET.

A page number comes from a command line, a chat message or a button, and Python's integers
have no upper bound: page 10^20 times 10 per page does not fit SQLite's (or PostgreSQL's)
64-bit INTEGER, and the driver raises OverflowError ("Python int too large to convert to
SQLite INTEGER") or a numeric-out-of-range error instead of the empty page the person asked
for. Every count or offset that reaches SQL from a person passes `sql_count` once, here, so a
page past the end is simply past the end, however far.
"""

from __future__ import annotations

SQL_INTEGER_MAX = 2**63 - 1
"""The largest INTEGER SQLite stores, and PostgreSQL's bigint: LIMIT and OFFSET take no more."""


def sql_count(value: int) -> int:
    """`value` as a LIMIT or OFFSET: negative is 0, too large for SQL is the largest it takes
    (no table has that many rows, so the answer is the same)."""
    return min(max(0, value), SQL_INTEGER_MAX)


def page_offset(page: int, per_page: int) -> int:
    """The OFFSET of page `page` (from 1) of `per_page` rows, within what SQL accepts."""
    return sql_count((page - 1) * per_page)
