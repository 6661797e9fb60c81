"""Executions as the Store keeps them: one JSON document per execution, its stages and actions
inside, times as epoch seconds. The engine changes them; :mod:`views` renders them as the API
answers."""

from __future__ import annotations

import time
import uuid
from typing import Any

from cdlab.localcloud.state.store import Store

PIPELINES, EXECUTIONS = "codepipeline-pipeline", "codepipeline-execution"
FINAL = ("Succeeded", "Failed", "Stopped", "Superseded", "Cancelled")

Execution = dict[str, Any]
ActionRecord = dict[str, Any]


def new_execution(
    pipeline: dict[str, Any],
    trigger_type: str,
    trigger_detail: str,
    overrides: dict[str, dict[str, str]] | None = None,
) -> Execution:
    """``overrides``: the source revisions it reads, by action (:mod:`.overrides`)."""
    now = time.time()
    return {
        "id": str(uuid.uuid4()),
        "pipeline": pipeline["name"],
        "version": pipeline["version"],
        "status": "InProgress",
        "start": now,
        "updated": now,
        "trigger": {"triggerType": trigger_type, "triggerDetail": trigger_detail},
        "stages": [{"name": s["name"], "status": None, "actions": []} for s in pipeline["stages"]],
        "artifacts": {},
        "sourceRevisions": [],
        "artifactRevisions": [],
        "waitingFor": None,  # the stage it waits to enter, if it waits at a transition
        "overrides": overrides or {},
    }


def stage_record(execution: Execution, stage: str) -> dict[str, Any]:
    return next(s for s in execution["stages"] if s["name"] == stage)


def action_record(execution: Execution, stage: str, action: str) -> ActionRecord | None:
    actions = stage_record(execution, stage)["actions"]
    return next((a for a in actions if a["name"] == action), None)


def start_action(execution: Execution, stage: str, action: dict[str, Any]) -> ActionRecord:
    """A new InProgress attempt of ``action`` (a retry replaces the failed attempt)."""
    now = time.time()
    record: ActionRecord = {
        "name": action["name"],
        "id": str(uuid.uuid4()),
        "status": "InProgress",
        "start": now,
        "updated": now,
        "input": action,
    }
    actions = stage_record(execution, stage)["actions"]
    actions[:] = [a for a in actions if a["name"] != action["name"]] + [record]
    return record


def finish(record: dict[str, Any], status: str, **fields: Any) -> None:
    record.update(status=status, updated=time.time(), **fields)


class Executions:
    """The Store's executions, by pipeline, newest first."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def save(self, execution: Execution) -> None:
        execution["updated"] = max(execution["updated"], time.time())
        self.store.put(EXECUTIONS, execution["id"], execution)

    def get(self, execution_id: str) -> Execution | None:
        return self.store.get(EXECUTIONS, execution_id)

    def of(self, pipeline: str) -> list[Execution]:
        found = [e for e in self.store.all(EXECUTIONS) if e["pipeline"] == pipeline]
        return sorted(found, key=lambda e: e["start"], reverse=True)

    def all_running(self) -> list[Execution]:
        """Executions not in a final state, newest first."""
        found = [e for e in self.store.all(EXECUTIONS) if e["status"] not in FINAL]
        return sorted(found, key=lambda e: e["start"], reverse=True)

    def delete_all(self, pipeline: str) -> None:
        for execution in self.of(pipeline):
            self.store.delete(EXECUTIONS, execution["id"])
