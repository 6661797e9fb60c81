"""The execution engine: each execution an asyncio task in the local cloud, its stages in order
through SUPERSEDED mode's :class:`Gates`, a stage's actions by run order (the actions of one run
order together), each action in a worker thread as the pipeline's role (:mod:`actions`), a manual
approval waiting for PutApprovalResult. Every change is saved before it is visible, so a restart
finds each execution as it was (:meth:`Engine.resume`)."""

from __future__ import annotations

import asyncio
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from cdlab.localcloud.codebuild.worker import Cloud
from cdlab.localcloud.codepipeline import actions
from cdlab.localcloud.codepipeline.actions import ActionFailed, Job
from cdlab.localcloud.codepipeline.cloud import as_role
from cdlab.localcloud.codepipeline.gates import Gates
from cdlab.localcloud.codepipeline.records import (
    Execution,
    Executions,
    finish,
    stage_record,
    start_action,
)
from cdlab.pipeline import roles
from cdlab.pipeline.definition import PipelineError

# an action's thread waits on calls the gateway serves, some with the default executor's threads:
# the actions have threads of their own, so running actions cannot starve the gateway
ACTION_THREADS = 8

RESTARTED = (
    "The local cloud stopped while this action ran, so it did not finish. Retry the stage "
    "(aws codepipeline retry-stage-execution) or start a new execution."
)


def session_name(pipeline: str) -> str:
    """The role session name of a pipeline's actions (CodeBuild names the initiator after it)."""
    return f"codepipeline-{pipeline}"[:64]


class Engine:
    def __init__(self, executions: Executions, cloud: Cloud, work: Path) -> None:
        self.executions = executions
        self.cloud = cloud
        self.work = work
        self.live: dict[str, Execution] = {}  # executions with a task, by id
        self.tasks: dict[str, asyncio.Task[None]] = {}
        self.approvals: dict[str, asyncio.Future[None]] = {}  # action execution id -> wake
        self.gates: dict[str, Gates] = {}
        self.closing = False  # shutting down: a cancelled task's changes are not saved
        self.threads = ThreadPoolExecutor(ACTION_THREADS, thread_name_prefix="codepipeline")

    def save(self, execution: Execution) -> None:
        if not self.closing:
            self.executions.save(execution)

    def start(
        self, pipeline: dict[str, Any], execution: Execution, first: int = 0, keep: bool = True
    ) -> None:
        """Run ``execution`` from stage ``first`` on; ``keep``: the actions that succeeded in
        that stage before (a retry of the failed actions, a resume) are not run again."""
        self.live[execution["id"]] = execution
        self.save(execution)
        task = asyncio.create_task(self._run(pipeline, execution, first, keep))
        self.tasks[execution["id"]] = task
        task.add_done_callback(lambda _: self._forget(execution["id"]))

    def _forget(self, execution_id: str) -> None:
        self.tasks.pop(execution_id, None)
        self.live.pop(execution_id, None)

    async def _run(
        self, pipeline: dict[str, Any], execution: Execution, first: int, keep: bool
    ) -> None:
        gates = self.gates.setdefault(pipeline["name"], Gates())
        try:
            for index, stage in enumerate(pipeline["stages"][first:], first):
                if not await self._enter(gates, execution, stage["name"]):
                    return
                if not await self._stage(pipeline, execution, stage, keep=keep and index == first):
                    return
                await gates.leave(execution["id"], stage["name"])
            execution["status"] = "Succeeded"
            self.save(execution)
        except asyncio.CancelledError:
            self._abandon(execution)
            raise
        finally:
            await asyncio.shield(gates.leave(execution["id"]))

    async def _enter(self, gates: Gates, execution: Execution, stage: str) -> bool:
        """Enter ``stage``, waiting at its transition if another execution holds it."""

        def waits() -> None:
            execution["waitingFor"] = stage
            self.save(execution)

        entered = await gates.enter(stage, execution["id"], waits)
        execution["waitingFor"] = None
        if not entered:
            execution["status"] = "Superseded"
            execution["statusSummary"] = "Superseded by a newer execution"
        self.save(execution)
        return entered

    async def _stage(
        self, pipeline: dict[str, Any], execution: Execution, stage: dict[str, Any], keep: bool
    ) -> bool:
        """Run a stage's actions; False when the execution ends in it (failed or stopped)."""
        record = stage_record(execution, stage["name"])
        record["status"] = "InProgress"
        self.save(execution)
        done = {a["name"] for a in record["actions"] if keep and a["status"] == "Succeeded"}
        for run_order in sorted({a.get("runOrder", 1) for a in stage["actions"]}):
            batch = [
                a
                for a in stage["actions"]
                if a.get("runOrder", 1) == run_order and a["name"] not in done
            ]
            results = await asyncio.gather(
                *(self._action(pipeline, execution, stage["name"], a) for a in batch)
            )
            if execution["status"] == "Stopping":
                self._stopped(execution, record)
                return False
            if not all(results):
                record["status"] = "Failed"
                execution["status"] = "Failed"
                self.save(execution)
                return False
        record["status"] = "Succeeded"
        self.save(execution)
        return True

    async def _action(
        self, pipeline: dict[str, Any], execution: Execution, stage: str, action: dict[str, Any]
    ) -> bool:
        waiting = next(
            (
                a
                for a in stage_record(execution, stage)["actions"]
                if a["name"] == action["name"] and a["status"] == "InProgress"
            ),
            None,
        )  # an approval that waited through a restart
        record = waiting or start_action(execution, stage, action)
        names = [i["name"] for i in action.get("inputArtifacts", [])]
        inputs = {n: execution["artifacts"][n] for n in names}
        record["inputArtifacts"] = [_artifact(n, inputs[n]) for n in names]
        if action["actionTypeId"]["category"] == "Approval":
            return await self._approval(execution, record)
        self.save(execution)
        job = Job(
            pipeline["name"],
            stage,
            action,
            pipeline["artifactStore"]["location"],
            inputs,
            self.work / execution["id"] / f"{stage}-{action['name']}",
            self.executions.store.watch,
            execution.get("overrides", {}).get(action["name"], {}),
        )
        role = action.get("roleArn") or pipeline["roleArn"]
        try:
            outcome = await asyncio.get_running_loop().run_in_executor(
                self.threads, self._blocking, role, pipeline["name"], job
            )
        except ActionFailed as e:
            details = {"code": e.code, "message": e.message[:5000]}
            finish(record, "Failed", errorDetails=details, externalExecutionId=e.external_id)
            self.save(execution)
            return False
        execution["artifacts"].update(outcome.outputs)
        record["outputArtifacts"] = [_artifact(n, o) for n, o in outcome.outputs.items()]
        if outcome.revision is not None:
            revision = outcome.revision
            execution["artifactRevisions"].append(revision)
            execution["sourceRevisions"].append(
                {"actionName": action["name"], "revisionId": revision["revisionId"]}
            )
            record["revision"] = revision["revisionId"]
        finish(
            record,
            "Succeeded",
            summary=outcome.summary,
            externalExecutionId=outcome.external_id,
        )
        self.save(execution)
        return True

    def _blocking(self, role_arn: str, pipeline: str, job: Job) -> actions.Outcome:
        try:
            role = as_role(self.cloud, role_arn, roles.CODEPIPELINE, session_name(pipeline))
        except PipelineError as e:
            raise ActionFailed(str(e), actions.PERMISSION_ERROR) from None
        return actions.run(role, job)

    async def _approval(self, execution: Execution, record: dict[str, Any]) -> bool:
        """Wait for PutApprovalResult (:meth:`decided`), which finishes the record."""
        record.setdefault("token", str(uuid.uuid4()))
        self.save(execution)
        woken = asyncio.get_running_loop().create_future()
        self.approvals[record["id"]] = woken
        try:
            await woken
        finally:
            self.approvals.pop(record["id"], None)
        return record["status"] == "Succeeded"

    def decided(
        self, execution_id: str, stage: str, action: str, status: str, **fields: Any
    ) -> None:
        """An approval's answer: the action finished, its execution woken."""
        execution = self.live[execution_id]
        record = next(a for a in stage_record(execution, stage)["actions"] if a["name"] == action)
        record.pop("token", None)
        finish(record, "Succeeded" if status == "Approved" else "Failed", **fields)
        self.save(execution)
        woken = self.approvals.get(record["id"])
        if woken is not None and not woken.done():
            woken.set_result(None)

    def stop(self, execution_id: str, abandon: bool, reason: str) -> None:
        """StopPipelineExecution: abandon cancels the running actions (an approval is always
        abandoned: nobody may answer it any more); otherwise they finish first."""
        execution = self.live[execution_id]
        execution["status"] = "Stopping"
        execution["stopReason"] = reason
        self.save(execution)
        approving = any(
            a["status"] == "InProgress" and "token" in a
            for s in execution["stages"]
            for a in s["actions"]
        )
        if abandon or approving or execution.get("waitingFor"):
            self.tasks[execution_id].cancel()

    def _stopped(self, execution: Execution, stage: dict[str, Any] | None) -> None:
        if stage is not None:
            stage["status"] = "Stopped"
        execution["status"] = "Stopped"
        execution["waitingFor"] = None
        self.save(execution)

    def _abandon(self, execution: Execution) -> None:
        """A cancelled execution: its running actions Abandoned, its stage and itself Stopped."""
        current = None
        for stage in execution["stages"]:
            for action in stage["actions"]:
                if action["status"] == "InProgress":
                    action.pop("token", None)
                    finish(action, "Abandoned")
                    current = stage
        if execution["status"] in ("InProgress", "Stopping"):
            self._stopped(execution, current)

    async def cancel(self, execution_id: str) -> None:
        """End an execution's task (its pipeline is deleted)."""
        task = self.tasks.get(execution_id)
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async def shutdown(self) -> None:
        """Stop the tasks without saving what the cancellation does: a restart resumes them."""
        self.closing = True
        tasks = list(self.tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self.threads.shutdown(wait=False, cancel_futures=True)

    def resume(self, pipelines: dict[str, dict[str, Any]]) -> None:
        """After a restart: an execution at an approval waits again, one at a transition goes
        on; an action that was running failed (its worker thread died with the process)."""
        for execution in reversed(self.executions.all_running()):
            pipeline = pipelines.get(execution["pipeline"].lower())
            if pipeline is None:
                continue
            names = [s["name"] for s in pipeline["stages"]]
            entered = [i for i, s in enumerate(execution["stages"]) if s["status"] is not None]
            current = entered[-1] if entered else 0
            stage = execution["stages"][current]
            interrupted = [
                a for a in stage["actions"] if a["status"] == "InProgress" and "token" not in a
            ]
            for action in interrupted:
                finish(action, "Failed", errorDetails={"code": "JobFailed", "message": RESTARTED})
            if execution["status"] == "Stopping":
                self._stopped(execution, stage)
                continue
            if interrupted:
                stage["status"] = execution["status"] = "Failed"
                self.save(execution)
                continue
            if execution.get("waitingFor") in names:
                current = names.index(execution["waitingFor"])
            elif stage["status"] == "Succeeded":
                current += 1
            self.start(pipeline, execution, current)


def _artifact(name: str, location: dict[str, str]) -> dict[str, Any]:
    return {"name": name, "s3location": {"bucket": location["bucket"], "key": location["key"]}}
