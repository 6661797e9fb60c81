"""Wall time of every notebook, run headless with papermill as a regression run does.

Each notebook runs in its own kernel against one private local cloud (a temporary CDLAB_HOME, a
free port, CDLAB_TIME_SCALE=60 as ``make lab`` uses), in order, and the cloud is stopped at the
end. ``--rounds 2`` runs the whole set twice in a row (the second round finds the first one's
leftovers and caches); ``--shuffle`` runs each round in a random order after 00.

    python benchmarks/bench_notebooks.py [--rounds N] [--shuffle] [--labs] [--output DIR]
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

import papermill

from cdlab.localcloud import control

ROOT = Path(__file__).resolve().parents[1]
TIME_SCALE = "60"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--shuffle", action="store_true", help="random order after 00")
    parser.add_argument("--labs", action="store_true", help="also run labs/*.ipynb")
    parser.add_argument("--output", type=Path, help="keep the executed notebooks here")
    args = parser.parse_args()

    notebooks = sorted(ROOT.glob("notebooks/[0-9]*.ipynb"))
    if args.labs:
        notebooks += sorted(ROOT.glob("labs/*.ipynb"))
    home = Path(tempfile.mkdtemp(prefix="cdlab-bench-notebooks-"))
    output = args.output or home / "executed"
    output.mkdir(parents=True, exist_ok=True)
    os.environ.update(
        CDLAB_HOME=str(home), CDLAB_PORT=str(control.free_port()), CDLAB_TIME_SCALE=TIME_SCALE
    )
    os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
    print(f"{os.cpu_count()} cores; local cloud state in {home}")
    failed = 0
    try:
        for round_number in range(1, args.rounds + 1):
            order = notebooks[:1] + random.sample(notebooks[1:], len(notebooks) - 1)
            total = 0.0
            for path in order if args.shuffle else notebooks:
                started = time.monotonic()
                try:
                    papermill.execute_notebook(
                        str(path),
                        str(output / path.name),
                        kernel_name="python3",
                        cwd=str(path.parent),
                        progress_bar=False,
                    )
                    result = "ok"
                except papermill.PapermillExecutionError as e:
                    result, failed = f"FAILED: {e.ename}: {e.evalue[:200]}", failed + 1
                seconds = time.monotonic() - started
                total += seconds
                print(
                    f"round {round_number}  {path.name:<45} {seconds:6.1f} s  {result}", flush=True
                )
            print(f"round {round_number}  {'all':<45} {total:6.1f} s")
    finally:
        control.down(home)
        if args.output is None:
            shutil.rmtree(home, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
