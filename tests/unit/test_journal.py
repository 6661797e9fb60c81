"""Which requests to moto the journal keeps: the operation, read off each wire protocol."""

from __future__ import annotations

import pytest

from cdlab.localcloud.moto.bridge import MotoRequest
from cdlab.localcloud.state.journal import changes_state, operation

FORM = ("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")


def request(method: str, path: str, body: bytes = b"", *headers: tuple[str, str]) -> MotoRequest:
    return MotoRequest(method, path, tuple(headers), body)


@pytest.mark.parametrize(
    ("sent", "name", "kept"),
    [
        (request("POST", "/", b"{}", ("X-Amz-Target", "AnyScaleFrontendService.PutScalingPolicy")),
         "PutScalingPolicy", True),
        (request("POST", "/", b"{}", ("X-Amz-Target", "AWSGlue.GetTables")), "GetTables", False),
        (request("POST", "/", b"Action=CreateRole&RoleName=r", FORM), "CreateRole", True),
        (request("POST", "/", b"Action=ListRoles", FORM), "ListRoles", False),
        (request("GET", "/?Action=DeleteAlarms&AlarmNames.member.1=a"), "DeleteAlarms", True),
        (request("POST", "/service/GraniteServiceVersion20100801/operation/PutMetricAlarm"),
         "PutMetricAlarm", True),
        (request("POST", "/service/GraniteServiceVersion20100801/operation/PutMetricData"),
         "PutMetricData", False),
        (request("POST", "/", b"{}", ("X-Amz-Target", "Logs_20140328.PutLogEvents")),
         "PutLogEvents", False),
        (request("POST", "/", b"{}", ("X-Amz-Target", "Logs_20140328.DescribeLogGroups")),
         "DescribeLogGroups", False),
        (request("PUT", "/2015-03-31/functions/f/concurrency"), None, True),
        (request("GET", "/2015-03-31/functions/"), None, False),
    ],
)  # fmt: skip
def test_state_changing_operations_are_kept(
    sent: MotoRequest, name: str | None, kept: bool
) -> None:
    assert operation(sent) == name
    assert changes_state(sent) is kept


def test_requests_round_trip_through_the_store_format() -> None:
    sent = request("POST", "/?a=1", b"\x00\xff binary", ("X-Amz-Target", "A.B"), ("Host", "h:1"))
    assert MotoRequest.from_doc(sent.to_doc()) == sent
    assert sent.header("host") == "h:1" and sent.header("Missing") == ""
