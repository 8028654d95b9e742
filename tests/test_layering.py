"""The layering holds: screens, widgets and subcommands reach the engine only through the service
API (views and commands), never its internals, so the same screen works in-process and attached."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# Pure helpers (text rendering, parsing and validating what an operator types) that give the same
# answer on either side of the socket; nothing here holds or reads engine state.
PURE = {"console.engine.text", "console.engine.durations", "console.engine.activity",
        "console.engine.actions.model", "console.engine.actions.schedules", "console.engine.actions.blacklist",
        "console.engine.config", "console.engine.paths", "console.engine.settings", "console.engine.silence_rules"}
INTERNALS = {"console.runtime", "console.service.service", "console.service.views", "console.service.handlers",
             "console.service.host"}
ENGINE_ATTRIBUTES = {"rt", "engine", "moderation", "ledger", "stats", "pipeline", "triage", "alerts_book"}

# The wiring that starts an engine (a console's own or `serve`) may build one; nothing else may.
WIRING = {"console/commands/serve.py", "console/app.py"}
CLIENTS = sorted(p.relative_to(ROOT).as_posix() for d in ("console/screens", "console/widgets", "console/commands")
                 for p in (ROOT / d).glob("*.py")) + ["console/app.py"]


def imports(tree: ast.AST) -> list[str]:
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            out.append(node.module)
            out += [f"{node.module}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            out += [a.name for a in node.names]
    return out


@pytest.mark.parametrize("path", CLIENTS)
def test_clients_use_the_service_api_not_engine_internals(path):
    tree = ast.parse((ROOT / path).read_text(encoding="utf-8"))
    bad = []
    for name in imports(tree):
        if name.startswith("console.engine") and not any(name == p or name.startswith(p + ".") for p in PURE):
            bad.append(f"imports {name}")
        if path not in WIRING and any(name == p or name.startswith(p + ".") for p in INTERNALS):
            bad.append(f"imports {name}")
    if path not in WIRING:
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr in ENGINE_ATTRIBUTES:
                bad.append(f"line {node.lineno}: reads .{node.attr}")
    assert not bad, f"{path}: " + "; ".join(bad)


def test_the_check_catches_a_screen_that_reads_the_engine(tmp_path):
    """The test above is not blind: a screen reaching into the engine fails it."""
    sample = "from console.engine.moderation import Moderation\nx = app.rt.engine.stats\n"
    tree = ast.parse(sample)
    assert any(n.startswith("console.engine.moderation") for n in imports(tree))
    assert {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)} & ENGINE_ATTRIBUTES


def test_the_engine_knows_nothing_of_textual_or_the_service():
    for path in (ROOT / "console/engine").rglob("*.py"):
        for name in imports(ast.parse(path.read_text(encoding="utf-8"))):
            assert not name.startswith(("textual", "console.screens", "console.widgets", "console.app",
                                        "console.service")), f"{path}: imports {name}"
