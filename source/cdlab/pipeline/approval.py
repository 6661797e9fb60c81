"""The manual approval: ``--approve``, else a y/N question on a terminal, else a clear stop."""

from __future__ import annotations

import sys
from typing import TextIO

from cdlab.pipeline.definition import Action, PipelineError


class ApprovalPending(PipelineError):
    """Nobody can answer: no ``--approve`` and no terminal."""


class Rejected(PipelineError):
    """The approver said no."""


def decide(action: Action, approve: bool, stdin: TextIO = sys.stdin) -> str:
    """How the action was approved; raise when it was not."""
    if approve:
        return "approved (--approve)"
    note = action.configuration.get("CustomData", "")
    if not stdin.isatty():
        raise ApprovalPending(
            f"{action.key} waits for a manual approval and there is no terminal to ask on. "
            "Run again with --approve to approve it; prod was not touched."
        )
    answer = input(f"\n{note}\nApprove {action.stage}/{action.name}? [y/N] ")
    if answer.strip().lower() not in ("y", "yes"):
        raise Rejected(f"{action.key} was rejected; prod was not touched")
    return "approved at the prompt"
