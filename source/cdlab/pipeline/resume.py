"""``cdlab pipeline approve``: a run waiting at its approval goes on, as CodePipeline goes on
after ``put-approval-result``: the stages after the approval run on that run's own artifacts (the
build that passed TestQA), not on a new build."""

from __future__ import annotations

import json
import sys
import time
from typing import TextIO

from cdlab import config, target
from cdlab.pipeline import approval, definition, source
from cdlab.pipeline.definition import PipelineError
from cdlab.pipeline.runner import (
    EXIT_FAILED,
    PIPELINE_FILE,
    Options,
    Run,
    _conclude,
    _is_local,
    _stages,
)


def approve(stack: str, approved: bool = True, out: TextIO = sys.stdout) -> int:
    """Answer the newest waiting run of ``stack``; when approved, run the stages after the
    approval: 0 when prod was deployed, 1 otherwise."""
    started = time.monotonic()
    if not _is_local():
        return EXIT_FAILED
    cloud = {**target.ready(), "CDLAB_TARGET": "local"}
    try:
        directory = approval.waiting(config.home() / "pipeline" / "runs", stack)
        pending = approval.answer(directory, approved)
    except PipelineError as e:
        print(f"cdlab pipeline approve: {e}", file=sys.stderr)
        return EXIT_FAILED
    options = Options(directory, stack, False, pending.hyperparameters)  # a later approval waits
    current = Run(directory, directory / "source", options, cloud)
    current.revision = source.Revision(pending.commit, pending.subject, [])
    current.logs = sorted(directory.glob("*.log"), key=lambda p: p.stat().st_mtime)
    # the run's artifacts as stored in the artifact bucket, as Run.keep recorded them
    current.artifacts = json.loads((directory / "artifacts.json").read_text())
    out.write(f"CD Lab pipeline {stack}: run {directory.name} approved, going on\n")

    def steps() -> None:
        current.definition = definition.load(directory / "source" / PIPELINE_FILE, stack)
        _stages(current, out, after=pending.stage)

    return _conclude(current, steps, started, out)
