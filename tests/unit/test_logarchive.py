"""The log archive: the kit's log events put into moto and kept on disk, and put back at start."""

from __future__ import annotations

import contextlib
import logging
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from cdlab.localcloud.moto.state import MotoState
from cdlab.localcloud.state.logarchive import LogArchive
from cdlab.logevents import stream_events
from tests.polling import poll

DAY_MS = 86_400_000


@pytest.fixture
def logs(moto_client: Callable[[str], Any]) -> Any:
    return moto_client("logs")


@pytest.fixture
def group(logs: Any) -> Iterator[str]:
    name = f"/test/logarchive-{uuid.uuid4().hex[:12]}"
    yield name
    with contextlib.suppress(logs.exceptions.ResourceNotFoundException):
        logs.delete_log_group(logGroupName=name)


@pytest.fixture
def archive(tmp_path: Path, moto: MotoState) -> Callable[..., LogArchive]:
    """``archive()``: a log archive under ``tmp_path`` (a new one each time, as after a
    restart), or ``archive(root)`` under another root."""
    return lambda root=tmp_path: LogArchive(root, moto)


def in_moto(logs: Any, group: str, stream: str) -> list[tuple[int, str]]:
    """Every event of the stream, page after page (its three weeks' pause is a page of its own:
    :mod:`cdlab.localcloud.moto.logpages`)."""
    return [(e["timestamp"], e["message"]) for e in stream_events(logs, group, stream)]


def streams(logs: Any, group: str) -> set[str]:
    return {s["logStreamName"] for s in logs.describe_log_streams(logGroupName=group)["logStreams"]}


def restart(logs: Any, group: str) -> None:
    """What a restart does to moto: the group is gone."""
    logs.delete_log_group(logGroupName=group)


def test_events_come_back_in_order_with_their_timestamps_even_old_ones(
    archive: Callable[..., LogArchive], logs: Any, group: str
) -> None:
    now = int(time.time() * 1000)
    events = [
        {"timestamp": now - 20 * DAY_MS, "message": "three weeks ago"},  # the API drops these
        {"timestamp": now, "message": 'now: ü "quoted"\nsecond line'},
    ]
    archive().put(group, "s", events).result()
    archive().put(group, "empty", []).result()
    restart(logs, group)

    assert archive().restore() == 2
    assert in_moto(logs, group, "s") == [(e["timestamp"], e["message"]) for e in events]
    assert in_moto(logs, group, "empty") == []


def test_a_torn_last_line_is_skipped_and_cut_off(
    tmp_path: Path, archive: Callable[..., LogArchive], logs: Any, group: str
) -> None:
    archive().put(group, "s", [{"timestamp": 1_000, "message": "whole"}]).result()
    [path] = tmp_path.glob("*/*.jsonl")
    with open(path, "ab") as f:
        f.write(b'{"timestamp": 2000, "mess')  # SIGKILLed mid-write
    restart(logs, group)

    assert archive().restore() == 1
    assert in_moto(logs, group, "s") == [(1_000, "whole")]
    assert path.read_bytes().endswith(b'"whole"}\n')

    archive().put(group, "s", [{"timestamp": 3_000, "message": "after"}]).result()
    restart(logs, group)
    assert archive().restore() == 2  # the append after the cut is readable
    assert in_moto(logs, group, "s") == [(1_000, "whole"), (3_000, "after")]


def test_a_torn_first_line_loses_only_that_file(
    tmp_path: Path, archive: Callable[..., LogArchive], logs: Any, group: str
) -> None:
    archive().put(group, "kept", [{"timestamp": 1_000, "message": "kept"}]).result()
    torn = tmp_path / "0" / "torn.jsonl"
    torn.parent.mkdir()
    torn.write_bytes(b'{"group": "/te')
    restart(logs, group)

    assert archive().restore() == 1
    assert in_moto(logs, group, "kept") == [(1_000, "kept")]
    assert torn.read_bytes() == b""


def test_a_dropped_stream_or_group_does_not_come_back(
    archive: Callable[..., LogArchive], logs: Any, group: str
) -> None:
    kept = archive()
    for stream in ("a", "b"):
        kept.put(group, stream, [{"timestamp": 1_000, "message": stream}])
    kept.drop(group, "a")  # after the puts, which it waits for
    restart(logs, group)
    assert archive().restore() == 1
    assert streams(logs, group) == {"b"}

    kept.drop(group)
    restart(logs, group)
    assert archive().restore() == 0
    assert logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"] == []


def test_a_disk_error_is_logged_once_and_the_events_stay_in_moto(
    tmp_path: Path,
    archive: Callable[..., LogArchive],
    logs: Any,
    group: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("")
    failing = archive(not_a_dir)
    with caplog.at_level(logging.ERROR, logger="cdlab.logarchive"):
        failing.put(group, "s", [{"timestamp": 1_000, "message": "one"}])
        failing.put(group, "s", [{"timestamp": 2_000, "message": "two"}]).result()
    assert in_moto(logs, group, "s") == [(1_000, "one"), (2_000, "two")]
    assert len(caplog.records) == 1
    assert "not archived" in caplog.records[0].getMessage()


def test_a_failed_put_is_logged(
    archive: Callable[..., LogArchive], group: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="cdlab.logarchive"):
        done = archive().put(group, "s", [{"timestamp": 1_000}])  # no message
        with pytest.raises(KeyError):
            done.result()
        # the failure is logged by the future's callback, which may run after result() wakes
        [record] = poll(lambda: list(caplog.records), what="the failed put logged")
    assert record.getMessage().startswith(f"log events of {group} s not put")


def test_a_users_delete_request_drops_the_archive(
    archive: Callable[..., LogArchive], logs: Any, group: str
) -> None:
    kept = archive()
    for stream in ("a", "b"):
        kept.put(group, stream, [{"timestamp": 1_000, "message": stream}])
    kept.deleted("DeleteLogStream", f'{{"logGroupName": "{group}", "logStreamName": "a"}}'.encode())
    kept.deleted("DescribeLogStreams", f'{{"logGroupName": "{group}"}}'.encode())
    kept.deleted("DeleteLogGroup", b"not json")
    restart(logs, group)
    assert archive().restore() == 1  # only b is left
    kept.deleted("DeleteLogGroup", f'{{"logGroupName": "{group}"}}'.encode())
    restart(logs, group)
    assert archive().restore() == 0
