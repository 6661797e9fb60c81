"""Sign raw HTTP requests to the local cloud as botocore signs its own (SigV4)."""

from __future__ import annotations

import os

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials


def signed_headers(
    method: str,
    url: str,
    body: bytes,
    headers: dict[str, str],
    service: str = "sagemaker",
    env: dict[str, str] | None = None,
) -> dict[str, str]:
    """``headers`` plus X-Amz-Date and Authorization for the key in ``env`` (or os.environ)."""
    env = env if env is not None else dict(os.environ)
    credentials = Credentials(env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"])
    request = AWSRequest(method=method, url=url, data=body, headers=headers)
    SigV4Auth(credentials, service, env.get("AWS_DEFAULT_REGION", "us-east-1")).add_auth(request)
    return dict(request.headers.items())
