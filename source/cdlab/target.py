"""Where the kit's AWS calls go: the local cloud (default) or real AWS, chosen by environment.

Code never branches on the target: ``ready()`` only sets the environment that boto3, the AWS CLI
and the SageMaker SDK already honour (``AWS_ENDPOINT_URL`` and friends), after making sure the
target answers, and starts boto3's default session afresh (it keeps the credentials it first
found). ``CDLAB_TARGET`` is ``local`` or ``aws``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TextIO

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from cdlab import config, execution_role
from cdlab.localcloud import control

TARGETS = ("local", "aws")


class TargetNotReady(control.CloudError):
    """The chosen target cannot be reached; the message says what to do (``cdlab`` prints it
    as it prints the local cloud's other errors)."""


def current() -> str:
    return os.environ.get("CDLAB_TARGET", "local")


def region() -> str:
    """The region boto3's clients call: ``AWS_DEFAULT_REGION``, else the profile's from
    ``aws configure``; on the local cloud :func:`ready` sets the cloud's own (us-east-1 unless
    the environment names another). Not :func:`cdlab.config.region`, which is the local cloud's
    and reads the environment alone."""
    name = boto3.session.Session().region_name
    if not name:
        raise ValueError("no AWS region: run `aws configure` or set AWS_DEFAULT_REGION")
    return name


def ready(
    target: str | None = None,
    home: Path | None = None,
    port: int | None = None,
    out: TextIO | None = None,
) -> dict[str, str]:
    """Make ``target`` ready and point this process's AWS clients at it.

    ``local``: start the local cloud if it is not running (saying so on ``out``, if given: it
    keeps running after this process), then export its endpoint and key, and make the
    notebooks' SageMaker execution role there (:mod:`cdlab.execution_role`). A cloud already
    running with another port, time scale or latency profile than asked for (``port``,
    ``CDLAB_PORT``, ``CDLAB_TIME_SCALE``, ``CDLAB_LATENCY``) is refused
    (:class:`cdlab.localcloud.control.CloudError`).
    ``aws``: check that credentials and a region work (STS GetCallerIdentity), or fail now with
    a clear message rather than halfway through a notebook.
    """
    target = target or current()
    if target not in TARGETS:
        raise TargetNotReady(
            f"target must be 'local' or 'aws', not {target!r}: set CDLAB_TARGET to one of them "
            "(or unset it for the local cloud)"
        )
    if target == "local":
        return _ready_local(home or config.home(), port, out)
    return _ready_aws()


def _ready_local(home: Path, port: int | None, out: TextIO | None) -> dict[str, str]:
    try:
        port = port or config.asked_port()
    except ValueError as e:
        raise control.CloudError(f"The local cloud cannot start: {e}.") from None
    cloud = control.up(home, port)
    if cloud.started and out is not None:
        out.write(
            f"started the local cloud {cloud.described()}; it keeps running after "
            f"this command: stop it with `{config.cdlab_command()} local down`\n"
        )
    env = control.client_environment(home, cloud.port)
    os.environ.update(env)
    os.environ["CDLAB_TARGET"] = "local"
    boto3.setup_default_session()
    execution_role.ensure(boto3.client("iam"))
    return env


def _ready_aws() -> dict[str, str]:
    for name in ("AWS_ENDPOINT_URL", "AWS_DATA_PATH"):
        os.environ.pop(name, None)
    if Path(os.environ.get("AWS_CONFIG_FILE", "")).name == control.CLI_CONFIG_NAME:
        for name in ("AWS_CONFIG_FILE", *control.PROFILE_VARIABLES):  # the local target's
            os.environ.pop(name, None)
    if os.environ.get("AWS_ACCESS_KEY_ID", "").startswith(control.LOCAL_KEY_PREFIX):
        for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):  # the local cloud's key
            os.environ.pop(name, None)
    os.environ["CDLAB_TARGET"] = "aws"
    boto3.setup_default_session()
    try:
        quick = Config(connect_timeout=5, read_timeout=10, retries={"max_attempts": 2})
        identity = boto3.client("sts", config=quick).get_caller_identity()
    except (BotoCoreError, ClientError) as e:
        raise TargetNotReady(
            f"target 'aws' is not reachable: {e}. Configure credentials and a region "
            "(aws configure, or a SageMaker notebook role), or use target='local' "
            "(CDLAB_TARGET=local for cdlab)."
        ) from e
    return {"CDLAB_TARGET": "aws", "AWS_ACCOUNT": identity["Account"]}
