"""CloudFormation's resources: ``arn:aws:cloudformation:REGION:ACCOUNT:stack/NAME/*`` (the stack id
is not in the request), or the stack id when the request names the stack by it; change-set actions
act on the stack
(https://docs.aws.amazon.com/service-authorization/latest/reference/list_awscloudformation.html)."""

from __future__ import annotations

from cdlab.localcloud.iam.resources.builders import Builder, Params, Scope, is_arn, members


def _stack(params: Params, scope: Scope) -> list[str]:
    prefix = f"arn:aws:cloudformation:{scope.region}:{scope.account}:stack/"
    return [name if is_arn(name) else f"{prefix}{name}/*" for name in members(params, "StackName")]


CLOUDFORMATION: dict[str, Builder] = dict.fromkeys(
    (
        "CreateStack",
        "UpdateStack",
        "DeleteStack",
        "DescribeStacks",
        "DescribeStackEvents",
        "DescribeStackResource",
        "DescribeStackResources",
        "ListStackResources",
        "GetTemplate",
        "GetTemplateSummary",
        "GetStackPolicy",
        "SetStackPolicy",
        "CancelUpdateStack",
        "ContinueUpdateRollback",
        "RollbackStack",
        "UpdateTerminationProtection",
        "SignalResource",
        "DetectStackDrift",
        "DetectStackResourceDrift",
        "DescribeStackResourceDrifts",
        "CreateChangeSet",
        "DescribeChangeSet",
        "DescribeChangeSetHooks",
        "ListChangeSets",
        "DeleteChangeSet",
        "ExecuteChangeSet",
    ),
    _stack,
)
