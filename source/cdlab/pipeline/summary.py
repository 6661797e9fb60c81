"""The end of ``cdlab pipeline run`` and ``approve``: how the execution ended, what each stage
took, the commit, the match rate, the QA and prod endpoints, what prod serves, and where the
logs are; on the local cloud, what to try with it next."""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import boto3
from botocore.exceptions import ClientError

from cdlab import config
from cdlab.pipeline import actionlogs
from cdlab.pipeline.execution import Followed
from cdlab.pipeline.source import Revision

# user 4 and movie 58, as the one-hot columns 3 and 1000 (943 users first) that FM reads
INVOKE_BODY = '{"instances": [{"data": {"features": {"keys": [3, 1000], "values": [1, 1]}}}]}'


@dataclass(frozen=True)
class Ending:
    stack: str
    outcome: str  # succeeded, FAILED, waiting for approval, rejected, stopped
    seconds: float
    directory: Path
    revision: Revision | None
    prod_stack: str


def _stack(name: str) -> dict[str, Any] | None:
    """The stack ``name``, or None when there is none (or no name: the run stopped before)."""
    if not name:
        return None
    try:
        [described] = boto3.client("cloudformation").describe_stacks(StackName=name)["Stacks"]
    except ClientError:
        return None
    return dict(described)


def serving(prod_stack: str) -> dict[str, Any] | None:
    """What the endpoint of ``prod_stack`` serves now, from SageMaker itself."""
    described = _stack(prod_stack)
    if described is None:
        return None
    outputs = {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}
    parameters = {p["ParameterKey"]: p["ParameterValue"] for p in described["Parameters"]}
    if "EndpointName" not in outputs:
        return None
    sm = boto3.client("sagemaker")
    endpoint = sm.describe_endpoint(EndpointName=outputs["EndpointName"])
    config_name = endpoint["EndpointConfigName"]
    [variant] = sm.describe_endpoint_config(EndpointConfigName=config_name)["ProductionVariants"]
    model = sm.describe_model(ModelName=variant["ModelName"])
    return {
        "endpoint": outputs["EndpointName"],
        "status": endpoint["EndpointStatus"],
        "config": config_name,
        "model_data": model["PrimaryContainer"]["ModelDataUrl"],
        "commit": parameters.get("CommitID", "?"),
        "built": parameters.get("Timestamp", "?"),
    }


def _deployed(followed: Followed, out: TextIO) -> None:
    """Each deploy action's stack and the endpoint it made."""
    for detail in followed.details.values():
        stack = detail.get("input", {}).get("configuration", {}).get("StackName")
        if detail["status"] != "Succeeded" or not stack:
            continue
        described = _stack(stack) or {}
        outputs = {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}
        out.write(f"  {detail['stageName']:<11} {outputs.get('EndpointName')} ({stack})\n")


def write(followed: Followed | None, ending: Ending, out: TextIO) -> None:
    out.write(f"\nCD Lab pipeline {ending.stack}: {ending.outcome} in {ending.seconds:.1f} s\n")
    if followed is not None:
        times = ", ".join(f"{s} {t:.1f} s" for s, t in followed.stage_seconds().items())
        out.write(f"  stages      {times}\n  execution   {followed.execution}\n")
    if ending.revision is not None:
        out.write(f"  commit      {ending.revision.commit[:12]} {ending.revision.subject}\n")
    if followed is not None:
        _deployed(followed, out)
        rate = followed.match_rate()
        if rate is not None:
            out.write(f"  match rate  {rate[0]:.4f} (gate {rate[1]:.2f})\n")
    prod = serving(ending.prod_stack)
    if prod is None:
        out.write("  prod        not deployed yet\n")
    else:
        out.write(
            f"  prod        {prod['endpoint']} {prod['status']}, config {prod['config']}\n"
            f"              serves {prod['model_data']} "
            f"(commit {prod['commit']}, built {prod['built']})\n"
        )
    out.write(f"  logs        {ending.directory}/\n")


def failure(followed: Followed, prod_action: str, out: TextIO) -> None:
    """The failed action's error details, what became of prod, and its log's tail."""
    failed = followed.failed_action()
    if failed is None:
        out.write(f"\n  stopped: execution {followed.execution} {followed.status}\n")
        return
    label = f"{failed['stageName']}/{failed['actionName']}"
    error = failed.get("output", {}).get("executionResult", {}).get("errorDetails") or {}
    out.write(f"\n  stopped: {label} failed: {error.get('code', '')}: {error.get('message', '')}\n")
    if label == prod_action:
        out.write(f"      {label} failed: CloudFormation rolled the prod stack back\n")
    else:
        out.write("      the prod deploy did not run: prod is unchanged\n")
    log = followed.logs.get(label)
    if log is not None and log.exists():
        out.write(f"      {log} ends with:\n{actionlogs.tail(log)}\n")


def invoke_command(endpoint: str, body: Path) -> str:
    """The AWS CLI command that sends the JSON in file ``body`` to ``endpoint`` and prints the
    answer. The CLI v1 and v2 alike send a ``fileb://`` file's bytes as they are, where v2 reads
    a body given inline as base64 unless the config file's ``cli_binary_format`` is
    ``raw-in-base64-out`` (the local target's is; a user's for AWS may not be), and v1 has no
    ``--cli-binary-format`` option to say so on the command line."""
    return (
        f"aws sagemaker-runtime invoke-endpoint --endpoint-name {shlex.quote(endpoint)} "
        f"--content-type application/json --body {shlex.quote(f'fileb://{body}')} /dev/stdout"
    )


def still_up(url: str, prod_stack: str, directory: Path, out: TextIO) -> None:
    """The local cloud outlives the run, endpoints and all: say so, and what to try with it
    (a request for prod in ``directory``, the run's)."""
    endpoints = boto3.client("sagemaker").list_endpoints(MaxResults=100)["Endpoints"]
    out.write(f"\nThe local cloud is still up at {url}, with {len(endpoints)} endpoint(s):\n")
    for endpoint in endpoints:
        out.write(f"  {endpoint['EndpointName']:<40} {endpoint['EndpointStatus']}\n")
    cdlab = config.cdlab_command()
    out.write(f'Try next:\n  eval "$({cdlab} local env)"   # point this shell\'s aws CLI at it\n')
    prod = serving(prod_stack)
    if prod is not None and prod["status"] == "InService":
        body = directory / "request.json"
        body.write_text(INVOKE_BODY + "\n")
        out.write(f"  {invoke_command(prod['endpoint'], body)}\n")
    out.write(
        "  make lab   # the notebooks in JupyterLab, on this cloud\n"
        f"  {cdlab} local down   # stop it (its endpoints come back at the next up)\n"
    )
