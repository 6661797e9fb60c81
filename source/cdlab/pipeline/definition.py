"""What the pipeline's modules share about pipeline.yml: the default stack name, the parameter
that repeats the stack's name, a pipeline action as the deploy action reads it, and the error
that says why the pipeline cannot run."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

DEFAULT_STACK = "cdlab"
STACK_NAME_PARAMETER = "PipelineName"  # the stack's name again, under the template's length limit


class PipelineError(RuntimeError):
    """The pipeline cannot run; the message says why."""


@dataclass(frozen=True)
class Action:
    stage: str
    name: str
    category: str  # Source, Build, Deploy, Test or Approval
    provider: str
    configuration: dict[str, Any]
    inputs: list[str]
    outputs: list[str]

    @property
    def key(self) -> str:
        """``<stage>-<action>``: the action's log file and working directory name."""
        return f"{self.stage}-{self.name}"
