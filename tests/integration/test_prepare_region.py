"""The data step (``predata.py``, ``notebook.trained_model``) creates its bucket in the client's
region: outside us-east-1 S3 refuses a CreateBucket without a LocationConstraint
(IllegalLocationConstraintException), and so does the local cloud (moto's check)."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from cdlab.steps import prepare

pytestmark = pytest.mark.slow  # the data step on a cloud of its own: out of test-fast

BUCKET = "cdlab-prepare-eu-west-1"
DATABASE = "cdlab_prepare_region"


@pytest.fixture
def in_eu_west_1(aws_env, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The clients call eu-west-1; what the test made there is deleted after."""
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    yield
    s3, glue = boto3.client("s3"), boto3.client("glue")
    with contextlib.suppress(s3.exceptions.NoSuchBucket):
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET):
            for item in page.get("Contents", []):
                s3.delete_object(Bucket=BUCKET, Key=item["Key"])
        s3.delete_bucket(Bucket=BUCKET)
    with contextlib.suppress(glue.exceptions.EntityNotFoundException):
        glue.delete_database(Name=DATABASE)


def test_prepare_creates_its_bucket_in_the_clients_region(in_eu_west_1, tmp_path: Path) -> None:
    result = prepare.run(BUCKET, DATABASE, None, tmp_path, log=lambda line: None)
    location = boto3.client("s3").get_bucket_location(Bucket=BUCKET)["LocationConstraint"]
    assert location == "eu-west-1"
    assert result["train"] == f"s3://{BUCKET}/prepdata/train/train.protobuf"
    assert json.loads((tmp_path / prepare.RESULT_FILE).read_text()) == result
    assert prepare.run(BUCKET, DATABASE, None, tmp_path, log=lambda line: None) == result
