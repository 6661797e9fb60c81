"""``cdlab pipeline run`` and ``cdlab pipeline approve``: Lab 3's steps in one command, through
the AWS API, the same on the local cloud and on AWS.

``run``: deploy ``cloudformation/pipeline.yml`` as stack NAME (:mod:`.stack`), upload ``git
archive`` of HEAD to the stack's source bucket, find the execution that upload started, and follow
it (:mod:`.execution`): a line per action, each action's log (a build's from CloudWatch Logs) in
``$CDLAB_HOME/pipeline/runs/<run-id>/``. At the manual approval, ``--approve`` answers it with
PutApprovalResult; otherwise the run stops there (exit 3) and ``approve`` answers it later, with
the token GetPipelineState shows, then follows the same execution to its end. Each run directory
holds a few logs; the newest ``Options.keep_runs`` are kept.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TextIO

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from cdlab import config, target
from cdlab.pipeline import approval, execution, progress, source, source_events, stack, summary
from cdlab.pipeline.definition import DEFAULT_STACK, PipelineError
from cdlab.pipeline.execution import Approval, Followed
from cdlab.pipeline.source import Revision
from cdlab.pipeline.source_events import SourceObject

EXIT_FAILED, EXIT_APPROVAL_PENDING, EXIT_INTERRUPTED = 1, 3, 130
RUN_FILE = "execution.json"  # the run's execution, commit and subject, for ``approve``
REVISION_SUMMARY = "codepipeline-artifact-revision-summary"  # S3 metadata CodePipeline shows
PROD_ACTION = "DeployProd/DeployProdEndpoint"


@dataclass
class Options:
    directory: Path
    stack: str = DEFAULT_STACK
    approve: bool = False
    keep_runs: int = 10


def prune_runs(runs: Path, keep: int) -> list[Path]:
    """Delete all but the newest ``keep`` (at least 1) run directories; their names start
    with a UTC stamp, so they sort by age."""
    old = sorted(p for p in runs.iterdir() if p.is_dir())[:-keep]
    for directory in old:
        shutil.rmtree(directory, ignore_errors=True)
    return old


def _new_run(commit: str, keep: int) -> Path:
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    directory = config.home() / "pipeline" / "runs" / f"{stamp}-{commit[:7]}"
    while directory.exists():
        directory = directory.with_name(directory.name + "x")
    directory.mkdir(parents=True)
    prune_runs(directory.parent, keep)
    return directory


def _upload(repo: Path, revision: Revision, outputs: dict[str, str], out: TextIO) -> str:
    """The commit's archive into the source bucket, as ``aws s3 cp`` puts it; its version."""
    bucket, key = outputs["SourceBucket"], outputs["SourceObjectKey"]
    said = f"{revision.commit} {revision.subject}".encode("ascii", "replace").decode()
    version = boto3.client("s3").put_object(
        Bucket=bucket,
        Key=key,
        Body=source.archive(repo, revision.commit),
        Metadata={REVISION_SUMMARY: said[:200]},
    )["VersionId"]
    out.write(f"      uploaded git archive {revision.commit[:7]} to s3://{bucket}/{key}\n")
    out.write(f"      version {version}\n")
    return str(version)


def _deploy_stack(repo: Path, name: str, out: TextIO) -> dict[str, str]:
    """The pipeline stack from the commit's pipeline.yml, created or updated; its outputs. A
    pipeline just created has started its automatic first run: wait for it to end first."""
    out.write(f"  $ {stack.deploy_command(name)}\n")
    line = progress.start(f"Stack/{name}", out)
    cfn = boto3.client("cloudformation")
    try:
        done = stack.deploy(cfn, repo / stack.TEMPLATE, name)
    except PipelineError:
        line.done("FAIL")
        raise
    line.done("ok", done)
    outputs = stack.outputs(cfn, name)
    for first in execution.first_run_over(outputs["PipelineName"]):
        if done == "created":
            out.write(
                f"      the pipeline's automatic first run {first['pipelineExecutionId']}: "
                f"{first['status']} (nothing was uploaded yet)\n"
            )
    return outputs


def _answerer(approve: bool, out: TextIO) -> Callable[[Approval], bool]:
    """Follower's answer to an approval: PutApprovalResult Approved with ``--approve``."""

    def answer(waiting: Approval) -> bool:
        if approve:
            approval.answer(waiting, True, "approved by cdlab pipeline run --approve")
            out.write(f"      approved {waiting.stage}/{waiting.action} (--approve)\n")
        return approve

    return answer


def run(options: Options, out: TextIO = sys.stdout) -> int:
    """Run the pipeline on HEAD: 0 when prod was deployed, 1 when it failed, 3 at an approval,
    130 when Ctrl-C stopped the run (the execution goes on: it says how to follow it)."""
    started = time.monotonic()
    try:
        repo = source.toplevel(options.directory)
        revision = source.revision(repo)
    except PipelineError as e:
        print(f"cdlab pipeline: {e}", file=sys.stderr)
        return EXIT_FAILED
    cloud = target.ready(out=out)
    directory = _new_run(revision.commit, options.keep_runs)
    where = cloud.get("AWS_ENDPOINT_URL", "AWS")
    out.write(f"CD Lab pipeline {options.stack}: run {directory.name} on {where}\n")
    if revision.uncommitted:
        out.write(
            f"      note: {len(revision.uncommitted)} uncommitted change(s) are not in this "
            "run (commit them to build them); see git status\n"
        )
    followed: Followed | None = None
    follower: execution.Follower | None = None
    pipeline = version = found = ""
    outputs: dict[str, str] = {}
    try:
        outputs = _deploy_stack(repo, options.stack, out)
        pipeline = outputs["PipelineName"]
        version = _upload(repo, revision, outputs, out)
        uploaded = SourceObject(options.stack, outputs["SourceBucket"], outputs["SourceObjectKey"])
        found, _ = source_events.started(pipeline, uploaded, version, out)
        out.write(f"      EventBridge started execution {found} of pipeline {pipeline}\n")
        record = {"execution": found, "commit": revision.commit, "subject": revision.subject}
        (directory / RUN_FILE).write_text(json.dumps(record))
        follower = execution.Follower(Followed(pipeline, found), directory, out)
        followed = follower.until_settled(_answerer(options.approve, out))
    except (PipelineError, BotoCoreError, ClientError) as e:
        out.write(f"\n  stopped: {e}\n      the prod deploy did not run: prod is unchanged\n")
        ending = summary.Ending(options.stack, "FAILED", _since(started), directory, revision, "")
        summary.write(followed, ending, out)
        return EXIT_FAILED
    except KeyboardInterrupt:
        _interrupted(options.stack, pipeline, bool(version), found, out)
        prod = outputs.get("ProdStackName", "")
        ending = summary.Ending(
            options.stack, "interrupted", _since(started), directory, revision, prod
        )
        summary.write(follower.followed if follower else None, ending, out)
        return EXIT_INTERRUPTED
    ending = summary.Ending(
        options.stack, "", 0.0, directory, revision, outputs.get("ProdStackName", "")
    )
    return _conclude(followed, ending, started, out)


def approve(name: str, approved: bool = True, out: TextIO = sys.stdout) -> int:
    """Answer the approval that waits in pipeline ``name``; follow its execution to its end: 0
    when prod was deployed, 1 otherwise (rejected, failed, or nothing waits), 130 when Ctrl-C
    stopped the following (the execution goes on)."""
    started = time.monotonic()
    target.ready(out=out)
    try:
        outputs = stack.outputs(boto3.client("cloudformation"), name)
    except ClientError as e:
        named = "" if name == DEFAULT_STACK else f" --stack-name {name}"
        print(
            f"cdlab pipeline approve: no pipeline stack {name} ({e.response['Error']['Message']})"
            f": deploy and run it first with `{config.cdlab_command()} pipeline run{named}`, "
            "or name the stack that runs it with --stack-name",
            file=sys.stderr,
        )
        return EXIT_FAILED
    try:
        pipeline = outputs["PipelineName"]
        waiting = execution.waiting_approval(pipeline)
    except (ClientError, KeyError) as e:
        print(f"cdlab pipeline approve: no pipeline stack {name}: {e}", file=sys.stderr)
        return EXIT_FAILED
    if waiting is None:
        print(
            f"cdlab pipeline approve: no execution of pipeline {pipeline} waits for approval (run "
            f"`cdlab pipeline run --stack-name {name}` first: without --approve it stops there)",
            file=sys.stderr,
        )
        return EXIT_FAILED
    approval.answer(waiting, approved, f"{'approved' if approved else 'rejected'} by cdlab")
    directory, revision = _run_of(waiting.execution)
    out.write(
        f"CD Lab pipeline {name}: run {directory.name}, execution {waiting.execution} "
        f"{'approved, going on' if approved else 'rejected'}\n"
    )
    follower = execution.Follower(Followed(pipeline, waiting.execution), directory, out)
    ending = summary.Ending(name, "", 0.0, directory, revision, outputs.get("ProdStackName", ""))
    try:
        follower.catch_up()
        followed = follower.until_settled(lambda _: False)  # a later approval waits again
    except KeyboardInterrupt:
        _interrupted(name, pipeline, True, waiting.execution, out)
        ending = replace(ending, outcome="interrupted", seconds=_since(started))
        summary.write(follower.followed, ending, out)
        return EXIT_INTERRUPTED
    return _conclude(followed, ending, started, out)


def _interrupted(stack: str, pipeline: str, uploaded: bool, found: str, out: TextIO) -> None:
    """Ctrl-C stopped this command, not the pipeline: what goes on in the cloud without it, and
    the commands that follow it and answer its approval."""
    answer = f"cdlab pipeline approve --stack-name {stack}"
    if found:
        out.write(
            f"\n  interrupted: this command stopped following; execution {found} of pipeline "
            f"{pipeline} goes on in the cloud.\n      follow it:  aws codepipeline "
            f"get-pipeline-execution --pipeline-name {pipeline} --pipeline-execution-id {found}\n"
        )
    elif uploaded:
        out.write(
            f"\n  interrupted: the commit was uploaded, and the upload starts an execution of "
            f"pipeline {pipeline} in the cloud.\n"
            f"      follow it:  aws codepipeline get-pipeline-state --name {pipeline}\n"
        )
    else:
        out.write(
            "\n  interrupted before the commit was uploaded: no execution runs it. A stack "
            f"operation already begun goes on in CloudFormation (aws cloudformation "
            f"describe-stacks --stack-name {stack}).\n"
            f"      run it again:  cdlab pipeline run --stack-name {stack}\n"
        )
        return
    out.write(f"      when it waits at Approval:  {answer}  (approves it, follows it to its end)\n")
    if target.current() == "local":
        out.write(
            '      (the aws commands in a shell pointed at the cloud: eval "$(cdlab local env)")\n'
        )


def _run_of(found: str) -> tuple[Path, Revision | None]:
    """The run directory that started execution ``found``, and its revision; a new directory
    when the execution was started some other way (an upload with the AWS CLI)."""
    runs = config.home() / "pipeline" / "runs"
    for record in sorted(runs.glob(f"*/{RUN_FILE}"), reverse=True):
        noted = json.loads(record.read_text())
        if noted["execution"] == found:
            return record.parent, Revision(noted["commit"], noted["subject"], [])
    runs.mkdir(parents=True, exist_ok=True)
    return _new_run(found, 10), None


def _since(started: float) -> float:
    return time.monotonic() - started


def _conclude(followed: Followed, ending: summary.Ending, started: float, out: TextIO) -> int:
    """Say how the execution ended and summarise (``ending`` without its outcome and time yet):
    0 deployed, 1 failed, 3 at an approval."""
    name = ending.stack
    if followed.status == execution.WAITING:
        assert followed.approval is not None
        out.write(
            f"\n  stopped: {followed.approval.stage}/{followed.approval.action} waits for a "
            f"manual approval; prod was not touched. Approve it with `cdlab pipeline approve "
            f"--stack-name {name}` (or --reject), or with\n"
            f"  {approval.command(followed.approval)}\n"
        )
        outcome, code = "waiting for approval", EXIT_APPROVAL_PENDING
    elif followed.status == execution.BLOCKED:
        assert followed.approval is not None
        ahead = followed.approval
        out.write(
            f"\n  stopped: execution {followed.execution} waits to enter {ahead.stage}, where "
            f"the older execution {ahead.execution} waits for its approval. Answer that one "
            f"(`cdlab pipeline approve --stack-name {name}`, or --reject): this execution then "
            "goes on by itself\n"
        )
        outcome, code = "blocked behind an approval", EXIT_FAILED
    elif followed.status == "Succeeded":
        outcome, code = "succeeded", 0
    else:
        summary.failure(followed, PROD_ACTION, out)
        outcome, code = followed.status.upper(), EXIT_FAILED
    summary.write(followed, replace(ending, outcome=outcome, seconds=_since(started)), out)
    if target.current() == "local":
        summary.still_up(os.environ["AWS_ENDPOINT_URL"], ending.prod_stack, ending.directory, out)
    return code
