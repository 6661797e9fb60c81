"""``target.ready``: a process's AWS clients follow the target it names, even after boto3's
default session has cached other credentials."""

from __future__ import annotations

import os
from pathlib import Path

import boto3
import pytest

from cdlab import target
from cdlab.localcloud import control
from tests.conftest import free_port

pytestmark = pytest.mark.slow

AWS_VARIABLES = ("AWS_ENDPOINT_URL", "AWS_DATA_PATH", "AWS_ACCESS_KEY_ID",
                 "AWS_SECRET_ACCESS_KEY", "AWS_CONFIG_FILE", "AWS_PROFILE", "AWS_DEFAULT_PROFILE",
                 "CDLAB_TARGET")  # fmt: skip


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """``ready`` writes os.environ: put it back after (boto3's default session is each test's
    own: tests/conftest.py)."""
    for name in AWS_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # no instance role to look for
    return monkeypatch


def test_clients_follow_the_target_after_cached_credentials(
    tmp_path: Path, clean_env: pytest.MonkeyPatch
) -> None:
    clean_env.setenv("AWS_ACCESS_KEY_ID", "AKIAOTHERACCOUNT0000")
    clean_env.setenv("AWS_SECRET_ACCESS_KEY", "not-the-local-cloud's")
    boto3.client("s3", region_name="us-east-1")
    cached = boto3.DEFAULT_SESSION.get_credentials()
    assert cached.access_key == "AKIAOTHERACCOUNT0000"  # the default session keeps these
    home = tmp_path / "home"
    try:
        env = target.ready("local", home=home, port=free_port())
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket="followed")
        assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == ["followed"]
        assert env["AWS_ACCESS_KEY_ID"].startswith(control.LOCAL_KEY_PREFIX)
        assert os.environ["AWS_CONFIG_FILE"] == str(home / control.CLI_CONFIG_NAME)

        with pytest.raises(target.TargetNotReady, match="target 'aws' is not reachable"):
            target.ready("aws")  # this machine has no AWS credentials
        left = {"AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"} & set(os.environ)
        assert left == set()  # the local cloud's endpoint and key are not sent to AWS
        local_config = {"AWS_CONFIG_FILE", *control.PROFILE_VARIABLES} & set(os.environ)
        assert local_config == set()  # nor is its config file and profile used for AWS
    finally:
        control.down(home)
