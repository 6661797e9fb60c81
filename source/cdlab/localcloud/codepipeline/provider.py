"""CodePipeline's API in the local cloud: the pipelines (declarations, versioned) and their
executions, which :class:`Engine` runs. Messages follow AWS's where the local cloud can tell
them (https://docs.aws.amazon.com/codepipeline/latest/APIReference/)."""

from __future__ import annotations

import copy
import time
from datetime import UTC, datetime
from typing import Any

from cdlab.localcloud.codepipeline import structure, views
from cdlab.localcloud.codepipeline.engine import Engine
from cdlab.localcloud.codepipeline.errors import (
    ActionNotFoundException,
    ApprovalAlreadyCompletedException,
    DuplicatedStopRequestException,
    InvalidApprovalTokenException,
    InvalidNextTokenException,
    InvalidStructureException,
    NotLatestPipelineExecutionException,
    PipelineExecutionNotFoundException,
    PipelineExecutionNotStoppableException,
    PipelineNameInUseException,
    PipelineNotFoundException,
    PipelineVersionNotFoundException,
    StageNotFoundException,
    StageNotRetryableException,
    ValidationException,
)
from cdlab.localcloud.codepipeline.overrides import Overrides, source_overrides
from cdlab.localcloud.codepipeline.records import PIPELINES, Execution, Executions, new_execution
from cdlab.localcloud.codepipeline.trigger import Trigger
from cdlab.localcloud.context import RequestContext
from cdlab.localcloud.iam.service_roles import ServiceRoles
from cdlab.localcloud.moto import eventbridge
from cdlab.localcloud.moto.state import MotoState
from cdlab.localcloud.protocols import paging
from cdlab.localcloud.state.store import Store
from cdlab.pipeline import roles

METADATA = ("created", "updated")


class CodePipeline:
    def __init__(
        self, store: Store, engine: Engine, moto: MotoState, service_roles: ServiceRoles
    ) -> None:
        self.store = store
        self.engine = engine
        self.executions: Executions = engine.executions
        self.moto = moto
        self.service_roles = service_roles
        self.trigger = Trigger(moto, service_roles, self.start_by_rule)  # on S3 uploads

    # ---- pipelines -----------------------------------------------------------------------

    def _pipeline(self, ctx: RequestContext, name: str) -> dict[str, Any]:
        found = self.store.get(PIPELINES, name)
        if found is None or found["name"] != name:
            raise PipelineNotFoundException(
                f"Account '{ctx.account}' does not have a pipeline with name '{name}'"
            )
        return found

    async def _check(self, pipeline: dict[str, Any]) -> None:
        structure.check(pipeline)
        role = pipeline["roleArn"]
        enforcer = self.service_roles.enforcer
        trusted = (
            await enforcer.trusts(role, roles.CODEPIPELINE)
            if enforcer is not None
            else await self.moto.run(self.moto.role_trust_policy, role) is not None
        )
        if not trusted:
            raise InvalidStructureException(roles.NOT_TRUSTED[roles.CODEPIPELINE].format(role=role))
        bucket = pipeline["artifactStore"]["location"]
        if not await self.moto.run(eventbridge.bucket_exists, self.moto, bucket):
            raise InvalidStructureException(
                f"Artifact store bucket {bucket} does not exist in this account and region."
            )

    @staticmethod
    def _declaration(stored: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in stored.items() if k not in METADATA}

    async def create_pipeline(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        pipeline = copy.deepcopy(p["pipeline"])
        pipeline.setdefault("executionMode", structure.EXECUTION_MODE)
        pipeline.setdefault("pipelineType", "V1")
        await self._check(pipeline)
        if self.store.get(PIPELINES, pipeline["name"]) is not None:
            raise PipelineNameInUseException(
                f"A pipeline with name '{pipeline['name']}' already exists in account "
                f"'{ctx.account}'"
            )
        pipeline["version"] = 1
        now = time.time()
        self.store.put(PIPELINES, pipeline["name"], {**pipeline, "created": now, "updated": now})
        self._start(pipeline, "CreatePipeline", ctx.principal.arn)
        return {"pipeline": pipeline, **({"tags": p["tags"]} if p.get("tags") else {})}

    def get_pipeline(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        stored = self._pipeline(ctx, p["name"])
        if p.get("version", stored["version"]) != stored["version"]:
            raise PipelineVersionNotFoundException(  # the local cloud keeps the latest only
                f"Pipeline '{p['name']}' has no version {p['version']} in the local cloud, "
                f"which keeps only its latest version ({stored['version']})"
            )
        return {
            "pipeline": self._declaration(stored),
            "metadata": {
                "pipelineArn": ctx.arn("codepipeline", stored["name"]),
                "created": views.when(stored["created"]),
                "updated": views.when(stored["updated"]),
            },
        }

    async def update_pipeline(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        pipeline = copy.deepcopy(p["pipeline"])
        stored = self._pipeline(ctx, pipeline["name"])
        pipeline.setdefault("executionMode", structure.EXECUTION_MODE)
        pipeline.setdefault("pipelineType", stored.get("pipelineType", "V1"))
        await self._check(pipeline)
        pipeline["version"] = stored["version"] + 1
        self.store.put(
            PIPELINES,
            pipeline["name"],
            {**pipeline, "created": stored["created"], "updated": time.time()},
        )
        return {"pipeline": pipeline}

    async def delete_pipeline(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        if self.store.get(PIPELINES, p["name"]) is None:
            return {}
        for execution in self.executions.of(p["name"]):
            await self.engine.cancel(execution["id"])
        self.executions.delete_all(p["name"])
        self.store.delete(PIPELINES, p["name"])
        return {}

    def list_pipelines(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        """The pipelines by name, ``maxResults`` (100 unless given) a page."""
        found, token = paging.page(
            self.store.all(PIPELINES), lambda s: [s["name"]], p.get("nextToken"),
            listing="pipelines", size=p.get("maxResults", 100), refuse=_invalid_token,
        )  # fmt: skip
        pipelines = [
            {
                "name": s["name"],
                "version": s["version"],
                "pipelineType": s.get("pipelineType", "V1"),
                "executionMode": s.get("executionMode", structure.EXECUTION_MODE),
                "created": views.when(s["created"]),
                "updated": views.when(s["updated"]),
            }
            for s in found
        ]
        return {"pipelines": pipelines, **({"nextToken": token} if token else {})}

    # ---- executions ----------------------------------------------------------------------

    def _start(
        self,
        pipeline: dict[str, Any],
        trigger: str,
        detail: str,
        overrides: Overrides | None = None,
    ) -> str:
        execution = new_execution(pipeline, trigger, detail, overrides)
        self.engine.start(pipeline, execution)
        return execution["id"]

    def start_pipeline_execution(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        pipeline = self._pipeline(ctx, p["name"])
        if p.get("variables"):  # a pipeline that declares some is refused at its creation
            raise ValidationException(
                f"Pipeline '{pipeline['name']}' declares no variables, so none can be given "
                f"({', '.join(v['name'] for v in p['variables'])})."
            )
        overrides = source_overrides(pipeline, p.get("sourceRevisions", []))
        started = self._start(pipeline, "StartPipelineExecution", ctx.principal.arn, overrides)
        return {"pipelineExecutionId": started}

    def start_by_rule(self, pipeline: str, rule_arn: str) -> str:
        """An execution an EventBridge rule started (its target's role was allowed)."""
        found = self.store.get(PIPELINES, pipeline)
        if found is None or found["name"] != pipeline:
            raise PipelineNotFoundException(f"no pipeline named {pipeline}")
        return self._start(found, "CloudWatchEvent", rule_arn)

    def _execution(self, ctx: RequestContext, pipeline: str, execution_id: str) -> Execution:
        self._pipeline(ctx, pipeline)
        found = self.engine.live.get(execution_id) or self.executions.get(execution_id)
        if found is None or found["pipeline"] != pipeline:
            raise PipelineExecutionNotFoundException(
                f"Pipeline execution with id '{execution_id}' does not exist in pipeline "
                f"'{pipeline}'"
            )
        return found

    def get_pipeline_execution(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        found = self._execution(ctx, p["pipelineName"], p["pipelineExecutionId"])
        return {"pipelineExecution": views.execution(found)}

    def list_pipeline_executions(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        """The pipeline's executions, newest first, ``maxResults`` (100 unless given) a page;
        with ``filter.succeededInStage``, those of the pipeline's current version in which that
        stage succeeded (https://docs.aws.amazon.com/codepipeline/latest/APIReference/API_PipelineExecutionFilter.html)."""
        pipeline = self._pipeline(ctx, p["pipelineName"])
        listed = self.executions.of(p["pipelineName"])
        stage = p.get("filter", {}).get("succeededInStage", {}).get("stageName")
        if stage is not None:
            listed = [e for e in listed if _succeeded_in(e, stage, pipeline["version"])]
        found, token = paging.page(
            listed, lambda e: [e["start"], e["id"]],
            p.get("nextToken"), listing=f"executions/{p['pipelineName']}",
            size=p.get("maxResults", 100), refuse=_invalid_token, descending=True,
        )  # fmt: skip
        result: dict[str, Any] = {"pipelineExecutionSummaries": [views.summary(e) for e in found]}
        return {**result, "nextToken": token} if token else result

    def get_pipeline_state(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        pipeline = self._pipeline(ctx, p["name"])
        return views.pipeline_state(pipeline, self.executions.of(p["name"]))

    def list_action_executions(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        self._pipeline(ctx, p["pipelineName"])
        wanted = p.get("filter", {}).get("pipelineExecutionId")
        found = [
            e for e in self.executions.of(p["pipelineName"]) if wanted is None or e["id"] == wanted
        ]
        details = [(e["start"], d) for e in found for d in views.action_details(e, ctx.region)]
        shown, token = paging.page(
            details,
            lambda x: [x[0], x[1]["startTime"].timestamp(), x[1]["actionExecutionId"]],
            p.get("nextToken"), listing=f"action-executions/{p['pipelineName']}",
            size=p.get("maxResults", 100), refuse=_invalid_token, descending=True,
        )  # fmt: skip
        result: dict[str, Any] = {"actionExecutionDetails": [d for _, d in shown]}
        return {**result, "nextToken": token} if token else result

    # ---- approvals, stop, retry ----------------------------------------------------------

    def put_approval_result(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        pipeline = self._pipeline(ctx, p["pipelineName"])
        stage, action = p["stageName"], p["actionName"]
        declared = next((s for s in pipeline["stages"] if s["name"] == stage), None)
        if declared is None:
            raise StageNotFoundException(f"Stage {stage} not found in pipeline {pipeline['name']}")
        if action not in [a["name"] for a in declared["actions"]]:
            raise ActionNotFoundException(f"Action {action} not found in stage {stage}")
        waiting = [
            (e["id"], a)
            for e in self.engine.live.values()
            if e["pipeline"] == pipeline["name"]
            for s in e["stages"]
            if s["name"] == stage
            for a in s["actions"]
            if a["name"] == action and a["status"] == "InProgress" and "token" in a
        ]
        if not waiting:
            raise ApprovalAlreadyCompletedException(
                f"The approval action {stage}/{action} is not waiting for an approval"
            )
        execution_id = next((e for e, a in waiting if a["token"] == p["token"]), None)
        if execution_id is None:
            raise InvalidApprovalTokenException(
                f"The approval token {p['token']} is not valid for {stage}/{action}"
            )
        result = p["result"]
        fields: dict[str, Any] = {"summary": result["summary"], "lastUpdatedBy": ctx.principal.arn}
        if result["status"] == "Rejected":
            fields["errorDetails"] = {"code": "JobFailed", "message": "Rejected"}
        self.engine.decided(execution_id, stage, action, result["status"], **fields)
        return {"approvedAt": datetime.now(UTC)}

    def stop_pipeline_execution(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        found = self._execution(ctx, p["pipelineName"], p["pipelineExecutionId"])
        if found["status"] == "Stopping" and not p.get("abandon"):
            raise DuplicatedStopRequestException(
                f"Execution {found['id']} is already being stopped"
            )
        if found["status"] not in ("InProgress", "Stopping") or found["id"] not in self.engine.live:
            raise PipelineExecutionNotStoppableException(
                f"Unable to stop pipeline execution {found['id']} as it is already in "
                f"{found['status']} state"
            )
        self.engine.stop(found["id"], bool(p.get("abandon")), p.get("reason", ""))
        return {"pipelineExecutionId": found["id"]}

    def retry_stage_execution(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        pipeline = self._pipeline(ctx, p["pipelineName"])
        found = self._execution(ctx, p["pipelineName"], p["pipelineExecutionId"])
        names = [s["name"] for s in pipeline["stages"]]
        stage = p["stageName"]
        if stage not in names:
            raise StageNotFoundException(f"Stage {stage} not found in pipeline {pipeline['name']}")
        latest = self.executions.of(pipeline["name"])[0]
        if latest["id"] != found["id"]:
            raise NotLatestPipelineExecutionException(
                f"Execution {found['id']} is not the latest execution of pipeline "
                f"{pipeline['name']}; only the latest can be retried"
            )
        record = found["stages"][names.index(stage)]
        if found["status"] not in ("Failed", "Stopped") or record["status"] not in (
            "Failed",
            "Stopped",
        ):
            raise StageNotRetryableException(
                f"Stage {stage} of execution {found['id']} is not in a failed or stopped state "
                "and cannot be retried"
            )
        found.update(status="InProgress", statusSummary=None, stopReason=None)
        keep = p["retryMode"] == "FAILED_ACTIONS"
        self.engine.start(pipeline, found, names.index(stage), keep)
        return {"pipelineExecutionId": found["id"]}

    def resume(self) -> None:
        """After a restart: the executions that were running, as :meth:`Engine.resume` says."""
        self.engine.resume({p["name"].lower(): p for p in self.store.all(PIPELINES)})

    def operations(self) -> dict[str, Any]:
        """The handlers, by operation name, for the gateway's table."""
        names = [
            "CreatePipeline",
            "GetPipeline",
            "UpdatePipeline",
            "DeletePipeline",
            "ListPipelines",
            "StartPipelineExecution",
            "GetPipelineExecution",
            "ListPipelineExecutions",
            "GetPipelineState",
            "ListActionExecutions",
            "PutApprovalResult",
            "StopPipelineExecution",
            "RetryStageExecution",
        ]
        return {name: getattr(self, _snake(name)) for name in names}


def _snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name).lstrip("_")


def _invalid_token(token: str) -> Exception:
    """CodePipeline's refusal of a nextToken it did not give, in its reference's words
    (https://docs.aws.amazon.com/codepipeline/latest/APIReference/API_ListPipelineExecutions.html)."""
    return InvalidNextTokenException(
        "The next token was specified in an invalid format. Make sure that the next token you "
        "provide is the token returned by a previous call."
    )


def _succeeded_in(execution: Execution, stage: str, version: int) -> bool:
    stages = [s for s in execution["stages"] if s["name"] == stage]
    return execution["version"] == version and any(s["status"] == "Succeeded" for s in stages)
