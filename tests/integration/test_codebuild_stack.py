"""CodeBuild projects from a CloudFormation stack (AWS::CodeBuild::Project through the CodeBuild
API), and CodeBuild's state across a restart of the local cloud: projects and ended builds stay;
a build cut short by a SIGKILL ends FAILED with the reason, never IN_PROGRESS."""

from __future__ import annotations

import json

import pytest

from cdlab.localcloud import control
from tests.integration.private_cloud import PrivateCloud
from tests.integration.test_codebuild import (
    CODEBUILD,
    ENVIRONMENT,
    LOGS,
    S3_ALL,
    finished,
    phases,
    source_zip,
)
from tests.polling import poll
from tests.roles import allowing, make_role, trusting

TEMPLATE = {
    "Parameters": {"Role": {"Type": "String"}, "Greeting": {"Type": "String"}},
    "Resources": {
        "Build": {
            "Type": "AWS::CodeBuild::Project",
            "Properties": {
                "ServiceRole": {"Ref": "Role"},
                "TimeoutInMinutes": "10",
                "Source": {
                    "Type": "S3",
                    "Location": "cdlab-test-stack-source/app.zip",
                    "BuildSpec": "version: 0.2\nphases:\n  build:\n    commands:\n"
                    "      - echo greeting=$GREETING\n",
                },
                "Artifacts": {"Type": "NO_ARTIFACTS"},
                "Environment": {
                    "Type": ENVIRONMENT["type"],
                    "Image": ENVIRONMENT["image"],
                    "ComputeType": ENVIRONMENT["computeType"],
                    "EnvironmentVariables": [{"Name": "GREETING", "Value": {"Ref": "Greeting"}}],
                },
                "LogsConfig": {
                    "CloudWatchLogs": {"Status": "ENABLED", "GroupName": "/cdlab/test/stack"}
                },
            },
        }
    },
    "Outputs": {
        "Name": {"Value": {"Ref": "Build"}},
        "Arn": {"Value": {"Fn::GetAtt": ["Build", "Arn"]}},
    },
}


def test_a_stack_creates_updates_and_deletes_a_project(client, s3, tmp_path, aws):
    s3.create_bucket(Bucket="cdlab-test-stack-source")
    s3.put_object(Bucket="cdlab-test-stack-source", Key="app.zip", Body=source_zip({"a": "1"}))
    role = make_role(
        client("iam"), "cdlab-test-stack-build", trusting(CODEBUILD), allowing(LOGS, S3_ALL)
    )
    template = tmp_path / "project.json"
    template.write_text(json.dumps(TEMPLATE))
    cfn, cb, logs = client("cloudformation"), client("codebuild"), client("logs")

    def deploy(greeting: str) -> dict[str, str]:
        aws(
            "cloudformation", "deploy", "--stack-name", "cdlab-test-codebuild",
            "--template-file", str(template),
            "--parameter-overrides", f"Role={role}", f"Greeting={greeting}",
        )  # fmt: skip
        stack = cfn.describe_stacks(StackName="cdlab-test-codebuild")["Stacks"][0]
        return {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}

    outputs = deploy("hello")
    name = outputs["Name"]
    assert name.startswith("Build-")
    assert outputs["Arn"] == f"arn:aws:codebuild:us-east-1:123456789012:project/{name}"
    [project] = cb.batch_get_projects(names=[name])["projects"]
    assert project["timeoutInMinutes"] == 10 and project["serviceRole"] == role
    deploy("updated")
    [project] = cb.batch_get_projects(names=[name])["projects"]
    assert project["environment"]["environmentVariables"] == [
        {"name": "GREETING", "value": "updated"}
    ]
    build = finished(cb, cb.start_build(projectName=name)["build"]["id"])
    assert build["buildStatus"] == "SUCCEEDED"
    assert build["logs"]["groupName"] == "/cdlab/test/stack"
    poll(
        lambda: logs.filter_log_events(logGroupName="/cdlab/test/stack")["events"],
        until=lambda events: any("greeting=updated" in e["message"] for e in events),
        what="the build's output in the stack's log group",
    )
    cfn.delete_stack(StackName="cdlab-test-codebuild")
    cfn.get_waiter("stack_delete_complete").wait(StackName="cdlab-test-codebuild")
    assert cb.batch_get_projects(names=[name])["projectsNotFound"] == [name]


def long_build(cb) -> str:
    """Start a build of ``survivor`` that sleeps in its BUILD phase; its id, once there."""
    running = cb.start_build(
        projectName="survivor",
        environmentVariablesOverride=[{"name": "SECONDS_TO_SLEEP", "value": "300"}],
    )["build"]["id"]
    poll(
        lambda: cb.batch_get_builds(ids=[running])["builds"][0]["currentPhase"],
        until=lambda phase: phase == "BUILD",
        what="the build to reach its BUILD phase",
    )
    return running


@pytest.mark.slow  # restarts a private local cloud
def test_projects_and_builds_survive_a_restart(private: PrivateCloud):
    private.up()
    s3, cb = private.client("s3"), private.client("codebuild")
    s3.create_bucket(Bucket="source")
    s3.put_object(Bucket="source", Key="app.zip", Body=source_zip({"a": "1"}))
    role = make_role(private.client("iam"), "builder", trusting(CODEBUILD), allowing(LOGS, S3_ALL))
    spec = "version: 0.2\nphases:\n  build:\n    commands:\n      - sleep $SECONDS_TO_SLEEP\n"
    cb.create_project(
        name="survivor",
        source={"type": "S3", "location": "source/app.zip", "buildspec": spec},
        artifacts={"type": "NO_ARTIFACTS"},
        environment={
            **ENVIRONMENT,
            "environmentVariables": [{"name": "SECONDS_TO_SLEEP", "value": "0"}],
        },
        serviceRole=role,
    )
    done = finished(cb, cb.start_build(projectName="survivor")["build"]["id"])
    running = long_build(cb)
    private.kill()
    private.up()
    cb = private.client("codebuild")
    assert cb.list_projects()["projects"] == ["survivor"]
    [ended, cut] = cb.batch_get_builds(ids=[done["id"], running])["builds"]
    assert ended["buildStatus"] == "SUCCEEDED" and ended["buildNumber"] == 1
    assert cut["buildStatus"] == "FAILED" and cut["buildComplete"]
    [context] = phases(cut)["BUILD"]["contexts"]
    assert "restarted during the build" in context["message"]
    assert cut["currentPhase"] == "COMPLETED"
    again = finished(cb, cb.start_build(projectName="survivor")["build"]["id"])
    assert again["buildNumber"] == 3 and again["buildStatus"] == "SUCCEEDED"
    # a local cloud stopped in good order ends its builds itself, saying why
    running = long_build(cb)
    control.down(private.home)
    private.up()
    [stopped] = private.client("codebuild").batch_get_builds(ids=[running])["builds"]
    assert stopped["buildStatus"] == "FAILED"
    [context] = phases(stopped)["BUILD"]["contexts"]
    assert "local cloud stopped during the build" in context["message"]
