"""How the local CodeBuild runs a buildspec's commands, through real builds (StartBuild): one shell
for all of a 0.2 buildspec's commands (a directory and variables carry over, across phases too,
and past a command that exits the shell), ``env: variables`` under the project's and StartBuild's,
``finally`` blocks, ``on-failure`` ABORT and CONTINUE, and ``env: shell``
(https://docs.aws.amazon.com/codebuild/latest/userguide/build-spec-ref.html)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.test_codebuild import CODEBUILD, ENVIRONMENT, LOGS, finished, phases
from tests.polling import poll
from tests.roles import allowing, make_role, trusting


@pytest.fixture(scope="module")
def logs_role(client) -> str:
    """A CodeBuild service role that may write its logs (the projects have no S3 source)."""
    iam = client("iam")
    return make_role(iam, "cdlab-test-codebuild-shell", trusting(CODEBUILD), allowing(LOGS))


@pytest.fixture(scope="module")
def build(cb, logs, logs_role):
    """``build(name, buildspec, **start_build)``: the finished build of a new project (variable
    GREETING=project, OVERRIDDEN=project) and the text of its log once a phase has ended in it."""

    def run(name: str, buildspec: str, **start: Any) -> tuple[dict[str, Any], str]:
        cb.create_project(
            name=name,
            source={"type": "NO_SOURCE", "buildspec": buildspec},
            artifacts={"type": "NO_ARTIFACTS"},
            environment={
                **ENVIRONMENT,
                "environmentVariables": [
                    {"name": "GREETING", "value": "project"},
                    {"name": "OVERRIDDEN", "value": "project"},
                ],
            },
            serviceRole=logs_role,
        )
        done = finished(cb, cb.start_build(projectName=name, **start)["build"]["id"])
        if "INSTALL" not in phases(done):  # no phase ran, nothing was logged
            return done, ""
        where = {"logGroupName": done["logs"]["groupName"]}
        where["logStreamName"] = done["logs"]["streamName"]
        events = poll(
            lambda: logs.get_log_events(**where)["events"],
            until=lambda found: any("Phase complete" in e["message"] for e in found),
            what="the build's log",
        )
        return done, "\n".join(e["message"] for e in events)

    return run


def test_a_02_buildspec_runs_its_commands_in_one_shell(build):
    """A directory changed to and variables set (exported or not) reach the next commands and
    phases, even past a command that ends the shell (``exit 4`` fails that command only)."""
    spec = """version: 0.2
phases:
  install:
    commands:
      - mkdir -p sub && cd sub
      - PLAIN=plain; export EXPORTED=exported
  build:
    commands:
      - echo "build in=$(basename "$PWD") plain=$PLAIN exported=$EXPORTED"
      - ONE_MORE=more
      - exit 4
  post_build:
    commands:
      - echo "post in=$(basename "$PWD") plain=$PLAIN more=$ONE_MORE ok=$CODEBUILD_BUILD_SUCCEEDING"
"""
    done, text = build("cdlab-test-shell-shared", spec)
    assert done["buildStatus"] == "FAILED"
    assert phases(done)["BUILD"]["contexts"][0]["message"] == (
        "Error while executing command: exit 4. Reason: exit status 4"
    )
    assert "build in=sub plain=plain exported=exported" in text
    assert "post in=sub plain=plain more=more ok=0" in text


def test_a_01_buildspec_runs_each_command_in_a_shell_of_its_own(build):
    spec = (
        "version: 0.1\nphases:\n  build:\n    commands:\n      - V=1; cd /\n"
        '      - echo "v=[$V] in=$PWD"\n'
    )
    done, text = build("cdlab-test-shell-separate", spec)
    assert done["buildStatus"] == "SUCCEEDED"
    [line] = [line for line in text.splitlines() if line.startswith("v=")]
    assert line.startswith("v=[] in=") and line != "v=[] in=/"


def test_env_variables_are_set_under_the_projects_and_start_builds(build):
    spec = """version: 0.2
env:
  variables:
    FROM_SPEC: spec
    GREETING: buildspec
    OVERRIDDEN: buildspec
    FLAG: true
phases:
  build:
    commands:
      - echo "spec=$FROM_SPEC greeting=$GREETING overridden=$OVERRIDDEN flag=$FLAG"
"""
    override = [{"name": "OVERRIDDEN", "value": "start"}]
    done, text = build("cdlab-test-shell-env", spec, environmentVariablesOverride=override)
    assert done["buildStatus"] == "SUCCEEDED"
    assert "spec=spec greeting=project overridden=start flag=true" in text


def test_finally_runs_after_a_failed_command_and_its_own_failure_fails_the_phase(build):
    spec = """version: 0.2
phases:
  build:
    commands:
      - "false"
      - echo never
    finally:
      - echo cleanup ran
  post_build:
    commands:
      - echo post ran
    finally:
      - exit 5
      - echo never either
"""
    done, text = build("cdlab-test-shell-finally", spec)
    by_type = phases(done)
    assert done["buildStatus"] == "FAILED"
    assert by_type["BUILD"]["phaseStatus"] == "FAILED"
    assert by_type["BUILD"]["contexts"][0]["message"] == (
        "Error while executing command: false. Reason: exit status 1"
    )
    assert by_type["POST_BUILD"]["phaseStatus"] == "FAILED"
    assert by_type["POST_BUILD"]["contexts"][0]["message"] == (
        "Error while executing command: exit 5. Reason: exit status 5"
    )
    assert "cleanup ran" in text and "post ran" in text
    assert "never" not in text.splitlines() and "never either" not in text.splitlines()


def test_on_failure_continue_goes_on_and_abort_ends_the_build(build):
    spec = """version: 0.2
phases:
  install:
    on-failure: CONTINUE
    commands:
      - exit 2
  pre_build:
    commands:
      - echo "pre_build ran ok=$CODEBUILD_BUILD_SUCCEEDING"
  build:
    on-failure: ABORT
    commands:
      - exit 3
  post_build:
    commands:
      - echo post_build ran
"""
    done, text = build("cdlab-test-shell-on-failure", spec)
    by_type = phases(done)
    assert done["buildStatus"] == "FAILED"
    assert by_type["INSTALL"]["phaseStatus"] == "FAILED"
    assert by_type["PRE_BUILD"]["phaseStatus"] == "SUCCEEDED"
    assert by_type["BUILD"]["phaseStatus"] == "FAILED"
    assert "POST_BUILD" not in by_type and "UPLOAD_ARTIFACTS" not in by_type
    assert "pre_build ran ok=0" in text and "post_build ran" not in text


def test_a_failed_install_that_continues_still_uploads_the_artifacts(build):
    spec = (
        "version: 0.2\nphases:\n  install:\n    on-failure: CONTINUE\n    commands:\n"
        "      - exit 2\n  build:\n    commands:\n      - echo built\n"
    )
    done, _ = build("cdlab-test-shell-continue", spec)
    by_type = phases(done)
    assert done["buildStatus"] == "FAILED" and by_type["INSTALL"]["phaseStatus"] == "FAILED"
    assert by_type["BUILD"]["phaseStatus"] == "SUCCEEDED" and "UPLOAD_ARTIFACTS" in by_type


@pytest.mark.parametrize(
    ("name", "setting", "words"),
    [
        ("cdlab-test-shell-retry", "phases:\n  build:\n    on-failure: RETRY-2\n", "RETRY-2"),
        ("cdlab-test-shell-windows", "env:\n  shell: cmd.exe\nphases:\n  build:\n", "cmd.exe"),
    ],
)
def test_what_does_not_run_locally_is_refused_before_any_command(build, name, setting, words):
    spec = f"version: 0.2\n{setting}    commands:\n      - echo ran\n"
    done, _ = build(name, spec)
    assert done["buildStatus"] == "FAILED" and "INSTALL" not in phases(done)
    [context] = phases(done)["DOWNLOAD_SOURCE"]["contexts"]
    assert context["statusCode"] == "YAML_FILE_ERROR" and words in context["message"]


def test_the_shell_is_sh_unless_the_buildspec_asks_for_bash(build):
    command = 'echo "shell=$0 bash=${BASH_VERSION:+yes}"'
    spec = f"version: 0.2\nphases:\n  build:\n    commands:\n      - '{command}'\n"
    done, text = build("cdlab-test-shell-sh", spec)
    assert done["buildStatus"] == "SUCCEEDED" and "shell=/bin/sh " in text
    bash = spec.replace("phases:", "env:\n  shell: bash\nphases:")
    done, text = build("cdlab-test-shell-bash", bash)
    assert done["buildStatus"] == "SUCCEEDED" and "shell=bash bash=yes" in text
