"""The log archive: the kit's log events put into moto and kept on disk, and put back at start."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from cdlab.localcloud.state.logarchive import LogArchive, _backend

DAY_MS = 86_400_000


@pytest.fixture
def group() -> Iterator[str]:
    name = f"/test/logarchive-{uuid.uuid4().hex[:12]}"
    yield name
    _backend().groups.pop(name, None)


def in_moto(group: str, stream: str) -> list[tuple[int, str]]:
    return [(e.timestamp, e.message) for e in _backend().groups[group].streams[stream].events]


def restart(group: str) -> None:
    """What a restart does to moto: the group is gone."""
    del _backend().groups[group]


def test_events_come_back_in_order_with_their_timestamps_even_old_ones(
    tmp_path: Path, group: str
) -> None:
    now = int(time.time() * 1000)
    events = [
        {"timestamp": now - 20 * DAY_MS, "message": "three weeks ago"},  # the API drops these
        {"timestamp": now, "message": 'now: ü "quoted"\nsecond line'},
    ]
    LogArchive(tmp_path).put(group, "s", events)
    LogArchive(tmp_path).put(group, "empty", [])
    restart(group)

    assert LogArchive(tmp_path).restore() == 2
    assert in_moto(group, "s") == [(e["timestamp"], e["message"]) for e in events]
    assert in_moto(group, "empty") == []


def test_a_torn_last_line_is_skipped_and_cut_off(tmp_path: Path, group: str) -> None:
    LogArchive(tmp_path).put(group, "s", [{"timestamp": 1_000, "message": "whole"}])
    [path] = tmp_path.glob("*/*.jsonl")
    with open(path, "ab") as f:
        f.write(b'{"timestamp": 2000, "mess')  # SIGKILLed mid-write
    restart(group)

    assert LogArchive(tmp_path).restore() == 1
    assert in_moto(group, "s") == [(1_000, "whole")]
    assert path.read_bytes().endswith(b'"whole"}\n')

    LogArchive(tmp_path).put(group, "s", [{"timestamp": 3_000, "message": "after"}])
    restart(group)
    assert LogArchive(tmp_path).restore() == 2  # the append after the cut is readable
    assert in_moto(group, "s") == [(1_000, "whole"), (3_000, "after")]


def test_a_torn_first_line_loses_only_that_file(tmp_path: Path, group: str) -> None:
    LogArchive(tmp_path).put(group, "kept", [{"timestamp": 1_000, "message": "kept"}])
    torn = tmp_path / "0" / "torn.jsonl"
    torn.parent.mkdir()
    torn.write_bytes(b'{"group": "/te')
    restart(group)

    assert LogArchive(tmp_path).restore() == 1
    assert in_moto(group, "kept") == [(1_000, "kept")]
    assert torn.read_bytes() == b""


def test_a_dropped_stream_or_group_does_not_come_back(tmp_path: Path, group: str) -> None:
    archive = LogArchive(tmp_path)
    for stream in ("a", "b"):
        archive.put(group, stream, [{"timestamp": 1_000, "message": stream}])
    archive.drop(group, "a")
    restart(group)
    assert LogArchive(tmp_path).restore() == 1
    assert set(_backend().groups[group].streams) == {"b"}

    archive.drop(group)
    restart(group)
    assert LogArchive(tmp_path).restore() == 0
    assert group not in _backend().groups


def test_a_disk_error_is_logged_once_and_the_events_stay_in_moto(
    tmp_path: Path, group: str, caplog: pytest.LogCaptureFixture
) -> None:
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("")
    archive = LogArchive(not_a_dir)
    with caplog.at_level(logging.ERROR, logger="cdlab.logarchive"):
        archive.put(group, "s", [{"timestamp": 1_000, "message": "one"}])
        archive.put(group, "s", [{"timestamp": 2_000, "message": "two"}])
    assert in_moto(group, "s") == [(1_000, "one"), (2_000, "two")]
    assert len(caplog.records) == 1
    assert "not archived" in caplog.records[0].getMessage()


def test_a_users_delete_request_drops_the_archive(tmp_path: Path, group: str) -> None:
    archive = LogArchive(tmp_path)
    for stream in ("a", "b"):
        archive.put(group, stream, [{"timestamp": 1_000, "message": stream}])
    archive.deleted(
        "DeleteLogStream", f'{{"logGroupName": "{group}", "logStreamName": "a"}}'.encode()
    )
    archive.deleted("DescribeLogStreams", f'{{"logGroupName": "{group}"}}'.encode())
    archive.deleted("DeleteLogGroup", b"not json")
    restart(group)
    assert LogArchive(tmp_path).restore() == 1  # only b is left
    archive.deleted("DeleteLogGroup", f'{{"logGroupName": "{group}"}}'.encode())
    restart(group)
    assert LogArchive(tmp_path).restore() == 0
