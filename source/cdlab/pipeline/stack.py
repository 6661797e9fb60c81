"""The pipeline stack: ``cloudformation/pipeline.yml`` deployed as ``aws cloudformation deploy``
deploys it (a change set, created then executed; an unchanged template is no change), with
``CAPABILITY_IAM`` for its unnamed roles and ``PipelineName`` repeating the stack's name, which
the template's constraint limits to 34 characters.

https://docs.aws.amazon.com/cli/latest/reference/cloudformation/deploy/index.html
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError, WaiterError

from cdlab.pipeline.definition import STACK_NAME_PARAMETER, PipelineError

TEMPLATE = Path("cloudformation") / "pipeline.yml"
CAPABILITIES = ["CAPABILITY_IAM"]
# CloudFormation's reasons for a change set that changes nothing (the CLI's deploy: no error)
NO_CHANGES = ("didn't contain changes", "No updates are to be performed")
WAIT = {"Delay": 2, "MaxAttempts": 900}
ABSENT = ("REVIEW_IN_PROGRESS",)  # a stack whose only change set was never executed


def deploy_command(stack: str, template: Path = TEMPLATE) -> str:
    """The AWS CLI command that does what :func:`deploy` does."""
    return (
        f"aws cloudformation deploy --template-file {template} --stack-name {stack} "
        f"--capabilities {' '.join(CAPABILITIES)} "
        f"--parameter-overrides {STACK_NAME_PARAMETER}={stack}"
    )


def _status(cfn: Any, stack: str) -> str | None:
    try:
        [described] = cfn.describe_stacks(StackName=stack)["Stacks"]
    except ClientError as e:
        if "does not exist" in e.response["Error"]["Message"]:
            return None
        raise
    return str(described["StackStatus"])


def deploy(cfn: Any, template: Path, stack: str) -> str:
    """Create or update ``stack`` from ``template`` and wait for it: created, updated or
    unchanged. A refusal (a parameter constraint, a rule, a failed resource) is a PipelineError
    with CloudFormation's own words."""
    status = _status(cfn, stack)
    kind = "CREATE" if status is None or status in ABSENT else "UPDATE"
    name = f"cdlab-deploy-{uuid.uuid4().hex[:12]}"
    try:
        cfn.create_change_set(
            StackName=stack,
            ChangeSetName=name,
            ChangeSetType=kind,
            TemplateBody=template.read_text(),
            Parameters=[{"ParameterKey": STACK_NAME_PARAMETER, "ParameterValue": stack}],
            Capabilities=CAPABILITIES,
        )
    except ClientError as e:
        raise PipelineError(f"stack {stack}: {e.response['Error']['Message']}") from None
    try:
        cfn.get_waiter("change_set_create_complete").wait(
            StackName=stack, ChangeSetName=name, WaiterConfig=WAIT
        )
    except WaiterError:
        described = cfn.describe_change_set(StackName=stack, ChangeSetName=name)
        reason = described.get("StatusReason", "")
        if any(words in reason for words in NO_CHANGES):
            cfn.delete_change_set(StackName=stack, ChangeSetName=name)
            return "unchanged"
        raise PipelineError(f"stack {stack}: change set {described['Status']}: {reason}") from None
    cfn.execute_change_set(StackName=stack, ChangeSetName=name)
    waiter = "stack_create_complete" if kind == "CREATE" else "stack_update_complete"
    try:
        cfn.get_waiter(waiter).wait(StackName=stack, WaiterConfig=WAIT)
    except WaiterError:
        raise PipelineError(f"stack {stack}: {_failure(cfn, stack)}") from None
    return "created" if kind == "CREATE" else "updated"


def _failure(cfn: Any, stack: str) -> str:
    """The stack's status and its first failed resource's reason."""
    events = cfn.describe_stack_events(StackName=stack)["StackEvents"]
    failed = [e for e in reversed(events) if e["ResourceStatus"].endswith("_FAILED")]
    status = _status(cfn, stack)
    if not failed:
        return f"{status}"
    first = failed[0]
    return f"{status}: {first['LogicalResourceId']} {first.get('ResourceStatusReason', '')}"


def outputs(cfn: Any, stack: str) -> dict[str, str]:
    """The stack's outputs, by key."""
    [described] = cfn.describe_stacks(StackName=stack)["Stacks"]
    return {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}
