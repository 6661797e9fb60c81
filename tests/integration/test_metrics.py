"""CloudWatch metrics and logs of endpoints, read back with the AWS CLI as a participant would."""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from tests.integration.scaled import FEATURES, ScaledCloud, faulty_model, scaled_cloud
from tests.polling import poll

pytestmark = pytest.mark.slow

GOOD, SERVER_ERRORS, CLIENT_ERRORS = 30, 5, 4
SENT = GOOD + SERVER_ERRORS + CLIENT_ERRORS


@pytest.fixture(scope="module")
def scaled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ScaledCloud]:
    yield from scaled_cloud(tmp_path_factory)


def row(keys: list[int]) -> str:
    features = {"keys": keys, "shape": [FEATURES], "values": [1.0] * len(keys)}
    return json.dumps({"instances": [{"data": {"features": features}}]})


def statistics(scaled: ScaledCloud, namespace: str, metric: str, endpoint: str, since: datetime):
    """``aws cloudwatch get-metric-statistics`` over the test's time, one 60 s period per bin."""
    until = datetime.now(UTC) + timedelta(minutes=1)
    out = scaled.aws(
        "cloudwatch", "get-metric-statistics", "--namespace", namespace, "--metric-name", metric,
        "--dimensions", f"Name=EndpointName,Value={endpoint}", "Name=VariantName,Value=AllTraffic",
        "--start-time", since.isoformat(), "--end-time", until.isoformat(),
        "--period", "60", "--statistics", "Sum", "SampleCount", "Average", "Maximum",
    )  # fmt: skip
    return json.loads(out.stdout)["Datapoints"]


def total(points: list[dict], statistic: str = "Sum") -> float:
    return sum(p[statistic] for p in points)


def counted(
    scaled: ScaledCloud, namespace: str, metric: str, endpoint: str, since: datetime,
    expected: float, statistic: str = "Sum",
) -> list[dict]:  # fmt: skip
    """The metric's datapoints once their ``statistic`` totals ``expected``: a (scaled) minute's
    datapoint is written when the minute ends, so the last requests' counts come a little later."""
    return poll(
        lambda: statistics(scaled, namespace, metric, endpoint, since),
        until=lambda points: total(points, statistic) == expected,
        what=f"{metric} {statistic} to total {expected}",
    )


@pytest.fixture(scope="module")
def traffic(scaled: ScaledCloud) -> tuple[str, datetime]:
    """An endpoint whose model fails on feature 0, sent known numbers of good and bad requests."""
    since = datetime.now(UTC) - timedelta(seconds=5)
    name = scaled.endpoint("metrics", faulty_model(3, broken_features=[0]))
    runtime = scaled.client("sagemaker-runtime")
    codes = []
    bodies = (
        [row([1 + i % 19]) for i in range(GOOD)]
        + [row([0, 5])] * SERVER_ERRORS
        + [json.dumps({"instances": [{"features": [1.0, 2.0]}]})] * CLIENT_ERRORS
    )
    for body in bodies:
        try:
            runtime.invoke_endpoint(EndpointName=name, Body=body, ContentType="application/json")
            codes.append(200)
        except ClientError as e:
            codes.append(e.response["OriginalStatusCode"])
    assert codes.count(200) == GOOD and codes.count(500) == SERVER_ERRORS
    assert codes.count(400) == CLIENT_ERRORS
    return name, since


def test_invocation_counts_match_the_requests_sent(scaled: ScaledCloud, traffic) -> None:
    name, since = traffic
    counted(scaled, "AWS/SageMaker", "Invocations", name, since, SENT)
    counted(scaled, "AWS/SageMaker", "InvocationsPerInstance", name, since, SENT)  # one instance
    counted(scaled, "AWS/SageMaker", "Invocation5XXErrors", name, since, SERVER_ERRORS)
    counted(scaled, "AWS/SageMaker", "Invocation4XXErrors", name, since, CLIENT_ERRORS)


def test_latencies_are_in_microseconds_one_sample_per_request(scaled: ScaledCloud, traffic) -> None:
    name, since = traffic
    for metric in ("ModelLatency", "OverheadLatency"):
        points = counted(scaled, "AWS/SageMaker", metric, name, since, SENT, "SampleCount")
        assert all(p["Unit"] == "Microseconds" for p in points)
        assert 0 < max(p["Maximum"] for p in points) < 5_000_000


def test_instance_cpu_and_memory_are_reported(scaled: ScaledCloud, traffic) -> None:
    name, since = traffic
    reported = {
        metric: poll(
            functools.partial(statistics, scaled, "/aws/sagemaker/Endpoints", metric, name, since),
            what=f"{metric} datapoints",
        )
        for metric in ("CPUUtilization", "MemoryUtilization")
    }
    for points in reported.values():
        assert all(p["Unit"] == "Percent" for p in points)
        assert all(p["Maximum"] >= 0 for p in points)
    assert 0 < max(p["Maximum"] for p in reported["MemoryUtilization"]) < 100


def test_get_metric_data_reads_the_same_counts(scaled: ScaledCloud, traffic) -> None:
    name, since = traffic
    dims = [{"Name": "EndpointName", "Value": name}, {"Name": "VariantName", "Value": "AllTraffic"}]
    cloudwatch = scaled.client("cloudwatch")

    def invocations() -> list[float]:
        result = cloudwatch.get_metric_data(
            MetricDataQueries=[
                {
                    "Id": "invocations",
                    "MetricStat": {
                        "Metric": {"Namespace": "AWS/SageMaker", "MetricName": "Invocations",
                                   "Dimensions": dims},
                        "Period": 60,
                        "Stat": "Sum",
                    },
                }
            ],
            StartTime=since,
            EndTime=datetime.now(UTC) + timedelta(minutes=1),
        )  # fmt: skip
        [series] = result["MetricDataResults"]
        return series["Values"]

    poll(invocations, until=lambda values: sum(values) == SENT, what=f"Invocations to total {SENT}")


def test_instance_logs_are_in_cloudwatch_logs(scaled: ScaledCloud, traffic) -> None:
    name, _ = traffic
    group = f"/aws/sagemaker/Endpoints/{name}"

    def logged() -> dict[str, str]:
        """Each log stream of the group with its messages (the local cloud ships instance logs
        every second: none before the first lines are shipped)."""
        described = scaled.aws("logs", "describe-log-groups", "--log-group-name-prefix", group)
        if not json.loads(described.stdout)["logGroups"]:
            return {}
        streams = json.loads(
            scaled.aws("logs", "describe-log-streams", "--log-group-name", group).stdout
        )["logStreams"]
        return {s["logStreamName"]: messages(scaled, group, s["logStreamName"]) for s in streams}

    found = poll(
        logged,
        until=lambda streams: any("not finite" in text for text in streams.values()),
        what=f"the instance's log lines in {group}",
    )
    [(stream, text)] = found.items()
    assert stream.startswith("AllTraffic/i-")
    assert "model loaded" in text
    assert "not finite" in text  # the faulty rows' 500s, explained in the instance's log


def messages(scaled: ScaledCloud, group: str, stream: str) -> str:
    events = scaled.aws(
        "logs", "get-log-events", "--log-group-name", group, "--log-stream-name", stream
    )
    return "\n".join(e["message"] for e in json.loads(events.stdout)["events"])


def test_cdlab_load_sends_what_cloudwatch_then_counts(scaled: ScaledCloud) -> None:
    since = datetime.now(UTC) - timedelta(seconds=5)
    name = scaled.endpoint("cli-load", faulty_model(4, broken_features=[]))
    cdlab = str(Path(sys.executable).parent / "cdlab")
    result = subprocess.run(
        [
            cdlab,
            "load",
            name,
            "--steps",
            "10,30",
            "--duration",
            "2",
            "--feature-dim",
            str(FEATURES),
        ],
        env={**os.environ, **scaled.env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("40 requests in ") and "40 ok, 0 failed" in result.stdout
    counted(scaled, "AWS/SageMaker", "Invocations", name, since, 40)
