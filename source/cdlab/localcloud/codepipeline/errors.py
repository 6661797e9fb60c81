"""CodePipeline's errors, by the codes of its botocore model."""

from __future__ import annotations

from cdlab.localcloud.protocols.errors import ValidationException, error

__all__ = ["ValidationException"]

PipelineNotFoundException = error("PipelineNotFoundException")
PipelineNameInUseException = error("PipelineNameInUseException")
PipelineVersionNotFoundException = error("PipelineVersionNotFoundException")
PipelineExecutionNotFoundException = error("PipelineExecutionNotFoundException")
PipelineExecutionNotStoppableException = error("PipelineExecutionNotStoppableException")
DuplicatedStopRequestException = error("DuplicatedStopRequestException")
InvalidStructureException = error("InvalidStructureException")
InvalidApprovalTokenException = error("InvalidApprovalTokenException")
InvalidNextTokenException = error("InvalidNextTokenException")
ApprovalAlreadyCompletedException = error("ApprovalAlreadyCompletedException")
StageNotFoundException = error("StageNotFoundException")
ActionNotFoundException = error("ActionNotFoundException")
StageNotRetryableException = error("StageNotRetryableException")
NotLatestPipelineExecutionException = error("NotLatestPipelineExecutionException")
ConflictException = error("ConflictException")
