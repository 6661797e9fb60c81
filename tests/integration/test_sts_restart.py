"""Credentials a client was given before a restart, a stop and start or a SIGKILL, still sign
after it, as on AWS, where temporary credentials "are valid through the expiration period and
cannot be revoked" (https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_temp_control-access.html)
and an access key until it is deleted: an IAM user's access key and a role session's key, secret
and session token. A session expires when it did before the restart, not its duration after the
restart: one journaled longer ago than its duration is refused as expired ("The security token
included in the request is expired",
https://docs.aws.amazon.com/IAM/latest/APIReference/CommonErrors.html)."""

from __future__ import annotations

import base64
import json
import sqlite3
from typing import Any

import boto3
import pytest
from botocore.config import Config

from cdlab import config
from cdlab.localcloud import control
from cdlab.localcloud.state.journal import KIND
from tests.aws_errors import refused
from tests.integration.private_cloud import PrivateCloud

pytestmark = pytest.mark.slow

USER, ROLE = "kept-user", "kept-role"
EVERYTHING = json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
)
TRUST = json.dumps({"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{config.ACCOUNT_ID}:root"},
    "Action": "sts:AssumeRole",
}]})  # fmt: skip
NO_RETRIES = Config(retries={"total_max_attempts": 1})
EXPIRED = ("ExpiredToken", "The security token included in the request is expired", 403)


def signing_with(key: str, secret: str, token: str | None = None) -> boto3.Session:
    return boto3.Session(
        aws_access_key_id=key,
        aws_secret_access_key=secret,
        aws_session_token=token,
        region_name=config.region(),
    )


def session_of(credentials: dict[str, Any]) -> boto3.Session:
    return signing_with(
        credentials["AccessKeyId"], credentials["SecretAccessKey"], credentials["SessionToken"]
    )


def as_signed(signer: boto3.Session) -> tuple[str, str]:
    """Who the signer is, and the role an allowed call reads."""
    arn = signer.client("sts", config=NO_RETRIES).get_caller_identity()["Arn"]
    role = signer.client("iam", config=NO_RETRIES).get_role(RoleName=ROLE)["Role"]["Arn"]
    return arn, role


def journaled_earlier(cloud: PrivateCloud, session_name: str, seconds: float) -> None:
    """With the cloud down: the journaled AssumeRole of ``session_name`` as if made ``seconds``
    earlier than it was."""
    db = sqlite3.connect(cloud.home / "state.db")
    try:
        rows = db.execute("SELECT key, doc FROM docs WHERE kind = ?", (KIND,)).fetchall()
        for key, text in rows:
            doc = json.loads(text)
            if f"RoleSessionName={session_name}".encode() in base64.b64decode(doc["body"]):
                doc["at"] -= seconds
                db.execute(
                    "UPDATE docs SET doc = ? WHERE kind = ? AND key = ?",
                    (json.dumps(doc), KIND, key),
                )
                db.commit()
                return
        raise AssertionError(f"no journaled AssumeRole of {session_name}")
    finally:
        db.close()


def test_a_users_key_and_a_role_sessions_credentials_sign_after_a_stop_and_a_crash(
    private: PrivateCloud,
) -> None:
    private.up()
    iam = private.client("iam")
    iam.create_user(UserName=USER)
    iam.put_user_policy(UserName=USER, PolicyName="all", PolicyDocument=EVERYTHING)
    key = iam.create_access_key(UserName=USER)["AccessKey"]
    role = iam.create_role(RoleName=ROLE, AssumeRolePolicyDocument=TRUST)["Role"]["Arn"]
    iam.put_role_policy(RoleName=ROLE, PolicyName="all", PolicyDocument=EVERYTHING)
    user = signing_with(key["AccessKeyId"], key["SecretAccessKey"])
    sts = user.client("sts")
    credentials = sts.assume_role(RoleArn=role, RoleSessionName="kept")["Credentials"]
    ending = sts.assume_role(RoleArn=role, RoleSessionName="ending", DurationSeconds=900)
    session, short = session_of(credentials), session_of(ending["Credentials"])
    expected = {
        "user": (f"arn:aws:iam::{config.ACCOUNT_ID}:user/{USER}", role),
        "session": (f"arn:aws:sts::{config.ACCOUNT_ID}:assumed-role/{ROLE}/kept", role),
    }
    assert {"user": as_signed(user), "session": as_signed(session)} == expected
    assert as_signed(short)[1] == role

    assert control.down(private.home)
    private.up()
    assert {"user": as_signed(user), "session": as_signed(session)} == expected
    assert as_signed(short)[1] == role  # assumed seconds ago: 15 minutes left

    private.kill()
    journaled_earlier(private, "ending", 901)  # assumed 15 minutes and a second ago
    private.up()
    assert {"user": as_signed(user), "session": as_signed(session)} == expected
    assert refused(short.client("sts", config=NO_RETRIES).get_caller_identity) == EXPIRED
    again = user.client("sts").assume_role(RoleArn=role, RoleSessionName="kept")["Credentials"]
    assert again["AccessKeyId"] != credentials["AccessKeyId"]
    assert again["SessionToken"] != credentials["SessionToken"]
    assert as_signed(session_of(again)) == expected["session"]
