"""What the notebooks' kernels run as under nbval: the participant, an IAM user of the local
cloud holding only cloudformation/participant.yml's policy, allowed the notebooks' calls and
refused the rest."""

from __future__ import annotations

import boto3

from cdlab.localcloud import control
from tests.aws_errors import refused
from tests.notebooks.plugin import participant_environment


def test_the_kernels_sign_as_the_participant(cloud: control.Cloud, monkeypatch) -> None:
    for key, value in participant_environment(cloud).items():
        monkeypatch.setenv(key, value)
    session = boto3.Session(**_credentials(control.client_environment(cloud.home, cloud.port)))
    url = cloud.url
    identity = session.client("sts", endpoint_url=url).get_caller_identity()
    assert identity["Arn"].endswith(":user/cdlab-participant")
    assert "Buckets" in session.client("s3", endpoint_url=url).list_buckets()
    iam = session.client("iam", endpoint_url=url)
    code, message, status = refused(iam.create_user, UserName="cdlab-intruder")
    assert (code, status) == ("AccessDenied", 403)
    assert "iam:CreateUser" in message


def _credentials(env: dict[str, str]) -> dict[str, str]:
    return {
        "aws_access_key_id": env["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": env["AWS_SECRET_ACCESS_KEY"],
        "region_name": env["AWS_DEFAULT_REGION"],
    }
