"""The terminal's progress bar for long core operations, shared by `crisisbot` and
`crisisbot kb` (kept apart from both so neither imports the other for it).

tqdm is imported only when a bar is made: `crisisbot --help` stays quick.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from index.writer import Progress


def _progress(description: str) -> tuple[Progress, Callable[[], None]]:
    """A tqdm bar on stderr fed with (done, total); the second value closes it."""
    from tqdm import tqdm

    bar = tqdm(total=0, desc=description, unit="doc", file=sys.stderr, disable=None)

    def update(done: int, total: int) -> None:
        bar.total = total
        bar.n = done
        bar.refresh()

    return update, bar.close
