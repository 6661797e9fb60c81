"""EventBridge's rules in-process, as moto answers them with the kit's corrections: patterns
refused as Event Ruler refuses them, targets refused for want of a role or past five a rule, and
TestEventPattern answering with the matcher the local EventBridge routes events with."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from cdlab.localcloud.moto import eventpatterns, implemented
from cdlab.localcloud.moto.eventrules import role_refusal

ACCOUNT = "123456789012"
PIPELINE = f"arn:aws:codepipeline:us-east-1:{ACCOUNT}:cdlab-pipeline"
EVENT = {
    "id": "1", "account": ACCOUNT, "source": "aws.s3", "time": "2025-01-01T00:00:00Z",
    "region": "us-east-1", "resources": [], "detail-type": "Object Created",
    "detail": {"bucket": {"name": "cdlab-source"}, "object": {"key": "source.zip", "size": 10}},
}  # fmt: skip


@pytest.fixture
def events(moto_client: Callable[[str], Any]) -> Any:
    return moto_client("events")


def rule(events: Any, pattern: dict[str, Any] | None = None) -> str:
    name = f"test-rule-{uuid.uuid4().hex[:8]}"  # moto's backends outlive a test
    events.put_rule(Name=name, EventPattern=json.dumps(pattern or {"source": ["aws.s3"]}))
    return name


def refusal(call: Callable[..., Any], **kwargs: Any) -> tuple[str, str]:
    with pytest.raises(ClientError) as info:
        call(**kwargs)
    return info.value.response["Error"]["Code"], info.value.response["Error"]["Message"]


@pytest.mark.parametrize(
    ("pattern", "reason"),
    [
        ({"source": ["aws.s3"], "detail": {}}, "Empty objects are not allowed"),
        ({}, "Empty objects are not allowed"),
        ({"detail": {"key": [{"suffix": ["x"]}]}}, "suffix match pattern must be a string"),
        ({"detail": {"key": [{"bogus": "x"}]}}, "Unrecognized match type bogus"),
        ({"source": "aws.s3"}, '"source" must be an object or an array'),
        ({"resources": []}, "Empty arrays are not allowed"),
        ({"n": [{"numeric": [">", 0, "<"]}]}, "Value of < must be numeric"),
        ({"$or": [{"a": ["x"]}]}, "There must have at least 2 Objects in $or relationship."),
        (["aws.s3"], "Filter is not an object"),
    ],
)
def test_put_rule_refuses_a_pattern_event_ruler_refuses(events, pattern, reason: str) -> None:
    code, message = refusal(events.put_rule, Name="refused", EventPattern=json.dumps(pattern))
    assert (code, message) == (
        "InvalidEventPatternException",
        f"Event pattern is not valid. Reason: {reason}",
    )


def test_the_pipeline_stacks_pattern_and_the_operators_are_taken(events) -> None:
    lab = {
        "source": ["aws.s3"],
        "detail-type": ["Object Created"],
        "detail": {"bucket": {"name": ["cdlab-source"]}, "object": {"key": ["source.zip"]}},
    }
    operators = {
        "source": [{"prefix": "aws."}],
        "detail": {
            "bucket": {"name": [{"anything-but": {"suffix": "-logs"}}]},
            "object": {"size": [{"numeric": [">", 0, "<=", 10]}], "etag": [{"exists": False}]},
        },
        "$or": [{"region": [{"equals-ignore-case": "US-EAST-1"}]}, {"account": [ACCOUNT]}],
    }
    for pattern in (lab, operators):
        assert eventpatterns.refusal(json.dumps(pattern)) is None
        assert events.test_event_pattern(Event=json.dumps(EVENT), EventPattern=json.dumps(pattern))[
            "Result"
        ]
    missed = {**lab, "detail-type": ["Object Deleted"]}
    assert not events.test_event_pattern(Event=json.dumps(EVENT), EventPattern=json.dumps(missed))[
        "Result"
    ]


def test_test_event_pattern_refuses_as_put_rule_does(events) -> None:
    assert refusal(
        events.test_event_pattern, Event=json.dumps(EVENT), EventPattern='{"detail": {}}'
    ) == (
        "InvalidEventPatternException",
        "Event pattern is not valid. Reason: Empty objects are not allowed",
    )
    for event in ('"plain string"', json.dumps([EVENT]), json.dumps({"source": "aws.s3"})):
        assert refusal(
            events.test_event_pattern, Event=event, EventPattern='{"source": ["aws.s3"]}'
        ) == ("ValidationException", "Parameter Event is not valid.")


def test_a_pipeline_target_without_a_role_is_refused(events) -> None:
    name = rule(events)
    assert refusal(
        events.put_targets, Rule=name, Targets=[{"Id": "pipeline", "Arn": PIPELINE}]
    ) == ("ValidationException", f"RoleArn is required for target {PIPELINE}.")
    assert events.list_targets_by_rule(Rule=name)["Targets"] == []
    role = f"arn:aws:iam::{ACCOUNT}:role/cdlab-events"
    events.put_targets(Rule=name, Targets=[{"Id": "pipeline", "Arn": PIPELINE, "RoleArn": role}])
    assert [t["RoleArn"] for t in events.list_targets_by_rule(Rule=name)["Targets"]] == [role]


def test_only_targets_invoked_with_a_role_need_one() -> None:
    needing = (
        PIPELINE,
        f"arn:aws:codebuild:us-east-1:{ACCOUNT}:project/build",
        f"arn:aws:states:us-east-1:{ACCOUNT}:stateMachine:flow",
    )
    for arn in needing:
        assert role_refusal({"Id": "t", "Arn": arn}) == f"RoleArn is required for target {arn}."
    log_group = f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/aws/events/x"
    assert role_refusal({"Id": "t", "Arn": log_group}) is None


def test_a_rule_takes_five_targets_at_most(events) -> None:
    name = rule(events)
    group = f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/aws/events/"
    five = [{"Id": f"t{i}", "Arn": f"{group}{i}"} for i in range(5)]
    events.put_targets(Rule=name, Targets=five)
    events.put_targets(Rule=name, Targets=[{"Id": "t0", "Arn": f"{group}again"}])  # replaced
    assert refusal(events.put_targets, Rule=name, Targets=[{"Id": "t5", "Arn": f"{group}5"}]) == (
        "LimitExceededException",
        "The requested resource exceeds the maximum number allowed.",
    )
    assert len(events.list_targets_by_rule(Rule=name)["Targets"]) == 5


def test_a_stub_is_not_taken_for_an_answer() -> None:
    class Responses:
        def stub(self) -> None:
            pass

        def documented_stub(self) -> None:
            """Nothing yet."""

        def answer(self) -> str:
            return "{}"

    assert not implemented._answers(Responses.stub)
    assert not implemented._answers(Responses.documented_stub)
    assert implemented._answers(Responses.answer)
    assert not implemented._answers(None)
