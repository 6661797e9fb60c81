"""Sessions that share the process's data loader parse each service model once, and see what a
session of their own would: AWS_DATA_PATH's files first, boto3's resource models too; what their
clients change in a shared model, the local cloud does not read."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import botocore.session
import pytest

from cdlab.localcloud.protocols import awsjson
from cdlab.service_models import shared_loader

KEY = {"aws_access_key_id": "AKIDEXAMPLE", "aws_secret_access_key": "secret"}


def session_with(data_path: str | None) -> boto3.Session:
    core = botocore.session.Session()
    core.register_component("data_loader", shared_loader(data_path))
    return boto3.Session(region_name="us-east-1", botocore_session=core, **KEY)


def test_clients_of_two_sessions_share_one_parsed_model() -> None:
    first = session_with(None).client("sagemaker").meta.service_model
    second = session_with(None).client("sagemaker").meta.service_model
    assert first._service_description is second._service_description


def test_sessions_do_not_grow_the_search_path_and_keep_boto3s_resources() -> None:
    before = shared_loader(None).search_paths
    for _ in range(3):
        bucket = session_with(None).resource("s3").Bucket("kept")
    assert shared_loader(None).search_paths == before
    assert bucket.name == "kept"


def test_a_data_paths_files_come_before_botocores(tmp_path: Path) -> None:
    waiters = tmp_path / "sagemaker" / "2017-07-24"
    waiters.mkdir(parents=True)
    default = session_with(None).client("sagemaker").get_waiter("endpoint_in_service")
    quick = {"version": 2, "waiters": {"EndpointInService": {
        "delay": 1, "maxAttempts": 3, "operation": "DescribeEndpoint",
        "acceptors": [{"expected": "InService", "matcher": "path", "state": "success",
                       "argument": "EndpointStatus"}],
    }}}  # fmt: skip
    (waiters / "waiters-2.json").write_text(json.dumps(quick))
    waiter = session_with(str(tmp_path)).client("sagemaker").get_waiter("endpoint_in_service")
    assert (default.config.delay, waiter.config.delay) == (30, 1)
    assert shared_loader(str(tmp_path)) is not shared_loader(None)


class NotSent(Exception):
    """Raised where botocore would send the request."""


def not_sent(**_: object) -> None:
    raise NotSent


def test_what_a_client_changes_in_its_model_is_not_what_the_local_cloud_reads() -> None:
    s3 = session_with(None).client("s3", endpoint_url="http://127.0.0.1:1")
    s3.meta.events.register("before-send", not_sent)
    with pytest.raises(NotSent):  # botocore has stripped /{Bucket} from the shared model's path
        s3.head_bucket(Bucket="kept")
    awsjson.service_model.cache_clear()
    http = awsjson.service_model("s3").operation_model("HeadBucket").http
    assert http["requestUri"] == "/{Bucket}"
