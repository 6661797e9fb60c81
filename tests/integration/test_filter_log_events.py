"""FilterLogEvents' ``logStreamNamePrefix`` on the local cloud, through boto3: only the events of
the streams whose names start with it, page after page; refused beside ``logStreamNames``; no
events when no stream matches."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

GROUP = "/cdlab/test/filter-prefix"
EVENTS = {  # stream: its messages, one a millisecond
    "job-a/algo-1": ["a1 first", "a1 second", "a1 third"],
    "job-a/algo-2": ["a2 first", "a2 second"],
    "job-b/algo-1": ["b1 first", "b1 second"],
}


@pytest.fixture(scope="module")
def logs(client) -> Iterator[Any]:
    made, now = client("logs"), int(time.time() * 1000)
    made.create_log_group(logGroupName=GROUP)
    for offset, (stream, messages) in enumerate(EVENTS.items()):
        made.create_log_stream(logGroupName=GROUP, logStreamName=stream)
        events = [
            {"timestamp": now - 10_000 + 3 * i + offset, "message": m}
            for i, m in enumerate(messages)
        ]  # the streams' events interleave in time
        made.put_log_events(logGroupName=GROUP, logStreamName=stream, logEvents=events)
    yield made
    made.delete_log_group(logGroupName=GROUP)


def _streams_and_messages(events: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(e["logStreamName"], e["message"]) for e in events]


def test_only_the_prefixed_streams_events_come_back(logs) -> None:
    found = logs.filter_log_events(logGroupName=GROUP, logStreamNamePrefix="job-a/")["events"]
    assert sorted(_streams_and_messages(found)) == sorted(
        (stream, m) for stream in ("job-a/algo-1", "job-a/algo-2") for m in EVENTS[stream]
    )
    one = logs.filter_log_events(logGroupName=GROUP, logStreamNamePrefix="job-b")["events"]
    assert [e["message"] for e in one] == EVENTS["job-b/algo-1"]


def test_pages_of_a_prefix_hold_its_events_once_each(logs) -> None:
    pages = logs.get_paginator("filter_log_events").paginate(
        logGroupName=GROUP,
        logStreamNamePrefix="job-a/",  # not interleaved=True: AWS interleaves all the same
        PaginationConfig={"PageSize": 2},
    )
    sizes, events = [], []
    for page in pages:
        sizes.append(len(page["events"]))
        events += page["events"]
    assert sizes == [2, 2, 1]
    assert _streams_and_messages(events) == [
        ("job-a/algo-1", "a1 first"),
        ("job-a/algo-2", "a2 first"),
        ("job-a/algo-1", "a1 second"),
        ("job-a/algo-2", "a2 second"),
        ("job-a/algo-1", "a1 third"),
    ]  # in time order, across the two streams


def test_a_prefix_no_stream_has_gives_no_events(logs) -> None:
    answer = logs.filter_log_events(logGroupName=GROUP, logStreamNamePrefix="job-c")
    assert answer["events"] == [] and "nextToken" not in answer


def test_names_and_a_prefix_together_are_refused(logs) -> None:
    with pytest.raises(ClientError) as refused:
        logs.filter_log_events(
            logGroupName=GROUP, logStreamNames=["job-a/algo-1"], logStreamNamePrefix="job-a/"
        )
    assert refused.value.response["Error"]["Code"] == "InvalidParameterException"
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_a_prefix_in_an_unknown_group_is_not_found(logs) -> None:
    with pytest.raises(logs.exceptions.ResourceNotFoundException):
        logs.filter_log_events(logGroupName=f"{GROUP}-missing", logStreamNamePrefix="job-a/")
