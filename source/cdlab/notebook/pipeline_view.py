"""Lab 3's view of the deployed pipeline: its stages (``aws codepipeline get-pipeline``) and its
buildspecs (``aws codebuild batch-get-projects``), as CloudFormation created them from
``cloudformation/pipeline.yml`` for the stack."""

from __future__ import annotations

from typing import Any

import boto3
import pandas as pd


def _what(action: dict[str, Any]) -> str:
    """What the action runs, in the words of its configuration."""
    settings: dict[str, str] = action.get("configuration", {})
    provider = action["actionTypeId"]["provider"]
    if provider == "CodeBuild":
        return f"project {settings['ProjectName']}"
    if provider == "CloudFormation":
        template = settings["TemplatePath"].split("::")[-1]
        configuration = settings["TemplateConfiguration"].split("::")[-1]
        return f"stack {settings['StackName']}: {template} with {configuration}"
    if provider == "S3":
        return f"s3://{settings['S3Bucket']}/{settings['S3ObjectKey']}"
    return settings.get("CustomData", "")


def stages(pipeline: str) -> pd.DataFrame:
    """One row per action of the pipeline, in order: stage, provider, what it runs, artifacts."""
    declared = boto3.client("codepipeline").get_pipeline(name=pipeline)["pipeline"]
    return pd.DataFrame(
        [
            {
                "stage": stage["name"],
                "action": action["name"],
                "provider": f"{action['actionTypeId']['category']}: "
                f"{action['actionTypeId']['provider']}",
                "runs": _what(action),
                "in": ", ".join(a["name"] for a in action.get("inputArtifacts", [])),
                "out": ", ".join(a["name"] for a in action.get("outputArtifacts", [])),
            }
            for stage in declared["stages"]
            for action in stage["actions"]
        ]
    ).set_index("stage")


def buildspec(project: str) -> str:
    """The buildspec of CodeBuild project ``project``, as CodeBuild stores it."""
    [found] = boto3.client("codebuild").batch_get_projects(names=[project])["projects"]
    return str(found["source"]["buildspec"])
