"""The local cloud as CodePipeline's engine reaches it: over the wire, at the cloud's own URL
(CodeBuild's :class:`Cloud`), the kit's key assuming the pipeline's role as a named service, and
the role session's clients for everything else, so IAM decides each call as on AWS."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config

from cdlab.localcloud.codebuild.worker import Cloud
from cdlab.pipeline import roles

CLIENT_CONFIG = Config(retries={"total_max_attempts": 2}, read_timeout=300)


@dataclass(frozen=True)
class RoleClients:
    role_arn: str
    session: boto3.Session
    url: str

    def client(self, service: str) -> Any:
        return self.session.client(service, endpoint_url=self.url, config=CLIENT_CONFIG)


def as_role(cloud: Cloud, role_arn: str, service: str, session_name: str = "") -> RoleClients:
    """Clients of a session of ``role_arn`` taken as ``service``; PipelineError (in the
    service's words) when the role does not trust it. Blocking."""
    credentials = roles.assume(
        role_arn,
        service,
        session_name,
        endpoint_url=cloud.url,
        home=cloud.home,
        region=cloud.region,
    )
    return RoleClients(role_arn, credentials.session(cloud.region), cloud.url)
