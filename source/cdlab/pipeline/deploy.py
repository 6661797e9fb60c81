"""A CloudFormation deploy action (ActionMode CREATE_UPDATE or REPLACE_ON_FAILURE) through boto3,
as CodePipeline runs it.

The template and the template configuration (``Parameters``, ``Tags``, ``StackPolicy``) come from
the input artifact; ``ParameterOverrides`` win over the configuration's parameters. The template
is validated first (ValidateTemplate, which the AWS CDK grants a pipeline's role for this
action), so a broken one fails before any stack is touched. The stack is
created when it does not exist and updated otherwise (with the configuration's stack policy as
``StackPolicyBody``); "no updates" is a success, as in CodePipeline. With REPLACE_ON_FAILURE a
stack in a failed state (:data:`FAILED_STATES`, such as the ROLLBACK_COMPLETE a failed first
creation leaves, which UpdateStack refuses) is deleted first, then created again. The modes are
AWS's (https://docs.aws.amazon.com/codepipeline/latest/userguide/action-reference-CloudFormation.html,
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/continuous-delivery-codepipeline-action-reference.html);
the change set modes and DELETE_ONLY do not run locally (:func:`mode_refusal`). The stack's
events are written to the action's log while it is polled, every ``POLL_SECONDS`` or when the
caller's ``pause`` returns sooner (the local cloud's engine wakes it when a stack is written).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from botocore.exceptions import ClientError

from cdlab.pipeline.definition import Action, PipelineError

POLL_SECONDS = 0.5
CREATE_UPDATE, REPLACE_ON_FAILURE = "CREATE_UPDATE", "REPLACE_ON_FAILURE"
ACTION_MODES = (CREATE_UPDATE, REPLACE_ON_FAILURE)  # the ones the local cloud runs
# the states in which REPLACE_ON_FAILURE deletes the stack and creates it again
FAILED_STATES = frozenset(
    {
        "ROLLBACK_COMPLETE",
        "ROLLBACK_FAILED",
        "CREATE_FAILED",
        "DELETE_FAILED",
        "UPDATE_ROLLBACK_FAILED",
    }
)


@dataclass(frozen=True)
class Deployed:
    stack: str
    outputs: dict[str, str]
    parameters: dict[str, str]
    operation: str  # created, replaced, updated or unchanged


def artifact_file(reference: str, artifacts: dict[str, Path]) -> Path:
    """``BuildOutput::path/in/it`` as a file of the artifact directory."""
    name, sep, relative = reference.partition("::")
    if not sep or name not in artifacts:
        raise PipelineError(
            f"{reference}: expected <input artifact>::<path>, from {list(artifacts)}"
        )
    path = artifacts[name] / relative
    if not path.is_file():
        raise PipelineError(f"{reference}: no such file in the artifact {name}")
    return path


def parameter_overrides(text: str | None, artifacts: dict[str, Path]) -> dict[str, str]:
    """The JSON of ParameterOverrides; ``{"Fn::GetParam": [artifact, file, key]}`` reads a value
    from a JSON file of an input artifact, as CodePipeline's parameter override function does."""
    values: dict[str, Any] = json.loads(text) if text else {}
    resolved = {}
    for key, value in values.items():
        if isinstance(value, dict) and set(value) == {"Fn::GetParam"}:
            artifact, file, field = value["Fn::GetParam"]
            value = json.loads(artifact_file(f"{artifact}::{file}", artifacts).read_text())[field]
        elif isinstance(value, dict):
            raise PipelineError(f"ParameterOverrides {key}: {value} does not run locally")
        resolved[key] = str(value)
    return resolved


def mode_refusal(mode: str | None) -> str | None:
    """Why an action with ActionMode ``mode`` cannot run locally; None when it can."""
    if mode in ACTION_MODES:
        return None
    return (
        f"ActionMode {mode} does not run on the local cloud; it runs {' and '.join(ACTION_MODES)}."
    )


def _request(action: Action, artifacts: dict[str, Path]) -> dict[str, Any]:
    configuration = action.configuration
    refusal = mode_refusal(configuration.get("ActionMode"))
    if refusal is not None:
        raise PipelineError(f"{action.key}: {refusal}")
    settings: dict[str, Any] = {}
    if "TemplateConfiguration" in configuration:
        path = artifact_file(configuration["TemplateConfiguration"], artifacts)
        settings = json.loads(path.read_text())
    parameters = {
        **{k: str(v) for k, v in settings.get("Parameters", {}).items()},
        **parameter_overrides(configuration.get("ParameterOverrides"), artifacts),
    }
    request: dict[str, Any] = {
        "StackName": configuration["StackName"],
        "TemplateBody": artifact_file(configuration["TemplatePath"], artifacts).read_text(),
        "Parameters": [{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
        "Tags": [{"Key": k, "Value": str(v)} for k, v in settings.get("Tags", {}).items()],
    }
    if "RoleArn" in configuration:
        request["RoleARN"] = configuration["RoleArn"]
    if "Capabilities" in configuration:
        request["Capabilities"] = configuration["Capabilities"].split(",")
    if "StackPolicy" in settings:
        request["StackPolicyBody"] = json.dumps(settings["StackPolicy"])
    return request


def _existing(cfn: Any, stack: str) -> dict[str, Any] | None:
    """The live stack named ``stack``, None when there is none."""
    try:
        [described] = cfn.describe_stacks(StackName=stack)["Stacks"]
    except ClientError as e:
        if "does not exist" in e.response["Error"]["Message"]:
            return None
        raise
    return None if described["StackStatus"] == "DELETE_COMPLETE" else described


def _settle(
    cfn: Any, stack: str, log: TextIO, since: float, pause: Callable[[float], object]
) -> dict[str, Any]:
    """Poll until the operation ends, logging new events; the stack as it ends."""
    seen: set[str] = set()
    while True:
        described = cfn.describe_stacks(StackName=stack)["Stacks"][0]
        events = cfn.describe_stack_events(StackName=stack)["StackEvents"]
        for event in reversed(events):
            if event["EventId"] in seen or event["Timestamp"].timestamp() < since - 1:
                continue
            seen.add(event["EventId"])
            reason = event.get("ResourceStatusReason", "")
            log.write(
                f"{event['Timestamp']:%H:%M:%S} {event['LogicalResourceId']:<16} "
                f"{event['ResourceStatus']:<40} {reason}\n"
            )
        log.flush()
        if not described["StackStatus"].endswith("_IN_PROGRESS"):
            return described
        pause(POLL_SECONDS)


def _failure(cfn: Any, described: dict[str, Any], since: float) -> str:
    events = cfn.describe_stack_events(StackName=described["StackName"])["StackEvents"]
    reasons = [
        f"{e['LogicalResourceId']}: {e['ResourceStatusReason']}"
        for e in reversed(events)
        if e["ResourceStatus"].endswith("_FAILED")
        and e.get("ResourceStatusReason")
        and e["Timestamp"].timestamp() >= since - 1
    ]
    return f"stack {described['StackName']} is {described['StackStatus']}: " + (
        "; ".join(reasons) or described.get("StackStatusReason", "")
    )


def _refused(stack: str, error: ClientError) -> PipelineError:
    """CloudFormation's refusal of a call on ``stack``, with its error code."""
    return PipelineError(
        f"{stack}: {error.response['Error']['Code']}: {error.response['Error']['Message']}"
    )


def _delete(
    cfn: Any,
    described: dict[str, Any],
    request: dict[str, Any],
    log: TextIO,
    since: float,
    pause: Callable[[float], object],
) -> None:
    """Delete the stack (as the action's role, like its other calls) and wait until it is gone;
    it is polled by its ID, as a deleted stack is no longer found by its name."""
    role = {"RoleARN": request["RoleARN"]} if "RoleARN" in request else {}
    try:
        cfn.delete_stack(StackName=described["StackId"], **role)
    except ClientError as e:
        raise _refused(described["StackName"], e) from None
    deleted = _settle(cfn, described["StackId"], log, since, pause)
    if deleted["StackStatus"] != "DELETE_COMPLETE":
        raise PipelineError(_failure(cfn, deleted, since))


def run(
    action: Action,
    artifacts: dict[str, Path],
    log: TextIO,
    cfn: Any,
    pause: Callable[[float], object],
) -> Deployed:
    """Create or update the action's stack with the CloudFormation client ``cfn`` (the
    pipeline role's), replacing a failed one under REPLACE_ON_FAILURE, and wait,
    ``pause(POLL_SECONDS)`` between two looks (``time.sleep``, or a sleep that a change of the
    stack ends sooner); raise PipelineError when it fails."""
    request = _request(action, artifacts)
    stack = request["StackName"]
    started = time.time()
    parameters = {p["ParameterKey"]: p["ParameterValue"] for p in request["Parameters"]}
    log.write(f"parameters: {json.dumps(parameters, indent=2)}\n")
    try:
        cfn.validate_template(TemplateBody=request["TemplateBody"])
    except ClientError as e:
        raise _refused(stack, e) from None
    existing = _existing(cfn, stack)
    operation = "created" if existing is None else "updated"
    if (
        existing is not None
        and action.configuration["ActionMode"] == REPLACE_ON_FAILURE
        and existing["StackStatus"] in FAILED_STATES
    ):
        log.write(f"stack {stack} is {existing['StackStatus']}: deleting it, then creating it\n")
        log.flush()
        _delete(cfn, existing, request, log, started, pause)
        operation = "replaced"
    log.write(f"{'updating' if operation == 'updated' else 'creating'} stack {stack}\n")
    log.flush()
    try:
        if operation == "updated":
            cfn.update_stack(**request)
        else:
            cfn.create_stack(**request)
    except ClientError as e:
        message = e.response["Error"]["Message"]
        if message != "No updates are to be performed.":
            raise _refused(stack, e) from None
        log.write(f"{message}\n")
        operation = "unchanged"
    if operation != "unchanged":
        described = _settle(cfn, stack, log, started, pause)
        if described["StackStatus"] not in ("CREATE_COMPLETE", "UPDATE_COMPLETE"):
            raise PipelineError(_failure(cfn, described, started))
    described = cfn.describe_stacks(StackName=stack)["Stacks"][0]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}
    log.write(f"outputs: {json.dumps(outputs, indent=2)}\n")
    return Deployed(stack, outputs, parameters, operation)
