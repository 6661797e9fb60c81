"""Principals other than the kit's key, through real clients: a role session's credentials
(AssumeRole) and an IAM user's access key sign requests as that session or user; a session's
request with a wrong or no session token is refused in AWS's words. (An expired session's
refusal: tests/unit/test_principals.py, since no session can be made shorter than 900 s.)"""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.request import urlopen

import boto3
import pytest
from botocore.config import Config

from tests.aws_errors import refused
from tests.conftest import AWS_CLI

ACCOUNT = "123456789012"
ROLE = "cdlab-principals-role"
SESSION = "workshop-session"
TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
            "Action": "sts:AssumeRole",
        }
    ],
}
EVERYTHING = json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
)  # these tests are about who signs; what a signer may do: test_iam_enforcement.py


@pytest.fixture(scope="module")
def role(client) -> Iterator[str]:
    iam = client("iam")
    arn = iam.create_role(RoleName=ROLE, AssumeRolePolicyDocument=json.dumps(TRUST))["Role"]["Arn"]
    iam.put_role_policy(RoleName=ROLE, PolicyName="everything", PolicyDocument=EVERYTHING)
    yield arn
    iam.delete_role_policy(RoleName=ROLE, PolicyName="everything")
    iam.delete_role(RoleName=ROLE)


@pytest.fixture
def credentials(client, role: str) -> dict[str, Any]:
    """A new session's credentials, assumed with the kit's key."""
    return client("sts").assume_role(RoleArn=role, RoleSessionName=SESSION)["Credentials"]


def session(aws_env: dict[str, str], key: str, secret: str, token: str | None = None):
    return boto3.Session(
        aws_access_key_id=key,
        aws_secret_access_key=secret,
        aws_session_token=token,
        region_name=aws_env["AWS_DEFAULT_REGION"],
    )


def as_session(aws_env: dict[str, str], credentials: dict[str, Any], token: str | None):
    return session(aws_env, credentials["AccessKeyId"], credentials["SecretAccessKey"], token)


NO_RETRIES = Config(retries={"total_max_attempts": 1})


def test_assumed_role_credentials_sign_as_the_session(aws_env, client, credentials) -> None:
    assert credentials["AccessKeyId"].startswith("ASIA")
    signed = as_session(aws_env, credentials, credentials["SessionToken"])
    identity = signed.client("sts").get_caller_identity()
    assert identity["Arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/{ROLE}/{SESSION}"
    assert identity["Account"] == ACCOUNT
    assert "Models" in signed.client("sagemaker").list_models()

    bucket = f"cdlab-principals-{uuid.uuid4().hex[:8]}"
    s3 = signed.client("s3")
    s3.create_bucket(Bucket=bucket)
    try:
        s3.put_object(Bucket=bucket, Key="k", Body=b"from the session")
        assert client("s3").get_object(Bucket=bucket, Key="k")["Body"].read() == b"from the session"
        v4 = signed.client("s3", config=Config(signature_version="s3v4"))
        for presigner in (s3, v4):  # SigV2 (boto3's default for presigning) and SigV4
            url = presigner.generate_presigned_url(
                "get_object", Params={"Bucket": bucket, "Key": "k"}
            )
            assert "security-token=" in url.lower()
            with urlopen(url, timeout=30) as response:
                assert response.read() == b"from the session"
    finally:
        s3.delete_object(Bucket=bucket, Key="k")
        s3.delete_bucket(Bucket=bucket)


def test_a_wrong_session_token_is_refused_in_each_familys_words(aws_env, credentials) -> None:
    wrong = as_session(aws_env, credentials, credentials["SessionToken"][:-4] + "AAAA")
    invalid = "The security token included in the request is invalid."
    assert refused(wrong.client("sts", config=NO_RETRIES).get_caller_identity) == (
        "InvalidClientTokenId",
        invalid,
        403,
    )
    assert refused(wrong.client("sagemaker", config=NO_RETRIES).list_models) == (
        "UnrecognizedClientException",
        invalid,
        400,
    )
    assert refused(wrong.client("s3", config=NO_RETRIES).list_buckets) == (
        "InvalidToken",
        "The provided token is malformed or otherwise invalid.",
        400,
    )


def test_a_session_key_without_its_token_is_refused(aws_env, credentials) -> None:
    tokenless = as_session(aws_env, credentials, None)
    invalid = "The security token included in the request is invalid."
    assert refused(tokenless.client("sts", config=NO_RETRIES).get_caller_identity) == (
        "InvalidClientTokenId",
        invalid,
        403,
    )
    assert refused(tokenless.client("sagemaker", config=NO_RETRIES).list_models) == (
        "UnrecognizedClientException",
        invalid,
        400,
    )
    assert refused(tokenless.client("s3", config=NO_RETRIES).list_buckets) == (
        "InvalidAccessKeyId",
        "The AWS Access Key Id you provided does not exist in our records.",
        403,
    )


def test_an_iam_users_access_key_signs_as_the_user_until_iam_takes_it_away(aws_env, client) -> None:
    iam = client("iam")
    name = f"cdlab-principals-{uuid.uuid4().hex[:8]}"
    iam.create_user(UserName=name)
    iam.put_user_policy(UserName=name, PolicyName="everything", PolicyDocument=EVERYTHING)
    try:
        key = iam.create_access_key(UserName=name)["AccessKey"]
        user = session(aws_env, key["AccessKeyId"], key["SecretAccessKey"])
        sts = user.client("sts", config=NO_RETRIES)
        assert sts.get_caller_identity()["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/{name}"
        assert "Models" in user.client("sagemaker").list_models()
        with_token = session(aws_env, key["AccessKeyId"], key["SecretAccessKey"], "a-token")
        code, _, status = refused(with_token.client("sts", config=NO_RETRIES).get_caller_identity)
        assert (code, status) == ("InvalidClientTokenId", 403)  # a user's key takes no token

        iam.update_access_key(UserName=name, AccessKeyId=key["AccessKeyId"], Status="Inactive")
        assert refused(sts.get_caller_identity)[0] == "InvalidClientTokenId"
        iam.update_access_key(UserName=name, AccessKeyId=key["AccessKeyId"], Status="Active")
        assert sts.get_caller_identity()["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/{name}"
        iam.delete_access_key(UserName=name, AccessKeyId=key["AccessKeyId"])
        assert refused(sts.get_caller_identity) == (
            "InvalidClientTokenId",
            "The security token included in the request is invalid.",
            403,
        )
    finally:
        for listed in iam.list_access_keys(UserName=name)["AccessKeyMetadata"]:
            iam.delete_access_key(UserName=name, AccessKeyId=listed["AccessKeyId"])
        iam.delete_user_policy(UserName=name, PolicyName="everything")
        iam.delete_user(UserName=name)


def aws_cli(aws_env: dict[str, str], credentials: dict[str, Any], token: str, *args: str):
    env = {
        **os.environ,
        **aws_env,
        "AWS_ACCESS_KEY_ID": credentials["AccessKeyId"],
        "AWS_SECRET_ACCESS_KEY": credentials["SecretAccessKey"],
        "AWS_SESSION_TOKEN": token,
        "AWS_MAX_ATTEMPTS": "1",
    }
    return subprocess.run(
        [AWS_CLI, *args, "--output", "json"], env=env, capture_output=True, text=True, timeout=120
    )


def test_the_aws_cli_signs_with_assumed_role_credentials(aws_env, credentials) -> None:
    result = aws_cli(
        aws_env, credentials, credentials["SessionToken"], "sts", "get-caller-identity"
    )
    assert result.returncode == 0, result.stderr
    arn = json.loads(result.stdout)["Arn"]
    assert arn == f"arn:aws:sts::{ACCOUNT}:assumed-role/{ROLE}/{SESSION}"
    result = aws_cli(aws_env, credentials, "not-the-token", "sts", "get-caller-identity")
    assert result.returncode != 0
    assert "(InvalidClientTokenId)" in result.stderr
    assert "The security token included in the request is invalid." in result.stderr
