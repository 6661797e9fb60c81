"""CodeBuild in the local cloud, through boto3 and the AWS CLI: projects with an S3 source zip,
builds that run their buildspec as the project's service role, phases and contexts as CodeBuild
reports them (https://docs.aws.amazon.com/codebuild/latest/APIReference/API_Build.html), the
output in CloudWatch Logs, the artifacts zipped to S3."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from tests.polling import poll
from tests.roles import allowing, make_role, trusting

CODEBUILD = "codebuild.amazonaws.com"
SOURCE_BUCKET = "cdlab-test-codebuild-source"
ARTIFACT_BUCKET = "cdlab-test-codebuild-artifacts"
LOGS = {
    "Effect": "Allow",
    "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
    "Resource": "*",
}
S3_ALL = {"Effect": "Allow", "Action": "s3:*", "Resource": "*"}
ENVIRONMENT = {
    "type": "LINUX_CONTAINER",
    "image": "aws/codebuild/standard:7.0",
    "computeType": "BUILD_GENERAL1_SMALL",
}
BUILDSPEC = """version: 0.2
phases:
  build:
    commands:
      - echo "hello from $CODEBUILD_BUILD_ID"
      - echo "version=$CODEBUILD_RESOLVED_SOURCE_VERSION source=$CODEBUILD_SOURCE_VERSION"
      - echo "initiator=$CODEBUILD_INITIATOR greeting=$GREETING region=$AWS_REGION"
      - mkdir -p out && cat input.txt > out/result.txt
      - python3 -c "import boto3; print('buckets', len(boto3.client('s3').list_buckets()))"
artifacts:
  files:
    - 'out/**/*'
"""


def source_zip(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def source(s3) -> str:
    """A versioned source bucket holding ``app.zip``; its current version id."""
    for name in (SOURCE_BUCKET, ARTIFACT_BUCKET):
        s3.create_bucket(Bucket=name)
    s3.put_bucket_versioning(Bucket=SOURCE_BUCKET, VersioningConfiguration={"Status": "Enabled"})
    answer = s3.put_object(
        Bucket=SOURCE_BUCKET, Key="app.zip", Body=source_zip({"input.txt": "payload\n"})
    )
    return answer["VersionId"]


@pytest.fixture(scope="module")
def role(client) -> str:
    return make_role(
        client("iam"), "cdlab-test-codebuild", trusting(CODEBUILD), allowing(LOGS, S3_ALL)
    )


@pytest.fixture(scope="module")
def project(cb, role: str, source: str) -> Callable[..., str]:
    """``project(name, buildspec=..., role=...)``: a project building ``app.zip``."""

    def make(name: str, buildspec: str = BUILDSPEC, service_role: str = role, **extra: Any) -> str:
        cb.create_project(
            name=name,
            source={"type": "S3", "location": f"{SOURCE_BUCKET}/app.zip", "buildspec": buildspec},
            artifacts={
                "type": "S3", "location": ARTIFACT_BUCKET, "path": name, "name": "out.zip",
                "packaging": "ZIP", "namespaceType": "NONE",
            },
            environment={
                **ENVIRONMENT,
                "environmentVariables": [{"name": "GREETING", "value": "hi"}],
            },
            serviceRole=service_role,
            **extra,
        )  # fmt: skip
        return name

    return make


def finished(cb, build_id: str, timeout: float = 60) -> dict[str, Any]:
    return poll(
        lambda: cb.batch_get_builds(ids=[build_id])["builds"][0],
        until=lambda b: b["buildComplete"],
        timeout=timeout,
        what=f"build {build_id} to complete",
    )


def phases(build: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {p["phaseType"]: p for p in build["phases"]}


def log_text(logs, build: dict[str, Any]) -> str:
    events = logs.get_log_events(
        logGroupName=build["logs"]["groupName"], logStreamName=build["logs"]["streamName"]
    )["events"]
    return "\n".join(e["message"] for e in events)


def test_build_succeeds_with_artifacts_logs_and_environment(cb, logs, s3, project, source, aws):
    name = project("cdlab-test-ok")
    started = cb.start_build(projectName=name)["build"]
    assert started["id"].startswith(f"{name}:") and started["buildStatus"] == "IN_PROGRESS"
    build = finished(cb, started["id"])
    assert build["buildStatus"] == "SUCCEEDED", build["phases"]
    assert build["currentPhase"] == "COMPLETED" and build["buildNumber"] == 1
    assert [p["phaseType"] for p in build["phases"]] == [
        "SUBMITTED", "QUEUED", "PROVISIONING", "DOWNLOAD_SOURCE", "INSTALL", "PRE_BUILD",
        "BUILD", "POST_BUILD", "UPLOAD_ARTIFACTS", "FINALIZING", "COMPLETED",
    ]  # fmt: skip
    assert all(p["phaseStatus"] == "SUCCEEDED" for p in build["phases"][:-1])
    assert build["resolvedSourceVersion"] == source
    assert build["initiator"] == "root"
    assert build["artifacts"]["location"] == f"arn:aws:s3:::{ARTIFACT_BUCKET}/{name}/out.zip"
    body = s3.get_object(Bucket=ARTIFACT_BUCKET, Key=f"{name}/out.zip")["Body"].read()
    with zipfile.ZipFile(io.BytesIO(body)) as archive:
        assert archive.read("out/result.txt") == b"payload\n"
    text = poll(lambda: log_text(logs, build), until=lambda t: "buckets" in t)
    assert f"hello from {build['id']}" in text
    assert f"version={source} source={source}" in text
    assert "initiator=root greeting=hi region=us-east-1" in text
    assert build["logs"]["groupName"] == f"/aws/codebuild/{name}"
    tailed = aws("logs", "tail", f"/aws/codebuild/{name}", "--since", "1h").stdout.splitlines()
    after_the_timestamps = [line.split(" ", 1)[1] for line in tailed]
    assert f"{build['logs']['streamName']} hello from {build['id']}" in after_the_timestamps


def test_failing_command_fails_build_phase_and_still_runs_post_build(cb, logs, project):
    spec = (
        "version: 0.2\nphases:\n  build:\n    commands:\n      - exit 3\n"
        "  post_build:\n    commands:\n"
        "      - echo post ran succeeding=$CODEBUILD_BUILD_SUCCEEDING\n"
    )
    name = project("cdlab-test-fail", buildspec=spec)
    build = finished(cb, cb.start_build(projectName=name)["build"]["id"])
    assert build["buildStatus"] == "FAILED"
    by_type = phases(build)
    assert by_type["BUILD"]["phaseStatus"] == "FAILED"
    assert by_type["BUILD"]["contexts"] == [
        {
            "statusCode": "COMMAND_EXECUTION_ERROR",
            "message": "Error while executing command: exit 3. Reason: exit status 3",
        }
    ]
    assert by_type["POST_BUILD"]["phaseStatus"] == "SUCCEEDED"
    assert "UPLOAD_ARTIFACTS" in by_type
    assert "post ran succeeding=0" in poll(
        lambda: log_text(logs, build), until=lambda t: "post ran" in t
    )


def test_output_is_logged_as_it_comes_and_stop_build_ends_the_running_command(cb, logs, project):
    spec = "version: 0.2\nphases:\n  build:\n    commands:\n      - echo sleeping; sleep 300\n"
    name = project("cdlab-test-stop", buildspec=spec)
    build_id = cb.start_build(projectName=name)["build"]["id"]
    running = poll(
        lambda: cb.batch_get_builds(ids=[build_id])["builds"][0],
        until=lambda build: build["currentPhase"] == "BUILD",
    )
    poll(
        lambda: logs.filter_log_events(logGroupName=running["logs"]["groupName"])["events"],
        until=lambda events: any(e["message"] == "sleeping" for e in events),
        what="the command's first line in the log while it runs",
    )
    cb.stop_build(id=build_id)
    build = finished(cb, build_id, timeout=20)
    assert build["buildStatus"] == "STOPPED"
    assert phases(build)["BUILD"]["phaseStatus"] == "STOPPED"


def test_source_version_and_overrides(cb, s3, project, source):
    newer = s3.put_object(
        Bucket=SOURCE_BUCKET, Key="app.zip", Body=source_zip({"input.txt": "newer\n"})
    )["VersionId"]
    name = project("cdlab-test-version")
    build = finished(
        cb,
        cb.start_build(
            projectName=name,
            sourceVersion=source,
            environmentVariablesOverride=[{"name": "GREETING", "value": "override"}],
            artifactsOverride={"type": "NO_ARTIFACTS"},
            imageOverride="aws/codebuild/standard:6.0",
            computeTypeOverride="BUILD_GENERAL1_MEDIUM",
        )["build"]["id"],
    )
    assert build["buildStatus"] == "SUCCEEDED"
    assert build["environment"]["image"] == "aws/codebuild/standard:6.0"
    assert build["environment"]["computeType"] == "BUILD_GENERAL1_MEDIUM"
    assert build["sourceVersion"] == source and build["resolvedSourceVersion"] == source
    assert {"name": "GREETING", "value": "override"} in build["environment"]["environmentVariables"]
    latest = finished(cb, cb.start_build(projectName=name)["build"]["id"])
    assert latest["environment"]["image"] == "aws/codebuild/standard:7.0"  # the project's
    assert latest["resolvedSourceVersion"] == newer
    assert latest["buildNumber"] == 2
    assert cb.list_builds_for_project(projectName=name)["ids"] == [latest["id"], build["id"]]


@pytest.mark.parametrize(
    ("role_name", "statement", "phase", "status_code", "words"),
    [
        # no s3:GetObject: the source download is refused, nothing after it runs
        ("cdlab-test-codebuild-nos3", LOGS, "DOWNLOAD_SOURCE", "CLIENT_ERROR", "AccessDenied: "),
        # no CloudWatch Logs: the build cannot open its log stream
        ("cdlab-test-codebuild-nologs", S3_ALL, "PROVISIONING", "ACCESS_DENIED", "CloudWatch Logs"),
    ],
)
def test_a_role_without_a_permission_fails_its_phase(
    cb, client, project, role_name, statement, phase, status_code, words
):
    role = make_role(client("iam"), role_name, trusting(CODEBUILD), allowing(statement))
    name = project(role_name.replace("codebuild-", ""), service_role=role)
    build = finished(cb, cb.start_build(projectName=name)["build"]["id"])
    assert build["buildStatus"] == "FAILED"
    failed = phases(build)[phase]
    assert failed["phaseStatus"] == "FAILED"
    [context] = failed["contexts"]
    assert context["statusCode"] == status_code and words in context["message"]
    assert "BUILD" not in phases(build)


def test_project_checks(cb, client, project, role):
    untrusting = make_role(
        client("iam"), "cdlab-test-codebuild-sm", trusting("sagemaker.amazonaws.com"), None
    )
    with pytest.raises(ClientError) as info:
        project("cdlab-test-untrusted", service_role=untrusting)
    assert info.value.response["Error"]["Code"] == "InvalidInputException"
    assert f"sts:AssumeRole on {untrusting}" in info.value.response["Error"]["Message"]
    project("cdlab-test-twice")
    with pytest.raises(cb.exceptions.ResourceAlreadyExistsException):
        project("cdlab-test-twice")
    with pytest.raises(cb.exceptions.ResourceNotFoundException):
        cb.start_build(projectName="cdlab-test-missing")
    cb.create_project(
        name="cdlab-test-pipeline-only",
        source={"type": "CODEPIPELINE", "buildspec": BUILDSPEC},
        artifacts={"type": "CODEPIPELINE"},
        environment=ENVIRONMENT,
        serviceRole=role,
    )
    with pytest.raises(cb.exceptions.InvalidInputException):
        cb.start_build(projectName="cdlab-test-pipeline-only")
    got = cb.batch_get_projects(names=["cdlab-test-twice", "cdlab-test-nothing"])
    assert [p["name"] for p in got["projects"]] == ["cdlab-test-twice"]
    assert got["projectsNotFound"] == ["cdlab-test-nothing"]
    assert "cdlab-test-twice" in cb.list_projects()["projects"]
    cb.delete_project(name="cdlab-test-twice")
    assert "cdlab-test-twice" not in cb.list_projects()["projects"]


def test_secondary_sources_and_artifacts_are_refused_not_kept_unbuilt(cb, project):
    second = {"type": "S3", "location": f"{SOURCE_BUCKET}/app.zip", "sourceIdentifier": "two"}
    with pytest.raises(cb.exceptions.InvalidInputException) as info:
        project("cdlab-test-secondary", secondarySources=[second])
    assert "secondarySources are not run by the local cloud" in str(info.value)
    assert "cdlab-test-secondary" not in cb.list_projects()["projects"]
    name = project("cdlab-test-primary-only")
    with pytest.raises(cb.exceptions.InvalidInputException) as info:
        cb.start_build(projectName=name, secondarySourcesOverride=[second])
    assert "secondarySourcesOverride are not run by the local cloud" in str(info.value)
    assert cb.list_builds_for_project(projectName=name)["ids"] == []


@pytest.mark.slow  # a build of seconds, through the CLI
def test_cli_start_and_batch_get(aws, project):
    name = project("cdlab-test-cli")
    started = json.loads(aws("codebuild", "start-build", "--project-name", name).stdout)
    build_id = started["build"]["id"]

    def status() -> str:
        answer = aws("codebuild", "batch-get-builds", "--ids", build_id).stdout
        return json.loads(answer)["builds"][0]["buildStatus"]

    assert poll(status, until=lambda s: s != "IN_PROGRESS", timeout=60) == "SUCCEEDED"
    listed = json.loads(aws("codebuild", "list-builds-for-project", "--project-name", name).stdout)
    assert listed["ids"] == [build_id]


def test_a_codepipeline_project_built_as_codepipeline_starts_it(cb, client, s3, role, source):
    """The CodePipeline engine's StartBuild: source and artifacts overridden to S3, as a session
    of the pipeline's role named ``codepipeline-PIPELINE``."""
    cb.create_project(
        name="cdlab-test-pipeline-build",
        source={"type": "CODEPIPELINE", "buildspec": BUILDSPEC.replace("'out/**/*'", "'**/*'")},
        artifacts={"type": "CODEPIPELINE"},
        environment=ENVIRONMENT,
        serviceRole=role,
    )
    pipeline_role = make_role(
        client("iam"),
        "cdlab-test-pipeline-role",
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": "123456789012"},
                    "Action": "sts:AssumeRole",
                }
            ],
        },
        allowing({"Effect": "Allow", "Action": "codebuild:*", "Resource": "*"}),
    )
    key = client("sts").assume_role(RoleArn=pipeline_role, RoleSessionName="codepipeline-mypipe")[
        "Credentials"
    ]
    as_pipeline = boto3.Session(
        aws_access_key_id=key["AccessKeyId"],
        aws_secret_access_key=key["SecretAccessKey"],
        aws_session_token=key["SessionToken"],
    ).client("codebuild")
    started = as_pipeline.start_build(
        projectName="cdlab-test-pipeline-build",
        sourceTypeOverride="S3",
        sourceLocationOverride=f"{SOURCE_BUCKET}/app.zip",
        sourceVersion=source,
        artifactsOverride={
            "type": "S3", "location": ARTIFACT_BUCKET, "path": "mypipe", "name": "BuildOutput",
            "namespaceType": "NONE", "packaging": "ZIP",
        },
    )["build"]  # fmt: skip
    assert started["initiator"] == "codepipeline/mypipe"
    build = finished(cb, started["id"])
    assert build["buildStatus"] == "SUCCEEDED"
    assert build["artifacts"]["location"] == f"arn:aws:s3:::{ARTIFACT_BUCKET}/mypipe/BuildOutput"
    body = s3.get_object(Bucket=ARTIFACT_BUCKET, Key="mypipe/BuildOutput")["Body"].read()
    with zipfile.ZipFile(io.BytesIO(body)) as archive:
        assert {"input.txt", "out/result.txt"} <= set(archive.namelist())
