"""A CodeBuild project's LogsConfig (and StartBuild's logsConfigOverride) in the local cloud: with
CloudWatch Logs DISABLED a build writes no log and its role needs no CloudWatch Logs permission;
``groupName`` and ``streamName`` (a prefix of the build's stream) say where the log goes, and the
role's permission is asked for that group; S3 logs, which the local cloud does not write, are
refused (https://docs.aws.amazon.com/codebuild/latest/APIReference/API_LogsConfig.html)."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.integration.test_codebuild import CODEBUILD, ENVIRONMENT, finished, log_text, phases
from tests.roles import ACCOUNT, allowing, make_role, trusting

BUILDSPEC = """version: 0.2
phases:
  build:
    commands:
      - echo marker-$CODEBUILD_BUILD_ID
"""
DISABLED = {"cloudWatchLogs": {"status": "DISABLED"}}
S3_LOGS_DISABLED = {"status": "DISABLED", "encryptionDisabled": False}
GROUP = "/cdlab/test/custom-build-logs"


@pytest.fixture(scope="module")
def no_logs_role(client) -> str:
    """A CodeBuild service role allowed nothing at all."""
    return make_role(client("iam"), "cdlab-test-codebuild-silent", trusting(CODEBUILD), None)


def create(cb, name: str, role: str, **extra: Any) -> str:
    """A project of an inline buildspec, no source and no artifacts (so the role needs no S3)."""
    cb.create_project(
        name=name,
        source={"type": "NO_SOURCE", "buildspec": BUILDSPEC},
        artifacts={"type": "NO_ARTIFACTS"},
        environment=ENVIRONMENT,
        serviceRole=role,
        **extra,
    )
    return name


def groups(logs, prefix: str) -> list[str]:
    found = logs.describe_log_groups(logGroupNamePrefix=prefix)["logGroups"]
    return [g["logGroupName"] for g in found]


def test_a_build_without_cloudwatch_logs_needs_no_logs_permission(cb, logs, no_logs_role):
    name = create(cb, "cdlab-test-logs-disabled", no_logs_role, logsConfig=DISABLED)
    build = finished(cb, cb.start_build(projectName=name)["build"]["id"])
    assert build["buildStatus"] == "SUCCEEDED", phases(build)
    assert build["logs"] == {"cloudWatchLogs": {"status": "DISABLED"}, "s3Logs": S3_LOGS_DISABLED}
    assert groups(logs, f"/aws/codebuild/{name}") == []


def test_logs_config_override_disables_the_logs_of_one_build(cb, logs, no_logs_role):
    name = create(cb, "cdlab-test-logs-override", no_logs_role)
    quiet = cb.start_build(projectName=name, logsConfigOverride=DISABLED)["build"]
    assert quiet["logs"]["cloudWatchLogs"] == {"status": "DISABLED"}
    assert finished(cb, quiet["id"])["buildStatus"] == "SUCCEEDED"
    assert groups(logs, f"/aws/codebuild/{name}") == []
    # without the override, the project's CloudWatch Logs are enabled and the role may not
    logged = finished(cb, cb.start_build(projectName=name)["build"]["id"])
    [context] = phases(logged)["PROVISIONING"]["contexts"]
    assert logged["buildStatus"] == "FAILED" and context["statusCode"] == "ACCESS_DENIED"


def test_group_and_stream_names_say_where_the_log_goes_and_what_the_role_needs(
    cb, logs, client, no_logs_role
):
    group_arn = f"arn:aws:logs:*:{ACCOUNT}:log-group:{GROUP}"
    only_the_group = {
        "Effect": "Allow",
        "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
        "Resource": [group_arn, f"{group_arn}:*"],
    }
    role = make_role(
        client("iam"), "cdlab-test-codebuild-group", trusting(CODEBUILD), allowing(only_the_group)
    )
    config = {"status": "ENABLED", "groupName": GROUP, "streamName": "nightly"}
    name = create(cb, "cdlab-test-logs-custom", role, logsConfig={"cloudWatchLogs": config})
    build = finished(cb, cb.start_build(projectName=name)["build"]["id"])
    assert build["buildStatus"] == "SUCCEEDED", phases(build)
    uuid = build["id"].partition(":")[2]
    assert build["logs"]["groupName"] == GROUP
    assert build["logs"]["streamName"] == f"nightly/{uuid}"
    assert build["logs"]["cloudWatchLogs"] == config
    assert f"marker-{build['id']}" in log_text(logs, build)
    # the same role may not write a project's default group
    other = create(cb, "cdlab-test-logs-default", role)
    default = finished(cb, cb.start_build(projectName=other)["build"]["id"])
    assert default["logs"]["groupName"] == f"/aws/codebuild/{other}"
    [context] = phases(default)["PROVISIONING"]["contexts"]
    assert default["buildStatus"] == "FAILED" and context["statusCode"] == "ACCESS_DENIED"


def test_s3_logs_are_refused_not_kept_unwritten(cb, no_logs_role):
    s3_logs = {"status": "ENABLED", "location": "cdlab-test-codebuild-artifacts/build-logs"}
    with pytest.raises(ClientError) as info:
        create(cb, "cdlab-test-logs-s3", no_logs_role, logsConfig={"s3Logs": s3_logs})
    error = info.value.response["Error"]
    assert error["Code"] == "InvalidInputException" and "s3Logs" in error["Message"]
    name = create(cb, "cdlab-test-logs-s3-override", no_logs_role, logsConfig=DISABLED)
    with pytest.raises(ClientError) as info:
        cb.start_build(projectName=name, logsConfigOverride={"s3Logs": s3_logs})
    error = info.value.response["Error"]
    assert error["Code"] == "InvalidInputException" and "s3Logs" in error["Message"]
    assert cb.list_builds_for_project(projectName=name)["ids"] == []
