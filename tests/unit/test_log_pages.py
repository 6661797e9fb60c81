"""GetLogEvents' pages as the local cloud answers them (:mod:`cdlab.localcloud.moto.logpages`):
at most 10,000 events, ``limit`` or 1 MB a page, an empty page at a pause of over an hour, the
same token back at the end, ``endTime`` exclusive; and the kit's reader
(:mod:`cdlab.logevents`) through all of them
(https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_GetLogEvents.html)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from cdlab.localcloud.moto.logpages import EVENT_OVERHEAD, GAP_MS, MAX_BYTES
from cdlab.logevents import stream_events

HOUR_MS = 3_600_000


@pytest.fixture
def logs(moto_client: Callable[[str], Any]) -> Any:
    return moto_client("logs")


@pytest.fixture
def stream(logs: Any) -> Callable[[list[tuple[int, str]]], tuple[str, str]]:
    """``stream(events)``: a new group and stream holding ``events`` (timestamp, message), put
    in batches as PutLogEvents takes them (10,000 events, 1 MB)."""

    def make(events: list[tuple[int, str]]) -> tuple[str, str]:
        group = f"/cdlab/test/pages-{uuid.uuid4().hex[:8]}"
        logs.create_log_group(logGroupName=group)
        logs.create_log_stream(logGroupName=group, logStreamName="s")
        put(logs, group, "s", events)
        return group, "s"

    return make


def put(logs: Any, group: str, stream: str, events: list[tuple[int, str]]) -> None:
    batch: list[dict[str, Any]] = []
    size = 0
    for timestamp, message in events:
        event_size = len(message.encode()) + EVENT_OVERHEAD
        if len(batch) == 10_000 or size + event_size > MAX_BYTES:
            logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=batch)
            batch, size = [], 0
        batch.append({"timestamp": timestamp, "message": message})
        size += event_size
    if batch:
        logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=batch)


def pages(logs: Any, group: str, stream: str, **params: Any) -> list[list[str]]:
    """Every page of a read from the head, to the token that comes back unchanged."""
    found, token = [], None
    while True:
        extra = {"nextToken": token} if token else {}
        page = logs.get_log_events(
            logGroupName=group, logStreamName=stream, startFromHead=True, **params, **extra
        )
        found.append([e["message"] for e in page["events"]])
        if page["nextForwardToken"] == token:
            return found
        token = page["nextForwardToken"]


def now_ms() -> int:
    return int(time.time() * 1000)


def test_a_page_holds_at_most_10000_events_or_the_limit(logs, stream) -> None:
    start = now_ms() - 60_000
    messages = [f"m{i}" for i in range(12_345)]
    group, name = stream([(start + i // 1000, m) for i, m in enumerate(messages)])

    assert [len(p) for p in pages(logs, group, name)] == [10_000, 2_345, 0]
    assert [len(p) for p in pages(logs, group, name, limit=5_000)] == [5_000, 5_000, 2_345, 0]
    assert [e["message"] for e in stream_events(logs, group, name)] == messages


def test_a_page_holds_at_most_1_mb_of_events_counted_as_putlogevents_counts(logs, stream) -> None:
    start = now_ms() - 60_000
    body = 1_000 - EVENT_OVERHEAD  # 1,000 bytes an event: 1,048 of them fit in 1 MB
    messages = [f"{i:06d}".ljust(body, "x") for i in range(2_500)]
    group, name = stream([(start + i, m) for i, m in enumerate(messages)])

    found = pages(logs, group, name)
    assert [len(p) for p in found] == [1_048, 1_048, 404, 0]
    assert [m for page in found for m in page] == messages


def test_a_pause_of_over_an_hour_is_an_empty_page_before_the_end(logs, stream) -> None:
    early, late = now_ms() - 3 * HOUR_MS, now_ms() - 1_000
    events = [(early, "before"), (early + 1, "still before"), (late, "after the pause")]
    group, name = stream(events)

    assert pages(logs, group, name) == [["before", "still before"], [], ["after the pause"], []]
    # a reader that stops at the first empty page misses the end; the kit's reader does not
    assert [e["message"] for e in stream_events(logs, group, name)] == [m for _, m in events]


def test_a_pause_of_an_hour_or_less_is_no_page_of_its_own(logs, stream) -> None:
    early = now_ms() - 2 * HOUR_MS
    group, name = stream([(early, "one"), (early + GAP_MS, "two")])
    assert pages(logs, group, name) == [["one", "two"], []]


def test_the_end_gives_back_the_token_passed_and_new_events_come_after_it(logs, stream) -> None:
    start = now_ms() - 60_000
    group, name = stream([(start, "first")])
    page = logs.get_log_events(logGroupName=group, logStreamName=name, startFromHead=True)
    token = page["nextForwardToken"]
    end = logs.get_log_events(
        logGroupName=group, logStreamName=name, startFromHead=True, nextToken=token
    )
    assert (end["events"], end["nextForwardToken"]) == ([], token)

    put(logs, group, name, [(start, "same millisecond"), (start + 5, "later")])
    more = logs.get_log_events(
        logGroupName=group, logStreamName=name, startFromHead=True, nextToken=token
    )
    assert [e["message"] for e in more["events"]] == ["same millisecond", "later"]


def test_a_read_from_the_tail_goes_back_page_by_page_to_the_head(logs, stream) -> None:
    early, late = now_ms() - 3 * HOUR_MS, now_ms() - 60_000
    events = [(early + i, f"early {i}") for i in range(3)]
    events += [(late + i, f"late {i}") for i in range(3)]
    group, name = stream(events)

    found, token = [], None
    for _ in range(6):
        extra = {"nextToken": token} if token else {}
        page = logs.get_log_events(logGroupName=group, logStreamName=name, limit=2, **extra)
        found.append([e["message"] for e in page["events"]])
        if page["nextBackwardToken"] == token:
            break
        token = page["nextBackwardToken"]
    assert found == [["late 1", "late 2"], ["late 0"], [], ["early 1", "early 2"], ["early 0"], []]


def test_start_time_is_inclusive_and_end_time_exclusive(logs, stream) -> None:
    start = now_ms() - 60_000
    group, name = stream([(start + i, f"m{i}") for i in range(5)])
    window = {"startTime": start + 1, "endTime": start + 3}
    assert [e["message"] for e in stream_events(logs, group, name, **window)] == ["m1", "m2"]


@pytest.mark.parametrize("token", ["f/1", "x/" + "0" * 56 + "/s", "f/" + "0" * 56, "nonsense"])
def test_a_token_the_stream_did_not_give_is_refused(logs, stream, token: str) -> None:
    group, name = stream([(now_ms(), "one")])
    with pytest.raises(ClientError) as info:
        logs.get_log_events(
            logGroupName=group, logStreamName=name, startFromHead=True, nextToken=token
        )
    error = info.value.response["Error"]
    assert (error["Code"], error["Message"]) == (
        "InvalidParameterException",
        "The specified nextToken is invalid.",
    )
