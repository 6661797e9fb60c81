"""The committed notebooks: outputs stripped, papermill parameters, the target readied first."""

from __future__ import annotations

import ast
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted([*ROOT.glob("notebooks/*.ipynb"), *ROOT.glob("labs/*.ipynb")])
NAMES = [str(path.relative_to(ROOT)) for path in NOTEBOOKS]


def _code_cells(path: Path) -> list[nbformat.NotebookNode]:
    return [c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]


def _parameters(path: Path) -> dict[str, object]:
    cell = next(c for c in _code_cells(path) if "parameters" in c.metadata.get("tags", []))
    tree = ast.parse(cell.source)
    return {
        node.targets[0].id: ast.literal_eval(node.value)
        for node in tree.body
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name)
    }


def test_there_are_notebooks():
    assert len([p for p in NOTEBOOKS if p.parent.name == "notebooks"]) >= 8


@pytest.mark.parametrize("path", NOTEBOOKS, ids=NAMES)
def test_notebook_is_valid_and_stripped(path: Path):
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    for cell in _code_cells(path):
        assert cell.outputs == [], f"cell {cell.id} of {path.name} holds outputs"
        assert cell.execution_count is None, f"cell {cell.id} of {path.name} has a count"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=NAMES)
def test_parameters_then_target_ready(path: Path):
    cells = _code_cells(path)
    assert "parameters" in cells[0].metadata.get("tags", []), "the first code cell: parameters"
    assert _parameters(path)["target"] == "local"
    assert "cdlab.target.ready(target)" in cells[1].source, "the next one readies the target"


def test_each_notebook_has_its_own_prefix():
    """So that they run in any order: a notebook deletes only what carries its own prefix."""
    named = [p for p in NOTEBOOKS if p.stem != "09_cleanup"]
    prefixes = [_parameters(p).get("prefix") or _parameters(p).get("stack") for p in named]
    assert all(prefixes) and len(set(prefixes)) == len(prefixes)
