"""Local builds of buildspecs CodeBuild refuses or warns about, as CodeBuild treats them: a
buildspec it cannot use fails DOWNLOAD_SOURCE with ``YAML_FILE_ERROR`` before any command runs,
artifact files that match nothing fail UPLOAD_ARTIFACTS, the install phase's runtime-versions
name what the image has (the kit's Python, ``3.x`` or ``latest``), and keys CodeBuild does not
know are logged and left out (https://docs.aws.amazon.com/codebuild/latest/userguide/build-spec-ref.html;
the real messages are quoted in ``cdlab.localcloud.codebuild.specfile``)."""

from __future__ import annotations

import io
import sys
import zipfile
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.integration.test_codebuild import (
    CODEBUILD,
    ENVIRONMENT,
    LOGS,
    S3_ALL,
    finished,
    log_text,
    phases,
    source_zip,
)
from tests.polling import poll
from tests.roles import allowing, make_role, trusting

SOURCE = "cdlab-test-cbspec-source"
ARTIFACTS = "cdlab-test-cbspec-artifacts"
HERE = f"{sys.version_info.major}.{sys.version_info.minor}"
INSTALL = "version: 0.2\nphases:\n  install:\n    commands:\n      - echo ran-install\n"


@pytest.fixture(scope="module")
def project(cb, s3, client) -> Callable[[str, str], str]:
    """``project(name, buildspec)``: a project building ``app.zip`` (``input.txt``) to a
    zipped S3 artifact ``ARTIFACTS/name/out.zip``."""
    for bucket in (SOURCE, ARTIFACTS):
        s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=SOURCE, Key="app.zip", Body=source_zip({"input.txt": "payload\n"}))
    role = make_role(
        client("iam"), "cdlab-test-cbspec", trusting(CODEBUILD), allowing(LOGS, S3_ALL)
    )

    def make(name: str, buildspec: str) -> str:
        cb.create_project(
            name=name,
            source={"type": "S3", "location": f"{SOURCE}/app.zip", "buildspec": buildspec},
            artifacts={
                "type": "S3", "location": ARTIFACTS, "path": name, "name": "out.zip",
                "packaging": "ZIP", "namespaceType": "NONE",
            },
            environment=ENVIRONMENT,
            serviceRole=role,
        )  # fmt: skip
        return name

    return make


def build_of(cb, project: Callable[[str, str], str], name: str, spec: str) -> dict[str, Any]:
    return finished(cb, cb.start_build(projectName=project(name, spec))["build"]["id"])


def logged(logs, build: dict[str, Any], text: str) -> str:
    return poll(lambda: log_text(logs, build), until=lambda t: text in t, what=repr(text))


@pytest.mark.parametrize(
    ("name", "artifacts", "message"),
    [
        ("cdlab-test-cbspec-nomatch", "  files:\n    - 'missing/**/*'\n",
         "no matching artifact paths found"),
        ("cdlab-test-cbspec-nofiles", "  name: out\n",
         "no definition for primary artifacts in buildspec"),
    ],
)  # fmt: skip
def test_artifacts_that_give_no_file_fail_upload_artifacts(
    cb, s3, logs, project, name: str, artifacts: str, message: str
):
    """aws-samples/amazon-ecs-fargate-cdk-cicd#13: "Phase complete: UPLOAD_ARTIFACTS State:
    FAILED", "Phase context status code: CLIENT_ERROR Message: no matching artifact paths
    found"; locally the build used to succeed with an empty zip."""
    spec = "version: 0.2\nphases:\n  build:\n    commands:\n      - echo built\nartifacts:\n"
    build = build_of(cb, project, name, spec + artifacts)
    assert build["buildStatus"] == "FAILED", build["phases"]
    upload = phases(build)["UPLOAD_ARTIFACTS"]
    assert upload["phaseStatus"] == "FAILED"
    assert upload["contexts"] == [{"statusCode": "CLIENT_ERROR", "message": message}]
    assert phases(build)["BUILD"]["phaseStatus"] == "SUCCEEDED"
    with pytest.raises(ClientError):
        s3.head_object(Bucket=ARTIFACTS, Key=f"{name}/out.zip")
    text = logged(logs, build, "Phase complete: UPLOAD_ARTIFACTS State: FAILED")
    assert f"Phase context status code: CLIENT_ERROR Message: {message}" in text


@pytest.mark.parametrize(
    ("name", "spec", "message"),
    [
        # bioerrorlog.work/entry/codebuild-colon-error: YAML reads the command as a mapping
        ("cdlab-test-cbspec-colon", INSTALL + "  build:\n    commands:\n      - echo Status: ok\n",
         "Expected Commands[0] to be of string type: found subkeys instead at line 8, "
         "value of the key tag on line 7 might be empty"),
        ("cdlab-test-cbspec-string", INSTALL + "  build:\n    commands: echo hi\n",
         "Expected Commands to be of list type: found string instead at line 7"),
        # aws-healthcare-lifescience-ai-ml-sample-notebooks#89
        ("cdlab-test-cbspec-py38", INSTALL + "    runtime-versions:\n      python: 3.8\n",
         f"Unknown runtime version named '3.8' of python. This build image has the following "
         f"versions: {HERE}"),
        ("cdlab-test-cbspec-node", INSTALL + "    runtime-versions:\n      nodejs: 99\n",
         "Unknown runtime named 'nodejs'. This build image has the following runtimes: python"),
        ("cdlab-test-cbspec-nover", INSTALL.removeprefix("version: 0.2\n"), "version is missing"),
    ],
)  # fmt: skip
def test_a_buildspec_codebuild_cannot_use_fails_download_source_before_any_command(
    cb, logs, project, name: str, spec: str, message: str
):
    build = build_of(cb, project, name, spec)
    assert build["buildStatus"] == "FAILED", build["phases"]
    download = phases(build)["DOWNLOAD_SOURCE"]
    assert download["phaseStatus"] == "FAILED"
    [context] = download["contexts"]
    assert context["statusCode"] == "YAML_FILE_ERROR" and message in context["message"]
    assert not {"INSTALL", "BUILD", "UPLOAD_ARTIFACTS"} & set(phases(build))
    text = logged(logs, build, "Phase complete: DOWNLOAD_SOURCE State: FAILED")
    assert f"Phase context status code: YAML_FILE_ERROR Message: {message}" in text
    assert "ran-install" not in text


def test_runtime_versions_select_the_kits_python_and_belong_to_install(cb, logs, project):
    """``python: 3.x`` (the reference's own example) selects the kit's Python; runtime-versions
    in another phase is a key CodeBuild does not identify there, logged and left out."""
    spec = (
        "version: 0.2\nphases:\n  install:\n    runtime-versions:\n      python: 3.x\n"
        "  build:\n    runtime-versions:\n      python: 2.7\n    commands:\n"
        "      - mkdir -p out && python3 -c \"import sys; print('py', sys.version_info[:2])\"\n"
        "      - cp input.txt out/\n"
        "artifacts:\n  files:\n    - 'out/**/*'\n"
    )
    build = build_of(cb, project, "cdlab-test-cbspec-runtime", spec)
    assert build["buildStatus"] == "SUCCEEDED", build["phases"]
    text = logged(logs, build, "py (")
    assert "Selecting 'python' runtime version '3.x' based on manual selections..." in text
    assert f"Runtime version selected: python {HERE}" in text
    assert "In the section BUILD\n    The following keys cannot be identified:\n        " \
        "runtime-versions" in text  # fmt: skip
    assert f"py ({HERE.replace('.', ', ')})" in text


def test_unknown_keys_are_logged_and_the_build_goes_on_without_them(cb, s3, logs, project):
    """aws-toolkit-vscode#4008, amplify-cli#13110: "Found possible syntax errors in buildspec",
    "The following keys cannot be identified", a warning only."""
    spec = (
        "version: 0.2\nphases:\n  prebuild:\n    commands:\n      - echo never-ran\n"
        "  build:\n    commands:\n      - mkdir -p out && cp input.txt out/\n"
        "artifacts:\n  type: zip\n  files:\n    - 'out/**/*'\n"
    )
    name = "cdlab-test-cbspec-unknown"
    build = build_of(cb, project, name, spec)
    assert build["buildStatus"] == "SUCCEEDED", build["phases"]
    text = logged(logs, build, "Found possible syntax errors in buildspec:")
    assert (
        "In the section phases\n    The following keys cannot be identified:\n        prebuild"
        in text
    )
    assert (
        "In the section artifacts\n    The following keys cannot be identified:\n        type"
        in text
    )
    assert "never-ran" not in text
    body = s3.get_object(Bucket=ARTIFACTS, Key=f"{name}/out.zip")["Body"].read()
    with zipfile.ZipFile(io.BytesIO(body)) as archive:
        assert archive.namelist() == ["out/input.txt"]


def test_a_buildspec_with_the_members_aws_documents_runs(cb, logs, project):
    """env, finally, on-failure, reports, cache and proxy are CodeBuild's: none that runs
    locally is refused or warned about (https://docs.aws.amazon.com/codebuild/latest/userguide/build-spec-ref.html)."""
    spec = (
        "version: 0.2\n"
        "env:\n  shell: bash\n  variables:\n    STAGE: test\n  git-credential-helper: no\n"
        "proxy:\n  upload-artifacts: no\n  logs: no\n"
        "phases:\n  pre_build:\n  build:\n    on-failure: ABORT\n    commands:\n"
        "      - 'echo Status: ok'\n      - mkdir -p out && cp input.txt out/\n"
        "    finally:\n      - echo finally\n"
        "reports:\n  unit:\n    files:\n      - report.xml\n    file-format: JUNITXML\n"
        "artifacts:\n  files:\n    - 'out/**/*'\n  discard-paths: yes\n"
        "cache:\n  paths:\n    - '/root/.cache/pip/**/*'\n"
    )
    build = build_of(cb, project, "cdlab-test-cbspec-members", spec)
    assert build["buildStatus"] == "SUCCEEDED", build["phases"]
    text = logged(logs, build, "Status: ok")
    assert "No commands found for phase name: pre_build" in text
    assert "cannot be identified" not in text
