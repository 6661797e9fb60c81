"""``python -m cdlab.notebook_runs`` on two throwaway notebooks: one passes, one raises."""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from cdlab import notebook_runs


def write(path: Path, *cells: str) -> Path:
    parameters = new_code_cell('greeting = "hello"\ncount = 1', metadata={"tags": ["parameters"]})
    kernel = {"name": "python3", "display_name": "Python 3", "language": "python"}
    made = new_notebook(cells=[parameters, *map(new_code_cell, cells)])
    made.metadata.update(kernelspec=kernel, language_info={"name": "python"})
    nbformat.write(made, path)
    return path


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("runs")


@pytest.fixture(scope="module")
def ran(folder: Path) -> Iterator[tuple[int, Path]]:
    """The runner's exit status and output folder, after one run of both notebooks."""
    passing = write(
        folder / "passing.ipynb",
        'print(f"{greeting} x{count}: {type(count).__name__}")',
        'import os\nprint("scale", os.environ["CDLAB_TIME_SCALE"], "cwd", os.getcwd())',
    )
    failing = write(
        folder / "failing.ipynb",
        'print("before the error")',
        'raise ValueError("no such endpoint: cdlab-nb99")',
        'print("never", "printed")',
    )
    output = folder / "out"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PATH", os.environ["PATH"])  # main() sets it and the time scale for kernels
        patch.delenv("CDLAB_TIME_SCALE", raising=False)
        status = notebook_runs.main(
            ["-p", "greeting", "hi", "-p", "count", "3", "--output", str(output),
             str(passing), str(failing)]
        )  # fmt: skip
    yield status, output


def test_every_notebook_runs_and_a_failure_makes_the_exit_status_1(ran) -> None:
    status, output = ran
    assert status == 1
    assert {p.name for p in output.iterdir()} == {
        "passing.ipynb", "passing.html", "failing.ipynb", "failing.html",
        "index.html", "junit.xml",
    }  # fmt: skip


def test_the_html_shows_each_cells_output(ran, folder: Path) -> None:
    _, output = ran
    passing = (output / "passing.html").read_text()
    assert "hi x3: int" in passing  # -p values typed as papermill types them
    assert f"scale 60 cwd {folder}" in passing
    failing = (output / "failing.html").read_text()
    assert "before the error" in failing
    assert "no such endpoint: cdlab-nb99" in failing
    assert "never printed" not in failing  # the cells after the error did not run


def test_the_index_lists_each_notebook_with_its_result(ran) -> None:
    _, output = ran
    index = (output / "index.html").read_text()
    assert "1 passed, 1 failed" in index
    rows = {row.split("</td>")[0].rsplit("/", 1)[-1]: row for row in index.split("<tr")[2:]}
    assert set(rows) == {"passing.ipynb", "failing.ipynb"}
    assert "<td>passed</td>" in rows["passing.ipynb"]
    assert 'href="passing.html"' in rows["passing.ipynb"]
    assert "<td>FAILED</td>" in rows["failing.ipynb"]
    assert "ValueError: no such endpoint: cdlab-nb99" in rows["failing.ipynb"]
    assert 'href="failing.html"' in rows["failing.ipynb"]


def test_junit_has_a_testcase_per_notebook_and_the_failure_with_its_error(ran) -> None:
    _, output = ran
    suite = ET.parse(output / "junit.xml").getroot().find("testsuite")
    assert suite is not None
    assert (suite.get("tests"), suite.get("failures")) == ("2", "1")
    cases = {case.get("name"): case for case in suite.iter("testcase")}
    assert set(cases) == {"passing", "failing"}
    assert all(float(case.get("time", "-1")) > 0 for case in cases.values())
    assert cases["passing"].find("failure") is None
    failure = cases["failing"].find("failure")
    assert failure is not None
    assert failure.get("type") == "ValueError"
    assert failure.get("message") == "ValueError: no such endpoint: cdlab-nb99"
    assert 'raise ValueError("no such endpoint: cdlab-nb99")' in (failure.text or "")
    assert "\x1b" not in (failure.text or "")  # the kernel's colours are stripped


def test_parameters_are_typed_as_papermill_types_them() -> None:
    assert [notebook_runs.parameter_value(v) for v in ("3", "0.5", "True", "None", "a1")] == [
        3, 0.5, True, None, "a1",
    ]  # fmt: skip
