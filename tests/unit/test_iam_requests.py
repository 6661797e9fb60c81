"""What IAM evaluates for the lab's requests: botocore builds each request as the buildspecs and
the notebooks make it (no network: the request is caught before it is sent), the wire helpers
name its call, and ``authorization`` gives the action, the resources and the further checks."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import botocore.session
import pytest
from botocore.awsrequest import AWSPreparedRequest
from botocore.config import Config

from cdlab.localcloud.iam.requests import authorization, iam_prefix
from cdlab.localcloud.iam.wire import Call, wire_call

REGION, ACCOUNT = "eu-west-1", "123456789012"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/cdlab-SagemakerRole"
CFN_ROLE = f"arn:aws:iam::{ACCOUNT}:role/cdlab-CloudFormationRole"
BUCKET, DATABASE = "cdlab-data-bucket", "cdlab_db"
TO_SAGEMAKER = {"iam:PassedToService": "sagemaker.amazonaws.com"}
TO_CLOUDFORMATION = {"iam:PassedToService": "cloudformation.amazonaws.com"}


def arn(service: str, resource: str) -> str:
    return f"arn:aws:{service}:{REGION}:{ACCOUNT}:{resource}"


def s3obj(key: str, bucket: str = BUCKET) -> str:
    return f"arn:aws:s3:::{bucket}/{key}"


BUCKET_ARN = f"arn:aws:s3:::{BUCKET}"
CATALOG = arn("glue", "catalog")
GLUE_DB = arn("glue", f"database/{DATABASE}")
RATINGS = arn("glue", f"table/{DATABASE}/ratings")


class Sent(Exception):
    """Raised by the before-send hook: the request botocore would have sent."""

    def __init__(self, request: AWSPreparedRequest) -> None:
        self.request = request


def _catch(request: AWSPreparedRequest, **_: Any) -> None:
    raise Sent(request)


@functools.cache
def _client(service: str) -> Any:
    client = botocore.session.get_session().create_client(
        service,
        endpoint_url="http://127.0.0.1:1",
        region_name=REGION,
        aws_access_key_id="x",
        aws_secret_access_key="y",
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 0}),
    )
    client.meta.events.register("before-send", _catch)
    return client


def sent(service: str, method: str, **params: Any) -> AWSPreparedRequest:
    with pytest.raises(Sent) as caught:
        getattr(_client(service), method)(**params)
    return caught.value.request


def wire(service: str, method: str, **params: Any) -> Call | None:
    """The call the gateway would see for ``client.method(**params)``."""
    request = sent(service, method, **params)
    url = urlsplit(request.url)
    body = request.body or b""
    if hasattr(body, "read"):
        body = body.read()
    if isinstance(body, str):
        body = body.encode()
    headers = {k: v.decode() if isinstance(v, bytes) else v for k, v in request.headers.items()}
    return wire_call(
        request.method, f"{url.path}?{url.query}" if url.query else url.path, headers, body
    )


@dataclass(frozen=True)
class Case:
    service: str
    method: str
    params: dict[str, Any]
    action: str
    resources: tuple[str, ...]
    checks: tuple[tuple[str, tuple[str, ...], dict[str, Any]], ...] = ()
    context: dict[str, Any] = field(default_factory=dict)


TRAINING_JOB = {
    "TrainingJobName": "cdlab-Abc1234-20250101120000",
    "AlgorithmSpecification": {"TrainingImage": "fm:1", "TrainingInputMode": "File"},
    "RoleArn": ROLE,
    "InputDataConfig": [
        {
            "ChannelName": "train",
            "DataSource": {
                "S3DataSource": {
                    "S3DataType": "S3Prefix",
                    "S3Uri": f"s3://{BUCKET}/prepdata/train/train.protobuf",
                }
            },
        }
    ],
    "OutputDataConfig": {"S3OutputPath": f"s3://{BUCKET}/models"},
    "ResourceConfig": {"InstanceType": "ml.c5.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 10},
    "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
}
VARIANT = {
    "VariantName": "AllTraffic",
    "ModelName": "Model-A",
    "InitialInstanceCount": 1,
    "InstanceType": "ml.m5.large",
    "InitialVariantWeight": 1.0,
}
VARIANT_TARGET = {
    "ServiceNamespace": "sagemaker",
    "ResourceId": "endpoint/Lab-Endpoint/variant/AllTraffic",
    "ScalableDimension": "sagemaker:variant:DesiredInstanceCount",
}
TARGET_CONTEXT = {
    "application-autoscaling:service-namespace": "sagemaker",
    "application-autoscaling:scalable-dimension": "sagemaker:variant:DesiredInstanceCount",
}
TABLE = {"Name": "ratings", "StorageDescriptor": {"Location": f"s3://{BUCKET}/raw/ratings/"}}
TEMPLATE = '{"Resources": {}}'

CASES = {
    # ---- the pipeline's buildspecs: predata.py, train.py, test.py
    "predata-head-bucket": Case(
        "s3", "head_bucket", {"Bucket": BUCKET}, "s3:ListBucket", (BUCKET_ARN,)
    ),
    "predata-create-bucket": Case(
        "s3", "create_bucket", {"Bucket": BUCKET}, "s3:CreateBucket", (BUCKET_ARN,)
    ),
    "predata-put-channel": Case(
        "s3",
        "put_object",
        {"Bucket": BUCKET, "Key": "prepdata/train/train.protobuf", "Body": b"x"},
        "s3:PutObject",
        (s3obj("prepdata/train/train.protobuf"),),
    ),
    "predata-key-with-spaces-and-plus": Case(
        "s3",
        "put_object",
        {"Bucket": BUCKET, "Key": "raw/ratings/u data+1.txt", "Body": b"x"},
        "s3:PutObject",
        (s3obj("raw/ratings/u data+1.txt"),),
    ),
    "predata-create-database": Case(
        "glue",
        "create_database",
        {"DatabaseInput": {"Name": DATABASE}},
        "glue:CreateDatabase",
        (CATALOG, GLUE_DB),
    ),
    "predata-create-table": Case(
        "glue",
        "create_table",
        {"DatabaseName": DATABASE, "TableInput": TABLE},
        "glue:CreateTable",
        (CATALOG, GLUE_DB, RATINGS),
    ),
    "predata-update-table": Case(
        "glue",
        "update_table",
        {"DatabaseName": DATABASE, "TableInput": TABLE},
        "glue:UpdateTable",
        (CATALOG, GLUE_DB, RATINGS),
    ),
    "stack-put-rule": Case(
        "events",
        "put_rule",
        {"Name": "cdlab-SourceEventRule-x", "EventPattern": "{}"},
        "events:PutRule",
        (arn("events", "rule/cdlab-SourceEventRule-x"),),
    ),
    "stack-put-targets-on-a-bus": Case(
        "events",
        "put_targets",
        {"Rule": "r", "EventBusName": "lab", "Targets": [{"Id": "p", "Arn": "arn:aws:sqs:x"}]},
        "events:PutTargets",
        (arn("events", "rule/lab/r"),),
    ),
    "predata-get-table": Case(
        "glue",
        "get_table",
        {"DatabaseName": DATABASE, "Name": "ratings"},
        "glue:GetTable",
        (CATALOG, GLUE_DB, RATINGS),
    ),
    "train-create-training-job": Case(
        "sagemaker",
        "create_training_job",
        TRAINING_JOB,
        "sagemaker:CreateTrainingJob",
        (arn("sagemaker", "training-job/cdlab-abc1234-20250101120000"),),
        (("iam:PassRole", (ROLE,), TO_SAGEMAKER),),
        {"sagemaker:InstanceTypes": ["ml.c5.xlarge"]},
    ),
    "train-describe-training-job": Case(
        "sagemaker",
        "describe_training_job",
        {"TrainingJobName": "cdlab-Abc1234-20250101120000"},
        "sagemaker:DescribeTrainingJob",
        (arn("sagemaker", "training-job/cdlab-abc1234-20250101120000"),),
    ),
    "test-get-test-channel": Case(
        "s3",
        "get_object",
        {"Bucket": BUCKET, "Key": "prepdata/test/test.protobuf"},
        "s3:GetObject",
        (s3obj("prepdata/test/test.protobuf"),),
    ),
    "test-invoke-endpoint": Case(
        "sagemaker-runtime",
        "invoke_endpoint",
        {"EndpointName": "QA-cdlab-Abc1234", "Body": b"{}", "ContentType": "application/json"},
        "sagemaker:InvokeEndpoint",
        (arn("sagemaker", "endpoint/qa-cdlab-abc1234"),),
    ),
    "invoke-endpoint-target-model": Case(
        "sagemaker-runtime",
        "invoke_endpoint",
        {"EndpointName": "multi", "Body": b"{}", "TargetModel": "model-a.tar.gz"},
        "sagemaker:InvokeEndpoint",
        (arn("sagemaker", "endpoint/multi"),),
        context={"sagemaker:TargetModel": "model-a.tar.gz"},
    ),
    # ---- notebook 01: the data in S3
    "nb01-list-objects-v2": Case(
        "s3",
        "list_objects_v2",
        {"Bucket": BUCKET, "Prefix": "prepdata/", "Delimiter": "/"},
        "s3:ListBucket",
        (BUCKET_ARN,),
        context={"s3:prefix": "prepdata/", "s3:delimiter": "/"},
    ),
    "nb01-delete-object": Case(
        "s3",
        "delete_object",
        {"Bucket": BUCKET, "Key": "tmp/x"},
        "s3:DeleteObject",
        (s3obj("tmp/x"),),
    ),
    "get-object-version": Case(
        "s3",
        "get_object",
        {"Bucket": BUCKET, "Key": "k", "VersionId": "v1"},
        "s3:GetObjectVersion",
        (s3obj("k"),),
        context={"s3:VersionId": "v1"},
    ),
    "head-object": Case(
        "s3", "head_object", {"Bucket": BUCKET, "Key": "k"}, "s3:GetObject", (s3obj("k"),)
    ),
    # ---- notebooks 03-07: models, endpoint configurations, endpoints
    "nb03-create-model": Case(
        "sagemaker",
        "create_model",
        {"ModelName": "Model-A", "ExecutionRoleArn": ROLE, "PrimaryContainer": {"Image": "fm:1"}},
        "sagemaker:CreateModel",
        (arn("sagemaker", "model/model-a"),),
        (("iam:PassRole", (ROLE,), TO_SAGEMAKER),),
    ),
    "nb03-describe-model": Case(
        "sagemaker",
        "describe_model",
        {"ModelName": "Model-A"},
        "sagemaker:DescribeModel",
        (arn("sagemaker", "model/model-a"),),
    ),
    "nb03-create-endpoint-config": Case(
        "sagemaker",
        "create_endpoint_config",
        {"EndpointConfigName": "Config-A", "ProductionVariants": [VARIANT]},
        "sagemaker:CreateEndpointConfig",
        (arn("sagemaker", "endpoint-config/config-a"),),
        context={"sagemaker:InstanceTypes": ["ml.m5.large"]},
    ),
    "nb03-describe-endpoint-config": Case(
        "sagemaker",
        "describe_endpoint_config",
        {"EndpointConfigName": "Config-A"},
        "sagemaker:DescribeEndpointConfig",
        (arn("sagemaker", "endpoint-config/config-a"),),
    ),
    "nb03-create-endpoint": Case(
        "sagemaker",
        "create_endpoint",
        {"EndpointName": "Lab-Endpoint", "EndpointConfigName": "Config-A"},
        "sagemaker:CreateEndpoint",
        (arn("sagemaker", "endpoint/lab-endpoint"), arn("sagemaker", "endpoint-config/config-a")),
    ),
    "nb03-describe-endpoint": Case(
        "sagemaker",
        "describe_endpoint",
        {"EndpointName": "Lab-Endpoint"},
        "sagemaker:DescribeEndpoint",
        (arn("sagemaker", "endpoint/lab-endpoint"),),
    ),
    "nb04-update-endpoint": Case(
        "sagemaker",
        "update_endpoint",
        {"EndpointName": "Lab-Endpoint", "EndpointConfigName": "Config-B"},
        "sagemaker:UpdateEndpoint",
        (arn("sagemaker", "endpoint/lab-endpoint"), arn("sagemaker", "endpoint-config/config-b")),
    ),
    "nb05-update-weights": Case(
        "sagemaker",
        "update_endpoint_weights_and_capacities",
        {
            "EndpointName": "Lab-Endpoint",
            "DesiredWeightsAndCapacities": [{"VariantName": "A", "DesiredWeight": 0.5}],
        },
        "sagemaker:UpdateEndpointWeightsAndCapacities",
        (arn("sagemaker", "endpoint/lab-endpoint"),),
    ),
    "nb09-delete-endpoint": Case(
        "sagemaker",
        "delete_endpoint",
        {"EndpointName": "Lab-Endpoint"},
        "sagemaker:DeleteEndpoint",
        (arn("sagemaker", "endpoint/lab-endpoint"),),
    ),
    "nb09-delete-endpoint-config": Case(
        "sagemaker",
        "delete_endpoint_config",
        {"EndpointConfigName": "Config-A"},
        "sagemaker:DeleteEndpointConfig",
        (arn("sagemaker", "endpoint-config/config-a"),),
    ),
    "nb09-delete-model": Case(
        "sagemaker",
        "delete_model",
        {"ModelName": "Model-A"},
        "sagemaker:DeleteModel",
        (arn("sagemaker", "model/model-a"),),
    ),
    "nb00-list-endpoints": Case(
        "sagemaker", "list_endpoints", {"MaxResults": 100}, "sagemaker:ListEndpoints", ("*",)
    ),
    "nb00-list-models": Case("sagemaker", "list_models", {}, "sagemaker:ListModels", ("*",)),
    "list-training-jobs": Case(
        "sagemaker", "list_training_jobs", {}, "sagemaker:ListTrainingJobs", ("*",)
    ),
    # ---- notebook 06: automatic scaling
    "nb06-register-scalable-target": Case(
        "application-autoscaling",
        "register_scalable_target",
        {**VARIANT_TARGET, "MinCapacity": 1, "MaxCapacity": 4},
        "application-autoscaling:RegisterScalableTarget",
        ("*",),
        context=TARGET_CONTEXT,
    ),
    "nb06-put-scaling-policy": Case(
        "application-autoscaling",
        "put_scaling_policy",
        {
            **VARIANT_TARGET,
            "PolicyName": "invocations",
            "PolicyType": "TargetTrackingScaling",
            "TargetTrackingScalingPolicyConfiguration": {
                "TargetValue": 100.0,
                "PredefinedMetricSpecification": {
                    "PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"
                },
            },
        },
        "application-autoscaling:PutScalingPolicy",
        ("*",),
        context=TARGET_CONTEXT,
    ),
    "nb06-describe-scaling-activities": Case(
        "application-autoscaling",
        "describe_scaling_activities",
        {"ServiceNamespace": "sagemaker"},
        "application-autoscaling:DescribeScalingActivities",
        ("*",),
    ),
    # ---- notebooks 06-08: CloudWatch (signed as "monitoring") and its logs
    "nb08-get-metric-statistics": Case(
        "cloudwatch",
        "get_metric_statistics",
        {
            "Namespace": "AWS/SageMaker",
            "MetricName": "Invocations",
            "StartTime": 0,
            "EndTime": 60,
            "Period": 60,
            "Statistics": ["Sum"],
        },
        "cloudwatch:GetMetricStatistics",
        ("*",),
    ),
    "nb08-list-metrics": Case(
        "cloudwatch",
        "list_metrics",
        {"Namespace": "AWS/SageMaker"},
        "cloudwatch:ListMetrics",
        ("*",),
    ),
    "nb07-put-metric-alarm": Case(
        "cloudwatch",
        "put_metric_alarm",
        {
            "AlarmName": "prod-cdlab-errors",
            "MetricName": "Invocation5XXErrors",
            "Namespace": "AWS/SageMaker",
            "Statistic": "Sum",
            "Period": 60,
            "EvaluationPeriods": 1,
            "Threshold": 1.0,
            "ComparisonOperator": "GreaterThanOrEqualToThreshold",
            "AlarmActions": [arn("sns", "ops")],
        },
        "cloudwatch:PutMetricAlarm",
        (arn("cloudwatch", "alarm:prod-cdlab-errors"),),
        context={"cloudwatch:AlarmActions": [arn("sns", "ops")]},
    ),
    "nb07-describe-alarms-by-name": Case(
        "cloudwatch",
        "describe_alarms",
        {"AlarmNames": ["prod-cdlab-errors", "prod-cdlab-latency"]},
        "cloudwatch:DescribeAlarms",
        (
            arn("cloudwatch", "alarm:prod-cdlab-errors"),
            arn("cloudwatch", "alarm:prod-cdlab-latency"),
        ),
    ),
    "nb09-describe-all-alarms": Case(
        "cloudwatch", "describe_alarms", {}, "cloudwatch:DescribeAlarms", ("*",)
    ),
    "nb09-delete-alarms": Case(
        "cloudwatch",
        "delete_alarms",
        {"AlarmNames": ["prod-cdlab-errors"]},
        "cloudwatch:DeleteAlarms",
        (arn("cloudwatch", "alarm:prod-cdlab-errors"),),
    ),
    "put-metric-data-namespace": Case(
        "cloudwatch",
        "put_metric_data",
        {
            "Namespace": "/aws/sagemaker/TrainingJobs",
            "MetricData": [{"MetricName": "m", "Value": 1}],
        },
        "cloudwatch:PutMetricData",
        ("*",),
        context={"cloudwatch:namespace": "/aws/sagemaker/TrainingJobs"},
    ),
    "nb02-describe-log-streams": Case(
        "logs",
        "describe_log_streams",
        {"logGroupName": "/aws/sagemaker/TrainingJobs", "logStreamNamePrefix": "cdlab"},
        "logs:DescribeLogStreams",
        (arn("logs", "log-group:/aws/sagemaker/TrainingJobs:*"),),
    ),
    "nb02-get-log-events": Case(
        "logs",
        "get_log_events",
        {"logGroupName": "/aws/sagemaker/TrainingJobs", "logStreamName": "job/algo-1"},
        "logs:GetLogEvents",
        (arn("logs", "log-group:/aws/sagemaker/TrainingJobs:log-stream:job/algo-1"),),
    ),
    "filter-log-events": Case(
        "logs",
        "filter_log_events",
        {"logGroupName": "/aws/sagemaker/Endpoints/Lab-Endpoint"},
        "logs:FilterLogEvents",
        (arn("logs", "log-group:/aws/sagemaker/Endpoints/Lab-Endpoint:*"),),
    ),
    "nb09-describe-log-groups": Case(
        "logs", "describe_log_groups", {}, "logs:DescribeLogGroups", ("*",)
    ),
    "nb09-delete-log-group": Case(
        "logs",
        "delete_log_group",
        {"logGroupName": "/aws/sagemaker/Endpoints/Lab-Endpoint"},
        "logs:DeleteLogGroup",
        (arn("logs", "log-group:/aws/sagemaker/Endpoints/Lab-Endpoint:*"),),
    ),
    "put-log-events": Case(
        "logs",
        "put_log_events",
        {
            "logGroupName": "/aws/sagemaker/TrainingJobs",
            "logStreamName": "job/algo-1",
            "logEvents": [{"timestamp": 1, "message": "m"}],
        },
        "logs:PutLogEvents",
        (arn("logs", "log-group:/aws/sagemaker/TrainingJobs:log-stream:job/algo-1"),),
    ),
    "tag-log-group-by-arn": Case(
        "logs",
        "tag_resource",
        {"resourceArn": arn("logs", "log-group:g"), "tags": {"team": "ml"}},
        "logs:TagResource",
        (arn("logs", "log-group:g"),),
        context={"aws:RequestTag/team": "ml", "aws:TagKeys": ["team"]},
    ),
    # ---- notebook 00 and the pipeline's deploy stage: CloudFormation with a service role
    "nb00-create-stack": Case(
        "cloudformation",
        "create_stack",
        {
            "StackName": "cdlab-deploy-qa",
            "TemplateBody": TEMPLATE,
            "RoleARN": CFN_ROLE,
            "Tags": [{"Key": "stage", "Value": "qa"}],
        },
        "cloudformation:CreateStack",
        (arn("cloudformation", "stack/cdlab-deploy-qa/*"),),
        (("iam:PassRole", (CFN_ROLE,), TO_CLOUDFORMATION),),
        {
            "cloudformation:RoleArn": CFN_ROLE,
            "aws:RequestTag/stage": "qa",
            "aws:TagKeys": ["stage"],
        },
    ),
    "deploy-update-stack": Case(
        "cloudformation",
        "update_stack",
        {"StackName": "cdlab-deploy-qa", "TemplateBody": TEMPLATE, "RoleARN": CFN_ROLE},
        "cloudformation:UpdateStack",
        (arn("cloudformation", "stack/cdlab-deploy-qa/*"),),
        (("iam:PassRole", (CFN_ROLE,), TO_CLOUDFORMATION),),
    ),
    "create-change-set": Case(
        "cloudformation",
        "create_change_set",
        {
            "StackName": "cdlab-deploy-qa",
            "ChangeSetName": "cs1",
            "TemplateBody": TEMPLATE,
            "RoleARN": CFN_ROLE,
        },
        "cloudformation:CreateChangeSet",
        (arn("cloudformation", "stack/cdlab-deploy-qa/*"),),
        (("iam:PassRole", (CFN_ROLE,), TO_CLOUDFORMATION),),
        {"cloudformation:ChangeSetName": "cs1"},
    ),
    "nb00-describe-stacks": Case(
        "cloudformation",
        "describe_stacks",
        {"StackName": "cdlab-deploy-qa"},
        "cloudformation:DescribeStacks",
        (arn("cloudformation", "stack/cdlab-deploy-qa/*"),),
    ),
    "describe-stack-by-id": Case(
        "cloudformation",
        "describe_stacks",
        {"StackName": arn("cloudformation", "stack/cdlab-deploy-qa/1f2e")},
        "cloudformation:DescribeStacks",
        (arn("cloudformation", "stack/cdlab-deploy-qa/1f2e"),),
    ),
    "nb00-describe-stack-events": Case(
        "cloudformation",
        "describe_stack_events",
        {"StackName": "cdlab-deploy-qa"},
        "cloudformation:DescribeStackEvents",
        (arn("cloudformation", "stack/cdlab-deploy-qa/*"),),
    ),
    "nb09-delete-stack": Case(
        "cloudformation",
        "delete_stack",
        {"StackName": "cdlab-deploy-qa"},
        "cloudformation:DeleteStack",
        (arn("cloudformation", "stack/cdlab-deploy-qa/*"),),
    ),
    "nb09-list-stacks": Case(
        "cloudformation", "list_stacks", {}, "cloudformation:ListStacks", ("*",)
    ),
    "validate-template": Case(
        "cloudformation",
        "validate_template",
        {"TemplateBody": TEMPLATE},
        "cloudformation:ValidateTemplate",
        ("*",),
    ),
    # ---- the pipeline's provisioning: IAM, STS, the Glue database, buckets
    "provision-create-role": Case(
        "iam",
        "create_role",
        {"RoleName": "cdlab-SagemakerRole", "AssumeRolePolicyDocument": "{}", "Path": "/lab/"},
        "iam:CreateRole",
        (f"arn:aws:iam::{ACCOUNT}:role/lab/cdlab-SagemakerRole",),
    ),
    "provision-put-role-policy": Case(
        "iam",
        "put_role_policy",
        {"RoleName": "cdlab-SagemakerRole", "PolicyName": "p", "PolicyDocument": "{}"},
        "iam:PutRolePolicy",
        (ROLE,),
    ),
    "attach-role-policy": Case(
        "iam",
        "attach_role_policy",
        {"RoleName": "cdlab-SagemakerRole", "PolicyArn": "arn:aws:iam::aws:policy/ReadOnlyAccess"},
        "iam:AttachRolePolicy",
        (ROLE,),
        context={"iam:PolicyARN": "arn:aws:iam::aws:policy/ReadOnlyAccess"},
    ),
    "target-get-caller-identity": Case(
        "sts", "get_caller_identity", {}, "sts:GetCallerIdentity", ("*",)
    ),
    "assume-role": Case(
        "sts",
        "assume_role",
        {"RoleArn": ROLE, "RoleSessionName": "build"},
        "sts:AssumeRole",
        (ROLE,),
        context={"sts:RoleSessionName": "build"},
    ),
    "nb09-delete-database": Case(
        "glue",
        "delete_database",
        {"Name": DATABASE},
        "glue:DeleteDatabase",
        (
            CATALOG,
            GLUE_DB,
            arn("glue", f"table/{DATABASE}/*"),
            arn("glue", f"userDefinedFunction/{DATABASE}/*"),
        ),
    ),
    "get-databases": Case("glue", "get_databases", {}, "glue:GetDatabases", (CATALOG,)),
    "nb09-list-buckets": Case("s3", "list_buckets", {}, "s3:ListAllMyBuckets", ("*",)),
    "nb09-delete-bucket": Case(
        "s3", "delete_bucket", {"Bucket": BUCKET}, "s3:DeleteBucket", (BUCKET_ARN,)
    ),
    # ---- S3 beyond the lab's calls: sub-resources, multipart, copy, batch delete
    "get-bucket-location": Case(
        "s3", "get_bucket_location", {"Bucket": BUCKET}, "s3:GetBucketLocation", (BUCKET_ARN,)
    ),
    "put-bucket-versioning": Case(
        "s3",
        "put_bucket_versioning",
        {"Bucket": BUCKET, "VersioningConfiguration": {"Status": "Enabled"}},
        "s3:PutBucketVersioning",
        (BUCKET_ARN,),
    ),
    "get-bucket-versioning": Case(
        "s3", "get_bucket_versioning", {"Bucket": BUCKET}, "s3:GetBucketVersioning", (BUCKET_ARN,)
    ),
    "get-bucket-policy": Case(
        "s3", "get_bucket_policy", {"Bucket": BUCKET}, "s3:GetBucketPolicy", (BUCKET_ARN,)
    ),
    "put-bucket-tagging": Case(
        "s3",
        "put_bucket_tagging",
        {"Bucket": BUCKET, "Tagging": {"TagSet": [{"Key": "k", "Value": "v"}]}},
        "s3:PutBucketTagging",
        (BUCKET_ARN,),
    ),
    "delete-bucket-tagging": Case(
        "s3", "delete_bucket_tagging", {"Bucket": BUCKET}, "s3:PutBucketTagging", (BUCKET_ARN,)
    ),
    "get-bucket-acl": Case(
        "s3", "get_bucket_acl", {"Bucket": BUCKET}, "s3:GetBucketAcl", (BUCKET_ARN,)
    ),
    "put-bucket-notification": Case(
        "s3",
        "put_bucket_notification_configuration",
        {"Bucket": BUCKET, "NotificationConfiguration": {}},
        "s3:PutBucketNotification",
        (BUCKET_ARN,),
    ),
    "list-multipart-uploads": Case(
        "s3",
        "list_multipart_uploads",
        {"Bucket": BUCKET},
        "s3:ListBucketMultipartUploads",
        (BUCKET_ARN,),
    ),
    "create-multipart-upload": Case(
        "s3",
        "create_multipart_upload",
        {"Bucket": BUCKET, "Key": "big"},
        "s3:PutObject",
        (s3obj("big"),),
    ),
    "upload-part": Case(
        "s3",
        "upload_part",
        {"Bucket": BUCKET, "Key": "big", "UploadId": "u1", "PartNumber": 1, "Body": b"x"},
        "s3:PutObject",
        (s3obj("big"),),
    ),
    "complete-multipart-upload": Case(
        "s3",
        "complete_multipart_upload",
        {
            "Bucket": BUCKET,
            "Key": "big",
            "UploadId": "u1",
            "MultipartUpload": {"Parts": [{"PartNumber": 1, "ETag": "e"}]},
        },
        "s3:PutObject",
        (s3obj("big"),),
    ),
    "abort-multipart-upload": Case(
        "s3",
        "abort_multipart_upload",
        {"Bucket": BUCKET, "Key": "big", "UploadId": "u1"},
        "s3:AbortMultipartUpload",
        (s3obj("big"),),
    ),
    "list-parts": Case(
        "s3",
        "list_parts",
        {"Bucket": BUCKET, "Key": "big", "UploadId": "u1"},
        "s3:ListMultipartUploadParts",
        (s3obj("big"),),
    ),
    "copy-object": Case(
        "s3",
        "copy_object",
        {"Bucket": BUCKET, "Key": "models/copy", "CopySource": {"Bucket": "src", "Key": "a b"}},
        "s3:PutObject",
        (s3obj("models/copy"),),
        (("s3:GetObject", (s3obj("a b", "src"),), {}),),
    ),
    "copy-object-version": Case(
        "s3",
        "copy_object",
        {
            "Bucket": BUCKET,
            "Key": "models/copy",
            "CopySource": {"Bucket": "src", "Key": "k", "VersionId": "v9"},
        },
        "s3:PutObject",
        (s3obj("models/copy"),),
        (("s3:GetObjectVersion", (s3obj("k", "src"),), {"s3:VersionId": "v9"}),),
    ),
    "put-object-with-acl-and-tags": Case(
        "s3",
        "put_object",
        {"Bucket": BUCKET, "Key": "k", "Body": b"x", "ACL": "private", "Tagging": "a=b"},
        "s3:PutObject",
        (s3obj("k"),),
        (("s3:PutObjectAcl", (s3obj("k"),), {}), ("s3:PutObjectTagging", (s3obj("k"),), {})),
        {"s3:x-amz-acl": "private"},
    ),
    "delete-objects": Case(
        "s3",
        "delete_objects",
        {"Bucket": BUCKET, "Delete": {"Objects": [{"Key": "a"}, {"Key": "b", "VersionId": "v"}]}},
        "s3:DeleteObject",
        (s3obj("a"),),
        (("s3:DeleteObjectVersion", (s3obj("b"),), {}),),
    ),
}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_a_lab_request_is_authorized_as_aws_authorizes_it(case: Case) -> None:
    call = wire(case.service, case.method, **case.params)
    assert call is not None
    got = authorization(call.service, call.operation, call.params, REGION, ACCOUNT)
    assert (got.action, got.resources) == (case.action, case.resources)
    assert [(c.action, c.resources) for c in got.checks] == [(a, r) for a, r, _ in case.checks]
    for check, (_, _, context) in zip(got.checks, case.checks, strict=True):
        assert context.items() <= dict(check.context).items()
    assert case.context.items() <= dict(got.context).items()
    assert {
        "aws:RequestedRegion": REGION,
        "aws:SecureTransport": False,
        "aws:PrincipalAccount": ACCOUNT,
    }.items() <= dict(got.context).items()


def test_cloudwatch_is_signed_as_monitoring_and_authorized_as_cloudwatch() -> None:
    call = wire("cloudwatch", "describe_alarms")
    assert call is not None and call.service == "monitoring"
    assert iam_prefix("monitoring") == "cloudwatch"
    assert iam_prefix("sagemaker-runtime") == "sagemaker"


def test_cloudwatch_over_the_query_protocol_reads_the_flattened_members() -> None:
    headers = {
        "Authorization": "AWS4-HMAC-SHA256 Credential=x/20250101/eu-west-1/monitoring/"
        "aws4_request, SignedHeaders=host, Signature=0",
        "Content-Type": "application/x-www-form-urlencoded; charset=utf-8",
    }
    body = b"Action=DeleteAlarms&Version=2010-08-01&AlarmNames.member.1=a&AlarmNames.member.2=b"
    call = wire_call("POST", "/", headers, body)
    assert call == Call("monitoring", "DeleteAlarms", {"AlarmNames": ["a", "b"]})
    got = authorization(call.service, call.operation, call.params, REGION, ACCOUNT)
    assert got.resources == (arn("cloudwatch", "alarm:a"), arn("cloudwatch", "alarm:b"))


def test_a_presigned_s3_url_is_its_operation() -> None:
    url = urlsplit(
        _client("s3").generate_presigned_url("get_object", Params={"Bucket": BUCKET, "Key": "k"})
    )
    call = wire_call("GET", f"{url.path}?{url.query}", {})
    assert call is not None and (call.service, call.operation) == ("s3", "GetObject")


def test_the_signed_region_names_the_resources_and_the_requested_region() -> None:
    got = authorization("sagemaker", "DescribeEndpoint", {"EndpointName": "E"}, "ap-south-1", "1")
    assert got.resources == ("arn:aws:sagemaker:ap-south-1:1:endpoint/e",)
    assert got.context["aws:RequestedRegion"] == "ap-south-1"


def test_an_unmapped_operation_or_service_acts_on_everything() -> None:
    assert authorization("sagemaker", "CreateCluster", {}, REGION, ACCOUNT).resources == ("*",)
    got = authorization("kinesis", "PutRecord", {"StreamName": "s"}, REGION, ACCOUNT)
    assert (got.action, got.resources) == ("kinesis:PutRecord", ("*",))
    got = authorization("s3", "RenameObject", {"Bucket": "b"}, REGION, ACCOUNT)
    assert (got.action, got.resources) == ("s3:RenameObject", ("*",))


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"EndpointName": 5, "EndpointConfigName": ["x"]},
        {"Tags": "not tags", "TagKeys": [1, None]},
        {"Tags": [{"Key": 1}, "x", {"Key": "k"}]},
        {"StackName": {"a": 1}, "RoleARN": 7},
        {"Bucket": None, "Key": ["k"], "Delete": "x", "CopySource": 3},
    ],
)
@pytest.mark.parametrize(
    ("service", "operation"),
    [
        ("sagemaker", "CreateEndpoint"),
        ("cloudformation", "CreateStack"),
        ("s3", "CopyObject"),
        ("s3", "DeleteObjects"),
        ("glue", "CreateTable"),
        ("logs", "GetLogEvents"),
        ("iam", "GetUser"),
    ],
)
def test_malformed_members_never_raise(service: str, operation: str, params: dict) -> None:
    got = authorization(service, operation, params, REGION, ACCOUNT)
    assert got.action.endswith(f":{operation}") or got.action.startswith("s3:")
    assert got.resources


def test_a_request_missing_a_resource_member_acts_on_everything() -> None:
    got = authorization("sagemaker", "CreateEndpoint", {"EndpointName": "e"}, REGION, ACCOUNT)
    assert got.resources == ("*",)


def test_iam_paths_come_from_the_lookup_and_self_service_acts_on_the_caller() -> None:
    paths = {("role", "r"): "/service-role/", ("user", "alice"): "/people/"}
    lookup = lambda kind, name: paths.get((kind, name))  # noqa: E731
    got = authorization("iam", "GetRole", {"RoleName": "r"}, REGION, ACCOUNT, iam_path=lookup)
    assert got.resources == (f"arn:aws:iam::{ACCOUNT}:role/service-role/r",)
    got = authorization(
        "iam", "ListAccessKeys", {}, REGION, ACCOUNT,
        iam_path=lookup, extra_context={"aws:username": "alice"},
    )  # fmt: skip
    assert got.resources == (f"arn:aws:iam::{ACCOUNT}:user/people/alice",)
    assert got.context["aws:username"] == "alice"
    assert authorization("iam", "ListAccessKeys", {}, REGION, ACCOUNT).resources == ("*",)


def test_a_role_named_without_an_arn_is_passed_by_its_arn() -> None:
    got = authorization(
        "sagemaker",
        "CreateHyperParameterTuningJob",
        {
            "HyperParameterTuningJobName": "T",
            "TrainingJobDefinitions": [{"RoleArn": ROLE}, {"RoleArn": "other"}],
        },
        REGION,
        ACCOUNT,
    )
    assert got.resources == (arn("sagemaker", "hyper-parameter-tuning-job/t"),)
    assert [c.resources for c in got.checks] == [(ROLE,), (f"arn:aws:iam::{ACCOUNT}:role/other",)]


def test_requests_no_service_has_are_not_named() -> None:
    assert wire_call("GET", "/nowhere", {}) is None
    lambda_signed = {
        "Authorization": "AWS4-HMAC-SHA256 Credential=x/20250101/eu-west-1/lambda/aws4_request, "
        "SignedHeaders=host, Signature=0"
    }
    assert wire_call("PATCH", "/nowhere", lambda_signed) is None


def test_an_unknown_query_action_keeps_its_members_flat() -> None:
    headers = {
        "Authorization": "AWS4-HMAC-SHA256 Credential=x/20250101/eu-west-1/cloudformation/"
        "aws4_request, SignedHeaders=host, Signature=0",
        "Content-Type": "application/x-www-form-urlencoded",
    }
    call = wire_call("POST", "/", headers, b"Action=MakeItSo&Version=2010-05-15&StackName=s")
    assert call == Call("cloudformation", "MakeItSo", {"StackName": "s"})
