"""Lab 3 as a participant reads it: one code path on both targets (the AWS CLI's deploy, upload,
state and approval commands, the build logs read with the kit's boto3 reader; no branch on the
target in the cells or in the helpers they call), the first run stopping at the approval until
the approve cell runs (nbval runs that cell, and the first run cell asserts prod is untouched
before it), and short cells."""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path
from types import ModuleType

import nbformat

from cdlab.notebook import lab_pipeline, pipeline_view
from cdlab.pipeline import actionlogs, approval, execution, stack

ROOT = Path(__file__).resolve().parents[2]
LAB = ROOT / "labs" / "lab3_pipeline.ipynb"
MAX_CELL_LINES = 15
# the lab's helpers and the modules of the package they call
HELPERS: list[ModuleType] = [lab_pipeline, pipeline_view, execution, actionlogs, approval, stack]
SHELL = re.compile(r"^(\s*)(?:\w+ = )?!(.*)$", re.MULTILINE)  # IPython's `!cmd`, `x = !cmd`


def code_cells() -> list[str]:
    return [c.source for c in nbformat.read(LAB, as_version=4).cells if c.cell_type == "code"]


def as_python(cell: str) -> str:
    """The cell with its shell lines as strings, as IPython runs them (a call with the line)."""
    return SHELL.sub(lambda m: f"{m[1]}_shell({m[2]!r})", cell)


def index_of(fragment: str) -> int:
    [found] = [i for i, source in enumerate(code_cells()) if fragment in source]
    return found


def branches_on_the_target(source: str) -> list[str]:
    """The ``if``/``while``/conditional expressions whose test names the target."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.If | ast.While | ast.IfExp):
            test = ast.unparse(node.test)
            if re.search(r"target|CDLAB_TARGET|AWS_ENDPOINT_URL", test):
                found.append(test)
    return found


def test_the_lab_has_no_branch_on_the_target_in_its_cells_or_its_helpers() -> None:
    cells = [as_python(cell) for cell in code_cells()]
    assert [b for cell in cells for b in branches_on_the_target(cell)] == []
    after_ready = cells[index_of("cdlab.target.ready(target)") + 1 :]
    assert not any(re.search(r"\btarget\b", cell) for cell in after_ready)
    for module in HELPERS:
        source = inspect.getsource(module)
        assert branches_on_the_target(source) == [], module.__name__
        assert "cdlab.target" not in source and "import target" not in source, module.__name__


def test_the_lab_uses_the_aws_cli_for_each_step() -> None:
    shell = "\n".join(line for cell in code_cells() for line in cell.splitlines() if "!" in line)
    for command in (
        "aws cloudformation deploy",
        "git -C {repo} archive --format=zip",
        "aws s3 cp {archive} {source}",
        "aws codepipeline get-pipeline-state",
        "aws codepipeline put-approval-result",
    ):
        assert command in shell, command


def test_the_lab_checks_the_logs_with_the_kits_reader_not_the_cli_plugin() -> None:
    """``aws logs tail`` is a CLI v2 command the kit's CLI v1 has only as a plugin, which
    ``target.ready("aws")`` does not set up: the cells that assert on the logs read them with
    GetLogEvents (``notebook.log_lines``, the same on both targets), and show the command for a
    terminal only as text; the markdown shows it too."""
    cells = code_cells()
    shell = [line for cell in cells for line in cell.splitlines() if SHELL.match(line)]
    assert [line for line in shell if "logs tail" in line or "get-log-events" in line] == []
    build, test = (
        cells[index_of('runs[0].logs["Build"]')],
        cells[index_of('runs[0].logs["TestQA"]')],
    )
    for cell, log in ((build, "build_log"), (test, "test_log")):
        assert f"{log} = [line.rstrip() for line in notebook.log_lines(group, stream)]" in cell
    assert 'any("Running train.py" in line for line in build_log)' in build
    assert 'any("Match Rate: " in line for line in test_log)' in test
    assert 'print(f"aws logs tail {group} --since 1h --log-stream-names {stream}")' in build
    markdown = [
        c.source for c in nbformat.read(LAB, as_version=4).cells if c.cell_type == "markdown"
    ]
    assert any("aws logs tail /aws/codebuild/" in source for source in markdown)


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
    first_run = index_of("runs = [notebook.follow(repo, stack, approve)]")
    after_first_run = index_of('assert approve or f"prod-{stack}" not in endpoints')
    approve_cell = index_of("put-approval-result")
    reads_prod = index_of("served = [prod()]")
    assert first_run < after_first_run < approve_cell < reads_prod
    assert "runs[0].waiting" in cells[after_first_run] and "runs[0].waiting" in cells[approve_cell]
    assert "resume=runs[0].execution" in cells[approve_cell]
    before = "\n".join(cells[:approve_cell])
    assert "approve=True" not in before and "--approve" not in before
    assert 'assert served[0]["status"] == "InService"' in cells[reads_prod]


def test_the_lab_shows_the_stages_and_both_buildspecs() -> None:
    cells = code_cells()
    assert any(source.strip().endswith("notebook.stages(stack)") for source in cells)
    for project in ("build", "test"):
        assert f'print(notebook.buildspec(f"{{stack}}-{project}"))' in cells


def test_no_code_cell_is_longer_than_fifteen_lines() -> None:
    long = [s.splitlines()[0] for s in code_cells() if len(s.splitlines()) > MAX_CELL_LINES]
    assert long == []


def test_the_deploy_passes_the_stack_name_and_capability_iam() -> None:
    deploy = code_cells()[index_of("aws cloudformation deploy")]
    assert "--parameter-overrides PipelineName={stack}" in deploy
    assert "--capabilities CAPABILITY_IAM" in deploy


def test_the_lab_asserts_what_it_teaches() -> None:
    cells = "\n".join(code_cells())
    assert "runs[0].match_rate >= 0.80" in cells  # the gate passed
    assert "runs[-1].match_rate < 0.80" in cells  # the gate stopped the bad model
    assert 'runs[-1].commit in served[-1]["config"]' in cells  # prod serves the new commit
    assert 'served[-1]["config"] == served[-2]["config"]' in cells  # prod unchanged
