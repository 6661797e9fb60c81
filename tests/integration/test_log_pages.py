"""The kit's readers of a CloudWatch Logs stream get every line of a stream longer than a page,
on the local cloud, which pages GetLogEvents as AWS may: at most 1 MB of events a page, and an
empty page before the end where the stream pauses for over an hour
(https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_GetLogEvents.html:
"A returned page might only be partially full, or even empty").

The readers: a pipeline build's log (``cdlab.pipeline.actionlogs.build_log``, which the CLI's
summary and Lab 3 show) and the notebooks' ``notebook.log_lines`` (notebooks 02 and 08)."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest

from cdlab import notebook
from cdlab.pipeline import actionlogs

HOUR_MS = 3_600_000
BATCH_BYTES = 500_000  # a PutLogEvents well under its 1 MB and the gateway's body limit
EVENT_BYTES = 1_000  # as PutLogEvents counts an event: its message's bytes plus 26


@pytest.fixture(scope="module")
def long_stream(client) -> tuple[str, str, list[str]]:
    """A stream of about 2.7 MB: 2,200 events, a pause of three hours, 500 more events."""
    logs = client("logs")
    group, stream = f"/cdlab/test/log-pages-{uuid.uuid4().hex[:8]}", "build/1"
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName=stream)
    now = int(time.time() * 1000)
    events = [(now - 3 * HOUR_MS + i, f"early line {i:05d} ") for i in range(2_200)]
    events += [(now - 1_000 + i // 10, f"late line {i:05d} ") for i in range(500)]
    events = [(t, m.ljust(EVENT_BYTES - 26, "x")) for t, m in events]
    per_batch = BATCH_BYTES // EVENT_BYTES
    for start in range(0, len(events), per_batch):
        batch = [{"timestamp": t, "message": m} for t, m in events[start : start + per_batch]]
        logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=batch)
    return group, stream, [m for _, m in events]


def test_the_local_cloud_answers_partial_pages_and_an_empty_one_before_the_end(
    client, long_stream
) -> None:
    logs, (group, stream, messages) = client("logs"), long_stream
    sizes, token = [], None
    while True:
        extra = {"nextToken": token} if token else {}
        page = logs.get_log_events(
            logGroupName=group, logStreamName=stream, startFromHead=True, **extra
        )
        sizes.append(len(page["events"]))
        if page["nextForwardToken"] == token:
            break
        token = page["nextForwardToken"]
    assert sizes == [1_048, 1_048, 104, 0, 500, 0]  # 1 MB, 1 MB, the rest, the pause, the end
    assert sum(sizes) == len(messages)


def test_the_notebooks_reader_gets_every_line(long_stream) -> None:
    group, stream, messages = long_stream
    assert notebook.log_lines(group, stream) == messages


class _Builds:
    """A CodeBuild client that knows one build, whose log is ``where``."""

    def __init__(self, group: str, stream: str) -> None:
        self.where = {"groupName": group, "streamName": stream}

    def batch_get_builds(self, ids: list[str]) -> dict[str, Any]:
        return {"builds": [{"id": ids[0], "logs": self.where, "phases": []}]}


def test_a_pipeline_builds_log_has_every_line(client, long_stream) -> None:
    group, stream, messages = long_stream
    text, where = actionlogs.build_log(_Builds(group, stream), client("logs"), "project:1")
    assert where == (group, stream)
    assert text.splitlines() == messages
