"""Roles as AWS uses them, through boto3 with roles made in the IAM API: AssumeRole needs the
role's trust policy; a role passed to SageMaker or CloudFormation must exist and trust that
service; a training job, an endpoint's instances and a stack act as their roles, and fail with
AWS's kind of reason when the role may not do what they need, while the cloud serves on."""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import WaiterError

from cdlab.fm.model import artifact_bytes
from cdlab.localcloud.protocols.enforcement import SERVICE_PRINCIPAL_HEADER
from cdlab.localcloud.sagemaker.images import fm_image_uri
from tests.aws_errors import refused
from tests.conftest import small_model
from tests.integration.private_cloud import PrivateCloud
from tests.integration.test_endpoints import BODY
from tests.integration.test_principals import NO_RETRIES
from tests.polling import poll
from tests.roles import (
    ACCOUNT,
    CLOUDFORMATION,
    S3_EVERYWHERE,
    SAGEMAKER,
    allowing,
    drop_role,
    make_role,
    role_arn,
    trusting,
)
from tests.unit.test_train_container import HYPERPARAMETERS, dataset, recordio

SUFFIX = uuid.uuid4().hex[:8]
BUCKET = f"cdlab-roles-{SUFFIX}"
ROOT = f"arn:aws:iam::{ACCOUNT}:root"
OWN_ACCOUNT = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"AWS": ROOT}, "Action": "sts:AssumeRole"}],
}
LIST_ONLY = allowing(
    {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": f"arn:aws:s3:::{BUCKET}"}
)
READ_ONLY = allowing(
    {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": f"arn:aws:s3:::{BUCKET}"},
    {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{BUCKET}/*"},
)
NAMES = {
    "service-only": (trusting(SAGEMAKER), None),
    "cfn-only": (trusting(CLOUDFORMATION), None),
    "list-only": (trusting(SAGEMAKER), LIST_ONLY),
    "read-only": (trusting(SAGEMAKER), READ_ONLY),
    "no-s3": (trusting(SAGEMAKER), None),
    "s3-only": (trusting(SAGEMAKER), allowing(S3_EVERYWHERE)),
    "s3-revoked": (trusting(SAGEMAKER), allowing(S3_EVERYWHERE)),  # its policy is taken away
    "trusted-by-name": (OWN_ACCOUNT, None),
    "cfn-weak": (trusting(CLOUDFORMATION), None),
    "stacks-only": (
        OWN_ACCOUNT,
        allowing({"Effect": "Allow", "Action": "cloudformation:*", "Resource": "*"}),
    ),
    "cfn-models": (
        trusting(CLOUDFORMATION),
        allowing(
            {
                "Effect": "Allow",
                "Action": ["sagemaker:CreateModel", "sagemaker:DeleteModel"],
                "Resource": "*",
            },
            {"Effect": "Allow", "Action": "iam:PassRole", "Resource": role_arn("me")},
        ),
    ),
}
MODEL_TEMPLATE = """
AWSTemplateFormatVersion: "2010-09-09"
Parameters:
  ModelData: {Type: String}
  Image: {Type: String}
  Role: {Type: String, Default: "arn:aws:iam::123456789012:role/me"}
Resources:
  Model:
    Type: AWS::SageMaker::Model
    Properties:
      ExecutionRoleArn: !Ref Role
      PrimaryContainer: {Image: !Ref Image, ModelDataUrl: !Ref ModelData}
"""


def name(role: str) -> str:
    return f"cdlab-{role}-{SUFFIX}"


@pytest.fixture(scope="module")
def roles(client) -> Iterator[dict[str, str]]:
    """The module's roles by short name, their ARNs; deleted at the end."""
    iam = client("iam")
    arns = {short: make_role(iam, name(short), *made) for short, made in NAMES.items()}
    client("s3").create_bucket(Bucket=BUCKET)
    client("s3").put_object(Bucket=BUCKET, Key="train/part-0.rec", Body=recordio(*dataset(50, 1)))
    yield arns
    for short in NAMES:
        drop_role(iam, name(short))


def session_of(sts, arn: str, session: str = "alice") -> boto3.Session:
    credentials = sts.assume_role(RoleArn=arn, RoleSessionName=session)["Credentials"]
    return boto3.Session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
        region_name="us-east-1",
    )


def model_request(model: str, role: str, url: str) -> dict[str, Any]:
    return {
        "ModelName": model,
        "PrimaryContainer": {"Image": fm_image_uri("us-east-1"), "ModelDataUrl": url},
        "ExecutionRoleArn": role,
    }


def training_request(job: str, role: str) -> dict[str, Any]:
    channel = {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{BUCKET}/train/"}}
    return {
        "TrainingJobName": job,
        "RoleArn": role,
        "AlgorithmSpecification": {
            "TrainingImage": fm_image_uri("us-east-1"),
            "TrainingInputMode": "File",
        },
        "HyperParameters": HYPERPARAMETERS,
        "InputDataConfig": [{"ChannelName": "train", "DataSource": channel}],
        "OutputDataConfig": {"S3OutputPath": f"s3://{BUCKET}/out/"},
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
        "StoppingCondition": {"MaxRuntimeInSeconds": 600},
    }


def could_not_assume(role: str) -> tuple[str, str, int]:
    return (
        "ValidationException",
        f"Could not assume role {role}. Please ensure that the role exists and allows principal "
        "'sagemaker.amazonaws.com' to assume the role.",
        400,
    )


def test_assume_role_needs_the_roles_trust_policy(client, roles) -> None:
    sts = client("sts")
    assert refused(sts.assume_role, RoleArn=roles["service-only"], RoleSessionName="bob") == (
        "AccessDenied",
        f"User: {ROOT} is not authorized to perform: sts:AssumeRole on resource: "
        f"{roles['service-only']}",
        403,
    )
    missing = role_arn(name("missing"))
    assert refused(sts.assume_role, RoleArn=missing, RoleSessionName="bob")[0] == "AccessDenied"

    # a session of a role that trusts the account may assume another role only if that role's
    # trust policy lets it (its identity policy allows nothing, and needs not: it is named)
    session = session_of(sts, roles["trusted-by-name"]).client("sts", config=NO_RETRIES)
    caller = f"arn:aws:sts::{ACCOUNT}:assumed-role/{name('trusted-by-name')}/alice"
    assert refused(session.assume_role, RoleArn=roles["cfn-only"], RoleSessionName="bob") == (
        "AccessDenied",
        f"User: {caller} is not authorized to perform: sts:AssumeRole on resource: "
        f"{roles['cfn-only']}",
        403,
    )
    trusting_it = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": roles["trusted-by-name"]},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    client("iam").update_assume_role_policy(
        RoleName=name("cfn-only"), PolicyDocument=json.dumps(trusting_it)
    )
    try:
        assumed = session.assume_role(RoleArn=roles["cfn-only"], RoleSessionName="bob")
        assert assumed["AssumedRoleUser"]["Arn"].endswith(f"assumed-role/{name('cfn-only')}/bob")
    finally:
        client("iam").update_assume_role_policy(
            RoleName=name("cfn-only"), PolicyDocument=json.dumps(trusting(CLOUDFORMATION))
        )


def as_service(sts, service: str):
    """``sts`` with every AssumeRole naming ``service`` as the one who assumes."""
    sts.meta.events.register_first(
        "before-sign.sts.AssumeRole",
        lambda request, **_: request.headers.__setitem__(SERVICE_PRINCIPAL_HEADER, service),
    )
    return sts


def test_only_the_kits_key_may_assume_a_role_as_a_service(client, roles) -> None:
    """The pipeline runner plays CodeBuild and CodePipeline with the kit's key; any other
    signer naming a service is still itself, and refused by a service-only trust policy."""
    kit = as_service(client("sts"), SAGEMAKER)
    assumed = kit.assume_role(RoleArn=roles["service-only"], RoleSessionName="build")
    assert assumed["AssumedRoleUser"]["Arn"].endswith(f"assumed-role/{name('service-only')}/build")
    untrusted = as_service(client("sts"), CLOUDFORMATION)
    assert refused(untrusted.assume_role, RoleArn=roles["service-only"], RoleSessionName="bo") == (
        "AccessDenied",
        f"User: {CLOUDFORMATION} is not authorized to perform: sts:AssumeRole on resource: "
        f"{roles['service-only']}",
        403,
    )
    session = session_of(client("sts"), roles["trusted-by-name"])
    pretending = as_service(session.client("sts", config=NO_RETRIES), SAGEMAKER)
    caller = f"arn:aws:sts::{ACCOUNT}:assumed-role/{name('trusted-by-name')}/alice"
    assert refused(pretending.assume_role, RoleArn=roles["service-only"], RoleSessionName="bo") == (
        "AccessDenied",
        f"User: {caller} is not authorized to perform: sts:AssumeRole on resource: "
        f"{roles['service-only']}",
        403,
    )


def test_sagemaker_refuses_a_role_that_does_not_trust_it_or_does_not_exist(
    sm, roles, upload_model
) -> None:
    url = upload_model(31)
    for role in (roles["cfn-only"], role_arn(name("missing"))):
        request = model_request(f"roles-{SUFFIX}", role, url)
        assert refused(sm.create_model, **request) == could_not_assume(role)
        job = training_request(f"roles-untrusted-{SUFFIX}", role)
        assert refused(sm.create_training_job, **job) == could_not_assume(role)
    assert refused(sm.describe_model, ModelName=f"roles-{SUFFIX}")[0] == "ValidationException"


def test_cloudformation_refuses_a_role_that_cannot_be_assumed(client, roles) -> None:
    cfn = client("cloudformation")
    for role in (roles["service-only"], role_arn(name("missing"))):
        assert refused(
            cfn.create_stack,
            StackName=f"roles-untrusted-{SUFFIX}",
            TemplateBody=MODEL_TEMPLATE,
            RoleARN=role,
        ) == ("ValidationError", f"Role {role} is invalid or cannot be assumed", 400)


def test_a_training_job_reads_its_channels_as_its_role(sm, roles) -> None:
    channel = f"s3://{BUCKET}/train/"
    assert refused(sm.create_training_job, **training_request(f"no-s3-{SUFFIX}", roles["no-s3"]))[
        :2
    ] == (
        "ValidationException",
        f'No S3 objects found under S3 URL "{channel}" given in input data source. Please '
        "ensure that the bucket exists in the selected region (us-east-1), that objects exist "
        f'under that S3 prefix, and that the role "{roles["no-s3"]}" has "s3:ListBucket" '
        f'permissions on bucket "{BUCKET}".',
    )
    job = f"list-only-{SUFFIX}"
    sm.create_training_job(**training_request(job, roles["list-only"]))
    with contextlib.suppress(WaiterError):
        sm.get_waiter("training_job_completed_or_stopped").wait(TrainingJobName=job)
    described = sm.describe_training_job(TrainingJobName=job)
    assert described["TrainingJobStatus"] == "Failed"
    assert described["FailureReason"] == (
        f"ClientError: Data download failed:Unable to download object {channel}part-0.rec "
        "(AccessDenied: Access Denied)"
    )


def test_a_training_job_writes_its_model_as_its_role(sm, roles) -> None:
    job = f"read-only-{SUFFIX}"
    request = training_request(job, roles["read-only"])
    request["HyperParameters"] = HYPERPARAMETERS | {"epochs": "1"}
    sm.create_training_job(**request)
    with contextlib.suppress(WaiterError):
        sm.get_waiter("training_job_completed_or_stopped").wait(TrainingJobName=job)
    described = sm.describe_training_job(TrainingJobName=job)
    assert (described["TrainingJobStatus"], described["FailureReason"]) == (
        "Failed",
        f"ClientError: Artifact upload failed:Unable to upload s3://{BUCKET}/out/{job}/output/"
        "model.tar.gz (AccessDenied: Access Denied)",
    )


def test_an_endpoint_whose_model_role_cannot_read_the_artifact_fails_and_others_serve(
    client, sm, runtime, deploy, roles
) -> None:
    """CreateModel refuses a role that may not read the model data
    (:mod:`tests.integration.test_model_data_access`); one whose policy is taken away after
    fails the endpoint, as the instances read the data as the role."""
    serving = deploy("roles-serving", {"AllTraffic": (1, 1, 1)})
    config = deploy.config("roles-no-s3", {"AllTraffic": (32, 1, 1)}, role=roles["s3-revoked"])
    make_role(client("iam"), name("s3-revoked"), trusting(SAGEMAKER), None)
    endpoint = f"roles-no-s3-{SUFFIX}"
    sm.create_endpoint(EndpointName=endpoint, EndpointConfigName=config)
    try:
        described = poll(
            lambda: sm.describe_endpoint(EndpointName=endpoint),
            until=lambda d: d["EndpointStatus"] != "Creating",
            what="the endpoint to leave Creating",
        )
        [variant] = sm.describe_endpoint_config(EndpointConfigName=config)["ProductionVariants"]
        url = sm.describe_model(ModelName=variant["ModelName"])["PrimaryContainer"]["ModelDataUrl"]
        assert described["EndpointStatus"] == "Failed"
        assert described["FailureReason"] == (
            f'Failed to download model data for container "container_1" from URL: "{url}". '
            "Please ensure that there is an object located at the URL and that the role passed "
            "to CreateModel has permissions to download the object."
        )
        answer = runtime.invoke_endpoint(
            EndpointName=serving, ContentType="application/json", Body=BODY
        )
        assert json.loads(answer["Body"].read())["predictions"]
    finally:
        sm.delete_endpoint(EndpointName=endpoint)
        sm.get_waiter("endpoint_deleted").wait(EndpointName=endpoint)


def test_an_update_whose_model_role_cannot_watch_its_rollback_alarm_is_rolled_back(
    sm, client, deploy, roles
) -> None:
    """SageMaker watches a deployment's auto-rollback alarms as the execution role, which must
    be allowed cloudwatch:DescribeAlarms on them
    (https://docs.aws.amazon.com/sagemaker/latest/dg/deployment-guardrails-configuration.html);
    the local cloud rolls back an update whose new model's role is not, before it starts the
    new fleet, so the rollback it could not watch for does not go unnoticed."""
    endpoint = deploy("roles-watch", {"AllTraffic": (1, 1, 1)})
    old_config = sm.describe_endpoint(EndpointName=endpoint)["EndpointConfigName"]
    alarm = f"cdlab-roles-watch-{SUFFIX}"
    cloudwatch = client("cloudwatch")
    cloudwatch.put_metric_alarm(
        AlarmName=alarm, Namespace="AWS/SageMaker", MetricName="Invocation5XXErrors",
        Dimensions=[{"Name": "EndpointName", "Value": endpoint}], Statistic="Sum", Period=60,
        EvaluationPeriods=1, Threshold=1, ComparisonOperator="GreaterThanOrEqualToThreshold",
    )  # fmt: skip
    try:
        config = deploy.config("roles-watch", {"AllTraffic": (2, 1, 1)}, role=roles["s3-only"])
        routing = {"Type": "ALL_AT_ONCE", "WaitIntervalInSeconds": 0}
        sm.update_endpoint(
            EndpointName=endpoint,
            EndpointConfigName=config,
            DeploymentConfig={
                "BlueGreenUpdatePolicy": {"TrafficRoutingConfiguration": routing},
                "AutoRollbackConfiguration": {"Alarms": [{"AlarmName": alarm}]},
            },
        )
        sm.get_waiter("endpoint_in_service").wait(EndpointName=endpoint)
        described = sm.describe_endpoint(EndpointName=endpoint)
        assert described["EndpointConfigName"] == old_config
        reason = described["FailureReason"]
        assert reason.startswith(
            "The update failed and the endpoint was rolled back: the execution role "
            f"{roles['s3-only']} cannot watch the auto-rollback alarms: User: "
        )
        assert reason.endswith(
            "is not authorized to perform: cloudwatch:DescribeAlarms on resource: "
            f"arn:aws:cloudwatch:us-east-1:{ACCOUNT}:alarm:{alarm} because no identity-based "
            "policy allows the cloudwatch:DescribeAlarms action"
        )
    finally:
        cloudwatch.delete_alarms(AlarmNames=[alarm])


def model_parameters(model_data: str, role: str | None = None) -> list[dict[str, str]]:
    given = {"ModelData": model_data, "Image": fm_image_uri("us-east-1"), "Role": role}
    return [{"ParameterKey": k, "ParameterValue": v} for k, v in given.items() if v]


def failed_model_stack(cfn, stack: str, parameters: list[dict[str, str]], **create: Any) -> str:
    """Create a stack of MODEL_TEMPLATE that must roll back; the reason its model failed."""
    cfn.create_stack(StackName=stack, TemplateBody=MODEL_TEMPLATE, Parameters=parameters, **create)
    with contextlib.suppress(WaiterError):
        cfn.get_waiter("stack_create_complete").wait(StackName=stack)
    assert cfn.describe_stacks(StackName=stack)["Stacks"][0]["StackStatus"] == "ROLLBACK_COMPLETE"
    events = cfn.describe_stack_events(StackName=stack)["StackEvents"]
    [reason] = [
        e.get("ResourceStatusReason", "") for e in events if e["ResourceStatus"] == "CREATE_FAILED"
    ]
    return reason


@contextlib.contextmanager
def deleted_after(client, *stacks: str) -> Iterator[None]:
    """Delete the stacks (with the kit's key) once the block ends."""
    cfn = client("cloudformation")
    try:
        yield
    finally:
        for stack in stacks:
            cfn.delete_stack(StackName=stack)
        for stack in stacks:
            cfn.get_waiter("stack_delete_complete").wait(StackName=stack)


def not_authorized(principal: str, action: str) -> str:
    """The start of a resource's failure when ``principal`` may not make the call."""
    return (
        f'Resource handler returned message: "User: {principal} is not authorized to perform: '
        f"{action} on resource: "
    )


def test_a_stack_creates_its_resources_as_its_role(client, roles, upload_model) -> None:
    cfn = client("cloudformation")
    parameters = model_parameters(upload_model(33))
    weak, able = f"roles-weak-{SUFFIX}", f"roles-able-{SUFFIX}"
    with deleted_after(client, weak, able):
        reason = failed_model_stack(cfn, weak, parameters, RoleARN=roles["cfn-weak"])
        session = f"arn:aws:sts::{ACCOUNT}:assumed-role/{name('cfn-weak')}/AWSCloudFormation"
        assert reason.startswith(not_authorized(session, "sagemaker:CreateModel"))
        assert reason.endswith(
            'because no identity-based policy allows the sagemaker:CreateModel action" '
            "(HandlerErrorCode: AccessDenied)"
        )
        assert cfn.describe_stacks(StackName=weak)["Stacks"][0]["RoleARN"] == roles["cfn-weak"]
        cfn.create_stack(
            StackName=able,
            TemplateBody=MODEL_TEMPLATE,
            Parameters=parameters,
            RoleARN=roles["cfn-models"],
        )
        cfn.get_waiter("stack_create_complete").wait(StackName=able)


def test_a_stack_without_a_role_creates_its_resources_as_its_caller(
    client, roles, upload_model
) -> None:
    session = session_of(client("sts"), roles["stacks-only"])
    cfn = session.client("cloudformation", config=NO_RETRIES)
    stack = f"roles-caller-{SUFFIX}"
    with deleted_after(client, stack):
        reason = failed_model_stack(cfn, stack, model_parameters(upload_model(34)))
        caller = f"arn:aws:sts::{ACCOUNT}:assumed-role/{name('stacks-only')}/alice"
        assert reason.startswith(not_authorized(caller, "sagemaker:CreateModel"))


def test_a_stack_passes_only_a_role_its_service_trusts(client, roles, upload_model) -> None:
    stack = f"roles-pass-untrusted-{SUFFIX}"
    with deleted_after(client, stack):
        parameters = model_parameters(upload_model(35), roles["cfn-only"])
        reason = failed_model_stack(client("cloudformation"), stack, parameters)
        message = could_not_assume(roles["cfn-only"])[1]
        assert reason == (
            f'Resource handler returned message: "{message}" (HandlerErrorCode: InvalidRequest)'
        )


@pytest.mark.slow  # a local cloud of its own
def test_cdlab_iam_off_keeps_roles_unchecked(private: PrivateCloud) -> None:
    private.patch.setenv("CDLAB_IAM", "off")
    private.up()
    iam, sm = private.client("iam"), private.client("sagemaker")
    arn = make_role(iam, "service-only", trusting(SAGEMAKER), None)
    assert private.client("sts").assume_role(RoleArn=arn, RoleSessionName="bob")["Credentials"]
    s3 = private.client("s3")
    s3.create_bucket(Bucket="models")
    s3.put_object(Bucket="models", Key="m.tar.gz", Body=artifact_bytes(small_model(1)))
    sm.create_model(**model_request("unchecked", role_arn("missing"), "s3://models/m.tar.gz"))
    assert sm.describe_model(ModelName="unchecked")["ExecutionRoleArn"] == role_arn("missing")
