"""SageMaker reads S3 data as the role a request hands it and in the request's region, and says
so before it creates anything: CreateModel refuses model data its ExecutionRoleArn may not get
(s3:GetObject, "the only Amazon S3 action that the CreateModel API requires",
https://repost.aws/knowledge-center/sagemaker-s3-accessdenied-training) or that is in another
region's bucket ("The model artifacts must be in an S3 bucket that is in the same region as the
model or endpoint you are creating",
https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_ContainerDefinition.html), in
SageMaker's words (quoted in https://github.com/philschmid/llm-sagemaker-sample/issues/2);
CreateTrainingJob refuses a channel in another region's bucket ("Your input bucket must be in the
same AWS region as your training job",
https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_S3DataSource.html) as it refuses a
channel with no objects."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from cdlab.fm.model import artifact_bytes
from cdlab.localcloud.sagemaker.images import fm_image_uri
from tests.aws_errors import refused
from tests.conftest import small_model
from tests.integration.private_cloud import PrivateCloud
from tests.roles import SAGEMAKER, allowing, drop_role, make_role, role_arn, trusting
from tests.unit.test_train_container import HYPERPARAMETERS

SUFFIX = uuid.uuid4().hex[:8]
HOME = f"cdlab-access-{SUFFIX}"  # in us-east-1, the local cloud's region
ELSEWHERE = f"cdlab-access-eu-{SUFFIX}"  # in eu-west-1
KEY = "model/model.tar.gz"
EXECUTION_ROLE = role_arn("me")  # the suite's execution role: it may use any bucket
EVERY_OBJECT = [f"arn:aws:s3:::{bucket}/*" for bucket in (HOME, ELSEWHERE)]
ROLES = {
    "reader": allowing({"Effect": "Allow", "Action": "s3:GetObject", "Resource": EVERY_OBJECT}),
    "lister": allowing(
        {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": f"arn:aws:s3:::{HOME}"}
    ),
    "other-key": allowing(
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{HOME}/other"}
    ),
}


def name(short: str) -> str:
    return f"cdlab-access-{short}-{SUFFIX}"


def cannot_access(url: str, role: str, region: str = "us-east-1") -> tuple[str, str, int]:
    return (
        "ValidationException",
        f'Could not access model data at {url}. Please ensure that the role "{role}" exists and '
        'that its trust relationship policy allows the action "sts:AssumeRole" for the service '
        'principal "sagemaker.amazonaws.com". Also ensure that the role has "s3:GetObject" '
        f"permissions and that the object is located in {region}. If your Model uses multiple "
        'models or uncompressed models, please ensure that the role has "s3:ListBucket" '
        "permission.",
        400,
    )


def regional(service: str, region: str) -> Any:
    """A client of the local cloud signing for ``region``."""
    return boto3.Session(region_name=region).client(service)


@pytest.fixture(scope="module")
def roles(client) -> Iterator[dict[str, str]]:
    """The module's roles by short name, their ARNs, and its buckets (each with the model at
    KEY and a training object); all deleted at the end."""
    iam = client("iam")
    arns = {
        short: make_role(iam, name(short), trusting(SAGEMAKER), p) for short, p in ROLES.items()
    }
    here, there = client("s3"), regional("s3", "eu-west-1")
    here.create_bucket(Bucket=HOME)
    there.create_bucket(
        Bucket=ELSEWHERE, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
    )
    model = artifact_bytes(small_model(41))
    for s3, bucket in ((here, HOME), (there, ELSEWHERE)):
        s3.put_object(Bucket=bucket, Key=KEY, Body=model)
        s3.put_object(Bucket=bucket, Key="train/part-0.rec", Body=b"data")
    yield arns
    for s3, bucket in ((here, HOME), (there, ELSEWHERE)):
        for key in (KEY, "train/part-0.rec"):
            s3.delete_object(Bucket=bucket, Key=key)
        s3.delete_bucket(Bucket=bucket)
    for short in ROLES:
        drop_role(iam, name(short))


def model_request(model: str, url: str, role: str, region: str = "us-east-1") -> dict[str, Any]:
    return {
        "ModelName": model,
        "PrimaryContainer": {"Image": fm_image_uri(region), "ModelDataUrl": url},
        "ExecutionRoleArn": role,
    }


def assert_no_model(sm, model: str) -> None:
    assert refused(sm.describe_model, ModelName=model)[:2] == (
        "ValidationException",
        f'Could not find model "arn:aws:sagemaker:{sm.meta.region_name}:123456789012:model/'
        f'{model}".',
    )


def test_create_model_refuses_a_role_that_may_not_get_the_model_data(sm, roles) -> None:
    """The refusal comes at CreateModel, not when an endpoint of the model starts; a role that
    may list the bucket, or get another of its objects, may not get this one."""
    url = f"s3://{HOME}/{KEY}"
    for short in ("lister", "other-key"):
        model = name(f"model-{short}")
        request = model_request(model, url, roles[short])
        assert refused(sm.create_model, **request) == cannot_access(url, roles[short])
        assert_no_model(sm, model)
    model = name("model-reader")
    sm.create_model(**model_request(model, url, roles["reader"]))
    try:
        assert sm.describe_model(ModelName=model)["ExecutionRoleArn"] == roles["reader"]
    finally:
        sm.delete_model(ModelName=model)


def test_a_missing_object_is_still_not_found_for_a_role_that_may_read_the_bucket(sm) -> None:
    """A role that may get and list the bucket's objects (S3 answers a missing key with 403 to
    one that may not list them: which refusal SageMaker then gives, AWS does not say)."""
    url = f"s3://{HOME}/absent.tar.gz"
    request = model_request(name("model-absent"), url, EXECUTION_ROLE)
    assert refused(sm.create_model, **request)[:2] == (
        "ValidationException",
        f"Could not find model data at {url}.",
    )


def test_create_model_refuses_model_data_in_another_regions_bucket(sm, roles) -> None:
    """Whatever the role may do: SageMaker reads the model data in the model's region."""
    there = f"s3://{ELSEWHERE}/{KEY}"
    for role in (roles["reader"], EXECUTION_ROLE):
        model = name("model-elsewhere")
        request = model_request(model, there, role)
        assert refused(sm.create_model, **request) == cannot_access(there, role)
        assert_no_model(sm, model)

    # a model of eu-west-1 reads eu-west-1's bucket, and is refused us-east-1's
    eu = regional("sagemaker", "eu-west-1")
    here = f"s3://{HOME}/{KEY}"
    model = name("model-eu")
    request = model_request(model, here, roles["reader"], "eu-west-1")
    assert refused(eu.create_model, **request) == cannot_access(here, roles["reader"], "eu-west-1")
    eu.create_model(**model_request(model, there, roles["reader"], "eu-west-1"))
    try:
        described = eu.describe_model(ModelName=model)
        assert described["PrimaryContainer"]["ModelDataUrl"] == there
    finally:
        eu.delete_model(ModelName=model)


def training_request(job: str, channel: str) -> dict[str, Any]:
    source = {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": channel}}
    return {
        "TrainingJobName": job,
        "RoleArn": EXECUTION_ROLE,
        "AlgorithmSpecification": {
            "TrainingImage": fm_image_uri("us-east-1"),
            "TrainingInputMode": "File",
        },
        "HyperParameters": HYPERPARAMETERS,
        "InputDataConfig": [{"ChannelName": "train", "DataSource": source}],
        "OutputDataConfig": {"S3OutputPath": f"s3://{HOME}/out/"},
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
        "StoppingCondition": {"MaxRuntimeInSeconds": 600},
    }


def test_create_training_job_refuses_a_channel_in_another_regions_bucket(sm, roles) -> None:
    """As a channel with no objects: the refusal asks to ensure that the bucket exists in the
    selected region; the role may read every bucket."""
    job = name("job-elsewhere")
    channel = f"s3://{ELSEWHERE}/train/"
    assert refused(sm.create_training_job, **training_request(job, channel)) == (
        "ValidationException",
        f'No S3 objects found under S3 URL "{channel}" given in input data source. Please '
        "ensure that the bucket exists in the selected region (us-east-1), that objects exist "
        f'under that S3 prefix, and that the role "{EXECUTION_ROLE}" has "s3:ListBucket" '
        f'permissions on bucket "{ELSEWHERE}".',
        400,
    )
    assert refused(sm.describe_training_job, TrainingJobName=job)[0] == "ValidationException"


@pytest.mark.slow  # a local cloud of its own
def test_with_iam_off_the_model_datas_region_is_still_checked(private: PrivateCloud) -> None:
    """``CDLAB_IAM=off`` leaves roles unchecked (test_service_roles), not regions."""
    private.patch.setenv("CDLAB_IAM", "off")
    private.up()
    eu = regional("s3", "eu-west-1")
    eu.create_bucket(
        Bucket="models-eu", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
    )
    eu.put_object(Bucket="models-eu", Key=KEY, Body=artifact_bytes(small_model(1)))
    url, role = f"s3://models-eu/{KEY}", role_arn("missing")
    sm = private.client("sagemaker")
    assert refused(sm.create_model, **model_request("elsewhere", url, role)) == cannot_access(
        url, role
    )
