"""CloudFormation in the local cloud: the lab's templates, deployed with the AWS CLI's commands."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError, WaiterError

from cdlab.fm.model import artifact_bytes
from cdlab.localcloud import control
from cdlab.localcloud.cloudformation import template
from tests.aws_errors import refused
from tests.conftest import free_port, small_model
from tests.integration.test_endpoints import invoke, score
from tests.polling import poll
from tests.roles import make_execution_roles

ROOT = Path(__file__).resolve().parents[2]
ENDPOINT_YML = ROOT / "cloudformation" / "endpoint.yml"
ROLE = "arn:aws:iam::123456789012:role/cdlab-sagemaker"
TIMESTAMP = "20260101000000"

SCALING_YML = """
Description: Scaling for one endpoint variant.
Parameters:
  MaxCapacity: {Type: Number, Default: 2}
Resources:
  Target:
    Type: AWS::ApplicationAutoScaling::ScalableTarget
    Properties:
      ServiceNamespace: sagemaker
      ResourceId: endpoint/cfn-scaling/variant/AllTraffic
      ScalableDimension: sagemaker:variant:DesiredInstanceCount
      MinCapacity: 1
      MaxCapacity: !Ref MaxCapacity
  Policy:
    Type: AWS::ApplicationAutoScaling::ScalingPolicy
    Properties:
      PolicyName: invocations
      PolicyType: TargetTrackingScaling
      ScalingTargetId: !Ref Target
      TargetTrackingScalingPolicyConfiguration:
        TargetValue: 100
        PredefinedMetricSpecification:
          PredefinedMetricType: SageMakerVariantInvocationsPerInstance
        ScaleInCooldown: 60
        ScaleOutCooldown: 30
  Alarm:
    Type: AWS::CloudWatch::Alarm
    Properties:
      Namespace: AWS/SageMaker
      MetricName: Invocation5XXErrors
      Dimensions: [{Name: EndpointName, Value: cfn-scaling}]
      Statistic: Sum
      Period: 60
      EvaluationPeriods: 1
      Threshold: 1
      ComparisonOperator: GreaterThanOrEqualToThreshold
Outputs:
  Alarm: {Value: !Ref Alarm}
  PolicyArn: {Value: !GetAtt Policy.Arn}
"""


@pytest.fixture(scope="module")
def cfn(client) -> Iterator[object]:
    """A CloudFormation client; the stacks this module made are deleted when it is done."""
    cfn = client("cloudformation")
    yield cfn
    delete_stacks(cfn, "cfn-")


def delete_stacks(cfn: Any, prefix: str) -> None:
    """Delete the live stacks whose names start with ``prefix`` (their termination protection
    turned off first), and wait until they are gone."""
    live = [
        s["StackId"]
        for s in cfn.list_stacks()["StackSummaries"]
        if s["StackName"].startswith(prefix) and s["StackStatus"] != "DELETE_COMPLETE"
    ]
    for stack in live:
        cfn.update_termination_protection(StackName=stack, EnableTerminationProtection=False)
        cfn.delete_stack(StackName=stack)
    for stack in live:
        cfn.get_waiter("stack_delete_complete").wait(StackName=stack)


@pytest.fixture(scope="module")
def deploy(aws, upload_model, fm_image) -> Callable[..., object]:
    """``deploy(stack, environment, parent, commit, seed)``: ``aws cloudformation deploy`` of
    endpoint.yml with the model ``small_model(seed)``, as the pipeline's deploy actions run it."""

    def run(
        stack: str, environment: str, parent: str, commit: str | None, seed: int,
        template: Path = ENDPOINT_YML, model_data: str | None = None, check: bool = True,
    ):  # fmt: skip
        overrides = {
            "Environment": environment,
            "ParentStackName": parent,
            "CommitID": commit,
            "Timestamp": TIMESTAMP,
            "ModelData": model_data or upload_model(seed),
            "ContainerImage": fm_image,
            "SageMakerRole": ROLE,
            "BakeTimeInSeconds": "0",  # prod's blue/green bake time: none in tests
        }
        pairs = [f"{k}={v}" for k, v in overrides.items() if v is not None]
        return aws(
            "cloudformation", "deploy", "--template-file", str(template), "--stack-name", stack,
            "--parameter-overrides", *pairs, check=check,
        )  # fmt: skip

    return run


def outputs(cfn, stack: str) -> dict[str, str]:
    [described] = cfn.describe_stacks(StackName=stack)["Stacks"]
    return {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}


def status(cfn, stack: str) -> str:
    return cfn.describe_stacks(StackName=stack)["Stacks"][0]["StackStatus"]


def story(cfn, stack: str) -> list[tuple[str, str, str]]:
    """The stack's events oldest first, as (logical id, status, reason)."""
    events = cfn.describe_stack_events(StackName=stack)["StackEvents"]
    return [
        (e["LogicalResourceId"], e["ResourceStatus"], e.get("ResourceStatusReason", ""))
        for e in reversed(events)
    ]


def gone(call, **kwargs) -> bool:
    try:
        call(**kwargs)
    except ClientError:
        return True
    return False


def broken_artifact(s3, bucket: str) -> str:
    s3.put_object(Bucket=bucket, Key="cfn/broken/model.tar.gz", Body=b"not a tar archive")
    return f"s3://{bucket}/cfn/broken/model.tar.gz"


# ---- deploying the lab's template --------------------------------------------------------------


def test_deploy_creates_an_endpoint_that_answers_and_outputs_its_name(cfn, deploy, runtime) -> None:
    started = time.monotonic()
    result = deploy("cfn-qa", "qa", "cfnqa", "a1", 1)
    assert "Successfully created/updated stack - cfn-qa" in result.stdout
    assert time.monotonic() - started < 30
    assert status(cfn, "cfn-qa") == "CREATE_COMPLETE"
    out = outputs(cfn, "cfn-qa")
    assert out["EndpointName"] == f"qa-cfnqa-a1-{TIMESTAMP}"
    assert "RollbackAlarmName" not in out  # prod only (a condition)
    assert invoke(runtime, out["EndpointName"]) == ("AllTraffic", score(1))
    resources = cfn.describe_stack_resources(StackName="cfn-qa")["StackResources"]
    assert {r["LogicalResourceId"]: r["ResourceStatus"] for r in resources} == {
        "Model": "CREATE_COMPLETE",
        "EndpointConfig": "CREATE_COMPLETE",
        "Endpoint": "CREATE_COMPLETE",
    }
    endpoint = next(r for r in resources if r["LogicalResourceId"] == "Endpoint")
    assert endpoint["PhysicalResourceId"].endswith(f":endpoint/qa-cfnqa-a1-{TIMESTAMP}")


@pytest.mark.slow
def test_a_new_model_updates_prod_in_place_without_dropping_a_request(
    cfn, deploy, sm, runtime
) -> None:
    deploy("cfn-prod", "prod", "cfnprod", "a1", 1)
    name = outputs(cfn, "cfn-prod")["EndpointName"]
    assert name == "prod-cfnprod"
    created = sm.describe_endpoint(EndpointName=name)["CreationTime"]
    results: list[tuple[float, float]] = []
    failures: list[Exception] = []
    stop = threading.Event()

    def client() -> None:
        while not stop.is_set():
            try:
                results.append((time.monotonic(), invoke(runtime, name)[1]))
            except Exception as e:
                failures.append(e)

    threads = [threading.Thread(target=client) for _ in range(3)]
    for t in threads:
        t.start()
    try:
        time.sleep(0.3)
        deploy("cfn-prod", "prod", "cfnprod", "b2", 2)
        time.sleep(0.3)
    finally:
        stop.set()
        for t in threads:
            t.join()

    assert failures == []
    assert {s for _, s in results} == {score(1), score(2)}
    first_new = min(t for t, s in results if s == score(2))
    assert all(s == score(2) for t, s in results if t > first_new + 0.1)
    described = sm.describe_endpoint(EndpointName=name)
    assert described["CreationTime"] == created  # the same endpoint, updated
    assert described["EndpointConfigName"] == f"prod-cfnprod-b2-{TIMESTAMP}"
    assert described["LastDeploymentConfig"]["AutoRollbackConfiguration"] == {
        "Alarms": [{"AlarmName": "prod-cfnprod-invocation-5xx"}]
    }
    assert outputs(cfn, "cfn-prod")["EndpointConfigName"] == f"prod-cfnprod-b2-{TIMESTAMP}"
    update = story(cfn, "cfn-prod")
    update = update[update.index(("cfn-prod", "UPDATE_IN_PROGRESS", "User Initiated")) :]
    assert [(e[0], e[1]) for e in update if e[0] == "Endpoint"] == [
        ("Endpoint", "UPDATE_IN_PROGRESS"),
        ("Endpoint", "UPDATE_COMPLETE"),
    ]
    assert ("Model", "UPDATE_IN_PROGRESS", "Requested update requires the creation of a new "
            "physical resource; hence creating one.") in update  # fmt: skip
    cleanup = update[update.index(("cfn-prod", "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS", "")) :]
    assert [(e[0], e[1]) for e in cleanup] == [
        ("cfn-prod", "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS"),
        ("EndpointConfig", "DELETE_IN_PROGRESS"),
        ("EndpointConfig", "DELETE_COMPLETE"),
        ("Model", "DELETE_IN_PROGRESS"),
        ("Model", "DELETE_COMPLETE"),
        ("cfn-prod", "UPDATE_COMPLETE"),
    ]
    assert gone(sm.describe_model, ModelName=f"prod-cfnprod-a1-{TIMESTAMP}")
    assert gone(sm.describe_endpoint_config, EndpointConfigName=f"prod-cfnprod-a1-{TIMESTAMP}")


@pytest.mark.slow
def test_a_new_commit_replaces_the_qa_endpoint(cfn, deploy, sm, runtime) -> None:
    deploy("cfn-qa-replace", "qa", "cfnrep", "a1", 1)
    deploy("cfn-qa-replace", "qa", "cfnrep", "b2", 2)
    new = outputs(cfn, "cfn-qa-replace")["EndpointName"]
    assert new == f"qa-cfnrep-b2-{TIMESTAMP}"
    assert invoke(runtime, new) == ("AllTraffic", score(2))
    assert gone(sm.describe_endpoint, EndpointName=f"qa-cfnrep-a1-{TIMESTAMP}")
    events = story(cfn, "cfn-qa-replace")
    assert ("Endpoint", "DELETE_COMPLETE", "") in events
    assert status(cfn, "cfn-qa-replace") == "UPDATE_COMPLETE"


@pytest.mark.slow
def test_deploying_the_same_thing_again_changes_nothing(deploy) -> None:
    deploy("cfn-same", "qa", "cfnsame", "a1", 1)
    again = deploy("cfn-same", "qa", "cfnsame", "a1", 1, check=False)
    assert again.returncode != 0
    assert "No changes to deploy. Stack cfn-same is up to date" in again.stderr


@pytest.mark.slow
def test_a_change_set_previews_replacements_and_in_place_updates(
    cfn, deploy, upload_model, fm_image
) -> None:
    deploy("cfn-preview", "prod", "cfnpre", "a1", 1)
    parameters = {
        "Environment": "prod", "ParentStackName": "cfnpre", "CommitID": "b2",
        "Timestamp": TIMESTAMP, "ModelData": upload_model(2), "ContainerImage": fm_image,
        "SageMakerRole": ROLE,
    }  # fmt: skip
    cfn.create_change_set(
        StackName="cfn-preview", ChangeSetName="next", TemplateBody=ENDPOINT_YML.read_text(),
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
    )  # fmt: skip
    cfn.get_waiter("change_set_create_complete").wait(StackName="cfn-preview", ChangeSetName="next")
    described = cfn.describe_change_set(StackName="cfn-preview", ChangeSetName="next")
    replacements = {
        c["ResourceChange"]["LogicalResourceId"]: c["ResourceChange"]["Replacement"]
        for c in described["Changes"]
    }
    assert replacements == {"Model": "True", "EndpointConfig": "True", "Endpoint": "False"}
    summaries = cfn.list_change_sets(StackName="cfn-preview")["Summaries"]
    assert [s["ChangeSetName"] for s in summaries if s["ExecutionStatus"] == "AVAILABLE"] == [
        "next"
    ]
    cfn.delete_change_set(StackName="cfn-preview", ChangeSetName="next")
    assert status(cfn, "cfn-preview") == "CREATE_COMPLETE"  # a change set alone changes nothing
    assert outputs(cfn, "cfn-preview")["ModelName"] == f"prod-cfnpre-a1-{TIMESTAMP}"


# ---- failures ----------------------------------------------------------------------------------


@pytest.mark.slow
def test_template_errors_fail_clearly_and_leave_earlier_stacks_untouched(
    cfn, deploy, runtime, tmp_path
) -> None:
    deploy("cfn-steady", "prod", "cfnsteady", "a1", 1)
    before = cfn.describe_stacks(StackName="cfn-steady")["Stacks"][0]
    events_before = len(story(cfn, "cfn-steady"))
    text = ENDPOINT_YML.read_text()
    unknown_type = tmp_path / "unknown-type.yml"
    unknown_type.write_text(
        text.replace("Resources:\n", "Resources:\n  Extra:\n    Type: AWS::Foo::Bar\n", 1)
    )
    bad_ref = tmp_path / "bad-ref.yml"
    bad_ref.write_text(
        text.replace("ExecutionRoleArn: !Ref SageMakerRole", "ExecutionRoleArn: !Ref Missing")
    )

    for stack in ("cfn-steady", "cfn-never"):
        failed = deploy(stack, "prod", "cfnsteady", "b2", 2, template=unknown_type, check=False)
        assert failed.returncode != 0
        assert (
            "Template format error: Unrecognized resource types: [AWS::Foo::Bar]" in failed.stderr
        )
        failed = deploy(stack, "prod", "cfnsteady", "b2", 2, template=bad_ref, check=False)
        assert "Unresolved resource dependencies [Missing] in the Resources block" in failed.stderr
    missing = deploy("cfn-never", "prod", "cfnsteady", None, 2, check=False)
    assert "Parameters: [CommitID] must have values" in missing.stderr
    invalid = deploy("cfn-never", "staging", "cfnsteady", "b2", 2, check=False)
    assert "Parameter 'Environment' must be one of AllowedValues" in invalid.stderr

    assert gone(cfn.describe_stacks, StackName="cfn-never")
    after = cfn.describe_stacks(StackName="cfn-steady")["Stacks"][0]
    assert after == before
    assert len(story(cfn, "cfn-steady")) == events_before
    assert invoke(runtime, "prod-cfnsteady") == ("AllTraffic", score(1))


def test_create_stack_refuses_an_unknown_type_by_name(cfn) -> None:
    with pytest.raises(ClientError) as info:
        cfn.create_stack(
            StackName="cfn-unknown", TemplateBody="Resources:\n  A: {Type: AWS::SNS::Topic}\n"
        )
    error = info.value.response["Error"]
    assert error["Code"] == "ValidationError"
    assert "Unrecognized resource types: [AWS::SNS::Topic]" in error["Message"]


def pipeline_name_template() -> str:
    """pipeline.yml's PipelineName parameter and its rule, over one alarm the local cloud makes
    (the pipeline's own resource types are not local yet)."""
    pipeline = template.load((ROOT / "cloudformation" / "pipeline.yml").read_text())
    alarm = {
        "Type": "AWS::CloudWatch::Alarm",
        "Properties": {"MetricName": "M", "Namespace": "N", "Threshold": 1, "Period": 60,
                       "EvaluationPeriods": 1, "Statistic": "Sum",
                       "ComparisonOperator": "GreaterThanThreshold"},
    }  # fmt: skip
    return json.dumps(
        {
            "Parameters": {"PipelineName": pipeline["Parameters"]["PipelineName"]},
            "Rules": pipeline["Rules"],
            "Resources": {"Alarm": alarm},
        }
    )


def test_pipeline_stack_names_that_sagemaker_names_cannot_hold_are_refused(cfn) -> None:
    body = pipeline_name_template()

    def create(stack: str, name: str) -> None:
        parameters = [{"ParameterKey": "PipelineName", "ParameterValue": name}]
        cfn.create_stack(StackName=stack, TemplateBody=body, Parameters=parameters)

    too_long = "cdlab-lab3-participant-" + "a" * 12  # 35 characters
    code, message, status = refused(create, stack=too_long, name=too_long)
    assert (code, status) == ("ValidationError", 400)
    assert message.startswith(
        "Parameter PipelineName failed to satisfy constraint: the stack name must be at most 34"
    )
    code, message, _ = refused(create, stack="cfn-misnamed", name="cfn-other")
    assert message.startswith("PipelineName must be this stack's name")
    assert refused(cfn.describe_stacks, StackName="cfn-misnamed")[0] == "ValidationError"
    create("cfn-named", "cfn-named")
    status = poll(
        lambda: cfn.describe_stacks(StackName="cfn-named")["Stacks"][0]["StackStatus"],
        until=lambda s: not s.endswith("IN_PROGRESS"),
        what="the stack's creation to end",
    )
    cfn.delete_stack(StackName="cfn-named")
    assert status == "CREATE_COMPLETE"


@pytest.mark.slow
def test_a_failed_endpoint_rolls_the_create_back(cfn, deploy, sm, s3, bucket) -> None:
    failed = deploy(
        "cfn-rollback", "qa", "cfnrb", "a1", 0, model_data=broken_artifact(s3, bucket), check=False
    )
    assert failed.returncode != 0
    assert "Failed to create/update the stack" in failed.stderr
    described = cfn.describe_stacks(StackName="cfn-rollback")["Stacks"][0]
    assert described["StackStatus"] == "ROLLBACK_COMPLETE"
    assert described["StackStatusReason"] == (
        "The following resource(s) failed to create: [Endpoint]. Rollback requested by user."
    )
    events = story(cfn, "cfn-rollback")
    [(_, _, reason)] = [e for e in events if e[:2] == ("Endpoint", "CREATE_FAILED")]
    assert "is in Failed status" in reason and "not a readable tar.gz" in reason
    deletions = [e[0] for e in events if e[1] == "DELETE_COMPLETE"]
    assert deletions == ["Endpoint", "EndpointConfig", "Model"]
    assert gone(sm.describe_model, ModelName=f"qa-cfnrb-a1-{TIMESTAMP}")
    assert cfn.describe_stack_resources(StackName="cfn-rollback")["StackResources"] == []

    again = deploy("cfn-rollback", "qa", "cfnrb", "a1", 1, check=False)
    assert "is in ROLLBACK_COMPLETE state and can not be updated" in again.stderr
    cfn.delete_stack(StackName="cfn-rollback")
    cfn.get_waiter("stack_delete_complete").wait(StackName="cfn-rollback")
    assert gone(cfn.describe_stacks, StackName="cfn-rollback")


@pytest.mark.slow
def test_a_failed_update_rolls_back_to_the_previous_resources(
    cfn, deploy, sm, runtime, s3, bucket
) -> None:
    deploy("cfn-update-fails", "prod", "cfnuf", "a1", 1)
    before = outputs(cfn, "cfn-update-fails")
    failed = deploy(
        "cfn-update-fails", "prod", "cfnuf", "b2", 0,
        model_data=broken_artifact(s3, bucket), check=False,
    )  # fmt: skip
    assert failed.returncode != 0
    described = cfn.describe_stacks(StackName="cfn-update-fails")["Stacks"][0]
    assert described["StackStatus"] == "UPDATE_ROLLBACK_COMPLETE"
    assert described["StackStatusReason"] == (
        "The following resource(s) failed to update: [Endpoint]. "
    )
    assert outputs(cfn, "cfn-update-fails") == before
    endpoint = sm.describe_endpoint(EndpointName="prod-cfnuf")
    assert endpoint["EndpointConfigName"] == f"prod-cfnuf-a1-{TIMESTAMP}"
    assert invoke(runtime, "prod-cfnuf") == ("AllTraffic", score(1))
    assert gone(sm.describe_model, ModelName=f"prod-cfnuf-b2-{TIMESTAMP}")
    assert not gone(sm.describe_model, ModelName=f"prod-cfnuf-a1-{TIMESTAMP}")
    statuses = [e[1] for e in story(cfn, "cfn-update-fails") if e[0] == "cfn-update-fails"]
    assert statuses[-4:] == [
        "UPDATE_IN_PROGRESS",
        "UPDATE_ROLLBACK_IN_PROGRESS",
        "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS",
        "UPDATE_ROLLBACK_COMPLETE",
    ]
    deploy("cfn-update-fails", "prod", "cfnuf", "c3", 2)  # and the stack can be updated again
    assert invoke(runtime, "prod-cfnuf") == ("AllTraffic", score(2))


@pytest.mark.slow
def test_replacing_a_custom_named_resource_fails_the_update(cfn, deploy, upload_model) -> None:
    deploy("cfn-named", "qa", "cfnnamed", "a1", 1)
    failed = deploy("cfn-named", "qa", "cfnnamed", "a1", 2, check=False)  # same names, new data
    assert failed.returncode != 0
    assert status(cfn, "cfn-named") == "UPDATE_ROLLBACK_COMPLETE"
    assert (
        "Model", "UPDATE_FAILED",
        "CloudFormation cannot update a stack when a custom-named resource requires replacing. "
        f"Rename qa-cfnnamed-a1-{TIMESTAMP} and update the stack again.",
    ) in story(cfn, "cfn-named")  # fmt: skip


@pytest.mark.slow
def test_the_prod_stack_policy_forbids_replacing_the_endpoint(cfn, deploy, runtime) -> None:
    configuration = json.loads((ROOT / "cloudformation" / "configuration_prod.json").read_text())
    deploy("cfn-guarded", "prod", "cfnguard", "a1", 1)
    cfn.set_stack_policy(
        StackName="cfn-guarded", StackPolicyBody=json.dumps(configuration["StackPolicy"])
    )
    deploy("cfn-guarded", "prod", "cfnguard", "b2", 2)  # a new model: an in-place update
    renamed = deploy("cfn-guarded", "prod", "cfnguard2", "c3", 1, check=False)
    assert renamed.returncode != 0
    assert status(cfn, "cfn-guarded") == "UPDATE_ROLLBACK_COMPLETE"
    assert (
        "Endpoint", "UPDATE_FAILED",
        "Action denied by stack policy: Statement [#1] does not allow [Update:Replace] for "
        "resource [LogicalResourceId/Endpoint]",
    ) in story(cfn, "cfn-guarded")  # fmt: skip
    assert invoke(runtime, "prod-cfnguard") == ("AllTraffic", score(2))


@pytest.mark.slow
def test_delete_stack_removes_the_endpoint(cfn, deploy, sm, aws) -> None:
    deploy("cfn-delete", "qa", "cfndel", "a1", 1)
    aws("cloudformation", "delete-stack", "--stack-name", "cfn-delete")
    aws("cloudformation", "wait", "stack-delete-complete", "--stack-name", "cfn-delete")
    assert gone(sm.describe_endpoint, EndpointName=f"qa-cfndel-a1-{TIMESTAMP}")
    assert gone(sm.describe_model, ModelName=f"qa-cfndel-a1-{TIMESTAMP}")
    summaries = cfn.list_stacks(StackStatusFilter=["DELETE_COMPLETE"])["StackSummaries"]
    assert "cfn-delete" in [s["StackName"] for s in summaries]
    with pytest.raises(ClientError) as info:
        cfn.describe_stacks(StackName="cfn-delete")
    assert info.value.response["Error"]["Message"] == "Stack with id cfn-delete does not exist"


# ---- the other resource types and the rest of the API ------------------------------------------


@pytest.mark.slow
def test_scaling_targets_policies_and_alarms(cfn, client, aws) -> None:
    autoscaling, cloudwatch = client("application-autoscaling"), client("cloudwatch")
    cfn.create_stack(StackName="cfn-scaling", TemplateBody=SCALING_YML)
    cfn.get_waiter("stack_create_complete").wait(StackName="cfn-scaling")
    [target] = autoscaling.describe_scalable_targets(
        ServiceNamespace="sagemaker", ResourceIds=["endpoint/cfn-scaling/variant/AllTraffic"]
    )["ScalableTargets"]
    assert (target["MinCapacity"], target["MaxCapacity"]) == (1, 2)
    [policy] = autoscaling.describe_scaling_policies(
        ServiceNamespace="sagemaker", ResourceId="endpoint/cfn-scaling/variant/AllTraffic"
    )["ScalingPolicies"]
    assert policy["TargetTrackingScalingPolicyConfiguration"]["TargetValue"] == 100.0
    out = outputs(cfn, "cfn-scaling")
    assert out["PolicyArn"] == policy["PolicyARN"]
    assert out["Alarm"].startswith("cfn-scaling-Alarm-")
    assert cloudwatch.describe_alarms(AlarmNames=[out["Alarm"]])["MetricAlarms"]

    cfn.update_stack(
        StackName="cfn-scaling", UsePreviousTemplate=True,
        Parameters=[{"ParameterKey": "MaxCapacity", "ParameterValue": "4"}],
    )  # fmt: skip
    cfn.get_waiter("stack_update_complete").wait(StackName="cfn-scaling")
    [target] = autoscaling.describe_scalable_targets(ServiceNamespace="sagemaker")[
        "ScalableTargets"
    ]
    assert target["MaxCapacity"] == 4
    assert outputs(cfn, "cfn-scaling")["Alarm"] == out["Alarm"]  # updated in place

    aws("cloudformation", "delete-stack", "--stack-name", "cfn-scaling")
    aws("cloudformation", "wait", "stack-delete-complete", "--stack-name", "cfn-scaling")
    assert (
        autoscaling.describe_scalable_targets(ServiceNamespace="sagemaker")["ScalableTargets"] == []
    )
    assert cloudwatch.describe_alarms(AlarmNames=[out["Alarm"]])["MetricAlarms"] == []


def test_validate_template_reports_parameters_and_capabilities(cfn) -> None:
    endpoint = cfn.validate_template(TemplateBody=ENDPOINT_YML.read_text())
    parameters = {p["ParameterKey"]: p for p in endpoint["Parameters"]}
    assert parameters["InstanceType"]["DefaultValue"] == "ml.t2.medium"
    assert "Description" in parameters["Environment"]
    assert endpoint["Description"].startswith("CD Lab")
    pipeline = cfn.validate_template(
        TemplateBody=(ROOT / "cloudformation" / "pipeline.yml").read_text()
    )
    assert pipeline["Capabilities"] == ["CAPABILITY_IAM"]  # its roles have no RoleName
    assert "AWS::IAM::Role" in pipeline["CapabilitiesReason"]


def padded(template: str, size: int) -> str:
    """``template`` with a trailing comment that makes it ``size`` characters long."""
    text = template.rstrip("\n") + "\n# "
    return text + "x" * (size - len(text))


def test_a_template_body_over_51200_bytes_is_refused_as_aws_refuses_it(cfn) -> None:
    """CloudFormation takes at most 51,200 bytes of template in a request (a larger one goes
    through S3, TemplateURL); botocore's model leaves the limit out, so nothing but the service
    refuses it, and the local cloud must too."""
    at_limit = padded(ENDPOINT_YML.read_text(), 51_200)
    assert cfn.validate_template(TemplateBody=at_limit)["Description"].startswith("CD Lab")

    over = at_limit + "x"
    for call in (cfn.validate_template, cfn.create_stack):
        extra = {"StackName": "cfn-too-big"} if call == cfn.create_stack else {}
        code, message, status = refused(call, TemplateBody=over, **extra)
        assert (code, status) == ("ValidationError", 400)
        assert message == (
            f"1 validation error detected: Value '{over}' at 'templateBody' failed to satisfy "
            "constraint: Member must have length less than or equal to 51200"
        )
    assert refused(cfn.describe_stacks, StackName="cfn-too-big")[0] == "ValidationError"


GLUE_YML = """\
Resources:
  Db:
    Type: AWS::Glue::Database
    Properties:
      CatalogId: !Ref AWS::AccountId
      DatabaseInput: {Name: cfnnames}
"""


def test_a_new_stacks_name_is_held_to_awss_rules(cfn) -> None:
    """A new stack's name is letters, digits and hyphens, a letter first, at most 128
    characters; botocore's model leaves both rules out (its StackName shape also takes a stack's
    ARN, elsewhere), so only the service refuses them. Other operations still take an ARN."""
    pattern = "Member must satisfy regular expression pattern: [a-zA-Z][-a-zA-Z0-9]*"
    for name in ("cfn_names", "1cfn-names", "cfn.names"):
        assert refused(cfn.create_stack, StackName=name, TemplateBody=GLUE_YML) == (
            "ValidationError",
            f"1 validation error detected: Value '{name}' at 'stackName' failed to satisfy "
            f"constraint: {pattern}",
            400,
        )
    too_long = "c" * 129
    assert refused(cfn.create_stack, StackName=too_long, TemplateBody=GLUE_YML)[1] == (
        f"1 validation error detected: Value '{too_long}' at 'stackName' failed to satisfy "
        "constraint: Member must have length less than or equal to 128"
    )
    assert [
        s["StackName"] for s in cfn.describe_stacks()["Stacks"] if "names" in s["StackName"]
    ] == []

    longest = "C" * 127 + "9"
    stack_id = cfn.create_stack(StackName=longest, TemplateBody=GLUE_YML)["StackId"]
    cfn.get_waiter("stack_create_complete").wait(StackName=stack_id)
    assert cfn.describe_stacks(StackName=stack_id)["Stacks"][0]["StackName"] == longest
    cfn.delete_stack(StackName=stack_id)
    cfn.get_waiter("stack_delete_complete").wait(StackName=stack_id)


@pytest.mark.slow
def test_stacks_survive_a_restart_and_an_interrupted_create_rolls_back(
    tmp_path, monkeypatch, fm_image
) -> None:
    home, port = tmp_path / "home", free_port()
    control.up(home, port, with_parent=True)
    try:
        for key, value in control.client_environment(home, port).items():
            monkeypatch.setenv(key, value)
        session = boto3.Session()
        cfn, s3 = session.client("cloudformation"), session.client("s3")
        make_execution_roles(session.client("iam"))
        cfn.create_stack(StackName="kept", TemplateBody=SCALING_YML)
        cfn.get_waiter("stack_create_complete").wait(StackName="kept")
        before = story(cfn, "kept")
        s3.create_bucket(Bucket="cfn-restart")
        s3.put_object(Bucket="cfn-restart", Key="m.tar.gz", Body=artifact_bytes(small_model(1)))
        parameters = {
            "Environment": "qa", "ParentStackName": "restart", "CommitID": "a1",
            "Timestamp": TIMESTAMP, "ModelData": "s3://cfn-restart/m.tar.gz",
            "ContainerImage": fm_image, "SageMakerRole": ROLE,
        }  # fmt: skip
        cfn.create_stack(
            StackName="interrupted", TemplateBody=ENDPOINT_YML.read_text(),
            Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
        )  # fmt: skip
        poll(
            lambda: story(cfn, "interrupted"),
            until=lambda events: ("Endpoint", "CREATE_IN_PROGRESS", "") in events,
            what="the stack to start creating its endpoint",
        )
        control.down(home)  # while the endpoint is still being created

        control.up(home, port, with_parent=True)
        cfn = boto3.Session().client("cloudformation")
        assert status(cfn, "kept") == "CREATE_COMPLETE"
        assert story(cfn, "kept") == before
        poll(
            lambda: status(cfn, "interrupted"),
            until=lambda now: now == "ROLLBACK_COMPLETE",
            timeout=60,
            interval=0.2,
            what="the interrupted create to roll back",
        )
        events = story(cfn, "interrupted")
        assert (
            "interrupted", "ROLLBACK_IN_PROGRESS",
            "The local cloud stopped during the operation. Rollback requested by user.",
        ) in events  # fmt: skip
        assert (
            "Endpoint",
            "CREATE_FAILED",
            "The local cloud stopped during the operation.",
        ) in events
        sm = boto3.Session().client("sagemaker")
        assert gone(sm.describe_endpoint, EndpointName=f"qa-restart-a1-{TIMESTAMP}")
        for stack in ("kept", "interrupted"):
            cfn.delete_stack(StackName=stack)
            cfn.get_waiter("stack_delete_complete").wait(StackName=stack)
    finally:
        control.down(home)


REFUSED_POLICY = """
Resources:
  Made:
    Type: AWS::IAM::Role
    Properties:
      RoleName: cfn-refused-part
      AssumeRolePolicyDocument:
        Version: "2012-10-17"
        Statement:
          - {Effect: Allow, Principal: {Service: sagemaker.amazonaws.com}, Action: sts:AssumeRole}
      Policies:
        - PolicyName: refused
          PolicyDocument:
            Version: "2012-10-17"
            Statement: [{Effect: Maybe, Action: s3:GetObject, Resource: "*"}]
"""
REFUSED_TARGET = """
Resources:
  Made:
    Type: AWS::Events::Rule
    Properties:
      Name: cfn-refused-part
      EventPattern: {source: [aws.s3]}
      Targets: [{Id: refused, Arn: not-an-arn}]
"""


@pytest.mark.parametrize(
    ("body", "service", "read", "key"),
    [
        (REFUSED_POLICY, "iam", "get_role", "RoleName"),
        (REFUSED_TARGET, "events", "describe_rule", "Name"),
    ],
    ids=["role whose policy IAM refuses", "rule whose target EventBridge refuses"],
)
def test_a_resource_made_then_refused_its_second_part_is_rolled_back(
    cfn, client, body: str, service: str, read: str, key: str
) -> None:
    """Moto made the resource, then refused what completes it (a role's inline policy, a rule's
    target): the create fails and its rollback deletes what was made, rather than leaving it
    behind, where it would come back at every restart."""
    stack = f"cfn-refused-{service}"
    cfn.create_stack(StackName=stack, TemplateBody=body, Capabilities=["CAPABILITY_NAMED_IAM"])
    with pytest.raises(WaiterError, match="ROLLBACK_COMPLETE"):
        cfn.get_waiter("stack_create_complete").wait(StackName=stack, WaiterConfig={"Delay": 1})
    events = story(cfn, stack)
    assert [e[:2] for e in events if e[0] == "Made"][-2:] == [
        ("Made", "DELETE_IN_PROGRESS"), ("Made", "DELETE_COMPLETE"),
    ], events  # fmt: skip
    assert gone(getattr(client(service), read), **{key: "cfn-refused-part"})
