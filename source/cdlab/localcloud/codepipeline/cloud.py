"""The local cloud as CodePipeline's engine reaches it: over the wire, at the cloud's own URL,
with the kit's key (the key the local services hold) to assume roles as a named service, and
with the assumed role's session for everything else, so IAM decides each call as on AWS."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from cdlab.pipeline import roles

CLIENT_CONFIG = Config(retries={"total_max_attempts": 2}, read_timeout=300)


@dataclass(frozen=True)
class Cloud:
    url: str
    home: Path  # whose key (the kit's) assumes the roles
    region: str

    def _session(self, credentials: roles.Credentials) -> boto3.Session:
        return boto3.Session(
            aws_access_key_id=credentials.access_key_id,
            aws_secret_access_key=credentials.secret_access_key,
            aws_session_token=credentials.session_token,
            region_name=self.region,
        )

    def as_role(self, role_arn: str, service: str, session_name: str = "") -> RoleClients:
        """Clients of a session of ``role_arn`` taken as ``service``; PipelineError (in the
        service's words) when the role does not trust it. Blocking."""
        credentials = roles.assume(
            role_arn,
            service,
            session_name,
            endpoint_url=self.url,
            home=self.home,
            region=self.region,
        )
        return RoleClients(role_arn, self._session(credentials), self.url)


@dataclass(frozen=True)
class RoleClients:
    role_arn: str
    session: boto3.Session
    url: str

    def client(self, service: str) -> Any:
        return self.session.client(service, endpoint_url=self.url, config=CLIENT_CONFIG)
