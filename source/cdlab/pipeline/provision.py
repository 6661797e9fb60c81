"""The pipeline stack's resources that its jobs use, created with boto3 in the local cloud.

The local CloudFormation provides the endpoint stacks' resource types only, so the pipeline
stack itself is not deployed: the resources its buildspecs name (the data bucket, the Glue
database), its six roles and what their policies name (the source and artifact buckets) are
created from their resolved template properties, and each role's trust and inline policies are
put again at every run, so an edit of pipeline.yml takes effect; CodePipeline and CodeBuild are
the runner itself.
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
    versioning = properties.get("VersioningConfiguration", {}).get("Status")
    if versioning:
        s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": versioning})


def _role(name: str, properties: dict[str, Any]) -> None:
    """The role as the template has it now: its trust policy and its inline policies."""
    iam = boto3.client("iam")
    trust = json.dumps(properties["AssumeRolePolicyDocument"])
    try:
        iam.create_role(
            RoleName=name,
            AssumeRolePolicyDocument=trust,
            Description=properties.get("Description", ""),
        )
    except iam.exceptions.EntityAlreadyExistsException:
        iam.update_assume_role_policy(RoleName=name, PolicyDocument=trust)
    declared = {policy["PolicyName"] for policy in properties.get("Policies", [])}
    for stale in set(iam.list_role_policies(RoleName=name)["PolicyNames"]) - declared:
        iam.delete_role_policy(RoleName=name, PolicyName=stale)
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
