"""The load generator's bounds: loopback only, limited rate, time and count."""

from __future__ import annotations

import json
import socket

import pytest
from botocore.config import Config

from cdlab import load


def test_only_loopback_endpoints_are_loaded(monkeypatch: pytest.MonkeyPatch) -> None:
    url = load.invocation_url("my-endpoint", "http://127.0.0.1:4599")
    assert url == "http://127.0.0.1:4599/endpoints/my-endpoint/invocations"
    with pytest.raises(load.LoadError, match="loopback"):
        load.invocation_url("e", "https://runtime.sagemaker.us-east-1.amazonaws.com")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME", raising=False)
    with pytest.raises(load.LoadError, match="local cloud"):
        load.invocation_url("e")


@pytest.mark.parametrize(
    ("rate", "duration", "steps", "message"),
    [
        (0, 10, None, "rate"),
        (load.MAX_RATE + 1, 10, None, "rate"),
        (10, load.MAX_SECONDS + 1, None, "duration"),
        (10, 10, [10, -1], "rate"),
    ],
)
def test_out_of_bounds_loads_are_refused(rate, duration, steps, message) -> None:
    with pytest.raises(load.LoadError, match=message):
        load.run("e", rate=rate, duration=duration, steps=steps, endpoint_url="http://127.0.0.1:1")


def test_sample_bodies_are_sparse_rows_of_the_feature_dimension() -> None:
    bodies = load.sample_bodies(20, count=5)
    assert len(set(bodies)) == 5
    for body in bodies:
        features = json.loads(body)["instances"][0]["data"]["features"]
        assert features["shape"] == [20] and len(features["keys"]) == 2
        assert all(0 <= k < 20 for k in features["keys"])


def test_the_summary_counts_every_request() -> None:
    report = load.Report(sent=10, ok=7, lost=1, latencies_ms=[1.0, 2.0, 3.0], seconds=2.0)
    report.errors["ModelError"] = 2
    assert report.failed == 3
    assert report.summary().startswith("10 requests in 2.0 s (5.0/s): 7 ok, 3 failed")


def test_the_summary_of_a_load_nothing_answered_has_no_latency() -> None:
    report = load.Report(sent=10, lost=10, seconds=1.0)
    assert report.summary().endswith("(errors: none; lost: 10); no answer to time")


def test_a_cloud_that_takes_the_connection_but_does_not_answer_is_a_load_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Exit 2 from `cdlab load`, as for a cloud that refuses the connection, not a botocore
    ReadTimeoutError (exit 1)."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    quick = Config(connect_timeout=0.5, read_timeout=0.5, retries={"total_max_attempts": 1})
    with socket.create_server(("127.0.0.1", 0)) as server:  # listens; never accepts, answers
        url = f"http://127.0.0.1:{server.getsockname()[1]}"
        with pytest.raises(load.LoadError, match="did not answer DescribeEndpoint"):
            load.check_endpoint("e", url, quick)
