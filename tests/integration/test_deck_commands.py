"""The deck's endpoint commands, run with the AWS CLI against the local cloud.

The deck's placeholders are filled with values AWS itself would accept (a 12-digit account in the
role ARN, the region's Factorization Machines image, a bucket that holds a real artifact); every
other word is the deck's. Its weight-swap JSON has typos (``Desiredweight``, a variant ``model1``
its config never made): the correct form is used, and the typo's client-side error is checked.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.conftest import small_model

pytestmark = pytest.mark.slow

ROLE = "arn:aws:iam::123456789012:role/me"


def container(image: str, url: str) -> str:
    return json.dumps({"Image": image, "ModelDataUrl": url})


def variant(model: str, name: str, weight: int) -> dict[str, object]:
    return {
        "InitialInstanceCount": 2,
        "InstanceType": "ml.m4.xlarge",
        "InitialVariantWeight": weight,
        "ModelName": model,
        "VariantName": name,
    }


def invoke(aws, tmp_path, endpoint: str, rows: list[list[float]]) -> dict:
    out = tmp_path / "out.json"
    aws(
        "sagemaker-runtime", "invoke-endpoint",
        "--endpoint-name", endpoint,
        "--content-type", "application/json",
        "--body", json.dumps({"instances": [{"features": r} for r in rows]}),
        str(out),
    )  # fmt: skip
    return json.loads(out.read_text())


def test_deck_endpoint_commands_work_verbatim(aws, upload_model, fm_image, tmp_path) -> None:
    url1, url2 = upload_model(1), upload_model(2)
    aws("sagemaker", "create-model", "--model-name", "model1",
        "--primary-container", container(fm_image, url1), "--execution-role-arn", ROLE)  # fmt: skip
    aws("sagemaker", "create-endpoint-config", "--endpoint-config-name", "model1-config",
        "--production-variants", json.dumps(variant("model1", "AllTraffic", 1)))  # fmt: skip
    aws("sagemaker", "create-endpoint", "--endpoint-name", "my-endpoint",
        "--endpoint-config-name", "model1-config")  # fmt: skip
    aws("sagemaker", "wait", "endpoint-in-service", "--endpoint-name", "my-endpoint")

    rows = np.eye(20, dtype=np.float32)[:3].tolist()
    answer = invoke(aws, tmp_path, "my-endpoint", rows)
    assert answer == {"predictions": small_model(1).predict(np.array(rows))}

    aws("sagemaker", "create-model", "--model-name", "model2",
        "--primary-container", container(fm_image, url2), "--execution-role-arn", ROLE)  # fmt: skip
    aws("sagemaker", "create-endpoint-config", "--endpoint-config-name", "model2-config",
        "--production-variants", json.dumps(variant("model2", "AllTraffic", 1)))  # fmt: skip
    aws("sagemaker", "update-endpoint", "--endpoint-name", "my-endpoint",
        "--endpoint-config-name", "model2-config")  # fmt: skip
    aws("sagemaker", "wait", "endpoint-in-service", "--endpoint-name", "my-endpoint")
    assert invoke(aws, tmp_path, "my-endpoint", rows)["predictions"] == small_model(2).predict(
        np.array(rows)
    )

    both = [variant("model1", "model1-traffic", 95), variant("model2", "model2-traffic", 5)]
    aws("sagemaker", "create-endpoint-config", "--endpoint-config-name", "both-models-config",
        "--production-variants", json.dumps(both))  # fmt: skip
    aws("sagemaker", "update-endpoint", "--endpoint-name", "my-endpoint",
        "--endpoint-config-name", "both-models-config")  # fmt: skip
    aws("sagemaker", "wait", "endpoint-in-service", "--endpoint-name", "my-endpoint")

    typo = aws("sagemaker", "update-endpoint-weights-and-capacities",
               "--endpoint-name", "my-endpoint",
               "--desired-weights-and-capacities", '{"VariantName": "model1", "Desiredweight": 5}',
               check=False)  # fmt: skip
    assert typo.returncode != 0
    assert "Unknown parameter" in typo.stderr and "Desiredweight" in typo.stderr

    aws("sagemaker", "update-endpoint-weights-and-capacities", "--endpoint-name", "my-endpoint",
        "--desired-weights-and-capacities",
        '[{"VariantName": "model1-traffic", "DesiredWeight": 5},'
        ' {"VariantName": "model2-traffic", "DesiredWeight": 95}]')  # fmt: skip
    aws("sagemaker", "wait", "endpoint-in-service", "--endpoint-name", "my-endpoint")
    described = json.loads(
        aws("sagemaker", "describe-endpoint", "--endpoint-name", "my-endpoint").stdout
    )
    weights = {v["VariantName"]: v["CurrentWeight"] for v in described["ProductionVariants"]}
    assert weights == {"model1-traffic": 5.0, "model2-traffic": 95.0}
    assert described["EndpointConfigName"] == "both-models-config"

    aws("sagemaker", "delete-endpoint", "--endpoint-name", "my-endpoint")
    aws("sagemaker", "wait", "endpoint-deleted", "--endpoint-name", "my-endpoint")
