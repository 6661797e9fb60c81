"""The Source stage: a clean export of the current git commit, as CodePipeline hands a revision on.

Only what is committed runs (``git archive HEAD``); uncommitted changes are reported, not used.
The export is then what Lab 3 uploads to the source bucket (``aws s3 cp`` of its zip, with the
account's key), and the S3 source action, as the pipeline's role, copies that version of the
archive into the artifact store; CodePipeline's S3 source needs a versioned bucket
(https://docs.aws.amazon.com/codepipeline/latest/userguide/action-reference-S3.html).
"""

from __future__ import annotations

import io
import subprocess
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3

from cdlab.pipeline import artifacts
from cdlab.pipeline.definition import PipelineError


@dataclass(frozen=True)
class Revision:
    commit: str
    subject: str
    uncommitted: list[str]  # `git status --porcelain` lines left out of the export


def _git(repo: Path, *args: str) -> bytes:
    try:
        result = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, check=True)
    except FileNotFoundError:
        raise PipelineError("git is not installed; the Source stage exports a git commit") from None
    except subprocess.CalledProcessError as e:
        raise PipelineError(f"git {' '.join(args)}: {e.stderr.decode().strip()}") from None
    return result.stdout


def toplevel(directory: Path) -> Path:
    """The root of the git checkout holding ``directory``, or a clear refusal."""
    try:
        return Path(_git(directory, "rev-parse", "--show-toplevel").decode().strip())
    except PipelineError:
        raise PipelineError(
            f"{directory} is not inside a git checkout: the pipeline builds a commit. Run it "
            "from a clone of the repository (git clone, or git init && git add -A && git commit)."
        ) from None


def head(repo: Path) -> str:
    """The commit SHA of HEAD."""
    return _git(repo, "rev-parse", "--verify", "HEAD").decode().strip()


def export(repo: Path, destination: Path) -> Revision:
    """Write HEAD's tree into ``destination`` (a new directory) and describe the revision."""
    commit = head(repo)
    subject = _git(repo, "log", "-1", "--format=%s", commit).decode().strip()
    status = _git(repo, "status", "--porcelain", "--untracked-files=normal").decode()
    destination.mkdir(parents=True)
    archive = _git(repo, "archive", "--format=tar", commit)
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(destination, filter="data")
    return Revision(commit, subject, [line for line in status.splitlines() if line])


def upload(directory: Path, bucket: str, key: str) -> str:
    """The participant's upload of the export's zip (the account's key); its S3 version id."""
    answer = boto3.client("s3").put_object(Bucket=bucket, Key=key, Body=artifacts.pack(directory))
    return answer.get("VersionId", "")


def copy_version(s3: Any, bucket: str, key: str, version: str, store: str, stored: str) -> None:
    """As the pipeline's role ``s3``: the version ``version`` of the archive into the store."""
    if s3.get_bucket_versioning(Bucket=bucket).get("Status") != "Enabled":
        raise PipelineError(f"the source bucket {bucket} must have versioning enabled")
    body = s3.get_object(Bucket=bucket, Key=key, VersionId=version)["Body"].read()
    s3.put_object(Bucket=store, Key=stored, Body=body)
