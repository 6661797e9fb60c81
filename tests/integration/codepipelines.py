"""A small pipeline for the CodePipeline tests, made through the AWS API as a participant's
stack would make it: a versioned source bucket that sends its events to EventBridge, an
artifact bucket, the pipeline's role, a rule that starts the pipeline as its own role, and a
pipeline Source (S3) -> Approval (Manual)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tests.polling import poll
from tests.roles import ACCOUNT, allowing, make_role, trusting

REGION = "us-east-1"
SOURCE_KEY = "source.zip"
START = "codepipeline:StartPipelineExecution"


@dataclass(frozen=True)
class Pipeline:
    name: str
    source_bucket: str
    artifact_bucket: str
    role_arn: str
    events_role: str

    @property
    def arn(self) -> str:
        return f"arn:aws:codepipeline:{REGION}:{ACCOUNT}:{self.name}"


def declaration(pipe: Pipeline) -> dict[str, Any]:
    kind = {"owner": "AWS", "version": "1"}
    return {
        "name": pipe.name,
        "roleArn": pipe.role_arn,
        "artifactStore": {"type": "S3", "location": pipe.artifact_bucket},
        "pipelineType": "V2",
        "stages": [
            {
                "name": "Source",
                "actions": [
                    {
                        "name": "Source",
                        "actionTypeId": {**kind, "category": "Source", "provider": "S3"},
                        "configuration": {
                            "S3Bucket": pipe.source_bucket,
                            "S3ObjectKey": SOURCE_KEY,
                            "PollForSourceChanges": "false",
                        },
                        "outputArtifacts": [{"name": "SourceOutput"}],
                    }
                ],
            },
            {
                "name": "Approval",
                "actions": [
                    {
                        "name": "Approve",
                        "actionTypeId": {**kind, "category": "Approval", "provider": "Manual"},
                    }
                ],
            },
        ],
    }


def one_action_stage(
    name: str, category: str, provider: str, configuration: dict[str, str], **artifacts: Any
) -> dict[str, Any]:
    """A stage of one AWS-owned action named like the stage; ``artifacts``: its
    ``inputArtifacts`` and ``outputArtifacts``, as lists of names."""
    action = {
        "name": name,
        "actionTypeId": {
            "category": category,
            "owner": "AWS",
            "provider": provider,
            "version": "1",
        },
        "configuration": configuration,
        **{key: [{"name": n} for n in names] for key, names in artifacts.items()},
    }
    return {"name": name, "actions": [action]}


def make_pipeline(
    client: Callable[[str], Any],
    name: str,
    pipeline_actions: tuple[str, ...] = ("s3:*",),
    events_actions: tuple[str, ...] = (START,),
) -> Pipeline:
    """The buckets, roles, rule and pipeline ``name`` (its first run starts on creation)."""
    pipe = make_parts(client, name, pipeline_actions, events_actions)
    client("codepipeline").create_pipeline(pipeline=declaration(pipe))
    return pipe


def make_parts(
    client: Callable[[str], Any],
    name: str,
    pipeline_actions: tuple[str, ...] = ("s3:*",),
    events_actions: tuple[str, ...] = (START,),
    source_made: bool = False,
) -> Pipeline:
    """What pipeline ``name`` needs around it: its buckets, roles and rule (the source bucket
    only unless ``source_made`` elsewhere, versioned and sending to EventBridge)."""
    s3, iam, events = client("s3"), client("iam"), client("events")
    pipe = Pipeline(
        name,
        f"{name}-source",
        f"{name}-artifacts",
        make_role(
            iam,
            f"{name}-pipeline",
            trusting("codepipeline.amazonaws.com"),
            allowing({"Effect": "Allow", "Action": list(pipeline_actions), "Resource": "*"}),
        ),
        make_role(
            iam,
            f"{name}-events",
            trusting("events.amazonaws.com"),
            allowing(
                {
                    "Effect": "Allow",
                    "Action": list(events_actions),
                    "Resource": f"arn:aws:codepipeline:{REGION}:{ACCOUNT}:{name}",
                }
            ),
        ),
    )
    s3.create_bucket(Bucket=pipe.artifact_bucket)
    if not source_made:
        s3.create_bucket(Bucket=pipe.source_bucket)
        s3.put_bucket_versioning(
            Bucket=pipe.source_bucket, VersioningConfiguration={"Status": "Enabled"}
        )
        s3.put_bucket_notification_configuration(
            Bucket=pipe.source_bucket,
            NotificationConfiguration={"EventBridgeConfiguration": {}},
        )
    pattern = {
        "source": ["aws.s3"],
        "detail-type": ["Object Created"],
        "detail": {"bucket": {"name": [pipe.source_bucket]}, "object": {"key": [SOURCE_KEY]}},
    }
    events.put_rule(Name=f"{name}-source", EventPattern=json.dumps(pattern))
    events.put_targets(
        Rule=f"{name}-source",
        Targets=[{"Id": "pipeline", "Arn": pipe.arn, "RoleArn": pipe.events_role}],
    )
    return pipe


def executions(codepipeline: Any, name: str) -> list[dict[str, Any]]:
    return codepipeline.list_pipeline_executions(pipelineName=name)["pipelineExecutionSummaries"]


def settled(codepipeline: Any, name: str, count: int, status: str) -> dict[str, Any]:
    """The newest execution, once there are ``count`` and it is in ``status``."""
    found = poll(
        lambda: executions(codepipeline, name),
        until=lambda found: len(found) == count and found[0]["status"] == status,
        what=f"{count} executions of {name}, the newest {status}",
    )
    return found[0]


def approval(codepipeline: Any, name: str) -> dict[str, Any]:
    """The Approval stage's state once its action waits (with a token)."""
    return poll(
        lambda: codepipeline.get_pipeline_state(name=name)["stageStates"][1],
        until=lambda s: s["actionStates"][0].get("latestExecution", {}).get("token"),
        what=f"{name}'s approval waiting",
    )
