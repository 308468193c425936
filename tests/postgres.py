"""A real PostgreSQL 16 with pgvector for the tests: `pgserver` runs it as a subprocess on a
Unix socket in a temporary folder, once per session; each test gets a database of its own."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

_numbers = itertools.count(1)


@pytest.fixture(scope="session")
def postgres_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    import pgserver  # the dev extra: `make test` installs it, and a missing one must fail, not skip

    server = pgserver.get_server(Path(tmp_path_factory.mktemp("postgres")), cleanup_mode="delete")
    yield server
    server.cleanup()


@pytest.fixture
def postgres_url(postgres_server: Any) -> str:
    """The URL of a new, empty database on the session's server."""
    name = f"crisisbot_test_{next(_numbers)}"
    postgres_server.psql(f"CREATE DATABASE {name};")
    return str(postgres_server.get_uri(name))
