"""FilterLogEvents' ``filterPattern`` in-process: terms, quoted phrases, ``?term`` and ``-term``
as CloudWatch Logs evaluates them; malformed patterns refused in its words, and JSON,
space-delimited and regular-expression patterns refused as not evaluated locally."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from cdlab.localcloud.moto import logpatterns

MESSAGES = ["ERROR WARN message", "ERROR message", "WARN message", "[ERROR 401] UNAUTHORIZED"]


@pytest.fixture
def search(moto_client: Callable[[str], Any]) -> Callable[..., Any]:
    """``search(pattern, **more)``: FilterLogEvents of a group of MESSAGES with the pattern."""
    logs, group = moto_client("logs"), f"/test/logpatterns-{uuid.uuid4().hex[:12]}"
    logs.create_log_group(logGroupName=group)  # a group of its own: moto outlives a test
    logs.create_log_stream(logGroupName=group, logStreamName="app")
    now = int(time.time() * 1000)
    events = [{"timestamp": now + i, "message": m} for i, m in enumerate(MESSAGES)]
    logs.put_log_events(logGroupName=group, logStreamName="app", logEvents=events)
    return lambda pattern, **more: logs.filter_log_events(
        logGroupName=group, filterPattern=pattern, **more
    )


@pytest.mark.parametrize(
    ("pattern", "messages"),
    [
        ("", MESSAGES),
        ("ERROR", [MESSAGES[0], MESSAGES[1], MESSAGES[3]]),
        ("ERROR WARN", [MESSAGES[0]]),
        ("?ERROR ?WARN", MESSAGES),
        ("ERROR -WARN", [MESSAGES[1], MESSAGES[3]]),
        ("-ERROR", [MESSAGES[2]]),
        ('"ERROR 401"', [MESSAGES[3]]),
        ('message -"WARN message"', [MESSAGES[1]]),
        ("UNAUTHORIZED ?401 ?WARN", [MESSAGES[3]]),
        ("error", []),  # case sensitive
    ],
)
def test_terms_match_as_cloudwatch_logs_matches_them(search, pattern: str, messages) -> None:
    assert [e["message"] for e in search(pattern)["events"]] == messages


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        ("Status: timeout", "Invalid character(s) in term ':'"),
        ('""', "Invalid character(s) in term '\"\"'"),
        ("{ $.x = ", "If a filter pattern starts with '{' it must end with '}'"),
        ('"open', "Invalid filter pattern"),
        ("ERROR ?", "Invalid filter pattern"),
        ("{ $.level = 1 }", logpatterns.not_evaluated("JSON patterns ({ ... })").args[0]),
        (
            "[ip, user, status=404]",
            logpatterns.not_evaluated("space-delimited patterns ([ ... ])").args[0],
        ),
        ("%ERR[OR]%", logpatterns.not_evaluated("regular expressions (%...%)").args[0]),
    ],
)
def test_a_pattern_not_evaluated_is_refused(search, pattern: str, message: str) -> None:
    with pytest.raises(ClientError) as info:
        search(pattern)
    error = info.value.response["Error"]
    assert (error["Code"], error["Message"]) == ("InvalidParameterException", message)


def test_a_refused_pattern_is_refused_with_no_stream_to_search(search) -> None:
    with pytest.raises(ClientError, match="InvalidParameterException"):
        search("{ $.a = 1 }", logStreamNamePrefix="none/")
