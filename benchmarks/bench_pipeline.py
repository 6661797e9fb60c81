"""Pipeline figures: stage times and the total of ``cdlab pipeline run --approve``, offline.

Runs the repository's HEAD twice on a fresh local cloud at ``CDLAB_TIME_SCALE=60`` (as
``make run`` does), in a temporary state directory: the first run creates the QA and prod
endpoints, the second replaces QA and updates prod blue/green (the steady state of a lab). Target:
each run under 90 s after install. The ratio compares with a typical run on AWS, which is an
assumption, not a measurement (this machine is offline): see ``AWS_SECONDS``.
Run: ``.venv/bin/python benchmarks/bench_pipeline.py``.
"""

from __future__ import annotations

import io
import os
import tempfile
import time
from pathlib import Path

from cdlab.localcloud import control
from cdlab.pipeline import runner

REPO = Path(__file__).resolve().parents[1]
TARGET_SECONDS = 90
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
    for label, _, total in runs:
        verdict = "within" if total < TARGET_SECONDS else "OVER"
        print(
            f"{label}: {total:.1f} s, {verdict} the {TARGET_SECONDS} s target; "
            f"{aws_total / total:.0f}x faster than the assumed {aws_total / 60:.0f} min on AWS"
        )


if __name__ == "__main__":
    main()
