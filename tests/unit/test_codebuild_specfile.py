"""The buildspec as CodeBuild reads it in DOWNLOAD_SOURCE, before any command runs
(``cdlab.localcloud.codebuild.specfile``): the messages of a buildspec it cannot use, the
warning for keys it does not know, the runtimes of the local image, and the buildspecs the kit
ships (https://docs.aws.amazon.com/codebuild/latest/userguide/build-spec-ref.html)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from cdlab.localcloud.codebuild.buildspec import BuildspecError, run
from cdlab.localcloud.codebuild.specfile import YamlFileError, check, select
from cdlab.localcloud.codebuild.worker import Spec
from tests.unit.test_templates import load_template, sub_text

HERE = f"{sys.version_info.major}.{sys.version_info.minor}"
PIPELINE = Path(__file__).resolve().parents[2] / "cloudformation" / "pipeline.yml"


EVERY_MEMBER = """version: 0.2
env:
  shell: bash
  variables:
    COUNT: 010
    EMPTY:
  git-credential-helper: no
proxy:
  upload-artifacts: no
  logs: no
batch:
  fast-fail: false
phases:
  install:
    on-failure: ABORT
    runtime-versions:
      python: 3.x
    commands:
      - 42
      -
    finally:
      - echo done
  pre_build:
  build:
    on-failure: CONTINUE
    commands:
      - 'echo Status: ok'
reports:
  unit:
    files: report.xml
    base-directory: out
    discard-paths: yes
    file-format: JUNITXML
artifacts:
  files: '**/*'
  name: out-$(date +%Y)
  discard-paths: yes
  base-directory: .
cache:
  paths: ['/root/.cache/pip/**/*']
"""


def checked(text: str, variables: dict[str, str] | None = None) -> tuple[dict[str, Any], list]:
    notes: list[str] = []
    return check(text, variables or {}, notes), notes


def refused(text: str) -> str:
    with pytest.raises(YamlFileError) as info:
        checked(text)
    return str(info.value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        # CodeBuild's words (bioerrorlog.work/entry/codebuild-colon-error): a colon and a space
        # make the command a mapping
        (
            'version: 0.2\n\nphases:\n  build:\n    commands:\n     - echo "Hello: world"\n',
            "Expected Commands[0] to be of string type: found subkeys instead at line 6, "
            "value of the key tag on line 5 might be empty",
        ),
        (
            "version: 0.2\nphases:\n  build:\n    commands:\n      - echo ok\n      - - nested\n",
            "Expected Commands[1] to be of string type: found list instead at line 6",
        ),
        (
            "version: 0.2\nphases:\n  build:\n    commands: [a]\n    finally:\n      - x: y\n",
            "Expected Finally[0] to be of string type: found subkeys instead at line 6, "
            "value of the key tag on line 5 might be empty",
        ),
        # the parser's problem at its line, in CodeBuild's shape
        ("version: 0.2\nphases:\n\tbuild: {}\n", "cannot start any token at line 3"),
        ("version: 0.2\nphases: [a, b\n", "at line 3"),
        # the kit's words
        ("version: 0.2\nphases:\n  build:\n    commands: echo hi\n", "Expected Commands to be "
         "of list type: found string instead at line 4"),
        ("phases:\n  build:\n    commands: [a]\n", "version is missing"),
        ("version: 0.3\nphases: {}\n", "Unknown buildspec version '0.3' at line 1"),
        ("version: 0.2\n", "phases is missing"),
        ("version: 0.2\nphases:\n  build: echo hi\n", "Expected phases/build to be of map type"),
        ("version: 0.2\nphases: [build]\n", "Expected phases to be of map type: found list"),
        ("version: 0.2\nenv:\n  variables:\n    A: [1]\nphases: {}\n",
         "Expected env/variables/A to be of string type: found list instead at line 4"),
        ("version: 0.2\nenv: [a]\nphases: {}\n", "Expected env to be of map type"),
        ("", "the buildspec is empty"),
        ("echo hi", "Expected the buildspec to be of map type: found string"),
    ],
)  # fmt: skip
def test_a_buildspec_codebuild_cannot_use_is_refused_in_its_words(text: str, message: str):
    assert message in refused(text)


def test_every_member_the_local_codebuild_runs_is_accepted_and_read_as_written():
    """Each member the reference gives that runs locally; scalars as written, a null member
    left out."""
    text = EVERY_MEMBER
    spec, notes = checked(text)
    assert spec["env"]["variables"] == {"COUNT": "010", "EMPTY": ""}  # as written
    assert spec["phases"]["install"]["commands"] == ["42", ""]
    assert spec["phases"]["install"]["runtime-versions"] == {"python": "3.x"}
    assert spec["phases"]["pre_build"] == {}
    assert spec["phases"]["build"]["commands"] == ["echo Status: ok"]
    assert spec["artifacts"]["files"] == ["**/*"] and spec["artifacts"]["discard-paths"] == "yes"
    assert spec["reports"]["unit"]["files"] == ["report.xml"]
    assert spec["batch"] == {"fast-fail": False}
    assert not any("cannot be identified" in note for note in notes)
    assert notes == [
        "No commands found for phase name: pre_build",
        "Selecting 'python' runtime version '3.x' based on manual selections...",
    ]


@pytest.mark.parametrize(
    ("member", "message"),
    [
        ("run-as: root\n", "run-as does not run in the local CodeBuild"),
        ("env:\n  parameter-store:\n    T: /t\n",
         "env/parameter-store does not run in the local CodeBuild"),
        ("env:\n  secrets-manager:\n    S: 'n:k'\n",
         "env/secrets-manager does not run in the local CodeBuild"),
        ("env:\n  exported-variables: [A]\n",
         "env/exported-variables does not run in the local CodeBuild"),
        ("env:\n  git-credential-helper: yes\n",
         "env/git-credential-helper does not run in the local CodeBuild"),
        ("artifacts:\n  files: [a]\n  exclude-paths: ['*.tmp']\n",
         "artifacts ['exclude-paths'] do not run locally"),
        ("artifacts:\n  files: [a]\n  enable-symlinks: yes\n  s3-prefix: p\n",
         "artifacts ['enable-symlinks', 's3-prefix'] do not run locally"),
        ("artifacts:\n  files: [a]\n  secondary-artifacts:\n    two:\n      files: [b]\n",
         "artifacts ['secondary-artifacts'] do not run locally"),
    ],
)  # fmt: skip
def test_members_the_local_codebuild_would_leave_out_are_refused_before_any_command(
    member: str, message: str
):
    """Refused in DOWNLOAD_SOURCE, not ignored, nor refused at UPLOAD_ARTIFACTS after the
    build ran; a phase's run-as too."""
    assert message in refused("version: 0.2\n" + member + "phases:\n  build:\n    commands: [a]\n")
    phase = "version: 0.2\nphases:\n  build:\n    run-as: root\n    commands: [a]\n"
    assert "run-as of phase build does not run in the local CodeBuild" in refused(phase)


def test_unknown_keys_are_logged_as_codebuild_logs_them_and_left_out():
    """aws-toolkit-vscode#4008: "Found possible syntax errors in buildspec: / In the section
    BUILD / The following keys cannot be identified: / env", and the build goes on."""
    text = (
        "version: 0.2\nphases:\n  prebuild:\n    commands: [never]\n"
        "  build:\n    env: x\n    runtime-versions:\n      python: 2.7\n    commands: [a]\n"
        "artifacts:\n  type: zip\n  files: [a]\n"
    )
    spec, notes = checked(text)
    assert spec["phases"] == {"build": {"commands": ["a"]}}
    assert spec["artifacts"] == {"files": ["a"]}
    assert notes[0] == (
        "Found possible syntax errors in buildspec: \n"
        "In the section phases\n    The following keys cannot be identified:\n        prebuild\n"
        "In the section BUILD\n    The following keys cannot be identified:\n"
        "        env\n        runtime-versions\n"
        "In the section artifacts\n    The following keys cannot be identified:\n        type"
    )
    assert notes[1:] == ["No runtime version selected in buildspec."]


@pytest.mark.parametrize("asked", [HERE, f"{HERE.split('.')[0]}.x", "latest"])
def test_the_kits_python_is_selected_by_version_major_x_or_latest(asked: str):
    assert select("python", asked) == HERE
    spec, notes = checked(f"version: 0.2\nphases:\n  install:\n    runtime-versions:\n"
                          f"      python: {asked}\n")  # fmt: skip
    assert spec["phases"]["install"]["runtime-versions"] == {"python": asked}
    assert f"Selecting 'python' runtime version '{asked}' based on manual selections..." in notes


def test_a_runtime_the_image_lacks_is_refused_in_codebuilds_words():
    with pytest.raises(YamlFileError) as info:
        select("python", "3.8")
    assert str(info.value) == (
        "Unknown runtime version named '3.8' of python. "
        f"This build image has the following versions: {HERE}"
    )
    with pytest.raises(YamlFileError) as info:
        select("nodejs", "99")
    assert str(info.value) == (
        "Unknown runtime named 'nodejs'. This build image has the following runtimes: python"
    )
    notes: list[str] = []
    with pytest.raises(YamlFileError, match="Unknown runtime named 'nodejs'"):
        check("version: 0.2\nphases:\n  install:\n    runtime-versions:\n      nodejs: 99\n",
              {}, notes)  # fmt: skip
    assert notes[-1] == "Selecting 'nodejs' runtime version '99' based on manual selections..."


def test_a_runtime_version_may_be_a_variable_of_the_build_or_the_buildspec():
    text = (
        "version: 0.2\nenv:\n  variables:\n    PY: '2.7'\n    OTHER: latest\n"
        "phases:\n  install:\n    runtime-versions:\n      python: ${PY}\n"
    )
    spec, _ = checked(text, {"PY": "3.x"})  # the build's variable wins over the buildspec's
    assert spec["phases"]["install"]["runtime-versions"] == {"python": "3.x"}
    with pytest.raises(YamlFileError, match=r"named '2\.7' of python"):
        checked(text)


def test_the_runner_selects_3x_and_refuses_an_unknown_runtime(tmp_path: Path):
    class Sink:
        text = ""

        def write(self, text: str) -> int:
            self.text += text
            return len(text)

        def flush(self) -> None:
            pass

    for asked, ok in (("3.x", True), ("latest", True), ("2.7", False)):
        install = {"runtime-versions": {"python": asked}, "commands": ["echo installed"]}
        log = Sink()
        spec = Spec("p", {"phases": {"install": install}}, {})
        if ok:
            assert run(spec, tmp_path, {"PATH": "/usr/bin:/bin"}, log) is None
            assert f"Runtime version selected: python {HERE}" in log.text
        else:
            with pytest.raises(BuildspecError, match=r"Unknown runtime version named '2\.7'"):
                run(spec, tmp_path, {"PATH": "/usr/bin:/bin"}, log)
            assert "installed" not in log.text


def _pipeline_buildspecs() -> dict[str, str]:
    """The BuildSpec of each project of cloudformation/pipeline.yml (its !Sub's text)."""
    resources = load_template(PIPELINE)["Resources"]
    return {
        name: sub_text(resource["Properties"]["Source"]["BuildSpec"])
        for name, resource in resources.items()
        if resource["Type"] == "AWS::CodeBuild::Project"
    }


def test_the_pipelines_buildspecs_pass():
    """cloudformation/pipeline.yml's projects (python 3.11, the image's and the kit's)."""
    found = _pipeline_buildspecs()
    assert set(found) == {"BuildProject", "TestProject"}
    for name, text in found.items():
        spec, notes = checked(text)
        assert spec["phases"]["build"]["commands"], name
        assert not any("cannot be identified" in note for note in notes), (name, notes)
