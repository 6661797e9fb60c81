"""What keeps a stack safe, honoured rather than only accepted: termination protection (DeleteStack
refused while it is on)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.aws_errors import refused
from tests.integration.test_cloudformation import story

WATCHED_YML = """
Parameters:
  Threshold: {Type: Number, Default: 1}
Resources:
  Watched:
    Type: AWS::CloudWatch::Alarm
    Properties:
      Namespace: CdLab/Safeguards
      MetricName: Unwritten
      Statistic: Sum
      Period: 60
      EvaluationPeriods: 1
      Threshold: !Ref Threshold
      ComparisonOperator: GreaterThanThreshold
Outputs:
  Alarm: {Value: !Ref Watched}
"""


@pytest.fixture(scope="module")
def cfn(client) -> Iterator[object]:
    """A CloudFormation client; this module's stacks, unprotected, are deleted when it is done."""
    cfn = client("cloudformation")
    yield cfn
    live = [
        s["StackId"]
        for s in cfn.list_stacks()["StackSummaries"]
        if s["StackName"].startswith("cfn-guard") and s["StackStatus"] != "DELETE_COMPLETE"
    ]
    for stack in live:
        cfn.update_termination_protection(StackName=stack, EnableTerminationProtection=False)
        cfn.delete_stack(StackName=stack)
    for stack in live:
        cfn.get_waiter("stack_delete_complete").wait(StackName=stack)


# ---- termination protection --------------------------------------------------------------------


def test_a_protected_stack_is_not_deleted_until_its_protection_is_turned_off(cfn) -> None:
    stack = "cfn-guard-protected"
    stack_id = cfn.create_stack(
        StackName=stack, TemplateBody=WATCHED_YML, EnableTerminationProtection=True
    )["StackId"]
    cfn.get_waiter("stack_create_complete").wait(StackName=stack)
    [before] = cfn.describe_stacks(StackName=stack)["Stacks"]
    assert before["EnableTerminationProtection"] is True
    events = story(cfn, stack)

    for name in (stack, stack_id):
        assert refused(cfn.delete_stack, StackName=name) == (
            "ValidationError",
            f"Stack [{stack}] cannot be deleted while TerminationProtection is enabled",
            400,
        )
    assert cfn.describe_stacks(StackName=stack)["Stacks"] == [before]
    assert story(cfn, stack) == events

    turned_off = cfn.update_termination_protection(
        StackName=stack, EnableTerminationProtection=False
    )
    assert turned_off["StackId"] == stack_id
    assert cfn.describe_stacks(StackName=stack)["Stacks"][0]["EnableTerminationProtection"] is False
    cfn.delete_stack(StackName=stack)
    cfn.get_waiter("stack_delete_complete").wait(StackName=stack_id)
    assert refused(
        cfn.update_termination_protection, StackName=stack_id, EnableTerminationProtection=True
    ) == (
        "ValidationError",
        f"Stack [{stack}] is in DELETE_COMPLETE state: termination protection can be set in any "
        "status but DELETE_IN_PROGRESS and DELETE_COMPLETE.",
        400,
    )
