"""The pipeline stack's resources that its jobs use, created with boto3 in the local cloud.

The local CloudFormation provides the endpoint stacks' resource types only, so the pipeline
stack itself is not deployed: the resources its buildspecs name (the data bucket, the Glue
database and the SageMaker execution role) are created from their resolved template properties,
once; CodePipeline, CodeBuild and the source and artifact buckets are the runner itself.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

import boto3

from cdlab.pipeline.definition import Definition, PipelineError


def _bucket(name: str, properties: dict[str, Any]) -> None:
    s3 = boto3.client("s3")
    with contextlib.suppress(s3.exceptions.BucketAlreadyOwnedByYou):
        s3.create_bucket(Bucket=name)


def _role(name: str, properties: dict[str, Any]) -> None:
    iam = boto3.client("iam")
    with contextlib.suppress(iam.exceptions.EntityAlreadyExistsException):
        iam.create_role(
            RoleName=name,
            AssumeRolePolicyDocument=json.dumps(properties["AssumeRolePolicyDocument"]),
            Description=properties.get("Description", ""),
        )
    for policy in properties.get("Policies", []):
        iam.put_role_policy(
            RoleName=name,
            PolicyName=policy["PolicyName"],
            PolicyDocument=json.dumps(policy["PolicyDocument"]),
        )


def _database(name: str, properties: dict[str, Any]) -> None:
    glue = boto3.client("glue")
    with contextlib.suppress(glue.exceptions.AlreadyExistsException):
        glue.create_database(DatabaseInput=properties["DatabaseInput"])


CREATE = {"AWS::S3::Bucket": _bucket, "AWS::IAM::Role": _role, "AWS::Glue::Database": _database}


def ensure(definition: Definition) -> list[str]:
    """Create what does not exist yet; the physical names, as ``Type name`` lines."""
    made = []
    for logical_id, resource in definition.resources.items():
        create = CREATE.get(resource["Type"])
        if create is None:
            raise PipelineError(f"{logical_id} ({resource['Type']}) has no local stand-in")
        create(definition.ref(logical_id), resource["Properties"])
        made.append(f"{resource['Type']} {definition.ref(logical_id)}")
    return made
