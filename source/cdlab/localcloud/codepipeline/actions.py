"""What each action does, as CodePipeline does it, through the AWS API as the pipeline's role
(blocking: the engine runs these in worker threads).

- Source/S3: the object's current version copied into the artifact store
  (https://docs.aws.amazon.com/codepipeline/latest/userguide/action-reference-S3.html);
- Build/Test CodeBuild: StartBuild with the input artifact's version as the S3 source and the
  output artifact as the build's artifacts, then BatchGetBuilds until the build is complete
  (https://docs.aws.amazon.com/codepipeline/latest/userguide/action-reference-CodeBuild.html);
- Deploy/CloudFormation: :mod:`cdlab.pipeline.deploy` with the input artifacts downloaded
  (https://docs.aws.amazon.com/codepipeline/latest/userguide/action-reference-CloudFormation.html).

A failure is :class:`ActionFailed`, with the error details CodePipeline shows (code and message).
The waits poll through the API as above; a write of the local cloud's builds or stacks wakes the
poll at once (:meth:`Store.watch <cdlab.localcloud.state.store.Store.watch>`), so an action ends
when its build or stack does, not up to a poll interval later.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from cdlab.localcloud.cloudformation.stacks import STACK
from cdlab.localcloud.codebuild.records import KIND as BUILD
from cdlab.localcloud.codepipeline import overrides
from cdlab.localcloud.codepipeline.cloud import RoleClients
from cdlab.localcloud.state.store import Watch
from cdlab.pipeline import artifacts, deploy
from cdlab.pipeline.definition import Action, PipelineError

BUILD_POLL_SECONDS = 1.0
# AWS's FailureType values (https://docs.aws.amazon.com/codepipeline/latest/APIReference/API_FailureDetails.html)
JOB_FAILED, PERMISSION_ERROR = "JobFailed", "PermissionError"


class ActionFailed(Exception):
    def __init__(self, message: str, code: str = JOB_FAILED, external_id: str = "") -> None:
        super().__init__(message)
        self.message, self.code, self.external_id = message, code, external_id


@dataclass
class Outcome:
    """What a succeeded action hands on: output artifacts (name -> bucket, key, version) and,
    for a source action, the revision it read."""

    outputs: dict[str, dict[str, str]] = field(default_factory=dict)
    revision: dict[str, Any] | None = None
    external_id: str = ""
    summary: str = ""


@dataclass(frozen=True)
class Job:
    """One action of one execution: its declaration and what it needs around it."""

    pipeline: str
    stage: str
    action: dict[str, Any]
    store: str  # the artifact bucket
    inputs: dict[str, dict[str, str]]  # input artifact name -> bucket, key, version
    work: Path  # a directory of its own, for downloads and its log
    watch: Callable[[str], Watch]  # the writes of a kind of the local cloud's documents
    revision: dict[str, str] = field(default_factory=dict)  # a source's overrides, by type


def _s3_failure(e: ClientError, bucket: str, key: str) -> ActionFailed:
    code = e.response["Error"]["Code"]
    if code in ("NoSuchKey", "404"):
        return ActionFailed(f"The object with key '{key}' does not exist.")
    if code == "NoSuchBucket":
        return ActionFailed(f"The bucket named '{bucket}' does not exist.")
    if code in ("AccessDenied", "403"):
        return ActionFailed(
            f"Access Denied (Service: Amazon S3; Status Code: 403; Error Code: AccessDenied) "
            f"reading s3://{bucket}/{key}: {e.response['Error'].get('Message', '')}",
            PERMISSION_ERROR,
        )
    return ActionFailed(f"{code}: {e.response['Error'].get('Message', '')}")


def source(role: RoleClients, job: Job) -> Outcome:
    """The object's current version into the artifact store, or the version and object the
    execution's overrides name (GetObject with a VersionId: ``s3:GetObjectVersion``); its
    version id is the revision."""
    configuration = job.action["configuration"]
    bucket = configuration["S3Bucket"]
    key = job.revision.get(overrides.KEY, configuration["S3ObjectKey"])
    version = job.revision.get(overrides.VERSION)
    s3 = role.client("s3")
    try:
        versioning = s3.get_bucket_versioning(Bucket=bucket).get("Status")
        if versioning != "Enabled":
            raise ActionFailed(
                f"The source bucket {bucket} must have versioning enabled "
                "(CodePipeline's S3 source reads object versions)."
            )
        found = s3.get_object(Bucket=bucket, Key=key, **({"VersionId": version} if version else {}))
    except ClientError as e:
        raise _s3_failure(e, bucket, key) from None
    version = found["VersionId"]
    [output] = job.action["outputArtifacts"]
    stored = artifacts.new_key(job.pipeline, output["name"])
    try:
        mismatch = artifacts.region_mismatch(s3, job.store, role.session.region_name)
        if mismatch is not None:
            raise ActionFailed(mismatch)
        put = s3.put_object(Bucket=job.store, Key=stored, Body=found["Body"].read())
    except ClientError as e:
        raise _s3_failure(e, job.store, stored) from None
    revision = {
        "name": output["name"],
        "revisionId": version,
        "created": found["LastModified"].timestamp(),
    }
    note = found.get("Metadata", {}).get("codepipeline-artifact-revision-summary")
    if note:
        revision["revisionSummary"] = note
    location = {"bucket": job.store, "key": stored, "version": put.get("VersionId", "")}
    return Outcome({output["name"]: location}, revision)


def _build_failure(build: dict[str, Any]) -> str:
    """CodePipeline's words for a failed build: its state and the failed phase's context."""
    failed = [p for p in build.get("phases", []) if p.get("phaseStatus") not in (None, "SUCCEEDED")]
    text = f"Build terminated with state: {build['buildStatus']}."
    if failed:
        phase = failed[0]
        context = (phase.get("contexts") or [{}])[0]
        text += (
            f" Phase: {phase['phaseType']}, Code: {context.get('statusCode', '')}, "
            f"Message: {context.get('message', '')}"
        )
    return text


def build(role: RoleClients, job: Job) -> Outcome:
    """StartBuild of the action's project on its input artifact; wait for it."""
    configuration = job.action["configuration"]
    [source_input] = [i["name"] for i in job.action["inputArtifacts"]][:1]
    found = job.inputs[source_input]
    request: dict[str, Any] = {
        "projectName": configuration["ProjectName"],
        "sourceTypeOverride": "S3",
        "sourceLocationOverride": f"{found['bucket']}/{found['key']}",
        "artifactsOverride": {"type": "NO_ARTIFACTS"},
    }
    if found.get("version"):
        request["sourceVersion"] = found["version"]
    outputs = job.action.get("outputArtifacts", [])
    produced: dict[str, dict[str, str]] = {}
    if outputs:
        name = outputs[0]["name"]
        stored = artifacts.new_key(job.pipeline, name)
        path, _, part = stored.rpartition("/")
        request["artifactsOverride"] = {
            "type": "S3",
            "location": job.store,
            "path": path,
            "name": part,
            "namespaceType": "NONE",
            "packaging": "ZIP",
        }
        produced[name] = {"bucket": job.store, "key": stored}
    if configuration.get("EnvironmentVariables"):
        request["environmentVariablesOverride"] = json.loads(configuration["EnvironmentVariables"])
    codebuild = role.client("codebuild")
    builds = job.watch(BUILD)
    build_id = codebuild.start_build(**request)["build"]["id"]
    while True:
        [current] = codebuild.batch_get_builds(ids=[build_id])["builds"]
        if current.get("buildComplete"):
            break
        builds.wait(BUILD_POLL_SECONDS)
    if current["buildStatus"] != "SUCCEEDED":
        raise ActionFailed(_build_failure(current), external_id=build_id)
    s3 = role.client("s3")
    for location in produced.values():
        head = s3.head_object(Bucket=location["bucket"], Key=location["key"])
        location["version"] = head.get("VersionId", "")
    return Outcome(produced, external_id=build_id)


def cloudformation(role: RoleClients, job: Job) -> Outcome:
    """CREATE_UPDATE of the action's stack from its input artifacts (deploy.py)."""
    s3 = role.client("s3")
    downloaded = {}
    for name, location in job.inputs.items():
        try:
            downloaded[name] = artifacts.get(
                s3, location["bucket"], location["key"], job.work / "artifacts" / name
            )
        except ClientError as e:
            raise _s3_failure(e, location["bucket"], location["key"]) from None
    declared = Action(
        job.stage,
        job.action["name"],
        "Deploy",
        "CloudFormation",
        job.action["configuration"],
        list(job.inputs),
        [],
    )
    with (job.work / "deploy.log").open("w") as log:
        try:
            cfn = role.client("cloudformation")
            deployed = deploy.run(declared, downloaded, log, cfn, job.watch(STACK).wait)
        except PipelineError as e:
            raise ActionFailed(str(e)) from None
    return Outcome(
        external_id=deployed.stack, summary=f"Stack {deployed.stack} {deployed.operation}"
    )


RUNNERS = {
    "Source": source,
    "Build": build,
    "Test": build,
    "Deploy": cloudformation,
}


def run(role: RoleClients, job: Job) -> Outcome:
    """The action's runner; any AWS error it did not word is the action's failure. Its work
    directory (downloaded artifacts) goes when it ends."""
    job.work.mkdir(parents=True, exist_ok=True)
    try:
        return RUNNERS[job.action["actionTypeId"]["category"]](role, job)
    except ClientError as e:
        error = e.response["Error"]
        code = PERMISSION_ERROR if "AccessDenied" in error.get("Code", "") else JOB_FAILED
        raise ActionFailed(f"{error.get('Code')}: {error.get('Message', '')}", code) from None
    except (BotoCoreError, OSError) as e:
        raise ActionFailed(str(e)) from None
    finally:
        shutil.rmtree(job.work, ignore_errors=True)
