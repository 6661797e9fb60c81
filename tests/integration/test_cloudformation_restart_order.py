"""Changes made by hand to what a stack made (a table in its Glue database, a policy or a tag on
its role, its alarm put again) and the stack's own changes come back after a kill in the order
they were made: none is lost, none undoes a later one, and a deleted stack's resources stay
deleted."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from tests.integration.private_cloud import PrivateCloud

pytestmark = pytest.mark.slow

STACK, DATABASE, ALARM = "order", "orderdb", "order-alarm"
TEMPLATE = """
Resources:
  Role:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Version: "2012-10-17"
        Statement:
          - {Effect: Allow, Principal: {Service: glue.amazonaws.com}, Action: sts:AssumeRole}
      Policies:
        - PolicyName: template
          PolicyDocument:
            Version: "2012-10-17"
            Statement: [{Effect: Allow, Action: "%(action)s", Resource: "*"}]
      Tags: [{Key: stage, Value: "%(stage)s"}]
  Database:
    Type: AWS::Glue::Database
    Properties:
      DatabaseInput: {Name: %(database)s}
  Alarm:
    Type: AWS::CloudWatch::Alarm
    Properties:
      AlarmName: %(alarm)s
      Namespace: AWS/SageMaker
      MetricName: Invocation5XXErrors
      Statistic: Sum
      Period: 60
      EvaluationPeriods: 1
      Threshold: %(threshold)s
      ComparisonOperator: GreaterThanOrEqualToThreshold
"""
BY_HAND = json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}
)


def template(stage: str = "one", action: str = "glue:GetTable", threshold: int = 1) -> str:
    values = {"stage": stage, "action": action, "threshold": threshold}
    return TEMPLATE % {**values, "database": DATABASE, "alarm": ALARM}


def deploy(private: PrivateCloud, body: str, update: bool = False) -> str:
    """Create (or update) the stack and wait for it; its role's name."""
    cfn = private.client("cloudformation")
    if update:
        cfn.update_stack(StackName=STACK, TemplateBody=body, Capabilities=["CAPABILITY_IAM"])
        cfn.get_waiter("stack_update_complete").wait(StackName=STACK)
    else:
        cfn.create_stack(StackName=STACK, TemplateBody=body, Capabilities=["CAPABILITY_IAM"])
        cfn.get_waiter("stack_create_complete").wait(StackName=STACK)
    [role] = cfn.describe_stack_resources(StackName=STACK, LogicalResourceId="Role")[
        "StackResources"
    ]
    return role["PhysicalResourceId"]


def restart(private: PrivateCloud) -> None:
    private.kill()
    private.up()


def by_hand(private: PrivateCloud, role: str) -> None:
    """A table in the stack's database, a policy and a tag on its role."""
    private.client("glue").create_table(
        DatabaseName=DATABASE, TableInput={"Name": "ratings", "Parameters": {"by": "hand"}}
    )
    iam = private.client("iam")
    iam.put_role_policy(RoleName=role, PolicyName="by-hand", PolicyDocument=BY_HAND)
    iam.tag_role(RoleName=role, Tags=[{"Key": "stage", "Value": "by-hand"}])


def put_alarm_by_hand(private: PrivateCloud, threshold: float) -> None:
    private.client("cloudwatch").put_metric_alarm(
        AlarmName=ALARM,
        Namespace="AWS/SageMaker",
        MetricName="Invocation5XXErrors",
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=threshold,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
    )


def stack_changed_by_hand(private: PrivateCloud) -> str:
    """A fresh cloud with the stack, then a table, a policy, a tag and the alarm (threshold 5)
    put by hand; the role's name."""
    private.up()
    role = deploy(private, template())
    by_hand(private, role)
    put_alarm_by_hand(private, 5)
    return role


def role_state(private: PrivateCloud, role: str) -> tuple[dict[str, str], dict[str, str]]:
    """The role's tags, and the first action of each inline policy."""
    iam = private.client("iam")
    tags = {t["Key"]: t["Value"] for t in iam.list_role_tags(RoleName=role)["Tags"]}
    actions = {}
    for name in iam.list_role_policies(RoleName=role)["PolicyNames"]:
        document = iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
        actions[name] = document["Statement"][0]["Action"]
    return tags, actions


def alarm_threshold(private: PrivateCloud) -> float:
    [alarm] = private.client("cloudwatch").describe_alarms(AlarmNames=[ALARM])["MetricAlarms"]
    return alarm["Threshold"]


def test_hand_made_changes_and_stack_updates_come_back_in_the_order_they_were_made(
    private: PrivateCloud,
) -> None:
    role = stack_changed_by_hand(private)

    restart(private)
    table = private.client("glue").get_table(DatabaseName=DATABASE, Name="ratings")["Table"]
    assert table["Parameters"] == {"by": "hand"}
    tags, actions = role_state(private, role)
    assert tags == {"stage": "by-hand"}
    assert actions == {"template": "glue:GetTable", "by-hand": "s3:*"}
    assert alarm_threshold(private) == 5.0

    # the stack's update after those changes, then the alarm put by hand once more
    assert deploy(private, template("two", "glue:GetTables", 2), update=True) == role
    assert alarm_threshold(private) == 2.0
    put_alarm_by_hand(private, 9)

    restart(private)
    tags, actions = role_state(private, role)
    assert tags == {"stage": "two"}
    assert actions == {"template": "glue:GetTables", "by-hand": "s3:*"}
    assert alarm_threshold(private) == 9.0
    assert private.client("glue").get_tables(DatabaseName=DATABASE)["TableList"][0]["Name"] == (
        "ratings"
    )
    [stack] = private.client("cloudformation").describe_stacks(StackName=STACK)["Stacks"]
    assert stack["StackStatus"] == "UPDATE_COMPLETE"


def test_a_deleted_stack_stays_deleted_with_what_was_changed_by_hand(
    private: PrivateCloud,
) -> None:
    role = stack_changed_by_hand(private)
    cfn = private.client("cloudformation")
    cfn.delete_stack(StackName=STACK)
    cfn.get_waiter("stack_delete_complete").wait(StackName=STACK)

    restart(private)
    with pytest.raises(ClientError, match="NoSuchEntity"):
        private.client("iam").get_role(RoleName=role)
    with pytest.raises(ClientError, match="EntityNotFoundException"):
        private.client("glue").get_database(Name=DATABASE)
    alarms = private.client("cloudwatch").describe_alarms(AlarmNames=[ALARM])["MetricAlarms"]
    assert alarms == []
