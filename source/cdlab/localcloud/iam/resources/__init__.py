"""The resources an operation acts on, as IAM names them: ARNs filled from the request's members.

For each action the Service Authorization Reference lists the resource types it acts on; a table
per service maps each operation to builders of those types' ARNs (made of ``builders``), in the
formats the reference gives: ``sagemaker``, ``cloudformation``, ``cloudwatch`` (CloudWatch and
CloudWatch Logs), ``glue``, ``events`` (EventBridge rules), ``iam`` (IAM and STS) and
``codepipeline`` (CodePipeline and CodeBuild).

Application Auto Scaling's scalable-target ARN ends in an id the service assigns, which no
request carries, so its actions are evaluated on ``*`` here
(https://docs.aws.amazon.com/service-authorization/latest/reference/list_awsapplicationautoscaling.html).
An operation a table does not list, and a request that leaves out a member its ARN needs, act on
``*``: a policy must then allow the action on every resource.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from cdlab.localcloud.iam.resources.builders import Builder, Params, PathLookup, Scope, members
from cdlab.localcloud.iam.resources.cloudformation import CLOUDFORMATION
from cdlab.localcloud.iam.resources.cloudwatch import CLOUDWATCH, LOGS
from cdlab.localcloud.iam.resources.codepipeline import CODEBUILD, CODEPIPELINE
from cdlab.localcloud.iam.resources.events import EVENTS
from cdlab.localcloud.iam.resources.glue import GLUE
from cdlab.localcloud.iam.resources.iam import IAM, STS
from cdlab.localcloud.iam.resources.sagemaker import SAGEMAKER

__all__ = ["ANY", "Check", "Params", "PathLookup", "Scope", "members", "resources"]

ANY = ("*",)


@dataclass(frozen=True)
class Check:
    """One authorization AWS makes for a request: an action on resources, in a context. Every
    resource must be allowed."""

    action: str
    resources: tuple[str, ...]
    context: Mapping[str, Any] = field(default_factory=dict)


TABLES: dict[str, dict[str, Builder]] = {
    "sagemaker": SAGEMAKER,
    "cloudformation": CLOUDFORMATION,
    "cloudwatch": CLOUDWATCH,
    "logs": LOGS,
    "glue": GLUE,
    "events": EVENTS,
    "iam": IAM,
    "sts": STS,
    "codepipeline": CODEPIPELINE,
    "codebuild": CODEBUILD,
}


def resources(prefix: str, operation: str, params: Params, scope: Scope) -> tuple[str, ...]:
    """The ARNs the operation of the service with IAM prefix ``prefix`` acts on; ``("*",)`` for
    an operation no table lists, or a request that does not name what its action needs."""
    builder = TABLES.get(prefix, {}).get(operation)
    found = builder(params if isinstance(params, Mapping) else {}, scope) if builder else []
    return tuple(dict.fromkeys(found)) or ANY
