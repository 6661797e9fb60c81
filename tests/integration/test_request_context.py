"""Every operation is served in the caller's context: the region comes from the request's SigV4
credential scope, as on AWS, not from the local cloud's own environment."""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest

from cdlab.fm.model import artifact_bytes
from cdlab.localcloud.sagemaker.images import fm_image_uri
from tests.conftest import small_model

REGION = "eu-west-1"  # the local cloud's default is us-east-1
OUTPUTS = """
Resources:
  Alarm:
    Type: AWS::CloudWatch::Alarm
    Properties:
      AlarmName: !Sub "cdlab-context-${AWS::Region}"
      Namespace: AWS/SageMaker
      MetricName: Invocation5XXErrors
      Statistic: Sum
      Period: 60
      EvaluationPeriods: 1
      Threshold: 1
      ComparisonOperator: GreaterThanOrEqualToThreshold
Outputs:
  Region: {Value: !Ref "AWS::Region"}
  Account: {Value: !Ref "AWS::AccountId"}
"""


@pytest.fixture
def regional_model(aws_env: dict[str, str]) -> Iterator[str]:
    """The URL of a model in a bucket of REGION: SageMaker reads a model's data only in its own
    region (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_ContainerDefinition.html);
    deleted after."""
    s3 = boto3.Session(region_name=REGION).client("s3")
    bucket, key = f"cdlab-context-{REGION}", "model.tar.gz"
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    s3.put_object(Bucket=bucket, Key=key, Body=artifact_bytes(small_model(7)))
    yield f"s3://{bucket}/{key}"
    s3.delete_object(Bucket=bucket, Key=key)
    s3.delete_bucket(Bucket=bucket)


def test_arns_and_pseudo_parameters_name_the_region_the_request_was_signed_for(
    regional_model: str,
) -> None:
    session = boto3.Session(region_name=REGION)
    sm, cfn = session.client("sagemaker"), session.client("cloudformation")
    model = sm.create_model(
        ModelName="cdlab-context",
        PrimaryContainer={"Image": fm_image_uri(REGION), "ModelDataUrl": regional_model},
    )
    try:
        assert model["ModelArn"] == f"arn:aws:sagemaker:{REGION}:123456789012:model/cdlab-context"
        stack_id = cfn.create_stack(StackName="cdlab-context", TemplateBody=OUTPUTS)["StackId"]
        try:
            assert stack_id.startswith(f"arn:aws:cloudformation:{REGION}:123456789012:stack/")
            cfn.get_waiter("stack_create_complete").wait(StackName="cdlab-context")
            [stack] = cfn.describe_stacks(StackName="cdlab-context")["Stacks"]
            outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
            assert outputs == {"Region": REGION, "Account": "123456789012"}
        finally:
            cfn.delete_stack(StackName="cdlab-context")
            cfn.get_waiter("stack_delete_complete").wait(StackName="cdlab-context")
    finally:
        sm.delete_model(ModelName="cdlab-context")
