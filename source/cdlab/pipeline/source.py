"""The Source stage: the current git commit as a zip archive, as Lab 3 uploads it.

Only what is committed runs (``git archive HEAD``); uncommitted changes are reported, not used.
The archive goes to the source bucket (``aws s3 cp``, with the account's key), and the S3 source
action, as the pipeline's role, copies that version of it into the artifact store;
CodePipeline's S3 source needs a versioned bucket
(https://docs.aws.amazon.com/codepipeline/latest/userguide/action-reference-S3.html).
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

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


def revision(repo: Path) -> Revision:
    """HEAD's commit, its subject, and what is left out of its archive."""
    commit = head(repo)
    subject = _git(repo, "log", "-1", "--format=%s", commit).decode().strip()
    status = _git(repo, "status", "--porcelain", "--untracked-files=normal").decode()
    return Revision(commit, subject, [line for line in status.splitlines() if line])


def archive(repo: Path, commit: str) -> bytes:
    """``git archive --format=zip`` of the commit: what Lab 3 uploads to the source bucket (git
    writes the commit into source/commit.txt, marked export-subst)."""
    return _git(repo, "archive", "--format=zip", commit)
