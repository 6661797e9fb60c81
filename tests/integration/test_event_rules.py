"""EventBridge's rules on the local cloud, through boto3 and a stack: a pattern Event Ruler
refuses, a pipeline target without a role and a sixth target are refused as EventBridge refuses
them (a stack's rule fails and is rolled back), and TestEventPattern answers whether an event
matches."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError, WaiterError

from cdlab import config

STACK = "cdlab-test-roleless-rule"
PIPELINE = f"arn:aws:codepipeline:us-east-1:{config.ACCOUNT_ID}:cdlab-test-none"
ROLELESS_YML = f"""
Resources:
  Watch:
    Type: AWS::Events::Rule
    Properties:
      Name: cdlab-test-roleless
      EventPattern:
        source: [aws.s3]
      Targets:
        - Id: pipeline
          Arn: {PIPELINE}
"""  # as the lab's SourceEventRule, without its RoleArn
EVENT = {
    "id": "1", "account": config.ACCOUNT_ID, "source": "aws.s3", "time": "2025-01-01T00:00:00Z",
    "region": "us-east-1", "resources": [], "detail-type": "Object Created",
    "detail": {"bucket": {"name": "cdlab-source"}},
}  # fmt: skip


@pytest.fixture(scope="module")
def events(client) -> Iterator[Any]:
    made = client("events")
    made.put_rule(Name="cdlab-test-rule", EventPattern=json.dumps({"source": ["aws.s3"]}))
    yield made
    ids = [t["Id"] for t in made.list_targets_by_rule(Rule="cdlab-test-rule")["Targets"]]
    if ids:
        made.remove_targets(Rule="cdlab-test-rule", Ids=ids)
    made.delete_rule(Name="cdlab-test-rule")


def refusal(call, **kwargs) -> tuple[str, str]:
    with pytest.raises(ClientError) as info:
        call(**kwargs)
    return info.value.response["Error"]["Code"], info.value.response["Error"]["Message"]


@pytest.mark.parametrize(
    ("pattern", "reason"),
    [
        ({"source": ["aws.s3"], "detail": {}}, "Empty objects are not allowed"),
        ({"detail": {"key": [{"suffix": ["x"]}]}}, "suffix match pattern must be a string"),
        ({"detail": {"key": [{"bogus": "x"}]}}, "Unrecognized match type bogus"),
        ({}, "Empty objects are not allowed"),
    ],
)
def test_a_pattern_eventbridge_refuses_is_refused(events, pattern, reason: str) -> None:
    code, message = refusal(events.put_rule, Name="cdlab-refused", EventPattern=json.dumps(pattern))
    assert code == "InvalidEventPatternException"
    assert message == f"Event pattern is not valid. Reason: {reason}"


def test_test_event_pattern_answers_whether_the_event_matches(events) -> None:
    def result(pattern: dict[str, Any]) -> Any:
        answer = events.test_event_pattern(
            Event=json.dumps(EVENT), EventPattern=json.dumps(pattern)
        )
        return answer.get("Result")

    assert result({"source": ["aws.s3"], "detail": {"bucket": {"name": [{"prefix": "cdlab-"}]}}})
    assert result({"source": ["aws.codebuild"]}) is False
    assert (
        refusal(events.test_event_pattern, Event=json.dumps(EVENT), EventPattern='{"detail": {}}')[
            0
        ]
        == "InvalidEventPatternException"
    )


def test_a_pipeline_target_needs_a_role(events) -> None:
    assert refusal(
        events.put_targets, Rule="cdlab-test-rule", Targets=[{"Id": "p", "Arn": PIPELINE}]
    ) == ("ValidationException", f"RoleArn is required for target {PIPELINE}.")
    assert events.list_targets_by_rule(Rule="cdlab-test-rule")["Targets"] == []


def test_a_rule_takes_five_targets_at_most(events) -> None:
    group = f"arn:aws:logs:us-east-1:{config.ACCOUNT_ID}:log-group:/aws/events/cdlab-test-"
    events.put_targets(
        Rule="cdlab-test-rule", Targets=[{"Id": f"t{i}", "Arn": f"{group}{i}"} for i in range(5)]
    )
    assert refusal(
        events.put_targets, Rule="cdlab-test-rule", Targets=[{"Id": "t5", "Arn": f"{group}5"}]
    ) == ("LimitExceededException", "The requested resource exceeds the maximum number allowed.")
    assert len(events.list_targets_by_rule(Rule="cdlab-test-rule")["Targets"]) == 5


def test_a_stacks_rule_with_a_roleless_pipeline_target_fails(client) -> None:
    cfn = client("cloudformation")
    cfn.create_stack(StackName=STACK, TemplateBody=ROLELESS_YML)
    try:
        with pytest.raises(WaiterError, match="ROLLBACK_COMPLETE"):
            cfn.get_waiter("stack_create_complete").wait(StackName=STACK, WaiterConfig={"Delay": 1})
        events = cfn.describe_stack_events(StackName=STACK)["StackEvents"]
        [failed] = [e for e in events if e["ResourceStatus"] == "CREATE_FAILED"]
        assert f"RoleArn is required for target {PIPELINE}." in failed["ResourceStatusReason"]
        with pytest.raises(ClientError):
            client("events").describe_rule(Name="cdlab-test-roleless")  # rolled back
    finally:
        cfn.delete_stack(StackName=STACK)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and any(
            s["StackName"] == STACK and s["StackStatus"] != "DELETE_COMPLETE"
            for s in cfn.list_stacks()["StackSummaries"]
        ):
            time.sleep(1)
