"""Services acting as their roles: what a service does with a role (a training job reading its
channels with its RoleArn, an endpoint's instances fetching the model with the model's
ExecutionRoleArn, a stack deploying with its RoleARN) is evaluated as that role's session, by the
same :class:`Enforcer` the gateway asks, as AWS evaluates a service's calls with the temporary
credentials it gets by assuming the role
(https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_create_for-service.html).

The session is ``arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION``; SageMaker names its sessions
``SageMaker``, CloudFormation its own. With IAM enforcement off (``CDLAB_IAM=off``) a service may
do anything, as before.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from cdlab.localcloud.context import Principal
from cdlab.localcloud.iam.enforcer import Denial, Enforcer
from cdlab.localcloud.iam.requests import iam_prefix
from cdlab.localcloud.iam.wire import Call
from cdlab.localcloud.protocols.errors import (
    AWSError,
    InvalidInputException,
    ValidationError,
    ValidationException,
)

SAGEMAKER_SESSION = "SageMaker"
CLOUDFORMATION_SESSION = "AWSCloudFormation"


def role_session(role_arn: str, session: str) -> Principal:
    """The principal of a session of ``role_arn`` named ``session``."""
    _, _, _, _, account, resource = role_arn.split(":", 5)
    name = resource.rpartition("/")[2]
    arn = f"arn:aws:sts::{account}:assumed-role/{name}/{session}"
    return Principal(arn, f"service:{session}", "assumed-role", role_arn)


def untrusted_role_error(service: str, role: str, principal: str) -> AWSError:
    """The error of ``service`` handed a role it cannot assume (missing, or not trusting
    ``principal``, the service's): SageMaker's ``ValidationException`` "Could not assume role
    ...", CloudFormation's ``ValidationError`` "Role ... is invalid or cannot be assumed"
    (https://repost.aws/knowledge-center/cloudformation-role-arn-error), CodeBuild's
    ``InvalidInputException`` "CodeBuild is not authorized to perform: sts:AssumeRole on ..."
    (https://docs.aws.amazon.com/codebuild/latest/userguide/troubleshooting.html)."""
    if iam_prefix(service) == "cloudformation":
        return ValidationError(f"Role {role} is invalid or cannot be assumed")
    if iam_prefix(service) == "codebuild":
        return InvalidInputException(
            f"CodeBuild is not authorized to perform: sts:AssumeRole on {role}"
        )
    return ValidationException(
        f"Could not assume role {role}. Please ensure that the role exists and allows "
        f"principal '{principal}' to assume the role."
    )


def s3_call(operation: str, bucket: str, key: str | None = None, **params: Any) -> Call:
    """An S3 call as a service makes it (``GetObject`` of ``bucket``/``key``)."""
    members = {"Bucket": bucket, **({"Key": key} if key is not None else {}), **params}
    return Call("s3", operation, members)


class ServiceRoles:
    """Decisions on what a service does as a role; ``enforcer`` None: enforcement is off."""

    def __init__(self, enforcer: Enforcer | None) -> None:
        self.enforcer = enforcer

    async def denial(
        self, role_arn: str | None, session: str, call: Call, region: str
    ) -> Denial | None:
        """Why a session of ``role_arn`` may not make ``call`` in ``region``; None if it may,
        if enforcement is off, or if no role is given (a model without an ExecutionRoleArn,
        which the API allows: the local cloud cannot tell whom its instances act as)."""
        if self.enforcer is None or not role_arn:
            return None
        if role_arn.count(":") < 5:
            return Denial(role_arn, f"{call.service}:{call.operation}")
        return await self.denial_as(role_session(role_arn, session), call, region)

    async def untrusted_role(self, call: Call, account: str) -> AWSError | None:
        """The service's error if ``call`` hands it a role it cannot assume; None if it hands
        none, every one may be assumed, or enforcement is off."""
        if self.enforcer is None:
            return None
        untrusted = await self.enforcer.untrusted_role(call, account)
        return None if untrusted is None else untrusted_role_error(call.service, *untrusted)

    async def denial_as(self, principal: Principal, call: Call, region: str) -> Denial | None:
        """Why ``principal`` (a role session, or the caller a service acts for) may not make
        ``call`` in ``region``; None if it may."""
        if self.enforcer is None:
            return None
        account = principal.arn.split(":")[4]
        return await self.enforcer.denial(principal, call, region, account)

    def blocking(
        self, role_arn: str | None, session: str, region: str, loop: asyncio.AbstractEventLoop
    ) -> Callable[[Call], Denial | None]:
        """:meth:`denial` for a worker thread: it waits for the decision on ``loop``."""

        def decide(call: Call) -> Denial | None:
            if self.enforcer is None:
                return None
            future = asyncio.run_coroutine_threadsafe(
                self.denial(role_arn, session, call, region), loop
            )
            return future.result()

        return decide
