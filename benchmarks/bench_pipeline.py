"""Pipeline figures: stage times and the total of ``cdlab pipeline run --approve``, offline.

Runs the repository's HEAD twice on a fresh local cloud at ``CDLAB_TIME_SCALE=60`` (as
``make run`` does), in a temporary state directory, through the AWS API (the pipeline stack
deployed, the archive uploaded, the execution followed in the local cloud's CodePipeline): the
first run creates the stack and the QA and prod endpoints, the second replaces QA and updates
prod blue/green (the steady state of a lab). Each total is printed next to the 11 s first run of
the client-side runner the API path replaced (``BASELINE_SECONDS``, measured on this kind of
machine before the change), as a ratio; target: at most 1.5x. The AWS column is an assumption,
not a measurement (this machine is offline): see ``AWS_SECONDS``.
Run: ``.venv/bin/python benchmarks/bench_pipeline.py`` (``--help`` says this, and runs nothing).
"""

from __future__ import annotations

import argparse
import io
import os
import tempfile
import time
from pathlib import Path

from cdlab.localcloud import control
from cdlab.pipeline import runner

REPO = Path(__file__).resolve().parents[1]
BASELINE_SECONDS = 11.0  # the client-side runner's first run, before issue 14
TARGET_RATIO = 1.5
# A typical AWS run of this pipeline, stage by stage (minutes, from SageMaker's and CodeBuild's
# usual figures): Source 1 (S3 upload -> EventBridge -> pipeline), Build 10 (CodeBuild start and
# pip install 3, predata 1, a training job on ml.c5.xlarge with its provisioning 6), DeployQA 8
# (a new endpoint), TestQA 2, DeployProd 13 (blue/green: new fleet 8, then the 300 s bake).
# The manual approval's wait is left out.
AWS_SECONDS = {
    "Source": 60,
    "Build": 600,
    "DeployQA": 480,
    "TestQA": 120,
    "DeployProd": 780,
}


def stage_times(summary: str) -> dict[str, float]:
    line = summary.split("  stages      ")[1].splitlines()[0]
    times = {}
    for part in line.split(", "):
        stage, seconds, _ = part.split()
        times[stage] = float(seconds)
    return times


def main() -> None:
    argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    ).parse_args()
    with tempfile.TemporaryDirectory() as home:
        os.environ.update(
            CDLAB_HOME=home,
            CDLAB_PORT=str(control.free_port()),
            CDLAB_TIME_SCALE="60",
            CDLAB_TARGET="local",
        )
        started = time.perf_counter()
        control.up(Path(home), int(os.environ["CDLAB_PORT"]))
        print(f"local cloud up in {time.perf_counter() - started:.1f} s (CDLAB_TIME_SCALE=60)")
        try:
            runs = []
            for label in ("first run (creates prod)", "second run (updates prod)"):
                out = io.StringIO()
                started = time.perf_counter()
                code = runner.run(runner.Options(directory=REPO, approve=True), out)
                total = time.perf_counter() - started
                if code != 0:
                    raise SystemExit(f"{label} failed:\n{out.getvalue()}")
                runs.append((label, stage_times(out.getvalue()), total))
        finally:
            control.down(Path(home))

    stages = list(runs[0][1])
    print(
        f"{'stage':<12}"
        + "".join(f"{label:>28}" for label, _, _ in runs)
        + f"{'AWS (assumed)':>16}"
    )
    for stage in stages:
        aws = AWS_SECONDS.get(stage)
        print(
            f"{stage:<12}"
            + "".join(f"{times.get(stage, 0):>26.1f} s" for _, times, _ in runs)
            + (f"{aws:>14} s" if aws else f"{'(manual)':>16}")
        )
    aws_total = sum(AWS_SECONDS.values())
    print(
        f"{'total':<12}"
        + "".join(f"{total:>26.1f} s" for _, _, total in runs)
        + f"{aws_total:>14} s"
    )
    print(
        f"{'ratio':<12}"
        + "".join(f"{total / BASELINE_SECONDS:>27.2f}x" for _, _, total in runs)
        + f"{f'(target {TARGET_RATIO}x of {BASELINE_SECONDS:.0f} s)':>28}"
    )
    for label, _, total in runs:
        ratio = total / BASELINE_SECONDS
        verdict = "within" if ratio <= TARGET_RATIO else "OVER"
        print(
            f"{label}: {total:.1f} s, {ratio:.2f}x the {BASELINE_SECONDS:.0f} s of the old path "
            f"({verdict} the {TARGET_RATIO}x target); {aws_total / total:.0f}x faster than the "
            f"assumed {aws_total / 60:.0f} min on AWS"
        )


if __name__ == "__main__":
    main()
