"""The manual approval: ``--approve``, else a y/N question on a terminal, else a stop that
``cdlab pipeline approve`` (or ``--reject``) answers later, as ``put-approval-result`` does.

A run that stops at the approval leaves ``approval.json`` in its directory: the stack, the
action and what the run needs to go on. A newer run of the same stack supersedes it (CodePipeline
V2's default SUPERSEDED mode), so only the newest waiting run can be approved.
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TextIO

from cdlab.pipeline.definition import Action, PipelineError

PENDING_FILE = "approval.json"


class ApprovalPending(PipelineError):
    """Nobody can answer: no ``--approve`` and no terminal."""


class Rejected(PipelineError):
    """The approver said no."""


@dataclass(frozen=True)
class Pending:
    """A run waiting at its approval, as ``approval.json`` records it."""

    stack: str
    stage: str
    action: str
    commit: str
    subject: str
    hyperparameters: dict[str, str]


def decide(action: Action, approve: bool, stack: str, stdin: TextIO = sys.stdin) -> str:
    """How the action of pipeline ``stack`` was approved; raise when it was not."""
    if approve:
        return "approved (--approve)"
    note = action.configuration.get("CustomData", "")
    if not stdin.isatty():
        raise ApprovalPending(
            f"{action.key} waits for a manual approval and there is no terminal to ask on. "
            f"Approve it with `cdlab pipeline approve --stack-name {stack}` (or run again with "
            "--approve); prod was not touched."
        )
    answer = input(f"\n{note}\nApprove {action.stage}/{action.name}? [y/N] ")
    if answer.strip().lower() not in ("y", "yes"):
        raise Rejected(f"{action.key} was rejected; prod was not touched")
    return "approved at the prompt"


def _waiting_runs(runs: Path, stack: str) -> list[Path]:
    """The run directories of ``stack`` that wait for approval, oldest first."""
    found = sorted(runs.glob(f"*/{PENDING_FILE}"))
    return [p.parent for p in found if json.loads(p.read_text())["stack"] == stack]


def hold(directory: Path, pending: Pending) -> None:
    """Record that the run in ``directory`` waits; older waiting runs of its stack are
    superseded."""
    for older in _waiting_runs(directory.parent, pending.stack):
        (older / PENDING_FILE).unlink()
    (directory / PENDING_FILE).write_text(json.dumps(asdict(pending), indent=2))


def read(directory: Path) -> Pending | None:
    path = directory / PENDING_FILE
    return Pending(**json.loads(path.read_text())) if path.exists() else None


def waiting(runs: Path, stack: str) -> Path:
    """The run directory of ``stack`` that waits for approval, or a clear refusal."""
    mine = _waiting_runs(runs, stack)
    if not mine:
        raise PipelineError(
            f"no run of pipeline {stack} waits for approval (run `cdlab pipeline run "
            f"--stack-name {stack}` first; a run waits when it reaches Approval without --approve)"
        )
    return mine[-1]


def answer(directory: Path, approved: bool) -> Pending:
    """Take the run's pending approval; raise Rejected when the answer is no."""
    pending = read(directory)
    if pending is None:
        raise PipelineError(f"the run in {directory} does not wait for approval")
    (directory / PENDING_FILE).unlink()
    log = directory / f"{pending.stage}-{pending.action}.log"
    with log.open("a") as out:
        out.write(f"{'approved' if approved else 'rejected'} with cdlab pipeline approve\n")
    if not approved:
        raise Rejected(f"{pending.stage}-{pending.action} was rejected; prod was not touched")
    return pending
