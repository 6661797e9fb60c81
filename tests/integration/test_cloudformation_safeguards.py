"""What keeps a stack safe, honoured rather than only accepted: termination protection (DeleteStack
refused while it is on), rollback triggers (an operation rolled back when an alarm it watches
goes into ALARM) and OnFailure DELETE (a failed create deleted, not rolled back)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.aws_errors import refused
from tests.integration.test_cloudformation import delete_stacks, gone, outputs, status, story
from tests.polling import poll

WATCHED_ALARM = """
  Watched:
    Type: AWS::CloudWatch::Alarm
    Properties:
      Namespace: CdLab/Safeguards
      MetricName: Unwritten
      Statistic: Sum
      Period: 60
      EvaluationPeriods: 1
      Threshold: !Ref Threshold
      ComparisonOperator: GreaterThanThreshold"""
WATCHED_YML = f"""
Parameters:
  Threshold: {{Type: Number, Default: 1}}
Resources:{WATCHED_ALARM}
Outputs:
  Alarm: {{Value: !Ref Watched}}
"""
REFUSED_YML = f"""
Parameters:
  Threshold: {{Type: Number, Default: 1}}
Resources:{WATCHED_ALARM}
  Refused:
    Type: AWS::Events::Rule
    DependsOn: Watched
    Properties:
      Name: cfn-guard-refused-rule
      EventPattern: {{source: [aws.s3]}}
      Targets: [{{Id: refused, Arn: not-an-arn}}]
"""  # the alarm is made, then the rule fails: EventBridge refuses its target
ALARM = "AWS::CloudWatch::Alarm"
ACCOUNT_ALARM = "arn:aws:cloudwatch:us-east-1:123456789012:alarm:"
MONITORING_MINUTES = 3  # long enough to act in; every test ends it early with an alarm


@pytest.fixture(scope="module")
def cfn(client) -> Iterator[object]:
    """A CloudFormation client; this module's stacks are deleted when it is done."""
    cfn = client("cloudformation")
    yield cfn
    delete_stacks(cfn, "cfn-guard")


@pytest.fixture(scope="module")
def cloudwatch(client):
    return client("cloudwatch")


def trigger_alarm(cloudwatch, name: str) -> str:
    """The ARN of a new alarm on a metric nothing writes, so its state is only what a test sets."""
    cloudwatch.put_metric_alarm(
        AlarmName=name, Namespace="CdLab/Safeguards", MetricName="Unwritten", Statistic="Sum",
        Period=60, EvaluationPeriods=1, Threshold=1, ComparisonOperator="GreaterThanThreshold",
    )  # fmt: skip
    return cloudwatch.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]["AlarmArn"]


def settled(cfn, stack: str) -> str:
    return poll(
        lambda: status(cfn, stack),
        until=lambda now: not now.endswith("IN_PROGRESS"),
        what=f"stack {stack}'s operation to end",
    )


def monitoring(cfn, stack: str, resource_status: str) -> None:
    """Wait until the stack's resources are in place and it watches its triggers' alarms."""
    poll(
        lambda: story(cfn, stack)[-1],
        until=lambda last: last[:2] == ("Watched", resource_status),
        what=f"the alarm resource {resource_status}",
    )


def threshold(cloudwatch, name: str) -> float:
    return cloudwatch.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]["Threshold"]


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


def test_protection_turned_on_later_and_during_an_operation_holds(cfn, cloudwatch) -> None:
    """Protection turned on while an operation runs outlasts it (the operation saves the stack
    again and again); here the operation is a create rolled back by its rollback trigger."""
    stack, alarm = "cfn-guard-later", "cfn-guard-later-trigger"
    trigger = trigger_alarm(cloudwatch, alarm)
    cfn.create_stack(
        StackName=stack, TemplateBody=WATCHED_YML,
        RollbackConfiguration={
            "RollbackTriggers": [{"Arn": trigger, "Type": ALARM}],
            "MonitoringTimeInMinutes": MONITORING_MINUTES,
        },
    )  # fmt: skip
    monitoring(cfn, stack, "CREATE_COMPLETE")
    assert cfn.describe_stacks(StackName=stack)["Stacks"][0]["EnableTerminationProtection"] is False
    cfn.update_termination_protection(StackName=stack, EnableTerminationProtection=True)
    cloudwatch.set_alarm_state(AlarmName=alarm, StateValue="ALARM", StateReason="a test")

    assert settled(cfn, stack) == "ROLLBACK_COMPLETE"
    assert (
        stack, "ROLLBACK_IN_PROGRESS",
        f"Rollback trigger: the alarm {alarm} went into ALARM state. Rollback requested by user.",
    ) in story(cfn, stack)  # fmt: skip
    assert cfn.describe_stacks(StackName=stack)["Stacks"][0]["EnableTerminationProtection"] is True
    assert refused(cfn.delete_stack, StackName=stack)[1] == (
        f"Stack [{stack}] cannot be deleted while TerminationProtection is enabled"
    )
    assert status(cfn, stack) == "ROLLBACK_COMPLETE"


# ---- rollback triggers -------------------------------------------------------------------------


def test_an_alarm_going_into_alarm_during_an_update_rolls_it_back(cfn, cloudwatch) -> None:
    stack, alarm = "cfn-guard-update", "cfn-guard-update-trigger"
    trigger = trigger_alarm(cloudwatch, alarm)
    cfn.create_stack(StackName=stack, TemplateBody=WATCHED_YML)
    cfn.get_waiter("stack_create_complete").wait(StackName=stack)
    watched = outputs(cfn, stack)["Alarm"]
    configuration = {
        "RollbackTriggers": [{"Arn": trigger, "Type": ALARM}],
        "MonitoringTimeInMinutes": MONITORING_MINUTES,
    }
    cfn.update_stack(
        StackName=stack, UsePreviousTemplate=True, RollbackConfiguration=configuration,
        Parameters=[{"ParameterKey": "Threshold", "ParameterValue": "5"}],
    )  # fmt: skip
    monitoring(cfn, stack, "UPDATE_COMPLETE")
    [updating] = cfn.describe_stacks(StackName=stack)["Stacks"]
    assert updating["StackStatus"] == "UPDATE_IN_PROGRESS"
    assert updating["RollbackConfiguration"] == configuration
    assert threshold(cloudwatch, watched) == 5.0
    cloudwatch.set_alarm_state(AlarmName=alarm, StateValue="ALARM", StateReason="a test")

    assert settled(cfn, stack) == "UPDATE_ROLLBACK_COMPLETE"
    assert (
        stack, "UPDATE_ROLLBACK_IN_PROGRESS",
        f"Rollback trigger: the alarm {alarm} went into ALARM state.",
    ) in story(cfn, stack)  # fmt: skip
    assert threshold(cloudwatch, watched) == 1.0  # the update's in-place change reverted
    assert cfn.describe_stacks(StackName=stack)["Stacks"][0]["RollbackConfiguration"] == {}


def test_a_trigger_whose_alarm_does_not_exist_fails_the_update(cfn) -> None:
    """ "If a specified trigger is missing, the entire stack operation fails and is rolled back"
    (RollbackTrigger in the CloudFormation API reference)."""
    stack = "cfn-guard-missing"
    cfn.create_stack(StackName=stack, TemplateBody=WATCHED_YML)
    cfn.get_waiter("stack_create_complete").wait(StackName=stack)
    missing = f"{ACCOUNT_ALARM}cfn-guard-no-such-alarm"
    cfn.update_stack(
        StackName=stack, UsePreviousTemplate=True,
        Parameters=[{"ParameterKey": "Threshold", "ParameterValue": "5"}],
        RollbackConfiguration={"RollbackTriggers": [{"Arn": missing, "Type": ALARM}]},
    )  # fmt: skip
    assert settled(cfn, stack) == "UPDATE_ROLLBACK_COMPLETE"
    [described] = cfn.describe_stacks(StackName=stack)["Stacks"]
    assert described["StackStatusReason"] == f"The rollback trigger {missing} does not exist."
    assert [e for e in story(cfn, stack) if e[0] == "Watched"][-1][1] == "CREATE_COMPLETE"


@pytest.mark.parametrize(
    ("trigger", "message"),
    [
        (
            {"Arn": f"{ACCOUNT_ALARM}any", "Type": "AWS::SNS::Topic"},
            "The local cloud does not watch rollback triggers of type AWS::SNS::Topic; it watches "
            "AWS::CloudWatch::Alarm triggers.",
        ),
        (
            {"Arn": "arn:aws:sns:us-east-1:123456789012:topic", "Type": ALARM},
            "Rollback trigger arn:aws:sns:us-east-1:123456789012:topic is not the ARN of a "
            "CloudWatch alarm (arn:aws:cloudwatch:<region>:<account>:alarm:<name>).",
        ),
    ],
    ids=["not an alarm", "not an alarm ARN"],
)
def test_a_trigger_the_local_cloud_cannot_watch_is_refused(
    cfn, trigger: dict[str, str], message: str
) -> None:
    stack = "cfn-guard-refused"
    code, text, http = refused(
        cfn.create_stack, StackName=stack, TemplateBody=WATCHED_YML,
        RollbackConfiguration={"RollbackTriggers": [trigger]},
    )  # fmt: skip
    assert (code, text, http) == ("ValidationError", message, 400)
    assert refused(cfn.describe_stacks, StackName=stack)[0] == "ValidationError"


# ---- OnFailure DELETE ----------------------------------------------------------------------------


def test_a_failed_create_with_on_failure_delete_is_deleted_not_rolled_back(
    cfn, client, cloudwatch
) -> None:
    """With OnFailure DELETE the stack goes from CREATE_IN_PROGRESS straight to
    DELETE_IN_PROGRESS ("... Delete requested by user."), as AWS's stack events show, with no
    ROLLBACK_* status, and ends DELETE_COMPLETE: gone by name, still described by its id."""
    stack = "cfn-guard-onfailure"
    stack_id = cfn.create_stack(StackName=stack, TemplateBody=REFUSED_YML, OnFailure="DELETE")[
        "StackId"
    ]
    assert settled(cfn, stack_id) == "DELETE_COMPLETE"
    events = story(cfn, stack_id)
    assert [e for e in events if e[0] == stack] == [
        (stack, "CREATE_IN_PROGRESS", "User Initiated"),
        (
            stack, "DELETE_IN_PROGRESS",
            "The following resource(s) failed to create: [Refused]. Delete requested by user.",
        ),
        (stack, "DELETE_COMPLETE", ""),
    ]  # fmt: skip
    resources = [e[:2] for e in events if e[0] != stack]
    assert ("Watched", "CREATE_COMPLETE") in resources and ("Refused", "CREATE_FAILED") in resources
    assert resources[-4:] == [
        ("Refused", "DELETE_IN_PROGRESS"), ("Refused", "DELETE_COMPLETE"),
        ("Watched", "DELETE_IN_PROGRESS"), ("Watched", "DELETE_COMPLETE"),
    ]  # fmt: skip

    assert refused(cfn.describe_stacks, StackName=stack) == (
        "ValidationError",
        f"Stack with id {stack} does not exist",
        400,
    )
    [described] = cfn.describe_stacks(StackName=stack_id)["Stacks"]
    assert described["StackStatus"] == "DELETE_COMPLETE"
    alarm = next(
        e["PhysicalResourceId"]
        for e in cfn.describe_stack_events(StackName=stack_id)["StackEvents"]
        if e["LogicalResourceId"] == "Watched" and e["ResourceStatus"] == "CREATE_COMPLETE"
    )
    assert cloudwatch.describe_alarms(AlarmNames=[alarm])["MetricAlarms"] == []
    assert gone(client("events").describe_rule, Name="cfn-guard-refused-rule")


def change_set_made(cfn, change_set: str) -> None:
    """Wait until the change set is made (CREATE_COMPLETE), ready to execute."""
    poll(
        lambda: cfn.describe_change_set(ChangeSetName=change_set),
        until=lambda described: described["Status"] == "CREATE_COMPLETE",
        what=f"change set {change_set} to be made",
    )


@pytest.mark.parametrize(
    ("on_stack_failure", "ends", "reason_end"),
    [
        ("DELETE", "DELETE_COMPLETE", "Delete requested by user."),
        ("DO_NOTHING", "CREATE_FAILED", ""),
    ],
)
def test_a_change_sets_on_stack_failure_decides_what_a_failed_create_does(
    cfn, on_stack_failure: str, ends: str, reason_end: str
) -> None:
    """CreateChangeSet's OnStackFailure is a CREATE change set's OnFailure: DELETE deletes the
    stack whose create failed, DO_NOTHING leaves it CREATE_FAILED; DescribeChangeSet shows it."""
    stack = f"cfn-guard-osf-{on_stack_failure.lower().replace('_', '-')}"
    made = cfn.create_change_set(
        StackName=stack, ChangeSetName="first", ChangeSetType="CREATE",
        TemplateBody=REFUSED_YML, OnStackFailure=on_stack_failure,
    )  # fmt: skip
    change_set_made(cfn, made["Id"])
    assert cfn.describe_change_set(ChangeSetName=made["Id"])["OnStackFailure"] == on_stack_failure
    cfn.execute_change_set(ChangeSetName=made["Id"])
    assert settled(cfn, made["StackId"]) == ends
    [described] = cfn.describe_stacks(StackName=made["StackId"])["Stacks"]
    failed = [e for e in story(cfn, made["StackId"]) if e[0] == stack and e[1] != "DELETE_COMPLETE"]
    assert failed[-1][2].startswith("The following resource(s) failed to create: [Refused].")
    assert failed[-1][2].endswith(reason_end)
    assert not any(e[1].startswith("ROLLBACK") for e in failed)
    if ends == "CREATE_FAILED":
        cfn.delete_stack(StackName=made["StackId"])
        assert settled(cfn, made["StackId"]) == "DELETE_COMPLETE"
    assert described["StackStatus"] == ends


def test_disable_rollback_is_refused_for_a_change_set_made_with_on_stack_failure(cfn) -> None:
    made = cfn.create_change_set(
        StackName="cfn-guard-osf-both", ChangeSetName="first", ChangeSetType="CREATE",
        TemplateBody=REFUSED_YML, OnStackFailure="ROLLBACK",
    )  # fmt: skip
    change_set_made(cfn, made["Id"])
    code, message, status_code = refused(
        cfn.execute_change_set, ChangeSetName=made["Id"], DisableRollback=True
    )
    assert (code, status_code) == ("ValidationError", 400)
    assert "OnStackFailure" in message
    assert cfn.describe_change_set(ChangeSetName=made["Id"])["ExecutionStatus"] == "AVAILABLE"
    cfn.delete_stack(StackName=made["StackId"])
