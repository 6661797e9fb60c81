"""A notebook reads like a story: no code cell longer than 15 lines (issue 16). Longer work,
plotting or tables, lives in ``cdlab.notebook`` and a cell calls it in a line or two."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted([*ROOT.glob("notebooks/*.ipynb"), *ROOT.glob("labs/*.ipynb")])
MAX_LINES = 15


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[str(p.relative_to(ROOT)) for p in NOTEBOOKS])
def test_no_code_cell_is_over_15_lines(path: Path) -> None:
    cells = nbformat.read(path, as_version=4).cells
    long = {
        index: len(cell.source.splitlines())
        for index, cell in enumerate(cells)
        if cell.cell_type == "code" and len(cell.source.splitlines()) > MAX_LINES
    }
    assert long == {}, f"{path.name}: cells over {MAX_LINES} lines (cell index: lines): {long}"
