"""test: call the QA endpoint with held-out ratings and gate on the match rate.

As in the deck's test stage: predictions are compared with the labels of the test channel and
the step fails (non-zero exit from ``source/test.py``) when the match rate is under the threshold.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import boto3
import numpy as np

from cdlab.fm import recordio

DEFAULT_THRESHOLD = 0.80
THRESHOLD_TAG = "cdlab:match-rate-threshold"
BATCH_ROWS = 500
SHOWN = 10


def endpoint_name(base: str, configuration: dict[str, Any]) -> str:
    """The QA endpoint's name: ``<base>-<CommitID>-<Timestamp>`` as endpoint.yml builds it."""
    parameters = configuration.get("Parameters", {})
    if "CommitID" in parameters and "Timestamp" in parameters:
        return f"{base}-{parameters['CommitID']}-{parameters['Timestamp']}"
    return base


def threshold(configuration: dict[str, Any], override: float | None) -> float:
    if override is not None:
        return override
    return float(configuration.get("Tags", {}).get(THRESHOLD_TAG, DEFAULT_THRESHOLD))


def held_out(test_uri: str, feature_dim: int) -> tuple[Any, np.ndarray]:
    parsed = urlparse(test_uri)
    body = boto3.client("s3").get_object(Bucket=parsed.netloc, Key=parsed.path.lstrip("/"))
    X, y = recordio.read_matrix(body["Body"].read(), feature_dim)
    if y is None:
        raise ValueError(f"the test channel {test_uri} has no labels")
    return X, y


def predict(endpoint: str, X: Any) -> list[dict[str, float]]:
    runtime = boto3.client("sagemaker-runtime")
    predictions: list[dict[str, float]] = []
    for start in range(0, X.shape[0], BATCH_ROWS):
        rows = X[start : start + BATCH_ROWS]
        instances = [
            {
                "data": {
                    "features": {
                        "keys": r.indices.tolist(),
                        "shape": [X.shape[1]],
                        "values": r.data.tolist(),
                    }
                }
            }
            for r in rows
        ]
        answer = runtime.invoke_endpoint(
            EndpointName=endpoint,
            ContentType="application/json",
            Body=json.dumps({"instances": instances}),
        )
        predictions += json.loads(answer["Body"].read())["predictions"]
    return predictions


def run(
    endpoint_base: str,
    prepdata_file: Path,
    configuration_file: Path,
    override: float | None = None,
    log: Callable[[str], None] = print,
) -> tuple[float, float]:
    """The match rate and the threshold it was held to."""
    prepared = json.loads(prepdata_file.read_text())
    configuration = json.loads(configuration_file.read_text())
    endpoint = endpoint_name(endpoint_base, configuration)
    gate = threshold(configuration, override)
    X, y = held_out(prepared["test"], prepared["feature_dim"])
    log(f"calling endpoint {endpoint} with {X.shape[0]} held-out ratings")
    predictions = predict(endpoint, X)
    labels = np.array([p["predicted_label"] for p in predictions])
    for prediction, label in list(zip(predictions, y, strict=True))[:SHOWN]:
        predicted = int(prediction["predicted_label"])
        log(f"  score {prediction['score']:.3f} -> {predicted} (label {int(label)})")
    match_rate = float((labels == y).mean())
    log(f"Match Rate: {match_rate:.4f} (threshold {gate:.2f})")
    return match_rate, gate
