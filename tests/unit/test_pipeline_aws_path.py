"""pipeline.yml's answers to what only AWS would show: the commit inside the source archive, a Glue
database per stack, and a stack name too long for SageMaker's names refused at deploy time."""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import tarfile
import zipfile
from pathlib import Path

import pytest
import yaml

from cdlab.localcloud.cloudformation import template, validation
from cdlab.localcloud.cloudformation.intrinsics import Scope, resolve
from cdlab.localcloud.protocols.errors import ValidationError
from cdlab.steps import training

ROOT = Path(__file__).resolve().parents[2]
PIPELINE = ROOT / "cloudformation" / "pipeline.yml"
VERSION_ID = "3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY"  # an S3 object version id: CodeBuild's revision
SHA = "0123456789abcdef0123456789abcdef01234567"


STACK_ID = "arn:aws:cloudformation:us-east-1:123456789012:stack/{}/1"


def scope(stack: str) -> Scope:
    """pipeline.yml's parameters, pseudo parameters and rules evaluated for stack ``stack``, as
    CloudFormation evaluates them at deploy time."""
    parsed = template.load(PIPELINE.read_text())
    given = [{"ParameterKey": "PipelineName", "ParameterValue": stack}]
    values = template.parameter_values(parsed["Parameters"], given, None)
    return template.evaluate(parsed, values, stack, STACK_ID.format(stack)).scope


def build_command(program: str, stack: str = "cdlab-lab3") -> str:
    """The build project's buildspec command that runs ``program``, with the stack's resources
    in its ``${...}`` as CloudFormation's Fn::Sub fills them in."""
    project = template.load(PIPELINE.read_text())["Resources"]["BuildProject"]["Properties"]
    buildspec = project["Source"]["BuildSpec"]["Fn::Sub"]
    names = {
        "SagemakerRole.Arn": "arn:aws:iam::123456789012:role/cdlab-lab3-SagemakerRole-X",
        "DataBucket": "cdlab-lab3-databucket-x",
        "GlueCatalogDatabase": stack.replace("-", "_"),
        "AWS::StackName": stack,
    }
    resolved = re.sub(r"\$\{([^}]+)\}", lambda m: names.get(m[1], m[0]), buildspec)
    commands = yaml.safe_load(resolved)["phases"]["build"]["commands"]
    [command] = [c for c in commands if c.startswith(f"python3 {program}")]
    return command


def train_command() -> str:
    return build_command("source/train.py")


def commit_argument(work: Path, commit_file: str | None) -> str:
    """The CommitId argument the buildspec's train.py command passes, run by bash as CodeBuild
    runs it, with ``python3`` a script that prints its arguments."""
    (work / "bin").mkdir(parents=True)
    (work / "bin" / "python3").write_text('#!/bin/sh\nprintf "%s\\n" "$@"\n')
    (work / "bin" / "python3").chmod(0o755)
    (work / "source").mkdir()
    if commit_file is not None:
        (work / "source" / "commit.txt").write_text(commit_file)
    env = {
        **os.environ,
        "PATH": f"{work / 'bin'}{os.pathsep}{os.environ['PATH']}",
        "CODEBUILD_RESOLVED_SOURCE_VERSION": VERSION_ID,
    }
    out = subprocess.run(
        ["bash", "-c", train_command()], cwd=work, env=env, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    return out.stdout.splitlines()[-1]


def test_the_build_names_the_commit_from_the_archive_not_the_s3_version(tmp_path: Path) -> None:
    revision = commit_argument(tmp_path, SHA + "\n")
    assert revision == SHA
    name = training.job_name("cdlab-lab3", training.short_commit(revision), "20261205071000")
    assert name == f"cdlab-lab3-{SHA[:8]}-20261205071000"


@pytest.mark.parametrize("commit_file", [None, "$Format:%H$\n"], ids=["absent", "not archived"])
def test_without_a_commit_in_the_archive_the_build_falls_back_to_the_s3_version(
    tmp_path: Path, commit_file: str | None
) -> None:
    assert commit_argument(tmp_path, commit_file) == VERSION_ID
    assert training.short_commit(VERSION_ID) == "3hl4kqtj"


def test_git_archive_writes_the_commit_into_the_archive(tmp_path: Path) -> None:
    for name in (".gitattributes", "source/commit.txt"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / name, tmp_path / name)

    def git(*args: str) -> bytes:
        return subprocess.run(
            ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
            cwd=tmp_path, check=True, capture_output=True,
        ).stdout  # fmt: skip

    git("init", "-q")
    git("add", "-A")
    git("commit", "-qm", "one")
    head = git("rev-parse", "HEAD").decode().strip()
    with zipfile.ZipFile(io.BytesIO(git("archive", "--format=zip", "HEAD"))) as archive:
        assert archive.read("source/commit.txt").decode() == head + "\n"
    with tarfile.open(fileobj=io.BytesIO(git("archive", "--format=tar", "HEAD"))) as archive:
        member = archive.extractfile("source/commit.txt")
        assert member is not None and member.read().decode() == head + "\n"


def test_two_pipeline_stacks_get_their_own_glue_database() -> None:
    database = template.load(PIPELINE.read_text())["Resources"]["GlueCatalogDatabase"]
    name = database["Properties"]["DatabaseInput"]["Name"]
    assert resolve(name, scope("cdlab-ann")) == "cdlab_ann"
    assert resolve(name, scope("cdlab-bob")) == "cdlab_bob"
    assert build_command("source/predata.py", "cdlab-bob").endswith('"cdlab_bob"')


def test_a_stack_name_over_the_limit_is_refused_by_the_parameter_constraint() -> None:
    assert resolve({"Ref": "PipelineName"}, scope("a" * 34)) == "a" * 34
    for name in ("a" * 35, "Upper-case", "ends-with-"):
        with pytest.raises(ValidationError) as refused:
            scope(name)
        assert (
            "Parameter PipelineName failed to satisfy constraint: the stack name must be at most 34"
            in refused.value.message
        )
        assert "63 characters" in refused.value.message


def test_cloudformation_refuses_a_pipeline_name_that_is_not_the_stack_name() -> None:
    parsed = template.load(PIPELINE.read_text())
    validation.check(parsed, None)  # ValidateTemplate accepts the Rules section
    given = [{"ParameterKey": "PipelineName", "ParameterValue": "cdlab-lab3"}]
    values = template.parameter_values(parsed["Parameters"], given, None)
    template.evaluate(parsed, values, "cdlab-lab3", STACK_ID.format("cdlab-lab3"))
    with pytest.raises(ValidationError) as refused:
        name = "cdlab-lab3-with-a-name-far-too-long-for-sagemaker"
        template.evaluate(parsed, values, name, STACK_ID.format(name))
    assert refused.value.message.startswith("PipelineName must be this stack's name")
