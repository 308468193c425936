"""Markdown front matter: a flat block of `field: value` lines, read without YAML's expansions.

YAML aliases let a few hundred bytes stand for billions of characters: nine anchors that each
repeat the one before nine times (`title: *a8`) made a 52-million-character title from 422
bytes, and a few more never finished. A document's fields are single values, so anchors,
aliases and nested lists or mappings are refused while the YAML is composed, before anything
is expanded, and nothing nests deeper than the one mapping (no recursion for a deep `[[[[`).
"""

from __future__ import annotations

from typing import Any

import yaml

from knowledge.errors import SourceError

MAX_FRONT_MATTER_CHARS = 64 * 1024
"""Far more than any title, date and publisher need; a bigger block is not front matter."""


class _FlatLoader(yaml.SafeLoader):
    """SafeLoader composing one mapping of scalars, refusing anchors, aliases and nesting."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent):
            raise _refusal("aliases (*name) are not allowed", event)
        if getattr(event, "anchor", None) is not None:
            raise _refusal("anchors (&name) are not allowed", event)
        if parent is not None and isinstance(event, (yaml.SequenceStartEvent, yaml.MappingStartEvent)):
            raise _refusal("each field takes a single value, not a list or a mapping", event)
        return super().compose_node(parent, index)


def _refusal(problem: str, event: Any) -> yaml.composer.ComposerError:
    return yaml.composer.ComposerError(None, None, problem, event.start_mark)


def read_front_matter(block: str, where: str) -> dict[str, object]:
    """The fields of a front matter block (the text between the `---` lines).

    Raises:
        SourceError: too long, not valid YAML, not a mapping, or using aliases, anchors or
            values that are not single values.
    """
    if len(block) > MAX_FRONT_MATTER_CHARS:
        raise SourceError(
            f"{where}: front matter is too long ({len(block):,} characters; the limit is "
            f"{MAX_FRONT_MATTER_CHARS:,})"
        )
    try:
        loaded = yaml.load(block, Loader=_FlatLoader) or {}  # noqa: S506 (a SafeLoader)
    except yaml.YAMLError as exc:
        raise SourceError(f"{where}: front matter is not valid YAML ({_yaml_problem(exc)})") from None
    except RecursionError:  # defensive: nesting is refused before it recurses
        raise SourceError(f"{where}: front matter is nested too deeply") from None
    if not isinstance(loaded, dict):
        raise SourceError(f"{where}: front matter must be a mapping of fields")
    return {str(key): value for key, value in loaded.items()}


def _yaml_problem(exc: yaml.YAMLError) -> str:
    """PyYAML's message on one line: its own spans several (the problem, a quoted line and a
    caret under it), and a refusal is one line on the terminal and in a chat reply."""
    if isinstance(exc, yaml.MarkedYAMLError) and exc.problem_mark is not None:
        mark = exc.problem_mark
        return f"{exc.problem or exc.context}, front matter line {mark.line + 1}, column {mark.column + 1}"
    return " ".join(str(exc).split())
