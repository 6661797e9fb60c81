"""FilterLogEvents' ``logStreamNamePrefix`` as the bridge serves it, in-process: narrowed to the
matching streams before moto answers; any other request reaches moto as it was sent."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from cdlab.localcloud.moto import logfilter
from cdlab.localcloud.moto.bridge import MotoRequest
from cdlab.localcloud.moto.state import MotoState

GROUP = f"/test/logfilter-{uuid.uuid4().hex[:12]}"  # moto's backends outlive a test


@pytest.fixture
def logs(moto_client: Callable[[str], Any]) -> Any:
    made = moto_client("logs")
    made.create_log_group(logGroupName=GROUP)
    for stream in ("train/1", "train/2", "serve/1"):
        made.create_log_stream(logGroupName=GROUP, logStreamName=stream)
        event = {"timestamp": int(time.time() * 1000), "message": f"from {stream}"}
        made.put_log_events(logGroupName=GROUP, logStreamName=stream, logEvents=[event])
    return made


def test_a_prefix_answers_its_streams_events_only(logs: Any) -> None:
    found = logs.filter_log_events(logGroupName=GROUP, logStreamNamePrefix="train/")["events"]
    assert sorted(e["message"] for e in found) == ["from train/1", "from train/2"]
    none = logs.filter_log_events(logGroupName=GROUP, logStreamNamePrefix="train/3")
    assert none["events"] == []
    with pytest.raises(ClientError, match="InvalidParameterException"):
        logs.filter_log_events(
            logGroupName=GROUP, logStreamNames=["serve/1"], logStreamNamePrefix="train/"
        )


def request(target: str, body: bytes) -> MotoRequest:
    return MotoRequest("POST", "/", (("X-Amz-Target", target),), body)


def test_other_requests_reach_moto_as_sent(moto: MotoState) -> None:
    prefixed = json.dumps({"logGroupName": GROUP, "logStreamNamePrefix": "train/"}).encode()
    others = [
        request("Logs_20140328.DescribeLogStreams", prefixed),  # moto honours its prefix
        request(logfilter.TARGET, b"not json"),  # moto's own error
    ]
    for sent in others:
        assert logfilter.narrowed(moto, sent) is sent


def test_every_filter_reaches_moto_asking_for_interleaved_events(moto: MotoState) -> None:
    missing = f"{GROUP}-missing"
    for params in (
        {"logGroupName": missing},
        {"logGroupName": missing, "logStreamNamePrefix": "train/"},  # moto's own error then
        {"logGroupName": GROUP, "interleaved": False},
    ):
        got = logfilter.narrowed(moto, request(logfilter.TARGET, json.dumps(params).encode()))
        assert isinstance(got, MotoRequest)
        assert json.loads(got.body) == {**params, "interleaved": True}
