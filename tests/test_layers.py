"""The layers stay layered: knowledge/ -> index/ -> bot.core -> bot.runtime -> bot.adapters.

Every import statement counts, wherever it stands: at the top, inside a function (a lazy
import still ties the modules together) and under `if TYPE_CHECKING:` (the type checker
still follows it, and so does a reader). A rule written here fails the build instead of
waiting for a review to notice the one import that starts a cycle.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PROJECT = ("bot", "knowledge", "index")


@dataclass(frozen=True)
class Import:
    """One imported name, absolute: a project module when it names one, else as written."""

    importer: str
    imported: str
    line: int


@dataclass(frozen=True)
class Rule:
    """Modules under `layer` must import nothing under `forbidden`, save the named exceptions."""

    layer: str
    forbidden: tuple[str, ...]
    why: str
    allowed: frozenset[tuple[str, str]] = frozenset()  # (importer, imported) pairs


RULES = (
    Rule("bot.core", ("telegram", "discord", "argparse", "bot.adapters", "bot.runtime"),
         "the core is platform-neutral: only knowledge/, index/ and the standard library"),
    Rule("index", ("bot",), "index/ serves bot/, never the other way round"),
    Rule("knowledge", ("bot", "index"), "knowledge/ is the bottom layer"),
    Rule("bot.runtime", ("bot.adapters",),
         "the composition root is wired by the adapters, not the other way round",
         # The worker is a process of its own with no adapter to hand it a place to post
         # scheduled digests: it posts through each platform's digest_post module (imported
         # only when that platform's place is configured). That is the one way down.
         allowed=frozenset({
             ("bot.runtime.worker", "bot.adapters.telegram.digest_post"),
             ("bot.runtime.worker", "bot.adapters.discord.digest_post"),
         })),
)


def within(name: str, prefix: str) -> bool:
    """Whether module `name` is `prefix` or lies under it (`discord_x` is not under `discord`)."""
    return name == prefix or name.startswith(prefix + ".")


def find_modules(root: Path, packages: Iterable[str]) -> dict[str, Path]:
    """Module name -> file, for every .py file under the packages (a package is its __init__)."""
    modules: dict[str, Path] = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            modules[".".join(parts)] = path
    return modules


def _resolve(name: str, modules: Mapping[str, Path]) -> str:
    """The project module `name` refers to (the longest known prefix), or `name` itself."""
    parts = name.split(".")
    for end in range(len(parts), 0, -1):
        candidate = ".".join(parts[:end])
        if candidate in modules:
            return candidate
    return name


def _base(node: ast.ImportFrom, importer: str, is_package: bool) -> str:
    """The absolute module of a `from ... import`, resolving leading dots."""
    if node.level == 0:
        return node.module or ""
    package = importer.split(".") if is_package else importer.split(".")[:-1]
    package = package[: len(package) - (node.level - 1)]
    return ".".join([*package, *([node.module] if node.module else [])])


def imports_of(name: str, path: Path, modules: Mapping[str, Path]) -> Iterator[Import]:
    """Every import in one module's source, top-level or not."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(name, _resolve(alias.name, modules), node.lineno)
        elif isinstance(node, ast.ImportFrom):
            base = _base(node, name, path.name == "__init__.py")
            for alias in node.names:
                # `from bot import adapters` imports the module bot.adapters; `from x import f`
                # imports x.
                named = f"{base}.{alias.name}"
                yield Import(name, named if named in modules else _resolve(base, modules), node.lineno)


def all_imports(root: Path, packages: Iterable[str] = PROJECT) -> list[Import]:
    modules = find_modules(root, packages)
    return [found for name, path in modules.items() for found in imports_of(name, path, modules)]


def violations(imports: Iterable[Import], rules: Iterable[Rule] = RULES) -> list[str]:
    """One line per import a rule forbids: where it is, what it imports, and why not."""
    imports, found = list(imports), []
    for rule in rules:
        for item in imports:
            if not within(item.importer, rule.layer):
                continue
            if any(within(item.importer, a) and within(item.imported, b) for a, b in rule.allowed):
                continue
            if any(within(item.imported, banned) for banned in rule.forbidden):
                found.append(f"{item.importer}:{item.line} imports {item.imported} ({rule.why})")
    return sorted(set(found))


def import_graph(imports: Iterable[Import], modules: Iterable[str]) -> dict[str, set[str]]:
    """Module -> the project modules it imports (a package's import is one of its __init__)."""
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for item in imports:
        if item.imported in graph and item.importer in graph:
            graph[item.importer].add(item.imported)
    return graph


def strongly_connected(graph: Mapping[str, set[str]]) -> list[list[str]]:
    """Tarjan's strongly connected components, iteratively (no recursion limit to hit)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []
    for start in sorted(graph):
        if start in index:
            continue
        work: list[tuple[str, Iterator[str]]] = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, successors = work[-1]
            for successor in successors:
                if successor not in index:
                    index[successor] = low[successor] = len(index)
                    stack.append(successor)
                    on_stack.add(successor)
                    work.append((successor, iter(sorted(graph[successor]))))
                    break
                if successor in on_stack:
                    low[node] = min(low[node], index[successor])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    components.append(sorted(component))
    return components


def cycles(graph: Mapping[str, set[str]]) -> list[list[str]]:
    """The groups of modules that import each other, round and round (a module importing
    itself counts too), each as sorted module names."""
    return sorted(
        component for component in strongly_connected(graph)
        if len(component) > 1 or component[0] in graph[component[0]]
    )


def _describe(component: list[str], graph: Mapping[str, set[str]]) -> str:
    """One way round a component, from its first module and back (breadth-first: shortest)."""
    members, first = set(component), component[0]
    came_from: dict[str, str] = {}
    queue = [first]
    while queue:
        node = queue.pop(0)
        for successor in sorted(graph[node] & members):
            if successor == first:
                path = [node]
                while path[-1] != first:
                    path.append(came_from[path[-1]])
                return " -> ".join([*reversed(path), first])
            if successor not in came_from:
                came_from[successor] = node
                queue.append(successor)
    raise AssertionError(f"not a cycle: {component}")


@dataclass(frozen=True)
class Walk:
    """The modules of a tree and every import in them."""

    modules: list[str]
    imports: list[Import]

    @classmethod
    def of(cls, root: Path, packages: Iterable[str] = PROJECT) -> Walk:
        return cls(list(find_modules(root, packages)), all_imports(root, packages))

    def __repr__(self) -> str:  # pytest shows it beside every failure: the counts will do
        return f"Walk({len(self.modules)} modules, {len(self.imports)} imports)"


def cycle_report(walk: Walk, scope: Iterable[str] = PROJECT) -> list[str]:
    """A line per cycle among the modules under `scope`: its members and one way round."""
    scope = tuple(scope)
    graph = import_graph(walk.imports, [m for m in walk.modules if any(within(m, s) for s in scope)])
    return [f"{', '.join(c)}: {_describe(c, graph)}" for c in cycles(graph)]


# -- the checker itself, on small packages written for the test -----------------------------


def _write(root: Path, files: Mapping[str, str]) -> Path:
    for relative, source in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source, encoding="utf-8")
    return root


CLEAN = {
    "knowledge/__init__.py": "",
    "knowledge/documents.py": "import json\n",
    "knowledge/store.py": "from .documents import *\nfrom . import documents\n",
    "index/__init__.py": "",
    "index/writer.py": "from knowledge.store import thing\nimport numpy\n",
    "bot/__init__.py": "",
    "bot/core/__init__.py": "",
    "bot/core/ask.py": "from index.writer import KnowledgeWriter\n",
    "bot/runtime/__init__.py": "",
    "bot/runtime/service.py": "from bot.core import ask\n",
    "bot/runtime/worker.py": "def post():\n    from bot.adapters.telegram.digest_post import place\n",
    "bot/adapters/__init__.py": "",
    "bot/adapters/telegram/__init__.py": "import telegram\n",
    "bot/adapters/telegram/digest_post.py": "from bot.runtime.service import CrisisBot\n",
}


def test_a_clean_tree_passes(tmp_path: Path) -> None:
    walk = Walk.of(_write(tmp_path, CLEAN))
    assert walk.imports and violations(walk.imports) == []
    assert cycle_report(walk) == []


def test_relative_imports_resolve_to_modules_and_packages(tmp_path: Path) -> None:
    found = {(i.importer, i.imported) for i in Walk.of(_write(tmp_path, CLEAN)).imports}
    assert ("knowledge.store", "knowledge.documents") in found
    assert ("bot.runtime.service", "bot.core.ask") in found  # `from bot.core import ask`: a module
    assert ("bot.adapters.telegram", "telegram") in found  # absolute: the library, not the adapter


def test_forbidden_imports_are_found_wherever_they_stand(tmp_path: Path) -> None:
    walk = Walk.of(_write(tmp_path, {
        **CLEAN,
        "bot/core/ask.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                           "    from bot.runtime.service import CrisisBot\n",
        "bot/core/argv.py": "def parse():\n    import argparse\n",
        "bot/core/chat.py": "from discord import Embed\n",
        "bot/runtime/settings.py": "from bot.adapters import telegram\n",
        "bot/runtime/worker.py": "from bot.adapters.telegram import digest_post, formatting\n",
        "bot/adapters/telegram/formatting.py": "",
        "index/retriever.py": "from ..bot import core\n",
        "knowledge/feeds.py": "from ..index.writer import KnowledgeWriter\n",
    }))
    found = [line.split(" (")[0] for line in violations(walk.imports)]
    assert found == [
        "bot.core.argv:2 imports argparse",
        "bot.core.ask:3 imports bot.runtime.service",
        "bot.core.chat:1 imports discord",
        "bot.runtime.settings:1 imports bot.adapters.telegram",
        "bot.runtime.worker:1 imports bot.adapters.telegram.formatting",  # not a digest_post
        "index.retriever:1 imports bot.core",
        "knowledge.feeds:1 imports index.writer",
    ]


def test_cycles_are_found_and_shown_one_way_round(tmp_path: Path) -> None:
    walk = Walk.of(_write(tmp_path, {
        **CLEAN,
        "bot/core/admin.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                             "    from bot.core.service import Bot\n",
        "bot/core/service.py": "def admin():\n    from .admin import Admin\n",
        "knowledge/a.py": "from knowledge import b\n",
        "knowledge/b.py": "import knowledge.c\n",
        "knowledge/c.py": "from .a import x\n",
        "index/self.py": "from index import self\n",
        "index/__init__.py": "from index.writer import KnowledgeWriter\n",
        "index/writer.py": "import index\n",
    }))
    assert cycle_report(walk) == [
        "bot.core.admin, bot.core.service: bot.core.admin -> bot.core.service -> bot.core.admin",
        "index, index.writer: index -> index.writer -> index",
        "index.self: index.self -> index.self",
        "knowledge.a, knowledge.b, knowledge.c: knowledge.a -> knowledge.b -> knowledge.c -> knowledge.a",
    ]
    assert cycle_report(walk, scope=("knowledge",)) == [
        "knowledge.a, knowledge.b, knowledge.c: knowledge.a -> knowledge.b -> knowledge.c -> knowledge.a",
    ]


# -- the project ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def project() -> Walk:
    return Walk.of(ROOT)


@pytest.mark.parametrize("rule", RULES, ids=[rule.layer for rule in RULES])
def test_each_layer_imports_only_what_it_may(project: Walk, rule: Rule) -> None:
    found = violations(project.imports, [rule])
    assert not found, "imports across the layers:\n" + "\n".join(found)


@pytest.mark.parametrize("scope", [("knowledge", "index"), PROJECT], ids=["knowledge+index", "project"])
def test_no_import_cycles(project: Walk, scope: tuple[str, ...]) -> None:
    found = cycle_report(project, scope)
    assert not found, "modules that import each other:\n" + "\n".join(found)


def test_the_walk_sees_the_whole_project(project: Walk) -> None:
    assert {"bot.core", "bot.runtime.worker", "knowledge.store_interface", "index.interfaces"} <= set(project.modules)
    assert any(i.importer == "index.writer" and i.imported == "index.interfaces" for i in project.imports)
