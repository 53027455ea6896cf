"""The house rules, checked: the layout shows the architecture and stays that way.

* SQL and database drivers live only in ``storage/``;
* ``storage/`` and the rules in ``bot/`` never import a handler (only the wiring in
  ``bot/core/app.py`` does);
* the modules of ``handlers/`` import each other without a circle;
* ``bot/`` keeps its top level small and its modules readable.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SQL = re.compile(r"\b(SELECT\s.+\sFROM|INSERT\s+INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM)\b", re.I)
DRIVERS = {"sqlite3", "aiosqlite", "asyncpg", "psycopg"}
WIRING = {"bot/core/app.py"}
MAX_LINES = 700


def modules(folder: str) -> list[Path]:
    return sorted((ROOT / folder).rglob("*.py"))


def rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return found


def strings(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    return [
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    ]


def test_sql_and_drivers_only_in_storage() -> None:
    offenders = []
    for path in modules("bot") + modules("handlers"):
        if rel(path).startswith("bot/rehearsal/emulator/"):
            continue  # the fake Telegram server has no database
        drivers = {name.split(".")[0] for name in imports(path)} & DRIVERS
        sql = [text for text in strings(path) if SQL.search(text)]
        if drivers or sql:
            offenders.append(f"{rel(path)}: {sorted(drivers)} {sql[:1]}")
    assert offenders == []


def test_rules_and_storage_never_import_handlers() -> None:
    offenders = [
        rel(path)
        for path in modules("bot") + modules("storage")
        if rel(path) not in WIRING and any(name.startswith("handlers") for name in imports(path))
    ]
    assert offenders == []


def test_handlers_import_each_other_without_a_circle() -> None:
    names = {path.stem for path in modules("handlers")} - {"__init__"}
    graph = {
        name: {
            imported.removeprefix("handlers.").split(".")[0]
            for imported in imports(ROOT / "handlers" / f"{name}.py")
            if imported.startswith("handlers.")
        }
        & names - {name}
        for name in names
    }
    visiting: list[str] = []
    done: set[str] = set()
    circles: list[list[str]] = []

    def visit(node: str) -> None:
        if node in done:
            return
        if node in visiting:
            circles.append([*visiting[visiting.index(node) :], node])
            return
        visiting.append(node)
        for nxt in sorted(graph[node]):
            visit(nxt)
        visiting.pop()
        done.add(node)

    for name in sorted(names):
        visit(name)
    assert circles == []
    assert graph["common"] == set(), "handlers/common.py imports no handler"


def test_bot_top_level_is_small_and_modules_stay_readable() -> None:
    top = [p.name for p in (ROOT / "bot").glob("*.py")]
    assert len(top) <= 8, top
    long = [
        f"{rel(path)}: {len(path.read_text().splitlines())}"
        for path in modules("bot") + modules("handlers") + modules("storage")
        if not rel(path).startswith("bot/rehearsal/")
        and len(path.read_text().splitlines()) > MAX_LINES
    ]
    assert long == []
