"""One build, on a worker thread, as CodeBuild runs it: as the project's service role.

PROVISIONING assumes the service role naming ``codebuild.amazonaws.com`` (with the kit's key,
through the local cloud's STS, which decides the trust) and creates the log stream as that role
(none when the build's CloudWatch Logs are DISABLED: its output then goes nowhere);
DOWNLOAD_SOURCE gets the source zip (the version asked for, else the current one) from S3,
unzips it and checks the whole buildspec (:mod:`specfile`: one CodeBuild cannot use fails the
phase with ``YAML_FILE_ERROR`` before any command runs); the buildspec's phases run
(:mod:`buildspec`), their output lines going to CloudWatch Logs as they come; UPLOAD_ARTIFACTS
zips the buildspec's ``artifacts.files`` to the artifacts' S3 location (files that match
nothing fail it). Every AWS call is the role session's, through the local cloud's own URL, so
IAM decides as it would on AWS; a refusal fails the phase with the service's words in its
context, logged as CodeBuild logs it.
"""

from __future__ import annotations

import io
import logging
import shutil
import threading
import uuid
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from cdlab import config
from cdlab.localcloud import control
from cdlab.localcloud.codebuild import buildspec, specfile
from cdlab.localcloud.codebuild.buildlogs import BuildLog
from cdlab.localcloud.codebuild.buildspec import BuildspecError, Failure, Guard
from cdlab.localcloud.codebuild.records import Builds, context
from cdlab.localcloud.sagemaker.training.logs import LogStream
from cdlab.localcloud.state.logarchive import LogArchive
from cdlab.pipeline import artifacts, roles
from cdlab.pipeline.definition import PipelineError

log = logging.getLogger("cdlab.codebuild")

FLUSH_SECONDS = 0.25


@dataclass(frozen=True)
class Cloud:
    """The local cloud as its services reach it: state dir (the kit's key), port and region."""

    home: Path
    port: int
    region: str

    @property
    def url(self) -> str:
        return f"http://{config.LOOPBACK}:{self.port}"

    def environment(self) -> dict[str, str]:
        """What points a build's AWS clients (and the kit's, waiters too) at the local cloud;
        the role session's key goes on top."""
        return {**control.client_environment(self.home, self.port), "CDLAB_TARGET": "local"}


@dataclass(frozen=True)
class Spec:
    """A build's project as the buildspec runner sees it."""

    name: str
    buildspec: dict[str, Any]
    environment: dict[str, str]


class PhaseFailed(Exception):
    """The phase in progress failed; ``status_code`` and the message are its context."""

    def __init__(self, status_code: str, message: str) -> None:
        super().__init__(message)
        self.status_code = status_code


class LineWriter:
    """The buildspec's output, line by line, into the build's log stream; a thread of its own
    puts the lines every ``FLUSH_SECONDS``, so a follower sees them while a command runs."""

    def __init__(self, stream: LogStream) -> None:
        self.stream = stream
        self.partial = ""
        self.lock = threading.Lock()
        self.closed = threading.Event()
        self.flusher = threading.Thread(target=self._flush_often, daemon=True)
        self.flusher.start()

    def _flush_often(self) -> None:
        while not self.closed.wait(FLUSH_SECONDS):
            self.flush()

    def write(self, text: str) -> int:
        with self.lock:
            *lines, self.partial = (self.partial + text).split("\n")
            for line in lines:
                self.stream.add(line.rstrip("\r"))
        return len(text)

    def flush(self) -> None:
        with self.lock:
            self.stream.flush()

    def close(self) -> None:
        self.closed.set()
        self.flusher.join()
        with self.lock:
            if self.partial:
                self.stream.add(self.partial)
                self.partial = ""
        self.flush()


class Unlogged:
    """The output of a build whose CloudWatch Logs are DISABLED: kept nowhere, as on AWS."""

    def write(self, text: str) -> int:
        return len(text)

    def flush(self) -> None:
        """Nothing is kept, so nothing waits to be written."""

    def close(self) -> None:
        """Nothing was opened."""


class BuildRun:
    """Runs the stored build ``build_id`` (call it on a worker thread)."""

    def __init__(self, builds: Builds, cloud: Cloud, logs: LogArchive, root: Path) -> None:
        self.builds = builds
        self.cloud = cloud
        self.logs = logs
        self.root = root

    def __call__(self, build_id: str, guard: Guard) -> None:
        work = self.root / build_id.replace(":", "-")
        try:
            status = self._run(build_id, guard, work)
            self.builds.finish(build_id, status)
        except PhaseFailed as e:
            status = guard.stopped or "FAILED"
            self.builds.finish(build_id, status, status, context(e.status_code, str(e)))
        except Exception as e:
            log.exception("build %s failed in the local cloud", build_id)
            self.builds.finish(
                build_id, "FAULT", "FAULT", context("CLIENT_ERROR", f"InternalError: {e}")
            )
        finally:
            shutil.rmtree(work, ignore_errors=True)

    def _run(self, build_id: str, guard: Guard, work: Path) -> str:
        self.builds.enter(build_id, "PROVISIONING")
        doc = self.builds.find(build_id)
        assert doc is not None
        session, credentials = self._session(doc)
        writer = self._log(doc, session)
        try:
            self._stopped(guard)
            self.builds.enter(build_id, "DOWNLOAD_SOURCE")
            src = work / "src"
            version = self._download(doc, session, src)
            self._stopped(guard)
            spec = Spec(doc["projectName"], _buildspec(doc, src, writer), _variables(doc))
            env = buildspec.environment(
                spec, build_id, src, buildspec.write_shims(work / "bin"), version, version,
                doc["buildNumber"], {**self.cloud.environment(), **credentials},
                doc["initiator"],
            )  # fmt: skip
            env |= {
                "CODEBUILD_BUILD_IMAGE": doc["environment"]["image"],
                "CODEBUILD_START_TIME": str(int(doc["startTime"] * 1000)),
            }
            if "streamName" in doc["logs"]:
                env["CODEBUILD_LOG_PATH"] = doc["logs"]["streamName"]
            if doc["source"]["type"] == "S3":
                env["CODEBUILD_SOURCE_REPO_URL"] = f"s3://{doc['source']['location']}"
            failure = self._phases(build_id, spec, src, env, writer, guard)
            self._stopped(guard)
            if failure is not None and failure.aborted:  # nothing to upload
                return "FAILED"
            self.builds.enter(build_id, "UPLOAD_ARTIFACTS")
            self._upload(doc, session, spec, src)
            self.builds.enter(build_id, "FINALIZING")
            return "FAILED" if failure is not None else "SUCCEEDED"
        except PhaseFailed as e:
            if e.status_code:  # a stop's phase has logged its end
                current = self.builds.find(build_id) or {"currentPhase": ""}
                _log_failure(writer, current["currentPhase"], e)
            raise
        finally:
            writer.close()

    def _session(self, doc: dict[str, Any]) -> tuple[boto3.Session, dict[str, str]]:
        """The service role's session, as CodeBuild assumes it, and its variables."""
        try:
            credentials = roles.assume(
                doc["serviceRole"], roles.CODEBUILD, f"AWSCodeBuild-{uuid.uuid4()}",
                endpoint_url=self.cloud.url, home=self.cloud.home, region=self.cloud.region,
            )  # fmt: skip
        except PipelineError as e:
            raise PhaseFailed("ACCESS_DENIED", str(e)) from None
        return credentials.session(self.cloud.region), credentials.environment()

    def _log(self, doc: dict[str, Any], session: boto3.Session) -> LineWriter | Unlogged:
        """The build's log stream, created as the role (a refusal fails the build); none, and
        no permission asked of the role, when the build's CloudWatch Logs are DISABLED."""
        if doc["logs"]["cloudWatchLogs"].get("status") == "DISABLED":
            return Unlogged()
        group, stream = doc["logs"]["groupName"], doc["logs"]["streamName"]
        client = session.client("logs", endpoint_url=self.cloud.url)
        try:
            BuildLog(client, group, stream, doc["serviceRole"], doc["arn"]).open()
        except PipelineError as e:
            raise PhaseFailed("ACCESS_DENIED", str(e)) from None
        return LineWriter(LogStream(stream, self.logs, group))

    def _download(self, doc: dict[str, Any], session: boto3.Session, src: Path) -> str:
        """Unzip the S3 source into ``src``; the object's version id ("" if unversioned)."""
        src.mkdir(parents=True)
        source = doc["source"]
        if source["type"] == "NO_SOURCE":
            return doc.get("sourceVersion", "")
        bucket, _, key = source["location"].partition("/")
        asked = {"VersionId": doc["sourceVersion"]} if doc.get("sourceVersion") else {}
        where = f"arn:aws:s3:::{bucket}/{key}"
        s3 = session.client("s3", endpoint_url=self.cloud.url)
        try:
            mismatch = artifacts.region_mismatch(s3, bucket, self.cloud.region)
            if mismatch is not None:
                raise PhaseFailed("CLIENT_ERROR", f"{mismatch} for primary source {where}")
            answer = s3.get_object(Bucket=bucket, Key=key, **asked)
            data = answer["Body"].read()
        except ClientError as e:
            error = e.response["Error"]
            raise PhaseFailed(
                "CLIENT_ERROR",
                f"{error.get('Code')}: {error.get('Message')} for primary source and source "
                f"version {where}",
            ) from None
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                archive.extractall(src)
        except zipfile.BadZipFile:
            raise PhaseFailed(
                "CLIENT_ERROR", f"zip: not a valid zip file for primary source {where}"
            ) from None
        version = answer.get("VersionId") or ""
        if version in ("", "null"):  # an unversioned bucket's object
            return ""
        self.builds.update(doc["id"], resolvedSourceVersion=version)
        return version

    def _phases(
        self,
        build_id: str,
        spec: Spec,
        src: Path,
        env: dict[str, str],
        writer: buildspec.Log,
        guard: Guard,
    ) -> Failure | None:
        """The buildspec's phases, each recorded as it begins and ends."""

        def hook(name: str, failure: Failure | None, ended: bool) -> None:
            if not ended:
                self.builds.enter(build_id, name.upper())
            elif guard.stopped is not None:
                self.builds.end_phase(build_id, guard.stopped, context("", guard.reason()))
            elif failure is not None:
                contexts = context("COMMAND_EXECUTION_ERROR", failure.message())
                self.builds.end_phase(build_id, "FAILED", contexts)

        try:
            return buildspec.run(spec, src, env, writer, guard, hook)
        except BuildspecError as e:
            raise PhaseFailed("YAML_FILE_ERROR", str(e)) from None

    def _upload(self, doc: dict[str, Any], session: boto3.Session, spec: Spec, src: Path) -> None:
        """Zip the artifacts to their S3 location as the role (none for NO_ARTIFACTS)."""
        target = doc["_artifacts"]
        if target["type"] != "S3":
            return
        files = buildspec.artifact_files(spec, src)
        _check_artifacts(spec.buildspec.get("artifacts"), files)
        bucket, key = artifact_key(doc)
        s3 = session.client("s3", endpoint_url=self.cloud.url)
        try:
            if target.get("packaging", "NONE") == "ZIP":
                s3.put_object(Bucket=bucket, Key=key, Body=_zip(files))
            else:
                for path, name in files:
                    s3.put_object(Bucket=bucket, Key=f"{key}/{name}", Body=path.read_bytes())
        except (ClientError, BotoCoreError) as e:
            raise PhaseFailed("CLIENT_ERROR", f"Error uploading artifacts: {e}") from None

    @staticmethod
    def _stopped(guard: Guard) -> None:
        if guard.stopped is not None:
            raise PhaseFailed("", guard.reason())


def _log_failure(log: buildspec.Log, phase: str, failure: PhaseFailed) -> None:
    """The lines CodeBuild logs as a phase fails with a context: "Phase complete:
    UPLOAD_ARTIFACTS State: FAILED", "Phase context status code: CLIENT_ERROR Message: no
    matching artifact paths found"
    (https://github.com/aws-samples/amazon-ecs-fargate-cdk-cicd/issues/13)."""
    message = str(failure).removeprefix(f"{failure.status_code}: ")
    buildspec.line(log, f"Phase complete: {phase} State: FAILED")
    buildspec.line(log, f"Phase context status code: {failure.status_code} Message: {message}")


def artifact_key(doc: dict[str, Any]) -> tuple[str, str]:
    """The bucket and key of a build's S3 artifacts: location, path, (build id,) name
    (https://docs.aws.amazon.com/codebuild/latest/APIReference/API_ProjectArtifacts.html)."""
    target = doc["_artifacts"]
    parts = [target.get("path", "")]
    if target.get("namespaceType") == "BUILD_ID":
        parts.append(doc["id"].partition(":")[2])
    parts.append(target.get("name") or doc["projectName"])
    return target["location"], "/".join(p.strip("/") for p in parts if p)


def _check_artifacts(artifacts: dict[str, Any] | None, files: list[tuple[Path, str]]) -> None:
    """CodeBuild's refusals of an ``artifacts`` section that gives nothing to upload: no
    ``files`` ("no definition for primary artifacts in buildspec",
    https://github.com/aws/aws-codebuild-docker-images/issues/128), or files that match
    nothing ("no matching artifact paths found",
    https://github.com/aws-samples/amazon-ecs-fargate-cdk-cicd/issues/13,
    https://github.com/aws/copilot-cli/issues/5788). A buildspec without ``artifacts`` uploads
    an empty zip: what CodeBuild does then is not confirmed (a check in
    https://github.com/aws/aws-cdk/pull/845 saw the build succeed with no output artifact)."""
    if artifacts is None:
        return
    if "files" not in artifacts:
        raise PhaseFailed("CLIENT_ERROR", "no definition for primary artifacts in buildspec")
    if not files:
        raise PhaseFailed("CLIENT_ERROR", "no matching artifact paths found")


def _zip(files: list[tuple[Path, str]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path, name in files:
            archive.write(path, name)
    return buffer.getvalue()


def _buildspec(doc: dict[str, Any], src: Path, log: buildspec.Log) -> dict[str, Any]:
    """The build's buildspec: inline YAML, else a file of the source (buildspec.yml by default),
    checked whole before any command runs (:mod:`specfile`); what CodeBuild logs of it goes to
    ``log``."""
    text = doc["source"].get("buildspec") or "buildspec.yml"
    if "\n" not in text.strip() and ":" not in text:
        path = src / text
        if not path.is_file():
            raise PhaseFailed("YAML_FILE_ERROR", f"YAML_FILE_ERROR: stat {path.name}: no such file")
        text = path.read_text()
    notes: list[str] = []
    try:
        return specfile.check(text, _variables(doc), notes)
    except specfile.YamlFileError as e:
        raise PhaseFailed("YAML_FILE_ERROR", f"YAML_FILE_ERROR: {e}") from None
    finally:
        for note in notes:
            buildspec.line(log, note)  # the log's own line format


def _variables(doc: dict[str, Any]) -> dict[str, str]:
    return {v["name"]: v["value"] for v in doc["environment"].get("environmentVariables", [])}
