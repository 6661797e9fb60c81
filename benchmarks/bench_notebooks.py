"""Wall time of every notebook, run headless with papermill as a regression run does, under each
latency profile.

For each profile (``CDLAB_LATENCY``: ``fast``, the default, or ``aws``, where the local cloud takes
AWS's time) the notebooks run in order, each in its own kernel, against one private local cloud (a
temporary CDLAB_HOME, a free port, CDLAB_TIME_SCALE=60 as ``make lab`` uses), stopped at the end.
``--rounds 2`` runs the whole set twice in a row (the second round finds the first one's
leftovers and caches); ``--shuffle`` runs each round in a random order after 00. With two
profiles, a table gives each notebook's time (its last round) side by side, with the ratio.

    python benchmarks/bench_notebooks.py [--profiles fast,aws] [--rounds N] [--shuffle] [--labs]
                                         [--output DIR]
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


def run_notebook(path: Path, output: Path) -> str:
    """Execute one notebook in its own kernel; "ok" or why it failed."""
    try:
        papermill.execute_notebook(
            str(path),
            str(output / path.name),
            kernel_name="python3",
            cwd=str(path.parent),
            progress_bar=False,
        )
    except papermill.PapermillExecutionError as e:
        return f"FAILED: {e.ename}: {e.evalue[:200]}"
    return "ok"


def run_profile(
    profile: str, notebooks: list[Path], args: argparse.Namespace
) -> tuple[dict[str, float], int]:
    """Every round of the notebooks under ``profile``, on a cloud of its own: the seconds of each
    notebook in the last round, and how many runs failed."""
    home = Path(tempfile.mkdtemp(prefix=f"cdlab-bench-notebooks-{profile}-"))
    output = (args.output / profile) if args.output else home / "executed"
    output.mkdir(parents=True, exist_ok=True)
    os.environ.update(
        CDLAB_HOME=str(home),
        CDLAB_PORT=str(control.free_port()),
        CDLAB_TIME_SCALE=TIME_SCALE,
        CDLAB_LATENCY=profile,
    )
    print(f"profile {profile}: local cloud state in {home}", flush=True)
    seconds: dict[str, float] = {}
    failed = 0
    try:
        for round_number in range(1, args.rounds + 1):
            order = notebooks[:1] + random.sample(notebooks[1:], len(notebooks) - 1)
            for path in order if args.shuffle else notebooks:
                started = time.monotonic()
                result = run_notebook(path, output)
                failed += result != "ok"
                seconds[path.name] = time.monotonic() - started
                print(
                    f"{profile:<5} round {round_number}  {path.name:<45} "
                    f"{seconds[path.name]:6.1f} s  {result}",
                    flush=True,
                )
            print(f"{profile:<5} round {round_number}  {'all':<45} {sum(seconds.values()):6.1f} s")
    finally:
        control.down(home)
        if args.output is None:
            shutil.rmtree(home, ignore_errors=True)
    return seconds, failed


def side_by_side(profiles: list[str], times: dict[str, dict[str, float]]) -> None:
    """Each notebook's seconds under each profile, and the last profile's over the first's."""
    first, last = profiles[0], profiles[-1]
    print(f"\n{'notebook':<45}" + "".join(f"{p:>9}" for p in profiles) + f"  {last}/{first}")
    names = list(times[first])
    rows = [(n, [times[p][n] for p in profiles]) for n in names]
    rows.append(("all", [sum(times[p].values()) for p in profiles]))
    for name, values in rows:
        ratio = values[-1] / values[0] if values[0] else float("nan")
        print(f"{name:<45}" + "".join(f"{v:8.1f}s" for v in values) + f"  {ratio:6.2f}x")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--profiles", default="fast", help="latency profiles, e.g. fast,aws")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--shuffle", action="store_true", help="random order after 00")
    parser.add_argument("--labs", action="store_true", help="also run labs/*.ipynb")
    parser.add_argument("--output", type=Path, help="keep the executed notebooks here")
    args = parser.parse_args()

    profiles = args.profiles.split(",")
    notebooks = sorted(ROOT.glob("notebooks/[0-9]*.ipynb"))
    if args.labs:
        notebooks += sorted(ROOT.glob("labs/*.ipynb"))
    os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
    print(f"{os.cpu_count()} cores; CDLAB_TIME_SCALE={TIME_SCALE}; profiles {', '.join(profiles)}")
    times: dict[str, dict[str, float]] = {}
    failed = 0
    for profile in profiles:
        times[profile], failures = run_profile(profile, notebooks, args)
        failed += failures
    if len(profiles) > 1:
        side_by_side(profiles, times)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
