"""Each stage acts as its role: temporary credentials of a pipeline.yml role, taken as the service
that plays it takes them.

On AWS, CodeBuild runs a project's builds with the project's ``ServiceRole`` and CodePipeline
makes its own calls (the CloudFormation actions among them) with the pipeline's ``RoleArn``; each
service assumes its role, which its trust policy must allow
(https://docs.aws.amazon.com/codebuild/latest/userguide/setting-up-service-role.html,
https://docs.aws.amazon.com/codepipeline/latest/userguide/security-iam.html). The runner plays
both services: it asks STS for the session with the account's key, the key the local services
hold, naming the service it plays (``X-Cdlab-Service-Principal``), so that the local cloud
evaluates the role's trust policy for that service, as AWS does for the real one; a refusal
becomes the service's own words.

Every session made here shares the process's botocore data loader (:func:`session`,
:mod:`cdlab.service_models`): the local services make several clients per action and per build.
"""

from __future__ import annotations

import functools
import uuid
from dataclasses import dataclass
from pathlib import Path

import boto3
import botocore.session
from botocore.awsrequest import AWSRequest
from botocore.exceptions import ClientError

from cdlab import config
from cdlab.localcloud import control
from cdlab.localcloud.protocols.enforcement import SERVICE_PRINCIPAL_HEADER
from cdlab.pipeline.definition import PipelineError
from cdlab.service_models import shared_loader

CODEBUILD = "codebuild.amazonaws.com"
CODEPIPELINE = "codepipeline.amazonaws.com"
EVENTS = "events.amazonaws.com"
# the words each service uses when its role does not trust it
NOT_TRUSTED = {
    CODEBUILD: "CodeBuild is not authorized to perform: sts:AssumeRole on {role}",
    CODEPIPELINE: "CodePipeline is not authorized to perform AssumeRole on role {role}",
    EVENTS: "EventBridge is not authorized to perform sts:AssumeRole on {role}",
}


@dataclass(frozen=True)
class Credentials:
    """A role session's temporary key."""

    access_key_id: str
    secret_access_key: str
    session_token: str

    def environment(self) -> dict[str, str]:
        """The variables that make a child process's AWS clients use this session."""
        return {
            "AWS_ACCESS_KEY_ID": self.access_key_id,
            "AWS_SECRET_ACCESS_KEY": self.secret_access_key,
            "AWS_SESSION_TOKEN": self.session_token,
        }

    def session(self, region: str | None = None) -> boto3.Session:
        return session(self.access_key_id, self.secret_access_key, self.session_token, region)


def session(
    key_id: str, secret: str, token: str | None = None, region: str | None = None
) -> boto3.Session:
    """A session with this key whose clients share the process's parsed service models."""
    core = botocore.session.Session()
    core.register_component("data_loader", shared_loader(core.get_config_variable("data_path")))
    return boto3.Session(key_id, secret, token, region, botocore_session=core)


def _services_session(home: Path | None = None) -> boto3.Session:
    """The local services' own session: the kit's key, whoever runs the pipeline."""
    key_id, secret = control.credentials(home or config.home())
    return session(key_id, secret)


def _name_service(request: AWSRequest, service: str, **_: object) -> None:
    request.headers[SERVICE_PRINCIPAL_HEADER] = service


def assume(
    role_arn: str,
    service: str,
    session_name: str = "",
    endpoint_url: str | None = None,
    home: Path | None = None,
    region: str | None = None,
) -> Credentials:
    """A session of ``role_arn`` as ``service`` takes it; PipelineError when the role does not
    trust the service. ``endpoint_url``, ``home`` and ``region`` name the local cloud when this
    process's environment does not (the local cloud's own services)."""
    if not role_arn:
        raise PipelineError(f"no role for {service} to act as")
    name = session_name or f"{service.split('.')[0]}-{uuid.uuid4().hex[:16]}"
    sts = _services_session(home).client("sts", endpoint_url=endpoint_url, region_name=region)
    sts.meta.events.register_first(
        "before-sign.sts.AssumeRole", functools.partial(_name_service, service=service)
    )
    try:
        answer = sts.assume_role(RoleArn=role_arn, RoleSessionName=name)
    except ClientError as e:
        # the kit's key is refused an AssumeRole only by the role's trust policy
        if e.response["Error"]["Code"] != "AccessDenied":
            raise
        raise PipelineError(NOT_TRUSTED[service].format(role=role_arn)) from None
    key = answer["Credentials"]
    return Credentials(key["AccessKeyId"], key["SecretAccessKey"], key["SessionToken"])
