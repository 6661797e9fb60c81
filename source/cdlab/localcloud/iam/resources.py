"""The resources an operation acts on, as IAM names them: ARNs filled from the request's members.

For each action the Service Authorization Reference lists the resource types it acts on; a table
here maps each operation to builders of those types' ARNs, in the formats the reference gives:

- SageMaker: ``arn:aws:sagemaker:REGION:ACCOUNT:model/NAME`` (``endpoint-config/``,
  ``endpoint/``, ``training-job/``, ...), names lowercased as SageMaker's ARNs are
  (https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonsagemaker.html);
- CloudFormation: ``arn:aws:cloudformation:REGION:ACCOUNT:stack/NAME/*`` (the stack id is not in
  the request), or the stack id when the request names the stack by it; change-set actions act
  on the stack
  (https://docs.aws.amazon.com/service-authorization/latest/reference/list_awscloudformation.html);
- CloudWatch: ``arn:aws:cloudwatch:REGION:ACCOUNT:alarm:NAME``, dashboards without a region
  (https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazoncloudwatch.html);
- CloudWatch Logs: ``arn:aws:logs:REGION:ACCOUNT:log-group:NAME:*`` for log-group actions and
  ``...:log-group:NAME:log-stream:STREAM`` for stream actions
  (https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazoncloudwatchlogs.html).
  A log group's ARN carries a trailing ``:*`` in every action but the tagging ones (TagResource,
  UntagResource, ListTagsForResource), "Overview of managing access permissions to your
  CloudWatch Logs resources"
  (https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/iam-access-control-overview-cwl.html);
- Glue: the catalog ``arn:aws:glue:REGION:ACCOUNT:catalog``, ``database/NAME`` and
  ``table/DATABASE/NAME``; a table action acts on all three
  (https://docs.aws.amazon.com/service-authorization/latest/reference/list_awsglue.html,
  https://docs.aws.amazon.com/glue/latest/dg/glue-specifying-resource-arns.html);
- IAM: ``arn:aws:iam::ACCOUNT:role/PATH/NAME`` (``user/``, ``group/``, ``policy/``,
  ``instance-profile/``)
  (https://docs.aws.amazon.com/service-authorization/latest/reference/list_awsidentityandaccessmanagementiam.html);
- STS: AssumeRole on the role's ARN, GetFederationToken on
  ``arn:aws:sts::ACCOUNT:federated-user/NAME``
  (https://docs.aws.amazon.com/service-authorization/latest/reference/list_awssecuritytokenservice.html).

Application Auto Scaling's scalable-target ARN ends in an id the service assigns, which no
request carries, so its actions are evaluated on ``*`` here
(https://docs.aws.amazon.com/service-authorization/latest/reference/list_awsapplicationautoscaling.html).
An operation a table does not list, and a request that leaves out a member its ARN needs, act on
``*``: a policy must then allow the action on every resource.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

ANY = ("*",)


@dataclass(frozen=True)
class Check:
    """One authorization AWS makes for a request: an action on resources, in a context. Every
    resource must be allowed."""

    action: str
    resources: tuple[str, ...]
    context: Mapping[str, Any] = field(default_factory=dict)


PathLookup = Callable[[str, str], str | None]
"""An IAM entity's path (``/service-role/``) by kind (``role``, ``user``, ``group``,
``instance-profile``) and name, or None when it is not known (the path is then ``/``)."""


@dataclass(frozen=True)
class Scope:
    """Where a request acts: its signed region and its account; for IAM, how to find an entity's
    path and which user is calling (IAM's user actions act on the caller when they name nobody)."""

    region: str
    account: str
    iam_path: PathLookup | None = None
    username: str | None = None


Params = Mapping[str, Any]
Builder = Callable[[Params, Scope], list[str]]


def members(params: Any, path: str) -> list[str]:
    """The non-empty strings at a dotted member path (``TableInput.Name``); a list on the way
    fans out (``TrainingJobDefinitions.RoleArn``). Anything else a request holds is skipped."""
    found = [params]
    for name in path.split("."):
        step: list[Any] = []
        for item in found:
            value = item.get(name) if isinstance(item, Mapping) else None
            step.extend(value if isinstance(value, list) else [value])
        found = step
    return [value for value in found if isinstance(value, str) and value]


def _is_arn(value: str) -> bool:
    return value.startswith("arn:")


def _all(*builders: Builder) -> Builder:
    """Every builder's ARNs; none at all if one of them finds nothing (the action needs each)."""

    def build(params: Params, scope: Scope) -> list[str]:
        arns: list[str] = []
        for builder in builders:
            found = builder(params, scope)
            if not found:
                return []
            arns += found
        return arns

    return build


def _optional(builder: Builder, *required: Builder) -> Builder:
    """The required builders' ARNs, plus the optional builder's when the request names it."""
    need = _all(*required)

    def build(params: Params, scope: Scope) -> list[str]:
        arns = need(params, scope)
        return arns + builder(params, scope) if arns else []

    return build


def _given(member: str) -> Builder:
    """The ARNs the request gives (tagging actions name their resource by ARN)."""
    return lambda params, _scope: [v for v in members(params, member) if _is_arn(v)]


# ---- SageMaker -------------------------------------------------------------------------------


def _sagemaker(kind: str, member: str) -> Builder:
    def build(params: Params, scope: Scope) -> list[str]:
        return [
            f"arn:aws:sagemaker:{scope.region}:{scope.account}:{kind}/{name.lower()}"
            for name in members(params, member)
        ]

    return build


_MODEL = _sagemaker("model", "ModelName")
_CONFIG = _sagemaker("endpoint-config", "EndpointConfigName")
_ENDPOINT = _sagemaker("endpoint", "EndpointName")
_TRAINING = _sagemaker("training-job", "TrainingJobName")
_PROCESSING = _sagemaker("processing-job", "ProcessingJobName")
_TRANSFORM = _sagemaker("transform-job", "TransformJobName")
_TUNING = _sagemaker("hyper-parameter-tuning-job", "HyperParameterTuningJobName")
_INVOCATION = _optional(_sagemaker("inference-component", "InferenceComponentName"), _ENDPOINT)

SAGEMAKER: dict[str, Builder] = {
    **dict.fromkeys(("CreateModel", "DescribeModel", "DeleteModel"), _MODEL),
    **dict.fromkeys(
        ("CreateEndpointConfig", "DescribeEndpointConfig", "DeleteEndpointConfig"), _CONFIG
    ),
    **dict.fromkeys(("CreateEndpoint", "UpdateEndpoint"), _all(_ENDPOINT, _CONFIG)),
    **dict.fromkeys(
        ("DescribeEndpoint", "DeleteEndpoint", "UpdateEndpointWeightsAndCapacities"), _ENDPOINT
    ),
    **dict.fromkeys(
        ("InvokeEndpoint", "InvokeEndpointAsync", "InvokeEndpointWithResponseStream"), _INVOCATION
    ),
    **dict.fromkeys(
        (
            "CreateTrainingJob",
            "DescribeTrainingJob",
            "StopTrainingJob",
            "DeleteTrainingJob",
            "UpdateTrainingJob",
        ),
        _TRAINING,
    ),
    **dict.fromkeys(
        ("CreateProcessingJob", "DescribeProcessingJob", "StopProcessingJob"), _PROCESSING
    ),
    **dict.fromkeys(("CreateTransformJob", "DescribeTransformJob", "StopTransformJob"), _TRANSFORM),
    **dict.fromkeys(
        (
            "CreateHyperParameterTuningJob",
            "DescribeHyperParameterTuningJob",
            "StopHyperParameterTuningJob",
            "DeleteHyperParameterTuningJob",
            "ListTrainingJobsForHyperParameterTuningJob",
        ),
        _TUNING,
    ),
    **dict.fromkeys(("AddTags", "DeleteTags", "ListTags"), _given("ResourceArn")),
}

# ---- CloudFormation --------------------------------------------------------------------------


def _stack(params: Params, scope: Scope) -> list[str]:
    prefix = f"arn:aws:cloudformation:{scope.region}:{scope.account}:stack/"
    return [name if _is_arn(name) else f"{prefix}{name}/*" for name in members(params, "StackName")]


CLOUDFORMATION: dict[str, Builder] = dict.fromkeys(
    (
        "CreateStack",
        "UpdateStack",
        "DeleteStack",
        "DescribeStacks",
        "DescribeStackEvents",
        "DescribeStackResource",
        "DescribeStackResources",
        "ListStackResources",
        "GetTemplate",
        "GetTemplateSummary",
        "GetStackPolicy",
        "SetStackPolicy",
        "CancelUpdateStack",
        "ContinueUpdateRollback",
        "RollbackStack",
        "UpdateTerminationProtection",
        "SignalResource",
        "DetectStackDrift",
        "DetectStackResourceDrift",
        "DescribeStackResourceDrifts",
        "CreateChangeSet",
        "DescribeChangeSet",
        "DescribeChangeSetHooks",
        "ListChangeSets",
        "DeleteChangeSet",
        "ExecuteChangeSet",
    ),
    _stack,
)

# ---- CloudWatch ------------------------------------------------------------------------------


def _alarm(member: str) -> Builder:
    def build(params: Params, scope: Scope) -> list[str]:
        return [
            f"arn:aws:cloudwatch:{scope.region}:{scope.account}:alarm:{name}"
            for name in members(params, member)
        ]

    return build


def _dashboard(member: str) -> Builder:
    def build(params: Params, scope: Scope) -> list[str]:
        return [
            f"arn:aws:cloudwatch::{scope.account}:dashboard/{name}"
            for name in members(params, member)
        ]

    return build


CLOUDWATCH: dict[str, Builder] = {
    **dict.fromkeys(
        ("PutMetricAlarm", "PutCompositeAlarm", "SetAlarmState", "DescribeAlarmHistory"),
        _alarm("AlarmName"),
    ),
    **dict.fromkeys(
        ("DescribeAlarms", "DeleteAlarms", "EnableAlarmActions", "DisableAlarmActions"),
        _alarm("AlarmNames"),
    ),
    **dict.fromkeys(("PutDashboard", "GetDashboard"), _dashboard("DashboardName")),
    "DeleteDashboards": _dashboard("DashboardNames"),
    **dict.fromkeys(("TagResource", "UntagResource", "ListTagsForResource"), _given("ResourceARN")),
}

# ---- CloudWatch Logs -------------------------------------------------------------------------


def _group_arns(params: Params, scope: Scope, *paths: str) -> list[str]:
    """Log-group ARNs without the trailing ``:*``, from names or identifiers (name or ARN)."""
    return [
        value.removesuffix(":*")
        if _is_arn(value)
        else f"arn:aws:logs:{scope.region}:{scope.account}:log-group:{value}"
        for path in paths
        for value in members(params, path)
    ]


def _log_group(*paths: str, tagging: bool = False) -> Builder:
    suffix = "" if tagging else ":*"
    return lambda params, scope: [arn + suffix for arn in _group_arns(params, scope, *paths)]


def _log_stream(params: Params, scope: Scope) -> list[str]:
    groups = _group_arns(params, scope, "logGroupName", "logGroupIdentifier")
    streams = members(params, "logStreamName")
    return [f"{group}:log-stream:{stream}" for group in groups[:1] for stream in streams]


_GROUP = _log_group("logGroupName", "logGroupIdentifier")

LOGS: dict[str, Builder] = {
    **dict.fromkeys(
        (
            "CreateLogGroup",
            "DeleteLogGroup",
            "DescribeLogStreams",
            "FilterLogEvents",
            "PutRetentionPolicy",
            "DeleteRetentionPolicy",
            "PutMetricFilter",
            "DeleteMetricFilter",
            "DescribeMetricFilters",
            "PutSubscriptionFilter",
            "DeleteSubscriptionFilter",
            "DescribeSubscriptionFilters",
            "AssociateKmsKey",
            "DisassociateKmsKey",
            "ListTagsLogGroup",
            "TagLogGroup",
            "UntagLogGroup",
            "CreateExportTask",
            "GetLogGroupFields",
            "PutDataProtectionPolicy",
            "GetDataProtectionPolicy",
            "DeleteDataProtectionPolicy",
        ),
        _GROUP,
    ),
    **dict.fromkeys(
        ("CreateLogStream", "DeleteLogStream", "PutLogEvents", "GetLogEvents"), _log_stream
    ),
    "StartQuery": _log_group("logGroupName", "logGroupNames", "logGroupIdentifiers"),
    "StartLiveTail": _log_group("logGroupIdentifiers"),
    **dict.fromkeys(
        ("TagResource", "UntagResource", "ListTagsForResource"),
        _log_group("resourceArn", tagging=True),
    ),
}

# ---- Glue ------------------------------------------------------------------------------------


def _glue(params: Params, scope: Scope, resource: str) -> str:
    [account] = members(params, "CatalogId")[:1] or [scope.account]
    return f"arn:aws:glue:{scope.region}:{account}:{resource}"


def _catalog(params: Params, scope: Scope) -> list[str]:
    return [_glue(params, scope, "catalog")]


def _database(member: str) -> Builder:
    return lambda params, scope: [
        _glue(params, scope, f"database/{name}") for name in members(params, member)
    ]


def _tables(database: str, table: str) -> Builder:
    def build(params: Params, scope: Scope) -> list[str]:
        return [
            _glue(params, scope, f"table/{db}/{name}")
            for db in members(params, database)
            for name in members(params, table)
        ]

    return build


def _contents(params: Params, scope: Scope) -> list[str]:
    """Everything in the database DeleteDatabase deletes: its tables and functions."""
    return [
        _glue(params, scope, f"{kind}/{name}/*")
        for name in members(params, "Name")
        for kind in ("table", "userDefinedFunction")
    ]


_DB = _database("DatabaseName")
_TABLE = _all(_catalog, _DB, _tables("DatabaseName", "TableName"))

GLUE: dict[str, Builder] = {
    "CreateDatabase": _all(_catalog, _database("DatabaseInput.Name")),
    **dict.fromkeys(("GetDatabase", "UpdateDatabase"), _all(_catalog, _database("Name"))),
    "DeleteDatabase": _all(_catalog, _database("Name"), _contents),
    "GetDatabases": _catalog,
    "GetTables": _all(_catalog, _DB),
    **dict.fromkeys(
        ("CreateTable", "UpdateTable"),
        _all(_catalog, _DB, _tables("DatabaseName", "TableInput.Name")),
    ),
    **dict.fromkeys(
        ("GetTable", "DeleteTable"), _all(_catalog, _DB, _tables("DatabaseName", "Name"))
    ),
    "BatchDeleteTable": _all(_catalog, _DB, _tables("DatabaseName", "TablesToDelete")),
    **dict.fromkeys(
        (
            "GetPartition",
            "GetPartitions",
            "CreatePartition",
            "BatchCreatePartition",
            "UpdatePartition",
            "DeletePartition",
            "BatchDeletePartition",
            "BatchGetPartition",
            "GetTableVersion",
            "GetTableVersions",
            "DeleteTableVersion",
            "BatchDeleteTableVersion",
        ),
        _TABLE,
    ),
    **dict.fromkeys(("TagResource", "UntagResource", "GetTags"), _given("ResourceArn")),
}

# ---- IAM and STS -----------------------------------------------------------------------------


def _path(text: str | None) -> str:
    """An IAM path as it sits in an ARN: ``/`` or ``/a/b/``."""
    if not text:
        return "/"
    return "/" + text.strip("/") + "/" if text.strip("/") else "/"


def _iam(kind: str, member: str, *, path_member: str = "", caller: bool = False) -> Builder:
    """ARNs of IAM entities named in the request (at the path it gives, else at the path the
    scope knows); with ``caller``, the calling user when the request names nobody."""

    def build(params: Params, scope: Scope) -> list[str]:
        names = members(params, member) or ([scope.username] if caller and scope.username else [])
        given = members(params, path_member)[:1] if path_member else []
        return [
            f"arn:aws:iam::{scope.account}:{kind}"
            + _path(given[0] if given else scope.iam_path and scope.iam_path(kind, name))
            + name
            for name in names
        ]

    return build


_ROLE = _iam("role", "RoleName")
_USER = _iam("user", "UserName")
_SELF = _iam("user", "UserName", caller=True)
_GROUP_IAM = _iam("group", "GroupName")
_PROFILE = _iam("instance-profile", "InstanceProfileName")
_POLICY_ARN = _given("PolicyArn")

IAM: dict[str, Builder] = {
    "CreateRole": _iam("role", "RoleName", path_member="Path"),
    **dict.fromkeys(
        (
            "GetRole",
            "DeleteRole",
            "UpdateRole",
            "UpdateRoleDescription",
            "UpdateAssumeRolePolicy",
            "PutRolePolicy",
            "GetRolePolicy",
            "DeleteRolePolicy",
            "ListRolePolicies",
            "AttachRolePolicy",
            "DetachRolePolicy",
            "ListAttachedRolePolicies",
            "TagRole",
            "UntagRole",
            "ListRoleTags",
            "PutRolePermissionsBoundary",
            "DeleteRolePermissionsBoundary",
            "ListInstanceProfilesForRole",
        ),
        _ROLE,
    ),
    "CreateUser": _iam("user", "UserName", path_member="Path"),
    **dict.fromkeys(
        (
            "DeleteUser",
            "UpdateUser",
            "PutUserPolicy",
            "GetUserPolicy",
            "DeleteUserPolicy",
            "ListUserPolicies",
            "AttachUserPolicy",
            "DetachUserPolicy",
            "ListAttachedUserPolicies",
            "TagUser",
            "UntagUser",
            "ListUserTags",
            "ListGroupsForUser",
            "CreateLoginProfile",
            "DeleteLoginProfile",
            "UpdateLoginProfile",
            "PutUserPermissionsBoundary",
            "DeleteUserPermissionsBoundary",
        ),
        _USER,
    ),
    **dict.fromkeys(
        (
            "GetUser",
            "CreateAccessKey",
            "DeleteAccessKey",
            "UpdateAccessKey",
            "ListAccessKeys",
            "GetLoginProfile",
            "ChangePassword",
            "ListMFADevices",
            "ListSSHPublicKeys",
            "ListSigningCertificates",
            "ListServiceSpecificCredentials",
        ),
        _SELF,
    ),
    "CreateGroup": _iam("group", "GroupName", path_member="Path"),
    **dict.fromkeys(
        (
            "GetGroup",
            "DeleteGroup",
            "UpdateGroup",
            "AddUserToGroup",
            "RemoveUserFromGroup",
            "PutGroupPolicy",
            "GetGroupPolicy",
            "DeleteGroupPolicy",
            "ListGroupPolicies",
            "AttachGroupPolicy",
            "DetachGroupPolicy",
            "ListAttachedGroupPolicies",
        ),
        _GROUP_IAM,
    ),
    "CreatePolicy": _iam("policy", "PolicyName", path_member="Path"),
    **dict.fromkeys(
        (
            "GetPolicy",
            "DeletePolicy",
            "CreatePolicyVersion",
            "GetPolicyVersion",
            "DeletePolicyVersion",
            "ListPolicyVersions",
            "SetDefaultPolicyVersion",
            "TagPolicy",
            "UntagPolicy",
            "ListPolicyTags",
            "ListEntitiesForPolicy",
        ),
        _POLICY_ARN,
    ),
    "CreateInstanceProfile": _iam("instance-profile", "InstanceProfileName", path_member="Path"),
    **dict.fromkeys(
        (
            "GetInstanceProfile",
            "DeleteInstanceProfile",
            "AddRoleToInstanceProfile",
            "RemoveRoleFromInstanceProfile",
            "TagInstanceProfile",
            "UntagInstanceProfile",
            "ListInstanceProfileTags",
        ),
        _PROFILE,
    ),
}


def _federated_user(params: Params, scope: Scope) -> list[str]:
    return [f"arn:aws:sts::{scope.account}:federated-user/{n}" for n in members(params, "Name")]


STS: dict[str, Builder] = {
    **dict.fromkeys(
        ("AssumeRole", "AssumeRoleWithWebIdentity", "AssumeRoleWithSAML"), _given("RoleArn")
    ),
    "GetFederationToken": _federated_user,
}

TABLES: dict[str, dict[str, Builder]] = {
    "sagemaker": SAGEMAKER,
    "cloudformation": CLOUDFORMATION,
    "cloudwatch": CLOUDWATCH,
    "logs": LOGS,
    "glue": GLUE,
    "iam": IAM,
    "sts": STS,
}


def resources(prefix: str, operation: str, params: Params, scope: Scope) -> tuple[str, ...]:
    """The ARNs the operation of the service with IAM prefix ``prefix`` acts on; ``("*",)`` for
    an operation no table lists, or a request that does not name what its action needs."""
    builder = TABLES.get(prefix, {}).get(operation)
    found = builder(params if isinstance(params, Mapping) else {}, scope) if builder else []
    return tuple(dict.fromkeys(found)) or ANY
