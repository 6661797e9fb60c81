"""The source's shape that issue-sized changes keep drifting from: one owner of moto's backend
dicts, modules small enough to read, functions that fit a screen (or say why not)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

SOURCE = Path(__file__).resolve().parents[2] / "source" / "cdlab"
MODULES = sorted(SOURCE.rglob("*.py"))
MOTO_STATE = SOURCE / "localcloud" / "moto" / "state.py"


def test_only_the_moto_state_module_touches_motos_backend_dicts() -> None:
    touching = [p for p in MODULES if re.search(r"\w+_backends\b", p.read_text())]
    assert touching == [MOTO_STATE]


def test_no_module_is_over_450_lines() -> None:
    long = {
        p.relative_to(SOURCE): n for p in MODULES if (n := len(p.read_text().splitlines())) > 450
    }
    assert long == {}


def _long_functions(path: Path) -> list[str]:
    """Functions over 60 lines whose body does not open with a comment saying why."""
    text = path.read_text()
    lines = text.splitlines()
    found = []
    for node in ast.walk(ast.parse(text)):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        if node.end_lineno - node.lineno + 1 <= 60:
            continue
        opening = lines[node.body[0].lineno - 2].strip()
        if not opening.startswith("# over 60 lines"):
            found.append(f"{path.relative_to(SOURCE)}:{node.lineno} {node.name}")
    return found


def test_no_function_is_over_60_lines_without_saying_why() -> None:
    assert [f for p in MODULES for f in _long_functions(p)] == []


def test_the_layout_checks_see_the_source() -> None:
    assert MOTO_STATE in MODULES and len(MODULES) > 100
