"""Names and places the notebooks share: the prefix of everything they create, the kit's
checkout, the local work folder, the S3 bucket (named after the session's region) and the
SageMaker execution role (in the caller's account)."""

from __future__ import annotations

from pathlib import Path

import boto3

from cdlab import buckets, config, execution_role, target

PREFIX = "cdlab-nb"


def repository() -> Path:
    """The kit's checkout (the folder holding ``cloudformation/``): found from the working
    directory up, else from this package's own location (an editable install)."""
    for folder in (Path.cwd(), *Path.cwd().parents, *Path(__file__).resolve().parents):
        if (folder / "cloudformation" / "endpoint.yml").is_file():
            return folder
    raise FileNotFoundError("no cloudformation/endpoint.yml above the working directory")


def workdir() -> Path:
    """Where notebooks keep local files (the MovieLens files, the prepared result)."""
    path = config.home() / "notebooks"
    path.mkdir(parents=True, exist_ok=True)
    return path


def default_bucket() -> str:
    """``cdlab-<region>-<account id>``: bucket names are global, so, like the SageMaker SDK's
    default bucket (``sagemaker-<region>-<account id>``), it names the account and region."""
    account = boto3.client("sts").get_caller_identity()["Account"]
    return f"cdlab-{target.region()}-{account}"


def role_arn(identity: dict) -> str:
    """The notebooks' execution role (``cdlab-notebooks``) in the account of ``identity`` (STS
    GetCallerIdentity's answer), in the partition of its ARN."""
    partition = identity["Arn"].split(":")[1]
    return f"arn:{partition}:iam::{identity['Account']}:role/{execution_role.NAME}"


def default_role() -> str:
    """The caller's account's ``cdlab-notebooks`` role: the one ``target.ready("local")`` makes,
    and the one an instructor creates on AWS (labs/README.md). A role of another name or path
    (``/service-role/...``) is passed as the notebooks' ``role`` parameter instead."""
    return role_arn(boto3.client("sts").get_caller_identity())


def ensure_bucket(bucket: str) -> None:
    """Create ``bucket`` in the session's region unless it exists (:func:`cdlab.buckets.ensure`)."""
    buckets.ensure(boto3.client("s3"), bucket)
