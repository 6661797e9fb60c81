"""CreateStack's TimeoutInMinutes, honoured in cloud time, on a local cloud that takes AWS's time
(``CDLAB_LATENCY=aws``) at ``CDLAB_TIME_SCALE=60``: an endpoint's six minutes outlast a three-minute
timeout, and the create fails as AWS fails it (its rollback deleting the endpoint once it is out of
Creating, as DeleteEndpoint refuses it before), while a create within its timeout completes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from cdlab.fm.model import artifact_bytes
from cdlab.localcloud.sagemaker.images import fm_image_uri
from tests.conftest import small_model
from tests.integration.scaled import BUCKET, ScaledCloud, scaled_cloud
from tests.integration.test_cloudformation import story
from tests.integration.test_cloudformation_safeguards import WATCHED_YML, settled

pytestmark = pytest.mark.slow

ENDPOINT_YML = """
Parameters:
  ModelData: {Type: String}
  Image: {Type: String}
Resources:
  Model:
    Type: AWS::SageMaker::Model
    Properties:
      PrimaryContainer: {Image: !Ref Image, ModelDataUrl: !Ref ModelData}
  Config:
    Type: AWS::SageMaker::EndpointConfig
    Properties:
      ProductionVariants:
        - {VariantName: AllTraffic, ModelName: !GetAtt Model.ModelName,
           InitialInstanceCount: 1, InstanceType: ml.m5.large}
  Endpoint:
    Type: AWS::SageMaker::Endpoint
    Properties:
      EndpointConfigName: !GetAtt Config.EndpointConfigName
Outputs:
  Endpoint: {Value: !GetAtt Endpoint.EndpointName}
"""
TIMED_OUT = "Stack creation time exceeded the specified timeout."
MINUTES = 3  # the endpoint starts within seconds of cloud time and takes six minutes


@pytest.fixture(scope="module")
def slow_cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ScaledCloud]:
    yield from scaled_cloud(tmp_path_factory, latency="aws")


def endpoint_parameters(cloud: ScaledCloud, stack: str) -> list[dict[str, str]]:
    key = f"{stack}/model.tar.gz"
    cloud.client("s3").put_object(Bucket=BUCKET, Key=key, Body=artifact_bytes(small_model(1)))
    values = {
        "ModelData": f"s3://{BUCKET}/{key}",
        "Image": fm_image_uri(cloud.env["AWS_DEFAULT_REGION"]),
    }
    return [{"ParameterKey": k, "ParameterValue": v} for k, v in values.items()]


def endpoint_arns(cfn, stack: str) -> set[str]:
    """The ARNs the stack's events give its endpoint."""
    return {
        e["PhysicalResourceId"]
        for e in cfn.describe_stack_events(StackName=stack)["StackEvents"]
        if e["LogicalResourceId"] == "Endpoint" and e.get("PhysicalResourceId")
    }


def test_a_create_that_outlasts_its_timeout_is_cancelled_and_rolled_back(slow_cloud) -> None:
    cfn, sm = slow_cloud.client("cloudformation"), slow_cloud.client("sagemaker")
    stack = "cfn-timeout-rollback"
    cfn.create_stack(
        StackName=stack, TemplateBody=ENDPOINT_YML, TimeoutInMinutes=MINUTES,
        Parameters=endpoint_parameters(slow_cloud, stack),
    )  # fmt: skip

    assert settled(cfn, stack) == "ROLLBACK_COMPLETE"
    events = story(cfn, stack)
    assert ("Endpoint", "CREATE_FAILED", "Resource creation cancelled") in events
    assert (stack, "ROLLBACK_IN_PROGRESS", f"{TIMED_OUT} Rollback requested by user.") in events
    [described] = cfn.describe_stacks(StackName=stack)["Stacks"]
    assert described["TimeoutInMinutes"] == MINUTES
    assert described["StackStatusReason"] == f"{TIMED_OUT} Rollback requested by user."
    [endpoint] = endpoint_arns(cfn, stack)  # the endpoint was being created when time ran out
    # deleted once out of Creating: DeleteEndpoint refuses it before (ROLLBACK_FAILED then)
    assert [e[1] for e in events if e[0] == "Endpoint"][-2:] == [
        "DELETE_IN_PROGRESS",
        "DELETE_COMPLETE",
    ]
    assert cfn.describe_stack_resources(StackName=stack)["StackResources"] == []
    assert endpoint not in {e["EndpointArn"] for e in sm.list_endpoints()["Endpoints"]}


def test_with_disable_rollback_a_timed_out_create_stays_create_failed(slow_cloud) -> None:
    cfn = slow_cloud.client("cloudformation")
    stack = "cfn-timeout-kept"
    cfn.create_stack(
        StackName=stack, TemplateBody=ENDPOINT_YML, TimeoutInMinutes=MINUTES, DisableRollback=True,
        Parameters=endpoint_parameters(slow_cloud, stack),
    )  # fmt: skip

    assert settled(cfn, stack) == "CREATE_FAILED"
    [described] = cfn.describe_stacks(StackName=stack)["Stacks"]
    assert described["StackStatusReason"] == TIMED_OUT
    assert ("Endpoint", "CREATE_FAILED", "Resource creation cancelled") in story(cfn, stack)


def test_a_create_within_its_timeout_completes_and_shows_it(slow_cloud) -> None:
    cfn = slow_cloud.client("cloudformation")
    stack = "cfn-timeout-within"
    slow_cloud.aws(
        "cloudformation", "create-stack", "--stack-name", stack,
        "--template-body", WATCHED_YML, "--timeout-in-minutes", "60",
    )  # fmt: skip

    assert settled(cfn, stack) == "CREATE_COMPLETE"
    [described] = cfn.describe_stacks(StackName=stack)["Stacks"]
    assert described["TimeoutInMinutes"] == 60
    assert "StackStatusReason" not in described
