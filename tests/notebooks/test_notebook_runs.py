"""``python -m cdlab.notebook_runs`` on two throwaway notebooks: one passes, one raises."""

from __future__ import annotations

import os
import subprocess
import sys
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


ROOT = Path(__file__).resolve().parents[2]
CLEANUP = "notebooks/09_cleanup.ipynb"


def test_the_default_order_runs_lab_3_before_the_cleanup() -> None:
    """09 deletes what the others left: run before Lab 3, it would leave the lab's QA and prod
    endpoints running on AWS (``make notebooks``)."""
    names = [path.relative_to(ROOT).as_posix() for path in notebook_runs.default_notebooks(ROOT)]
    assert names[-2:] == ["labs/lab3_pipeline.ipynb", CLEANUP]
    assert names[:-2] == sorted(
        p.relative_to(ROOT).as_posix() for p in ROOT.glob("notebooks/0[0-8]*")
    )


def test_a_later_notebook_runs_before_the_cleanup_too(tmp_path: Path) -> None:
    for name in ("notebooks/10_more.ipynb", "notebooks/09_cleanup.ipynb", "notebooks/00_a.ipynb",
                 "labs/lab4.ipynb", "labs/lab3.ipynb"):  # fmt: skip
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).touch()
    names = [path.relative_to(tmp_path).as_posix() for path in
             notebook_runs.default_notebooks(tmp_path)]  # fmt: skip
    assert names == ["notebooks/00_a.ipynb", "notebooks/10_more.ipynb", "labs/lab3.ipynb",
                     "labs/lab4.ipynb", "notebooks/09_cleanup.ipynb"]  # fmt: skip


def test_list_prints_the_default_order(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(ROOT)
    assert notebook_runs.main(["--list"]) == 0
    listed = capsys.readouterr().out.split()
    assert listed == [path.as_posix() for path in notebook_runs.default_notebooks()]
    assert listed[-2:] == ["labs/lab3_pipeline.ipynb", CLEANUP]


def test_nbval_runs_the_cleanup_after_lab_3_too() -> None:
    """``make test`` and ``make test-aws-profile`` give pytest ``notebooks labs``; the plugin puts
    09's cells after the lab's, as ``make notebooks`` runs them (collected only: no kernel runs)."""
    collected = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider",
         "-p", "tests.notebooks.plugin", "--nbval-lax", "notebooks", "labs"],
        cwd=ROOT, env={**os.environ, "NOTEBOOKS_AS": "admin"}, capture_output=True, text=True,
        timeout=120, check=True,
    ).stdout  # fmt: skip
    files = [line.split("::")[0] for line in collected.splitlines() if "::" in line]
    assert list(dict.fromkeys(files))[-2:] == ["labs/lab3_pipeline.ipynb", CLEANUP]
    assert files[files.index(CLEANUP) :] == [CLEANUP] * files.count(CLEANUP)  # its cells last
