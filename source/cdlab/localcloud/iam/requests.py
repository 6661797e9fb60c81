"""What IAM evaluates for a request: the action, the resources it acts on, the condition context,
and the further authorizations the request needs (issue 13).

The action is ``<service prefix>:<Operation>`` with the prefix the Service Authorization
Reference gives each service (https://docs.aws.amazon.com/service-authorization/latest/reference/reference_policies_actions-resources-contextkeys.html):
mostly the name the request is signed for, but CloudWatch signs as ``monitoring`` and is
``cloudwatch`` (https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazoncloudwatch.html),
the SageMaker runtime's InvokeEndpoint is ``sagemaker:InvokeEndpoint``
(https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonsagemaker.html),
IoT data is ``iot`` (https://docs.aws.amazon.com/service-authorization/latest/reference/list_awsiot.html)
and the tagging API ``tag``
(https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonresourcegrouptaggingapi.html).
S3's operations map to their own actions (:mod:`.s3`); the resources come from
:mod:`.resources`.

A request that hands a service a role to act with needs ``iam:PassRole`` on that role, with
``iam:PassedToService`` naming the service ("Grant a user permissions to pass a role to an AWS
service", https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_use_passrole.html): SageMaker's
execution roles ("How to use SageMaker AI execution roles",
https://docs.aws.amazon.com/sagemaker/latest/dg/sagemaker-roles.html) and CloudFormation's service
role ("CloudFormation service role",
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/using-iam-servicerole.html).

Every check's context holds the global keys the kit knows ("AWS global condition context keys",
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html):
``aws:RequestedRegion`` (the signed region), ``aws:SecureTransport`` (False: the local cloud
answers plain HTTP on the loopback), ``aws:PrincipalAccount``, plus what the caller adds
(``aws:username``, ``aws:PrincipalArn``, ...); the request's tags as ``aws:RequestTag/KEY`` and
``aws:TagKeys``; and the service keys the Service Authorization Reference lists for the action
that the request carries (``cloudformation:RoleArn``, ``cloudwatch:namespace``, ...).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cdlab.localcloud.iam import s3
from cdlab.localcloud.iam.resources import Check, Params, PathLookup, Scope, members, resources

# signing names (and botocore client names) whose IAM prefix differs
PREFIXES = {
    "monitoring": "cloudwatch",
    "sagemaker-runtime": "sagemaker",
    "runtime.sagemaker": "sagemaker",
    "iotdata": "iot",
    "iot-data": "iot",
    "tagging": "tag",
    "resourcegroupstaggingapi": "tag",
}

SAGEMAKER_PRINCIPAL = "sagemaker.amazonaws.com"
CLOUDFORMATION_PRINCIPAL = "cloudformation.amazonaws.com"
CODEBUILD_PRINCIPAL = "codebuild.amazonaws.com"

# (prefix, operation) -> the members that name a role the service will act with, and the service
PASS_ROLE: dict[tuple[str, str], tuple[tuple[str, ...], str]] = {
    ("sagemaker", "CreateModel"): (("ExecutionRoleArn",), SAGEMAKER_PRINCIPAL),
    ("sagemaker", "CreateEndpointConfig"): (("ExecutionRoleArn",), SAGEMAKER_PRINCIPAL),
    ("sagemaker", "CreateTrainingJob"): (("RoleArn",), SAGEMAKER_PRINCIPAL),
    ("sagemaker", "CreateProcessingJob"): (("RoleArn",), SAGEMAKER_PRINCIPAL),
    ("sagemaker", "CreateHyperParameterTuningJob"): (
        ("TrainingJobDefinition.RoleArn", "TrainingJobDefinitions.RoleArn"),
        SAGEMAKER_PRINCIPAL,
    ),
    **{
        ("cloudformation", operation): (("RoleARN",), CLOUDFORMATION_PRINCIPAL)
        for operation in ("CreateStack", "UpdateStack", "DeleteStack", "CreateChangeSet")
    },
    **{
        ("codebuild", operation): (("serviceRole",), CODEBUILD_PRINCIPAL)
        for operation in ("CreateProject", "UpdateProject")
    },
}

# (prefix, operation) -> condition key -> the members that hold its values; a key listed as a
# list in the Service Authorization Reference's multivalued keys gets every value
SERVICE_KEYS: dict[tuple[str, str], dict[str, tuple[str, ...]]] = {
    **{
        ("sagemaker", operation): {"sagemaker:TargetModel": ("TargetModel",)}
        for operation in ("InvokeEndpoint", "InvokeEndpointAsync")
    },
    ("sagemaker", "CreateTrainingJob"): {
        "sagemaker:InstanceTypes": (
            "ResourceConfig.InstanceType",
            "ResourceConfig.InstanceGroups.InstanceType",
        )
    },
    ("sagemaker", "CreateEndpointConfig"): {
        "sagemaker:InstanceTypes": ("ProductionVariants.InstanceType",)
    },
    ("sagemaker", "CreateProcessingJob"): {
        "sagemaker:InstanceTypes": ("ProcessingResources.ClusterConfig.InstanceType",)
    },
    **{
        ("cloudformation", operation): {
            "cloudformation:RoleArn": ("RoleARN",),
            "cloudformation:TemplateUrl": ("TemplateURL",),
            "cloudformation:StackPolicyUrl": ("StackPolicyURL",),
            "cloudformation:ResourceTypes": ("ResourceTypes",),
        }
        for operation in ("CreateStack", "UpdateStack")
    },
    ("cloudformation", "CreateChangeSet"): {
        "cloudformation:RoleArn": ("RoleARN",),
        "cloudformation:TemplateUrl": ("TemplateURL",),
        "cloudformation:ResourceTypes": ("ResourceTypes",),
        "cloudformation:ChangeSetName": ("ChangeSetName",),
    },
    ("cloudformation", "DeleteStack"): {"cloudformation:RoleArn": ("RoleARN",)},
    **{
        ("cloudformation", operation): {"cloudformation:ChangeSetName": ("ChangeSetName",)}
        for operation in ("DescribeChangeSet", "DeleteChangeSet", "ExecuteChangeSet")
    },
    **{
        ("cloudformation", operation): {"cloudformation:TemplateUrl": ("TemplateURL",)}
        for operation in ("ValidateTemplate", "GetTemplateSummary")
    },
    ("cloudformation", "SetStackPolicy"): {"cloudformation:StackPolicyUrl": ("StackPolicyURL",)},
    ("cloudwatch", "PutMetricData"): {"cloudwatch:namespace": ("Namespace",)},
    ("cloudwatch", "PutMetricAlarm"): {"cloudwatch:AlarmActions": ("AlarmActions",)},
    **{
        ("application-autoscaling", operation): {
            "application-autoscaling:service-namespace": ("ServiceNamespace",),
            "application-autoscaling:scalable-dimension": ("ScalableDimension",),
        }
        for operation in (
            "RegisterScalableTarget",
            "DeregisterScalableTarget",
            "PutScalingPolicy",
            "DeleteScalingPolicy",
            "PutScheduledAction",
            "DeleteScheduledAction",
        )
    },
    **{
        ("iam", operation): {"iam:PolicyARN": ("PolicyArn",)}
        for operation in (
            "AttachRolePolicy",
            "DetachRolePolicy",
            "AttachUserPolicy",
            "DetachUserPolicy",
            "AttachGroupPolicy",
            "DetachGroupPolicy",
        )
    },
    **{
        ("iam", operation): {"iam:PermissionsBoundary": ("PermissionsBoundary",)}
        for operation in (
            "CreateRole",
            "CreateUser",
            "PutRolePermissionsBoundary",
            "PutUserPermissionsBoundary",
        )
    },
    ("sts", "AssumeRole"): {
        "sts:RoleSessionName": ("RoleSessionName",),
        "sts:ExternalId": ("ExternalId",),
    },
}

# the keys the reference lists as single-valued; every other service key is multivalued
SINGLE_VALUED = {
    "sagemaker:TargetModel",
    "cloudformation:RoleArn",
    "cloudformation:TemplateUrl",
    "cloudformation:StackPolicyUrl",
    "cloudformation:ChangeSetName",
    "cloudwatch:namespace",
    "application-autoscaling:service-namespace",
    "application-autoscaling:scalable-dimension",
    "iam:PolicyARN",
    "iam:PermissionsBoundary",
    "sts:RoleSessionName",
    "sts:ExternalId",
}


@dataclass(frozen=True)
class Authorization:
    """What a request asks of IAM: ``action`` on every one of ``resources`` in ``context``, and
    each of ``checks`` besides (iam:PassRole, the source of an S3 copy, ...)."""

    action: str
    resources: tuple[str, ...]
    context: Mapping[str, Any]
    checks: tuple[Check, ...] = ()

    @property
    def all_checks(self) -> tuple[Check, ...]:
        """Every authorization the request needs, its own action first."""
        return (Check(self.action, self.resources, self.context), *self.checks)


def iam_prefix(service: str) -> str:
    """The IAM service prefix of a service, named as its requests are signed (or as botocore's
    client)."""
    return PREFIXES.get(service, service)


def _role_arn(role: str, account: str) -> str:
    return role if role.startswith("arn:") else f"arn:aws:iam::{account}:role/{role}"


def passed_roles(
    service: str, operation: str, params: Mapping[str, Any], account: str
) -> list[tuple[str, str]]:
    """The roles a request hands a service to act with, as (role ARN, the service's principal),
    for an operation AWS checks iam:PassRole on; none for any other."""
    paths, principal = PASS_ROLE.get((iam_prefix(service), operation), ((), ""))
    roles = dict.fromkeys(
        _role_arn(role, account) for path in paths for role in members(params, path)
    )
    return [(role, principal) for role in roles]


def _pass_role(prefix: str, operation: str, params: Params, account: str) -> list[Check]:
    return [
        Check("iam:PassRole", (role,), {"iam:PassedToService": service})
        for role, service in passed_roles(prefix, operation, params, account)
    ]


def _tags(params: Params) -> dict[str, Any]:
    """The request's tags as aws:RequestTag/KEY, and their keys as aws:TagKeys. Tags come as a
    list of Key/Value pairs or as a map; an untagging request names only keys."""
    tags = params.get("Tags", params.get("tags"))
    if isinstance(tags, Mapping):
        pairs = [(k, v) for k, v in tags.items() if isinstance(k, str) and isinstance(v, str)]
    elif isinstance(tags, list):
        pairs = [
            (tag["Key"], tag.get("Value", ""))
            for tag in tags
            if isinstance(tag, Mapping) and isinstance(tag.get("Key"), str)
        ]
    else:
        keys = members(params, "TagKeys") or members(params, "tagKeys")
        return {"aws:TagKeys": keys} if keys else {}
    context: dict[str, Any] = {f"aws:RequestTag/{key}": value for key, value in pairs}
    if pairs:
        context["aws:TagKeys"] = [key for key, _ in pairs]
    return context


def _service_keys(prefix: str, operation: str, params: Params) -> dict[str, Any]:
    context: dict[str, Any] = {}
    for key, paths in SERVICE_KEYS.get((prefix, operation), {}).items():
        values = list(dict.fromkeys(value for path in paths for value in members(params, path)))
        if values:
            context[key] = values[0] if key in SINGLE_VALUED else values
    return context


def authorization(
    service: str,
    operation: str,
    params: Mapping[str, Any],
    ctx_region: str,
    account: str,
    *,
    iam_path: PathLookup | None = None,
    extra_context: Mapping[str, Any] | None = None,
) -> Authorization:
    """What IAM evaluates for ``operation`` of ``service`` (the name the request is signed for,
    or botocore's client name) with the request's members ``params`` (botocore's member names),
    signed for ``ctx_region`` in ``account``. ``extra_context`` adds the caller's keys
    (``aws:username`` also names the user IAM's self-service actions act on); ``iam_path`` finds
    the path of an IAM entity a request names without one. Never raises: an operation nobody
    mapped is ``<prefix>:<Operation>`` on ``*``."""
    params = params if isinstance(params, Mapping) else {}
    extra = dict(extra_context or {})
    prefix = iam_prefix(service)
    base = {
        "aws:RequestedRegion": ctx_region,
        "aws:SecureTransport": False,
        "aws:PrincipalAccount": account,
        **extra,
    }
    if prefix == "s3":
        own, *others = s3.checks(operation, params)
    else:
        username = extra.get("aws:username")
        scope = Scope(
            ctx_region, account, iam_path, username if isinstance(username, str) else None
        )
        own = Check(f"{prefix}:{operation}", resources(prefix, operation, params, scope))
        others = []
    others += _pass_role(prefix, operation, params, account)
    context = {
        **base,
        **_tags(params),
        **_service_keys(prefix, operation, params),
        **own.context,
    }
    return Authorization(
        own.action,
        own.resources,
        context,
        tuple(Check(other.action, other.resources, {**base, **other.context}) for other in others),
    )
