"""An operation that moto (which serves the AWS services the kit does not emulate itself) does
not implement is refused at once, in the request's protocol, naming it: moto itself answers it
with a 500 that the SDKs retry, then report as an internal error of the service."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError


def refused_at_once(call, **kwargs) -> tuple[str, str, int]:
    """The (code, message, HTTP status) of ``call``'s refusal, which came with no retry."""
    with pytest.raises(ClientError) as info:
        call(**kwargs)
    response = info.value.response
    assert response["ResponseMetadata"]["RetryAttempts"] == 0
    error = response["Error"]
    return error["Code"], error["Message"], response["ResponseMetadata"]["HTTPStatusCode"]


def test_a_json_operation_moto_lacks_is_refused_naming_it(client) -> None:
    cloudwatch = client("cloudwatch")
    assert refused_at_once(
        cloudwatch.put_composite_alarm, AlarmName="cdlab-gap", AlarmRule="TRUE"
    ) == (
        "UnknownOperationException",
        "The local cloud does not provide CloudWatch PutCompositeAlarm: moto, which serves "
        "CloudWatch here, does not implement it.",
        400,
    )
    found = cloudwatch.describe_alarms(AlarmNamePrefix="cdlab-gap", AlarmTypes=["CompositeAlarm"])
    assert found["CompositeAlarms"] == []


def test_a_query_operation_moto_lacks_is_refused_naming_it(client) -> None:
    assert refused_at_once(client("iam").change_password, OldPassword="a", NewPassword="b") == (
        "InvalidAction",
        "The local cloud does not provide IAM ChangePassword: moto, which serves IAM here, does "
        "not implement it.",
        400,
    )
