"""Lab 3 as a participant reads it: the stages and buildspecs shown, the first run stopping at the
approval until the approve cell runs (nbval runs that cell, and the first run cell asserts prod is
untouched before it), short cells, and the AWS deploy command as pipeline.yml needs it."""

from __future__ import annotations

import ast
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[2]
LAB = ROOT / "labs" / "lab3_pipeline.ipynb"
MAX_CELL_LINES = 15


def code_cells() -> list[str]:
    return [c.source for c in nbformat.read(LAB, as_version=4).cells if c.cell_type == "code"]


def index_of(fragment: str) -> int:
    [found] = [i for i, source in enumerate(code_cells()) if fragment in source]
    return found


def test_the_lab_stops_for_approval_by_default() -> None:
    parameters = ast.parse(code_cells()[0])
    values = {
        node.targets[0].id: ast.literal_eval(node.value)
        for node in parameters.body
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name)
    }
    assert values["approve"] is False


def test_only_the_approve_cell_takes_the_first_run_to_prod() -> None:
    cells = code_cells()
    first_run = index_of("runs = [notebook.run_pipeline(repo, stack, approve)]")
    approve_cell = index_of("notebook.approve(runs[0])")
    reads_prod = index_of("served = [prod()]")
    assert first_run < approve_cell < reads_prod
    assert 'assert approve or f"prod-{stack}" not in endpoints' in cells[first_run]
    assert "runs[0].waiting" in cells[first_run] and "runs[0].waiting" in cells[approve_cell]
    before = "\n".join(cells[:approve_cell])
    assert "approve=True" not in before and "--approve" not in before
    assert 'assert served[0]["status"] == "InService"' in cells[reads_prod]


def test_the_lab_shows_the_stages_and_both_buildspecs() -> None:
    cells = code_cells()
    assert any(source.strip().endswith("notebook.stages(repo, stack)") for source in cells)
    for project in ("build", "test"):
        assert f'print(notebook.buildspec(repo, stack, "{project}"))' in cells


def test_no_code_cell_is_longer_than_fifteen_lines() -> None:
    long = [s.splitlines()[0] for s in code_cells() if len(s.splitlines()) > MAX_CELL_LINES]
    assert long == []


def test_the_aws_deploy_passes_the_stack_name_and_capability_iam() -> None:
    deploy = code_cells()[index_of("aws cloudformation deploy")]
    assert "--parameter-overrides PipelineName={stack}" in deploy
    assert "--capabilities CAPABILITY_IAM" in deploy
