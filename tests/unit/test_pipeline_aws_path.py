"""pipeline.yml's answers to what only AWS would show: the commit inside the source archive, a Glue
database per stack, and a stack name too long for SageMaker's names refused at deploy time."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import tarfile
import zipfile
from pathlib import Path

import pytest

from cdlab.localcloud.cloudformation import template, validation
from cdlab.localcloud.protocols.errors import ValidationError
from cdlab.pipeline import definition
from cdlab.steps import training

ROOT = Path(__file__).resolve().parents[2]
PIPELINE = ROOT / "cloudformation" / "pipeline.yml"
VERSION_ID = "3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY"  # an S3 object version id: CodeBuild's revision
SHA = "0123456789abcdef0123456789abcdef01234567"


def train_command(stack: str = "cdlab-lab3") -> str:
    project = definition.load(PIPELINE, stack).projects[f"{stack}-build"]
    [command] = [
        c
        for c in project.buildspec["phases"]["build"]["commands"]
        if c.startswith("python3 source/train.py")
    ]
    return command


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
    first, second = (definition.load(PIPELINE, s) for s in ("cdlab-ann", "cdlab-bob"))
    assert first.physical["GlueCatalogDatabase"] == "cdlab_ann"
    assert second.physical["GlueCatalogDatabase"] == "cdlab_bob"
    predata = [
        c
        for c in second.projects["cdlab-bob-build"].buildspec["phases"]["build"]["commands"]
        if c.startswith("python3 source/predata.py")
    ]
    assert predata and predata[0].endswith('"cdlab_bob"')


def test_the_local_runner_refuses_a_stack_name_over_the_limit() -> None:
    assert definition.load(PIPELINE, "a" * 34).stack == "a" * 34
    for name in ("a" * 35, "Upper-case", "ends-with-"):
        with pytest.raises(definition.PipelineError) as refused:
            definition.load(PIPELINE, name)
        assert (
            "Parameter PipelineName failed to satisfy constraint: the stack name must be at most 34"
            in str(refused.value)
        )
        assert "63 characters" in str(refused.value)


def test_cloudformation_refuses_a_pipeline_name_that_is_not_the_stack_name() -> None:
    parsed = template.load(PIPELINE.read_text())
    validation.check(parsed, None)  # ValidateTemplate accepts the Rules section
    given = [{"ParameterKey": "PipelineName", "ParameterValue": "cdlab-lab3"}]
    values = template.parameter_values(parsed["Parameters"], given, None)
    stack_id = "arn:aws:cloudformation:us-east-1:123456789012:stack/{}/1"
    template.evaluate(parsed, values, "cdlab-lab3", stack_id.format("cdlab-lab3"))
    with pytest.raises(ValidationError) as refused:
        name = "cdlab-lab3-with-a-name-far-too-long-for-sagemaker"
        template.evaluate(parsed, values, name, stack_id.format(name))
    assert refused.value.message.startswith("PipelineName must be this stack's name")
