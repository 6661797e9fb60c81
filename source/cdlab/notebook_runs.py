"""Run notebooks headless with papermill, keep each run as a notebook and as HTML, summarise them.

Each notebook runs in its own python3 kernel with its own folder as working directory and the
parameters given as ``-p NAME VALUE`` (typed as papermill's CLI types them: True, False, None,
numbers, else text). The executed copy is written as ``NAME.ipynb`` and ``NAME.html`` in the
output folder, which an instructor can open when a live demo fails; ``index.html`` and
``junit.xml`` summarise the run. A failing notebook does not stop the others; the exit status is
1 when any failed. Without notebooks named it runs the workshop's in order, the cleanup notebook
last (:func:`default_notebooks`; ``--list`` prints them); ``make test``'s nbval runs keep the same
order (tests/notebooks/plugin.py sorts with :func:`cleanup_last`).

    python -m cdlab.notebook_runs [-p NAME VALUE ...] [--output DIR] [NOTEBOOK ...]
    python -m cdlab.notebook_runs --list
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import nbformat
import papermill
from nbconvert import HTMLExporter

from cdlab import notebook_report
from cdlab.notebook_report import Failure, Outcome
from cdlab.pipeline import progress

DEFAULT_NOTEBOOKS = ("notebooks/[0-9]*.ipynb", "labs/*.ipynb")
CLEANUP = Path("notebooks") / "09_cleanup.ipynb"
"""Last of the default run, after Lab 3: it deletes what the others left, the lab's QA and prod
endpoints and its logs included, which on AWS would otherwise bill on."""


def cleanup_last(path: Path) -> bool:
    """A sort key (``sorted`` is stable) that moves the cleanup notebook after all others."""
    return path.name == CLEANUP.name


WORKSHOP_TIME_SCALE = "60"  # a CloudWatch minute passes in a second, as the notebooks assume
CONSTANTS = {"True": True, "False": False, "None": None}


def parameter_value(text: str) -> Any:
    """``text`` typed as papermill's ``-p`` types it."""
    if text in CONSTANTS:
        return CONSTANTS[text]
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def default_notebooks(folder: Path = Path()) -> list[Path]:
    """The notebooks ``DEFAULT_NOTEBOOKS`` match in ``folder``, each pattern's sorted by name, the
    cleanup notebook moved last."""
    found = [path for pattern in DEFAULT_NOTEBOOKS for path in sorted(folder.glob(pattern))]
    return sorted(found, key=cleanup_last)


def run_one(notebook: Path, output: Path, parameters: dict[str, Any]) -> Outcome:
    """Execute ``notebook`` into ``output``, then render what ran (even a failed run) as HTML."""
    executed = output / notebook.name
    rendered = executed.with_suffix(".html")
    for stale in (executed, rendered):
        stale.unlink(missing_ok=True)
    failure = None
    started = time.monotonic()
    try:
        papermill.execute_notebook(
            str(notebook),
            str(executed),
            parameters=parameters,
            kernel_name="python3",
            cwd=str(notebook.parent),
            progress_bar=False,
        )
    except papermill.PapermillExecutionError as e:
        failure = Failure.of(e.ename, e.evalue, "\n".join(e.traceback))
    except Exception as e:  # a kernel that died, a file that is no notebook: the others still run
        failure = Failure.of(type(e).__name__, str(e), traceback.format_exc())
    seconds = time.monotonic() - started
    if not executed.exists():
        return Outcome(notebook, seconds, failure)
    body, _ = HTMLExporter().from_notebook_node(nbformat.read(executed, as_version=4))
    rendered.write_text(body, encoding="utf-8")
    return Outcome(notebook, seconds, failure, rendered)


def run_all(notebooks: Sequence[Path], output: Path, parameters: dict[str, Any]) -> list[Outcome]:
    """Run every notebook in order, printing a line for each, and write the summary files."""
    output.mkdir(parents=True, exist_ok=True)
    outcomes = []
    for notebook in notebooks:
        line = progress.start(str(notebook))
        outcome = run_one(notebook, output, parameters)
        if outcome.failure is None:
            line.done("ok")
        else:
            line.done("FAIL", outcome.failure.message[:200])
        outcomes.append(outcome)
    notebook_report.write_index(outcomes, output / "index.html")
    notebook_report.write_junit(outcomes, output / "junit.xml")
    return outcomes


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m cdlab.notebook_runs",
        description=__doc__.split("\n\n")[0],
        epilog=f"Without NOTEBOOK arguments it runs {' '.join(DEFAULT_NOTEBOOKS)} from the "
        f"working directory, {CLEANUP} last. CDLAB_TIME_SCALE defaults to "
        f"{WORKSHOP_TIME_SCALE}, and this interpreter's bin folder comes first on the kernels' "
        "PATH (for their !aws lines).",
    )
    parser.add_argument(
        "notebooks", nargs="*", type=Path, metavar="NOTEBOOK", help="run in this order"
    )
    parser.add_argument(
        "-p",
        "--parameter",
        nargs=2,
        action="append",
        default=[],
        metavar=("NAME", "VALUE"),
        help="a notebook parameter, as papermill's -p (e.g. -p target aws -p role ARN)",
    )
    parser.add_argument(
        "--list",
        action="store_true",
        help="print the notebooks a run without NOTEBOOK arguments runs, in order, and exit",
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=Path("output") / "notebooks",
        help="where the executed notebooks, their HTML, index.html and junit.xml go "
        "(default: %(default)s)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.list:
        print("\n".join(str(path) for path in default_notebooks()))
        return 0
    notebooks = args.notebooks or default_notebooks()
    if not notebooks:
        print(f"no notebooks: none matches {' '.join(DEFAULT_NOTEBOOKS)} here", file=sys.stderr)
        return 2
    if not os.environ.get("CDLAB_TIME_SCALE"):
        os.environ["CDLAB_TIME_SCALE"] = WORKSHOP_TIME_SCALE
    os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
    parameters = {name: parameter_value(value) for name, value in args.parameter}
    outcomes = run_all(notebooks, args.output, parameters)
    failed = [o for o in outcomes if not o.passed]
    print(
        f"{len(outcomes) - len(failed)} passed, {len(failed)} failed; "
        f"summary in {args.output / 'index.html'} and {args.output / 'junit.xml'}"
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
