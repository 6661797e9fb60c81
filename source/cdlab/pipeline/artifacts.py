"""The artifact store: each artifact a zip file in the pipeline's ArtifactStore bucket, written and
read with the credentials of the role acting (CodePipeline's for the source and deploy actions,
the project's for a build), as on AWS
(https://docs.aws.amazon.com/codepipeline/latest/userguide/concepts.html#concepts-artifacts).

Keys are CodePipeline's: ``<pipeline name, 20 chars>/<artifact name, 10 chars>/<7 random
characters>``. The store must be in the pipeline's region, which CodePipeline and CodeBuild both
require (https://docs.aws.amazon.com/codepipeline/latest/userguide/reference-pipeline-structure.html).
"""

from __future__ import annotations

import io
import secrets
import string
import zipfile
from pathlib import Path
from typing import Any

KEY_CHARACTERS = string.ascii_letters + string.digits


def new_key(pipeline: str, artifact: str) -> str:
    suffix = "".join(secrets.choice(KEY_CHARACTERS) for _ in range(7))
    return f"{pipeline[:20]}/{artifact[:10]}/{suffix}"


def region_mismatch(s3: Any, bucket: str, region: str) -> str | None:
    """Why ``bucket`` cannot serve a pipeline or build in ``region`` (GetBucketLocation, as the
    acting role; us-east-1 answers no constraint), or None."""
    location = s3.get_bucket_location(Bucket=bucket).get("LocationConstraint") or "us-east-1"
    if location == region:
        return None
    return f"The bucket {bucket} is in {location}, not in the pipeline's region {region}."


def pack(directory: Path) -> bytes:
    """The directory's files as a zip archive, modes kept."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(directory.rglob("*")):
            if path.is_file() and not path.is_symlink():
                archive.write(path, path.relative_to(directory).as_posix())
    return buffer.getvalue()


def unpack(data: bytes, destination: Path) -> Path:
    """Extract a zip archive into ``destination`` (made), modes kept; the destination."""
    destination.mkdir(parents=True)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for member in archive.infolist():
            target = Path(archive.extract(member, destination))
            mode = member.external_attr >> 16
            if mode and not member.is_dir():
                target.chmod(mode & 0o777)
    return destination


def put(s3: Any, bucket: str, key: str, directory: Path) -> None:
    s3.put_object(Bucket=bucket, Key=key, Body=pack(directory))


def get(s3: Any, bucket: str, key: str, destination: Path) -> Path:
    """Download the artifact and extract it into ``destination``; the destination."""
    return unpack(s3.get_object(Bucket=bucket, Key=key)["Body"].read(), destination)
