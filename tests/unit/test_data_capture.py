"""Data capture's settings, DescribeEndpoint's summary and the writer, over moto in-process (no
cloud needed; the running cloud's captures are tests/integration/test_data_capture.py's)."""

from __future__ import annotations

import asyncio
import base64
import json

import pytest

from cdlab.localcloud.iam.service_roles import ServiceRoles
from cdlab.localcloud.moto.state import MotoState
from cdlab.localcloud.sagemaker.artifacts import S3Objects
from cdlab.localcloud.sagemaker.datacapture import DataCapture, capture_settings, described


def variant(**config: object) -> dict:
    capture = {
        "InitialSamplingPercentage": 100,
        "DestinationS3Uri": "s3://cap-bucket/p",
        "CaptureOptions": [{"CaptureMode": "InputAndOutput"}],
        **config,
    }
    return {"VariantName": "v", "DataCaptureConfig": capture}


@pytest.mark.parametrize(
    ("destination", "prefix"),
    [
        ("s3://cap-bucket", "ep/v/"),
        ("s3://cap-bucket/", "ep/v/"),
        ("s3://cap-bucket/p", "p/ep/v/"),
        ("s3://cap-bucket/p/q/", "p/q/ep/v/"),
    ],
)
def test_keys_start_with_the_destination_endpoint_and_variant(destination, prefix) -> None:
    settings = capture_settings("ep", variant(DestinationS3Uri=destination), "us-east-1")
    assert settings is not None and (settings.bucket, settings.prefix) == ("cap-bucket", prefix)
    assert settings.inputs and settings.outputs


@pytest.mark.parametrize(
    "snapshot",
    [
        {"VariantName": "v"},  # a snapshot made before the kit captured data
        {"VariantName": "v", "DataCaptureConfig": None},
        variant(EnableCapture=False),
        variant(InitialSamplingPercentage=0),
    ],
)
def test_a_variant_that_captures_nothing_has_no_settings(snapshot) -> None:
    assert capture_settings("ep", snapshot, "us-east-1") is None


def test_describe_endpoint_shows_the_configuration_in_service_or_being_created() -> None:
    creating = {"_Pending": [variant(KmsKeyId="alias/k")]}
    assert described(creating) == {
        "DataCaptureConfig": {
            "EnableCapture": True,
            "CaptureStatus": "Started",
            "CurrentSamplingPercentage": 100,
            "DestinationS3Uri": "s3://cap-bucket/p",
            "KmsKeyId": "alias/k",
        }
    }
    serving = {"_Deployed": [variant(EnableCapture=False)], "_Pending": [variant()]}
    assert described(serving)["DataCaptureConfig"]["CaptureStatus"] == "Stopped"
    assert described({"_Deployed": [{"VariantName": "v"}]}) == {}


def test_a_body_that_is_not_utf8_is_captured_in_base64_whatever_its_type(moto: MotoState) -> None:
    moto.s3_create_bucket("cap-bucket", "us-east-1")
    settings = capture_settings(
        "ep",
        variant(CaptureContentTypeHeader={"JsonContentTypes": ["Application/JSON"]}),
        "us-east-1",
    )
    assert settings is not None
    answer = (200, {"Content-Type": "application/json"}, b'{"ok": 1}')

    async def capture() -> None:
        capture = DataCapture(S3Objects(moto, lambda bucket: None), ServiceRoles(None))
        capture.record(settings, b"\xff\xfe", {"Content-Type": "application/json"}, answer)
        await capture.close()

    asyncio.run(capture())
    [key] = moto.s3_keys("cap-bucket", "p/ep/v/")
    data = moto.s3_get("cap-bucket", key)
    assert data is not None and data.endswith(b"\n")
    record = json.loads(data)["captureData"]
    assert record["endpointInput"]["encoding"] == "BASE64"
    assert base64.b64decode(record["endpointInput"]["data"]) == b"\xff\xfe"
    assert (record["endpointOutput"]["encoding"], record["endpointOutput"]["data"]) == (
        "JSON",
        '{"ok": 1}',
    )
