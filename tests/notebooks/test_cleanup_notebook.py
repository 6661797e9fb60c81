"""Notebook 09 deletes Lab 3's log groups with the notebooks' (its QA and prod endpoints' and its
two build projects': kept, and billed for their storage, until deleted), and its last check
says none is left. What ``notebook.lab_log_groups`` finds is checked against a local cloud in
tests/integration/test_cleanup_log_groups.py; ``make test-aws-profile`` runs 09 after the lab."""

from __future__ import annotations

from pathlib import Path

import nbformat

CLEANUP = Path(__file__).resolve().parents[2] / "notebooks" / "09_cleanup.ipynb"


def code_cells() -> list[str]:
    return [c.source for c in nbformat.read(CLEANUP, as_version=4).cells if c.cell_type == "code"]


def test_09_deletes_lab_3s_log_groups_and_checks_none_is_left() -> None:
    cells = code_cells()
    [deleting] = [cell for cell in cells if "logs.delete_log_group" in cell]
    loop = "for group in notebook.log_groups(prefix) + notebook.lab_log_groups(lab_stack):"
    assert loop in deleting
    [final] = [cell for cell in cells if 'print("nothing billable left")' in cell]
    assert "notebook.lab_log_groups(lab_stack) == []" in final
    assert "notebook.log_groups(prefix) == []" in final
