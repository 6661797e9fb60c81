"""Nothing is lost: a local cloud stopped and started again serves the same endpoints."""

from __future__ import annotations

import json

import boto3

from cdlab.fm.model import artifact_bytes
from cdlab.localcloud import control
from cdlab.localcloud.images import fm_image_uri
from tests.conftest import free_port, small_model


def clients(home, port, monkeypatch):
    for key, value in control.client_environment(home, port).items():
        monkeypatch.setenv(key, value)
    session = boto3.Session()
    return session.client("sagemaker"), session.client("sagemaker-runtime"), session.client("s3")


def test_endpoints_come_back_after_down_and_up(tmp_path, monkeypatch) -> None:
    home, port = tmp_path / "home", free_port()
    control.up(home, port)
    try:
        sm, runtime, s3 = clients(home, port, monkeypatch)
        s3.create_bucket(Bucket="restart")
        s3.put_object(Bucket="restart", Key="m.tar.gz", Body=artifact_bytes(small_model(7)))
        sm.create_model(
            ModelName="kept",
            PrimaryContainer={
                "Image": fm_image_uri("us-east-1"),
                "ModelDataUrl": "s3://restart/m.tar.gz",
            },
        )
        sm.create_endpoint_config(
            EndpointConfigName="kept",
            ProductionVariants=[
                {
                    "VariantName": "AllTraffic",
                    "ModelName": "kept",
                    "InitialInstanceCount": 2,
                    "InstanceType": "ml.m5.large",
                }
            ],
        )
        sm.create_endpoint(EndpointName="kept", EndpointConfigName="kept")
        sm.get_waiter("endpoint_in_service").wait(EndpointName="kept")
        body = json.dumps({"instances": [{"features": [1.0] + [0.0] * 19}]})
        before = runtime.invoke_endpoint(
            EndpointName="kept", Body=body, ContentType="application/json"
        )["Body"].read()

        assert control.down(home)
        control.up(home, port)
        sm, runtime, _ = clients(home, port, monkeypatch)
        sm.get_waiter("endpoint_in_service").wait(EndpointName="kept")
        after = runtime.invoke_endpoint(
            EndpointName="kept", Body=body, ContentType="application/json"
        )["Body"].read()
        assert after == before
        assert sm.describe_model(ModelName="kept")["ModelName"] == "kept"
        assert (
            sm.describe_endpoint_config(EndpointConfigName="kept")["ProductionVariants"][0][
                "InitialInstanceCount"
            ]
            == 2
        )
        [variant] = sm.describe_endpoint(EndpointName="kept")["ProductionVariants"]
        assert variant["CurrentInstanceCount"] == 2
    finally:
        control.down(home)
