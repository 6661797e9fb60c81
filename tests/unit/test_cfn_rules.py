"""The Rules section: a false assertion refuses the stack before any resource, with its words."""

from __future__ import annotations

import pytest

from cdlab.localcloud.cloudformation import template, validation
from cdlab.localcloud.cloudformation.resources import PROVIDED
from cdlab.localcloud.protocols.errors import ValidationError

RULED = """
Parameters:
  Name: {Type: String}
  Environment: {Type: String, Default: qa}
  Sizes: {Type: CommaDelimitedList, Default: "1,2"}
Rules:
  NameIsTheStack:
    Assertions:
      - Assert: !Equals [!Ref Name, !Ref AWS::StackName]
        AssertDescription: Name must be the stack's name.
  ProdIsSmall:
    RuleCondition: !Equals [!Ref Environment, prod]
    Assertions:
      - Assert: !And [!EachMemberIn [!Ref Sizes, ["1", "2"]], !Not [!Contains [[big], !Ref Name]]]
Resources:
  Alarm:
    Type: AWS::CloudWatch::Alarm
    Properties: {MetricName: M, Namespace: N, Threshold: 1, EvaluationPeriods: 1,
                 ComparisonOperator: GreaterThanThreshold, Period: 60, Statistic: Sum}
"""


def evaluate(body: str, stack: str, **values: str) -> template.Evaluated:
    parsed = template.load(body)
    validation.check(parsed, PROVIDED)
    given = [{"ParameterKey": k, "ParameterValue": v} for k, v in values.items()]
    resolved = template.parameter_values(parsed["Parameters"], given, None)
    return template.evaluate(
        parsed, resolved, stack, f"arn:aws:cloudformation:us-east-1:1:stack/{stack}/1"
    )


def refusal(body: str, stack: str, **values: str) -> str:
    with pytest.raises(ValidationError) as info:
        evaluate(body, stack, **values)
    return info.value.message


def test_a_template_whose_rules_hold_evaluates() -> None:
    assert evaluate(RULED, "lab", Name="lab").enabled == ["Alarm"]
    assert evaluate(RULED, "lab", Name="lab", Environment="prod").enabled == ["Alarm"]


def test_a_false_assertion_refuses_with_its_description() -> None:
    assert refusal(RULED, "lab", Name="other") == "Name must be the stack's name."


def test_a_rule_applies_only_when_its_condition_holds() -> None:
    assert evaluate(RULED, "big", Name="big", Sizes="3").enabled == ["Alarm"]
    assert refusal(RULED, "big", Name="big", Environment="prod") == (
        "Assertion failed for rule ProdIsSmall"
    )
    assert refusal(RULED, "lab", Name="lab", Environment="prod", Sizes="1,3") == (
        "Assertion failed for rule ProdIsSmall"
    )


def test_rules_of_the_wrong_form_are_template_format_errors() -> None:
    unknown = RULED.replace("!Ref AWS::StackName", "!Ref Nowhere")
    assert "undeclared parameters ['Nowhere']" in refusal(unknown, "lab", Name="lab")
    value_of = RULED.replace("!Equals [!Ref Name, !Ref AWS::StackName]", "{Fn::ValueOf: [Name, x]}")
    assert refusal(value_of, "lab", Name="lab").startswith(
        "Template format error: rule NameIsTheStack"
    )
    bare = RULED.replace(
        "    Assertions:\n      - Assert: !Equals", "    Asserts:\n      - Assert: !Equals"
    )
    assert "must have a list of Assertions" in refusal(bare, "lab", Name="lab")
