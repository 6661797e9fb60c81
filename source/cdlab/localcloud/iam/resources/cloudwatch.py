"""CloudWatch's and CloudWatch Logs' resources.

- CloudWatch: ``arn:aws:cloudwatch:REGION:ACCOUNT:alarm:NAME``, dashboards without a region
  (https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazoncloudwatch.html);
- CloudWatch Logs: ``arn:aws:logs:REGION:ACCOUNT:log-group:NAME:*`` for log-group actions and
  ``...:log-group:NAME:log-stream:STREAM`` for stream actions
  (https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazoncloudwatchlogs.html).
  A log group's ARN carries a trailing ``:*`` in every action but the tagging ones (TagResource,
  UntagResource, ListTagsForResource), "Overview of managing access permissions to your
  CloudWatch Logs resources"
  (https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/iam-access-control-overview-cwl.html).
"""

from __future__ import annotations

from cdlab.localcloud.iam.resources.builders import Builder, Params, Scope, given, is_arn, members


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
    **dict.fromkeys(("TagResource", "UntagResource", "ListTagsForResource"), given("ResourceARN")),
}


# ---- CloudWatch Logs -------------------------------------------------------------------------


def _group_arns(params: Params, scope: Scope, *paths: str) -> list[str]:
    """Log-group ARNs without the trailing ``:*``, from names or identifiers (name or ARN)."""
    return [
        value.removesuffix(":*")
        if is_arn(value)
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
