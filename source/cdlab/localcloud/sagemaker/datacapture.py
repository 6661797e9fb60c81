"""Data capture: what an endpoint serves, written to S3 as SageMaker's DataCaptureConfig asks
(docs/aws-compatibility.md, "Data capture").

An endpoint config's DataCaptureConfig travels in each variant's snapshot, so every variant's
route carries its :class:`CaptureSettings` (None when capture is off: the hot path's one check,
in :mod:`.invocations`, for both the runtime's fast path and aiohttp's). A captured invocation
is only appended to a buffer on the event loop; its JSON Lines record is made and written off
the loop, in a worker thread, to the local S3 (and its disk mirror), at
``DestinationS3Uri/<endpoint>/<variant>/yyyy/mm/dd/hh/<mm-ss-mmm>-<uuid>.jsonl``.

When: SageMaker delivers capture files after a couple of minutes; the local cloud writes a batch
``FLUSH_SECONDS`` after its first record (the cadence at which instance logs reach CloudWatch
Logs), sooner if ``MAX_BUFFERED_BYTES`` of payloads wait, and at the cloud's stop, so that a test
or a notebook sees its captures within about a second without the cloud writing a file per
invocation. Records still buffered when the cloud is killed (SIGKILL) are lost. A file that
cannot be written (its bucket missing, its role refused) is logged in the cloud's log and
dropped: capture never fails or delays the invocation, as SageMaker captures asynchronously
(https://docs.aws.amazon.com/sagemaker/latest/dg/model-monitor-faqs.html).

Who: SageMaker acts on your behalf as the execution role passed to CreateModel
(https://docs.aws.amazon.com/sagemaker/latest/dg/sagemaker-roles.html), so each file is put as
a SageMaker session of its variant's model's ExecutionRoleArn (:class:`.role_s3.RoleObjects`,
decided by the enforcer every request is, not at all under ``CDLAB_IAM=off``): a role without
s3:PutObject on the file's key gets nothing written, logged with IAM's reason (a model without
a role is not checked). AWS documents neither the permission nor where such a failure shows:
both are the kit's reading. The writing thread asks for the decision once per file, never per
invocation, and it is made anew after any IAM change (the enforcer keeps none across one).
``KmsKeyId`` is not honoured: captures are written unencrypted and the role's permission to use
the key is not checked, the local cloud having no KMS (docs/aws-compatibility.md, "Data
capture")."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import random
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

from cdlab.localcloud.iam.service_roles import SAGEMAKER_SESSION, ServiceRoles
from cdlab.localcloud.protocols.errors import ValidationException
from cdlab.localcloud.sagemaker.artifacts import ArtifactError, S3Objects, split_s3_url
from cdlab.localcloud.sagemaker.role_s3 import RoleObjects

log = logging.getLogger("cdlab.sagemaker")

FLUSH_SECONDS = 1.0
MAX_BUFFERED_BYTES = 32 * 1024**2
INFERENCE_ID = "X-Amzn-SageMaker-Inference-Id"


@dataclass(frozen=True)
class CaptureSettings:
    """How one variant of an endpoint captures, from its config's DataCaptureConfig."""

    bucket: str
    prefix: str  # the keys' start: "<destination prefix>/<endpoint>/<variant>/"
    percent: int
    inputs: bool
    outputs: bool
    csv_types: frozenset[str]
    json_types: frozenset[str]
    role: str | None  # the model's ExecutionRoleArn, which writes the captures
    region: str  # the endpoint's


def capture_settings(
    endpoint: str, variant: Mapping[str, Any], region: str
) -> CaptureSettings | None:
    """The settings of a variant's snapshot, for an endpoint in ``region``; None if it captures
    nothing (no DataCaptureConfig, EnableCapture false, a sampling percentage of 0, or a
    destination :func:`refusal` refuses, in a config kept before the local cloud refused it)."""
    config = variant.get("DataCaptureConfig")
    if (
        not config
        or not config.get("EnableCapture", True)
        or not config["InitialSamplingPercentage"]
        or refusal(config) is not None
    ):
        return None
    bucket, destination = split_s3_url(config["DestinationS3Uri"], key_required=False)
    folders = [f for f in (destination.strip("/"), endpoint, variant["VariantName"]) if f]
    modes = {option["CaptureMode"] for option in config["CaptureOptions"]}
    headers = config.get("CaptureContentTypeHeader") or {}
    return CaptureSettings(
        bucket=bucket,
        prefix="".join(f"{folder}/" for folder in folders),
        percent=config["InitialSamplingPercentage"],
        inputs=bool(modes & {"Input", "InputAndOutput"}),
        outputs=bool(modes & {"Output", "InputAndOutput"}),
        csv_types=frozenset(t.lower() for t in headers.get("CsvContentTypes", ())),
        json_types=frozenset(t.lower() for t in headers.get("JsonContentTypes", ())),
        role=variant.get("ExecutionRoleArn"),
        region=region,
    )


def refusal(config: Mapping[str, Any] | None) -> ValidationException | None:
    """Why CreateEndpointConfig refuses a DataCaptureConfig the local cloud would not honour:
    an ``https://`` destination (the API allows one; the local cloud writes to ``s3://`` URLs)."""
    if config is None or config["DestinationS3Uri"].startswith("s3://"):
        return None
    return ValidationException(
        f"DataCaptureConfig.DestinationS3Uri {config['DestinationS3Uri']} is not an s3:// URL; "
        "the local cloud writes captured data to s3://bucket/prefix destinations only."
    )


def described(endpoint: Mapping[str, Any]) -> dict[str, Any]:
    """DescribeEndpoint's DataCaptureConfig (a DataCaptureConfigSummary) for an endpoint
    document, from the configuration it serves (or, while it is created, will serve); none if
    that configuration has no DataCaptureConfig. KmsKeyId only if given, as SageMaker omits it
    (https://github.com/aws/sagemaker-python-sdk/issues/5738)."""
    snapshot = endpoint.get("_Deployed") or endpoint.get("_Pending") or [{}]
    config = snapshot[0].get("DataCaptureConfig")
    if not config:
        return {}
    enabled = config.get("EnableCapture", True)
    summary = {
        "EnableCapture": enabled,
        "CaptureStatus": "Started" if enabled else "Stopped",
        "CurrentSamplingPercentage": config["InitialSamplingPercentage"],
        "DestinationS3Uri": config["DestinationS3Uri"],
    }
    if config.get("KmsKeyId"):
        summary["KmsKeyId"] = config["KmsKeyId"]
    return {"DataCaptureConfig": summary}


class _Captured(NamedTuple):
    """One invocation as captured, before its record is made."""

    settings: CaptureSettings
    at: float  # epoch seconds, when answered
    inference_id: str | None
    input_type: str | None
    body: bytes
    output_type: str | None
    output: bytes


class DataCapture:
    """The local cloud's buffer of captured invocations, written to S3 in batches, each file
    as its variant's model role."""

    def __init__(self, s3: S3Objects, roles: ServiceRoles) -> None:
        self.s3 = s3
        self.roles = roles
        self.buffer: list[_Captured] = []
        self.buffered_bytes = 0
        self.timer: asyncio.TimerHandle | None = None
        self.writing: set[asyncio.Task[None]] = set()

    def record(
        self,
        settings: CaptureSettings,
        body: bytes,
        headers: Mapping[str, str],
        answer: tuple[int, Mapping[str, str], bytes],
    ) -> None:
        """Keep an answered invocation for the next batch, if it is sampled: on the event loop,
        so only what is cheap (the record itself is made in the writing thread)."""
        status, answer_headers, output = answer
        if status != 200 or random.random() * 100 >= settings.percent:
            return
        self.buffer.append(
            _Captured(
                settings,
                time.time(),
                headers.get(INFERENCE_ID),
                headers.get("Content-Type"),
                body,
                answer_headers.get("Content-Type"),
                output,
            )
        )
        self.buffered_bytes += len(body) + len(output)
        if self.buffered_bytes >= MAX_BUFFERED_BYTES:
            self.flush()
        elif self.timer is None:
            self.timer = asyncio.get_running_loop().call_later(FLUSH_SECONDS, self.flush)

    def flush(self) -> None:
        """Start writing what is buffered, in a worker thread."""
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        batch, self.buffer, self.buffered_bytes = self.buffer, [], 0
        if batch:
            task = asyncio.create_task(self._write(batch))
            self.writing.add(task)
            task.add_done_callback(self.writing.discard)

    async def close(self) -> None:
        """Write what is buffered and wait for every write under way (at the cloud's stop)."""
        self.flush()
        await asyncio.gather(*self.writing)

    async def _write(self, batch: list[_Captured]) -> None:
        loop = asyncio.get_running_loop()
        try:
            await asyncio.to_thread(self._write_files, batch, loop)
        except Exception:
            log.exception("data capture: %d captured invocations not written", len(batch))

    def _write_files(self, batch: list[_Captured], loop: asyncio.AbstractEventLoop) -> None:
        """One JSON Lines file per variant's settings and hour of the batch, named for its first
        record's minute, second and millisecond, as SageMaker names them, written as the
        settings' role, whose permission ``loop`` decides (blocking). A file the role may not
        write (:class:`.role_s3.AccessDenied`, an OSError) is logged and dropped."""
        files: dict[tuple[CaptureSettings, str], list[_Captured]] = {}
        for captured in batch:
            hour = time.strftime("%Y/%m/%d/%H", time.gmtime(captured.at))
            files.setdefault((captured.settings, hour), []).append(captured)
        for (settings, hour), records in files.items():
            first = records[0].at
            name = f"{time.strftime('%M-%S', time.gmtime(first))}-{int(first * 1000) % 1000:03d}"
            url = f"s3://{settings.bucket}/{settings.prefix}{hour}/{name}-{uuid.uuid4()}.jsonl"
            decide = self.roles.blocking(settings.role, SAGEMAKER_SESSION, settings.region, loop)
            try:
                RoleObjects(self.s3, decide).write(url, "".join(_line(r) for r in records).encode())
            except (ArtifactError, OSError) as e:
                log.warning("data capture: %d records not written to %s: %s", len(records), url, e)


def _line(captured: _Captured) -> str:
    """The record SageMaker writes for one invocation, as a line of JSON."""
    settings = captured.settings
    data: dict[str, Any] = {}
    if settings.inputs:
        data["endpointInput"] = _payload(captured.body, captured.input_type, "INPUT", settings)
    if settings.outputs:
        data["endpointOutput"] = _payload(captured.output, captured.output_type, "OUTPUT", settings)
    metadata = {"eventId": str(uuid.uuid4())}
    if captured.inference_id is not None:
        metadata["inferenceId"] = captured.inference_id
    metadata["inferenceTime"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(captured.at))
    record = {"captureData": data, "eventMetadata": metadata, "eventVersion": "0"}
    return json.dumps(record, separators=(",", ":")) + "\n"


def _payload(
    data: bytes, content_type: str | None, mode: str, settings: CaptureSettings
) -> dict[str, str]:
    """A request's or an answer's capture: as text if its media type is one of the config's CSV
    or JSON types (and it is UTF-8), else base64, SageMaker's default."""
    media = (content_type or "").split(";")[0].strip().lower()
    encoding = (
        "CSV" if media in settings.csv_types else "JSON" if media in settings.json_types else ""
    )
    try:
        text = data.decode() if encoding else ""
    except UnicodeDecodeError:
        encoding = ""
    if not encoding:
        encoding, text = "BASE64", base64.b64encode(data).decode()
    observed = {"observedContentType": content_type} if content_type is not None else {}
    return {**observed, "mode": mode, "data": text, "encoding": encoding}
