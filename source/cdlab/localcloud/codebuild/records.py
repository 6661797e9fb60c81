"""Builds in the Store: the document BatchGetBuilds shows, its phases as CodeBuild reports them.

A build goes through SUBMITTED, QUEUED, PROVISIONING, DOWNLOAD_SOURCE, INSTALL, PRE_BUILD, BUILD,
POST_BUILD, UPLOAD_ARTIFACTS, FINALIZING and COMPLETED; each ended phase has its status, times,
duration and contexts; ``currentPhase`` is the one in progress, COMPLETED once the build ended
(https://docs.aws.amazon.com/codebuild/latest/userguide/view-build-details-phases.html,
https://docs.aws.amazon.com/codebuild/latest/APIReference/API_BuildPhase.html). A build still
in progress when the local cloud stopped is ended on restart (:meth:`Builds.resume`).
"""

from __future__ import annotations

import threading
import time
from typing import Any

from cdlab.localcloud.state.store import Store

KIND = "codebuild-build"
NUMBERS = "codebuild-build-number"
RESTARTED = (
    "The local cloud restarted during the build, which ended the build's processes; start the "
    "build again."
)


def context(status_code: str = "", message: str = "") -> list[dict[str, str]]:
    return [{"statusCode": status_code, "message": message}]


class Builds:
    """Build documents by id; the worker threads and the event loop both update them."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.lock = threading.Lock()

    def next_number(self, project: str) -> int:
        with self.lock:
            counter = self.store.get(NUMBERS, project) or {"number": 0}
            counter["number"] += 1
            self.store.put(NUMBERS, project, counter)
            return int(counter["number"])

    def find(self, build_id: str) -> dict[str, Any] | None:
        return self.store.get(KIND, build_id)

    def of_project(self, project: str) -> list[dict[str, Any]]:
        return [b for b in self.store.all(KIND) if b["projectName"] == project]

    def all(self) -> list[dict[str, Any]]:
        return self.store.all(KIND)

    def put(self, doc: dict[str, Any]) -> None:
        with self.lock:
            self.store.put(KIND, doc["id"], doc)

    def update(self, build_id: str, **changes: Any) -> dict[str, Any]:
        with self.lock:
            doc = self.store.get(KIND, build_id)
            assert doc is not None
            doc.update(changes)
            self.store.put(KIND, build_id, doc)
            return doc

    def enter(
        self, build_id: str, phase: str, status: str = "SUCCEEDED", contexts: Any = None
    ) -> None:
        """End the phase in progress with ``status`` (and ``contexts``) and start ``phase``."""
        with self.lock:
            doc = self.store.get(KIND, build_id)
            assert doc is not None
            _end_phase(doc, status, contexts)
            doc["phases"].append({"phaseType": phase, "startTime": time.time()})
            doc["currentPhase"] = phase
            self.store.put(KIND, build_id, doc)

    def end_phase(self, build_id: str, status: str, contexts: Any) -> None:
        """End the phase in progress with ``status`` and ``contexts``."""
        with self.lock:
            doc = self.store.get(KIND, build_id)
            assert doc is not None
            _end_phase(doc, status, contexts)
            self.store.put(KIND, build_id, doc)

    def finish(
        self, build_id: str, status: str, phase_status: str = "SUCCEEDED", contexts: Any = None
    ) -> None:
        """End the phase in progress and the build (``status``), through FINALIZING to
        COMPLETED as CodeBuild does."""
        with self.lock:
            doc = self.store.get(KIND, build_id)
            assert doc is not None
            now = time.time()
            if doc["currentPhase"] != "FINALIZING":
                _end_phase(doc, phase_status, contexts)
                doc["phases"].append({"phaseType": "FINALIZING", "startTime": now})
            _end_phase(doc, "SUCCEEDED", None)
            doc["phases"].append({"phaseType": "COMPLETED", "startTime": now})
            doc.update(
                currentPhase="COMPLETED", buildStatus=status, buildComplete=True, endTime=now
            )
            self.store.put(KIND, build_id, doc)

    def resume(self) -> list[str]:
        """End the builds a restart cut short: FAILED (STOPPED if a stop was asked), with the
        reason in the phase's context. Their ids."""
        ended = []
        for doc in self.all():
            if doc["buildComplete"]:
                continue
            stopping = doc.get("_stopping", False)
            self.finish(
                doc["id"],
                "STOPPED" if stopping else "FAILED",
                "STOPPED" if stopping else "FAULT",
                context("CLIENT_ERROR", RESTARTED),
            )
            ended.append(doc["id"])
        return ended


def _end_phase(doc: dict[str, Any], status: str, contexts: Any) -> None:
    phase = doc["phases"][-1]
    if "endTime" in phase or phase["phaseType"] == "COMPLETED":
        return
    now = time.time()
    phase.update(
        phaseStatus=status,
        endTime=now,
        durationInSeconds=int(now - phase["startTime"]),
        contexts=contexts if contexts is not None else context(),
    )
