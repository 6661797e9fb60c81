"""A training job's files: its channels staged from S3 into the job dir, its model put back.

The job dir is laid out as SageMaker lays out ``/opt/ml``: ``input/config/*.json``, each channel's
S3 objects under ``input/data/<channel>/`` (moto's S3, in-process, through :mod:`artifacts`), and
the trainer's ``model/`` dir, tarred to ``<S3OutputPath>/<job>/output/model.tar.gz``. Both go
through the job's role (a :class:`RoleObjects`): what the role may not read or write fails the
job with SageMaker's kind of reason, ``ClientError: Data download failed:... (AccessDenied:
Access Denied)``.
"""

from __future__ import annotations

import io
import json
import shutil
import tarfile
from pathlib import Path, PurePosixPath
from typing import Any

from cdlab.localcloud.protocols.errors import ValidationException
from cdlab.localcloud.sagemaker import artifacts
from cdlab.localcloud.sagemaker.role_s3 import ACCESS_DENIED, AccessDenied
from cdlab.localcloud.sagemaker.training.records import JobFailed

HOST = "algo-1"


def channel_objects(s3: artifacts.S3Objects, source: dict[str, Any]) -> list[tuple[str, str]]:
    """(S3 URL, path in the channel dir) of every object an S3DataSource names.

    S3Prefix: the objects under the prefix, named relative to the prefix's last ``/`` (as
    SageMaker places them); ManifestFile: ``[{"prefix": "s3://..."}, "key", ...]``.
    """
    uri = source["S3Uri"]
    if source["S3DataType"] == "ManifestFile":
        data = s3.read(uri)
        try:
            entries = json.loads(data) if data is not None else None
            prefix = entries[0]["prefix"]
            artifacts.split_s3_url(prefix, key_required=False)
            names = [str(name) for name in entries[1:]]
        except (ValueError, TypeError, KeyError, IndexError, AttributeError):
            raise ValidationException(
                f"The manifest file {uri} is missing or is not a JSON list of a "
                '{"prefix": "s3://bucket/prefix/"} object followed by relative keys.'
            ) from None
        return [(prefix + name, name) for name in names]
    bucket, prefix = artifacts.split_s3_url(uri, key_required=False)
    base = prefix.rsplit("/", 1)[0] + "/" if "/" in prefix else ""
    return [
        (f"s3://{bucket}/{key}", key[len(base) :])
        for key in s3.keys(uri) or []
        if not key.endswith("/")
    ]


def stage(s3: artifacts.S3Objects, doc: dict[str, Any], job_dir: Path) -> None:
    """Lay out ``job_dir`` afresh for the job: its config files and its channels' data."""
    shutil.rmtree(job_dir, ignore_errors=True)
    _write_config(doc, job_dir / "input" / "config")
    for channel in doc.get("InputDataConfig", []):
        _download(s3, channel, job_dir / "input" / "data" / channel["ChannelName"])


def _write_config(doc: dict[str, Any], config_dir: Path) -> None:
    config_dir.mkdir(parents=True)
    mode = doc["AlgorithmSpecification"]["TrainingInputMode"]
    input_config = {
        c["ChannelName"]: {
            **({"ContentType": c["ContentType"]} if c.get("ContentType") else {}),
            "TrainingInputMode": c.get("InputMode", mode),
            "S3DistributionType": c["DataSource"]["S3DataSource"].get(
                "S3DataDistributionType", "FullyReplicated"
            ),
            "RecordWrapperType": c.get("RecordWrapperType", "None"),
        }
        for c in doc.get("InputDataConfig", [])
    }
    files = {
        "hyperparameters.json": doc.get("HyperParameters", {}),
        "inputdataconfig.json": input_config,
        "resourceconfig.json": {"current_host": HOST, "hosts": [HOST]},
    }
    for name, content in files.items():
        (config_dir / name).write_text(json.dumps(content))


def _download(s3: artifacts.S3Objects, channel: dict[str, Any], target: Path) -> None:
    """Copy a channel's S3 objects into ``target``, refusing names that leave it."""
    target.mkdir(parents=True)
    try:
        objects = channel_objects(s3, channel["DataSource"]["S3DataSource"])
    except ValidationException as e:
        raise JobFailed(f"ClientError: Data download failed: {e.message}") from e
    except AccessDenied as e:
        uri = channel["DataSource"]["S3DataSource"]["S3Uri"]
        raise JobFailed(
            f"ClientError: Data download failed:Unable to list {uri} ({ACCESS_DENIED})"
        ) from e
    for url, relative in objects:
        parts = PurePosixPath(relative).parts
        if not parts or relative.startswith("/") or ".." in parts:
            raise JobFailed(
                f"ClientError: Data download failed: the object {url} cannot be placed in "
                f"channel {channel['ChannelName']} (its name leaves the channel directory)."
            )
        try:
            data = s3.read(url)
        except AccessDenied as e:
            raise JobFailed(
                f"ClientError: Data download failed:Unable to download object {url} "
                f"({ACCESS_DENIED})"
            ) from e
        if data is None:
            raise JobFailed(f"ClientError: Data download failed: {url} does not exist.")
        path = target.joinpath(*parts)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def upload_model(s3: artifacts.S3Objects, model_dir: Path, url: str) -> None:
    """Tar the model dir to ``url`` in S3 (a model.tar.gz with the dir's files at its top)."""
    files = sorted(p for p in model_dir.rglob("*") if p.is_file()) if model_dir.is_dir() else []
    if not files:
        raise JobFailed(
            "AlgorithmError: the training process exited successfully but wrote no model to "
            "/opt/ml/model."
        )
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for path in files:
            tar.add(path, arcname=str(path.relative_to(model_dir)))
    try:
        s3.write(url, buffer.getvalue())
    except artifacts.ArtifactError as e:
        raise JobFailed(f"ClientError: Unable to upload the model artifact: {e}") from e
    except AccessDenied as e:
        raise JobFailed(
            f"ClientError: Artifact upload failed:Unable to upload {url} ({ACCESS_DENIED})"
        ) from e
