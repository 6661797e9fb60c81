"""A training job's output without a running cloud: lines into the log stream, metrics out."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from cdlab.localcloud.moto.state import MotoState
from cdlab.localcloud.sagemaker.training.logs import (
    BUILTIN_METRICS,
    LOG_GROUP,
    FinalMetrics,
    LogStream,
)
from cdlab.localcloud.sagemaker.training.supervisor import READ_CHUNK_BYTES, pump
from cdlab.localcloud.state.logarchive import LogArchive

FM = BUILTIN_METRICS["factorization-machines"]


@pytest.fixture
def logs(moto_client: Callable[[str], Any]) -> Any:
    return moto_client("logs")


@pytest.fixture
def stream(tmp_path: Path, moto: MotoState, logs: Any) -> Iterator[LogStream]:
    name = f"job-{uuid.uuid4().hex[:12]}/algo-1-0"
    yield LogStream(name, LogArchive(tmp_path, moto))
    logs.delete_log_stream(logGroupName=LOG_GROUP, logStreamName=name)


def messages(logs: Any, stream: LogStream) -> list[str]:
    """The stream's events as moto holds them (read on moto's thread, after every put)."""
    found = logs.get_log_events(logGroupName=LOG_GROUP, logStreamName=stream.name)
    return [e["message"] for e in found["events"]]


def values(metrics: FinalMetrics) -> dict[str, float]:
    return {m["MetricName"]: m["Value"] for m in metrics.final_list()}


def test_the_builtin_definitions_keep_the_last_value_of_each_test_metric() -> None:
    metrics = FinalMetrics(FM)
    for line in (
        "#quality_metric: host=algo-1, epoch=0, train rmse <loss>=0.9",  # train: not a definition
        "#quality_metric: host=algo-1, test rmse <loss>=0.8",
        "#quality_metric: host=algo-1, test rmse <loss>=0.7",
        "#quality_metric: host=algo-1, test binary_f_1.000 <score>=0.5",
        "#quality_metric: host=algo-1, test binary_classification_accuracy <score>=nan",
        "#throughput_metric: host=algo-1, train throughput=1234.5 records/second",
    ):
        metrics.feed(line)

    assert values(metrics) == {
        "test:rmse": 0.7,
        "test:binary_f_beta": 0.5,
        "train:throughput": 1234.5,
    }


def test_a_definition_that_does_not_compile_or_capture_or_parse_is_never_seen() -> None:
    metrics = FinalMetrics(
        [
            {"Name": "java-only", "Regex": r"loss=(?<value>\S+)"},
            {"Name": "no-group", "Regex": r"loss=\S+"},
            {"Name": "not-a-number", "Regex": r"loss=(\S+)"},
            {"Name": "loss", "Regex": r"loss=([0-9.]+)"},
        ]
    )
    metrics.feed("loss=0.25;")

    assert values(metrics) == {"loss": 0.25}


def test_pumped_output_becomes_log_events_line_by_line_however_long(
    stream: LogStream, logs: Any
) -> None:
    long_line = "x" * (3 * READ_CHUNK_BYTES)
    output = f"first\r\n\n   \n{long_line}\n#quality_metric: host=algo-1, test rmse <loss>=0.5"
    metrics = FinalMetrics(FM)

    async def feed() -> None:
        reader = asyncio.StreamReader()
        reader.feed_data(output.encode())
        reader.feed_eof()
        await pump(reader, stream, metrics)

    asyncio.run(feed())
    assert messages(logs, stream) == []  # the stream exists, the lines wait for a flush
    stream.flush()

    last = "#quality_metric: host=algo-1, test rmse <loss>=0.5"  # no newline: still a line
    assert messages(logs, stream) == ["first", long_line, last]
    assert stream.last_line == last
    assert values(metrics) == {"test:rmse": 0.5}
