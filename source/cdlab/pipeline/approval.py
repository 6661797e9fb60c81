"""The manual approval, answered as ``aws codepipeline put-approval-result`` answers it: with the
token GetPipelineState shows while the approval waits.

https://docs.aws.amazon.com/codepipeline/latest/userguide/approvals-respond.html
"""

from __future__ import annotations

import boto3

from cdlab.pipeline.execution import Approval


def answer(waiting: Approval, approved: bool, summary: str) -> None:
    """Approve or reject the approval ``waiting``."""
    boto3.client("codepipeline").put_approval_result(
        pipelineName=waiting.pipeline,
        stageName=waiting.stage,
        actionName=waiting.action,
        result={"summary": summary, "status": "Approved" if approved else "Rejected"},
        token=waiting.token,
    )


def command(waiting: Approval, approved: bool = True) -> str:
    """The AWS CLI command that answers it."""
    status = "Approved" if approved else "Rejected"
    return (
        f"aws codepipeline put-approval-result --pipeline-name {waiting.pipeline} "
        f"--stage-name {waiting.stage} --action-name {waiting.action} "
        f'--result "summary={status} from the command line,status={status}" '
        f"--token {waiting.token}"
    )
