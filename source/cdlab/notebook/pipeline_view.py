"""Lab 3's view of ``cloudformation/pipeline.yml``: its stages and its buildspecs, resolved for a
pipeline stack as CloudFormation would resolve them (local names on the local target)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from cdlab.pipeline import definition
from cdlab.pipeline.definition import Action

PIPELINE_FILE = Path("cloudformation") / "pipeline.yml"


def _what(action: Action) -> str:
    """What the action runs, in the words of its configuration."""
    settings: dict[str, Any] = action.configuration
    if action.provider == "CodeBuild":
        return f"project {settings['ProjectName']}"
    if action.provider == "CloudFormation":
        template = settings["TemplatePath"].split("::")[-1]
        configuration = settings["TemplateConfiguration"].split("::")[-1]
        return f"stack {settings['StackName']}: {template} with {configuration}"
    if action.provider == "S3":
        return f"s3://<SourceBucket>/{settings['S3ObjectKey']}"
    return str(settings.get("CustomData", ""))


def stages(repo: Path, stack: str) -> pd.DataFrame:
    """One row per action of the pipeline, in order: stage, provider, what it runs, artifacts."""
    pipeline = definition.load(repo / PIPELINE_FILE, stack)
    return pd.DataFrame(
        [
            {
                "stage": stage,
                "action": action.name,
                "provider": f"{action.category}: {action.provider}",
                "runs": _what(action),
                "in": ", ".join(action.inputs),
                "out": ", ".join(action.outputs),
            }
            for stage, actions in pipeline.stages
            for action in actions
        ]
    ).set_index("stage")


def buildspec(repo: Path, stack: str, project: str) -> str:
    """The buildspec of CodeBuild project ``<stack>-<project>`` (``build`` or ``test``)."""
    resolved = definition.load(repo / PIPELINE_FILE, stack).projects[f"{stack}-{project}"]
    return yaml.safe_dump(resolved.buildspec, sort_keys=False, width=1000)
