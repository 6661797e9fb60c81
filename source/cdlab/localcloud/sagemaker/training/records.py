"""Training-job documents in the Store, with SageMaker's statuses and their transitions.

Statuses follow SageMaker: InProgress (SecondaryStatus Starting, Downloading, Training, Uploading)
then Completed, or Failed with a FailureReason; StopTrainingJob: Stopping, then Stopped. Every
SecondaryStatus change is recorded in ``SecondaryStatusTransitions``. DeleteTrainingJob removes an
ended job's document, which frees its name.

A missing job is ``ValidationException: Requested resource not found.``, which is what SageMaker
answers, although botocore's model lists ResourceNotFound (aws/aws-sdk#165).
"""

from __future__ import annotations

import logging
import time
from typing import Any

from cdlab.localcloud.protocols.errors import ValidationException
from cdlab.localcloud.state.store import Store

log = logging.getLogger("cdlab.training")

TRAINING_JOB = "training-job"
NOT_FOUND = "Requested resource not found."
DEFAULT_MAX_RUNTIME_SECONDS = 86_400
FINISHED = ("Completed", "Failed", "Stopped")

STATUS_MESSAGES = {
    "Starting": "Preparing the instances for training",
    "Downloading": "Downloading input data",
    "Training": "Training image download completed. Training in progress.",
    "Uploading": "Uploading generated training model",
    "Completed": "Training job completed",
    "Stopping": "Stopping the training job",
    "Stopped": "Training job stopped",
    "MaxRuntimeExceeded": "Training job stopped: it ran longer than MaxRuntimeInSeconds",
}


class JobFailed(Exception):
    """The job ends Failed; the message is its FailureReason."""


def new_document(name: str, job_arn: str, request: dict[str, Any]) -> dict[str, Any]:
    """A job's first document: InProgress, Starting, SageMaker's defaults under the request's
    members (the request's AlgorithmSpecification as the caller completed it)."""
    now = time.time()
    return {
        "TrainingJobName": name,
        "TrainingJobArn": job_arn,
        "TrainingJobStatus": "InProgress",
        "SecondaryStatus": "Starting",
        "CreationTime": now,
        "LastModifiedTime": now,
        "SecondaryStatusTransitions": [
            {
                "Status": "Starting",
                "StartTime": now,
                "StatusMessage": STATUS_MESSAGES["Starting"],
            }
        ],
        "HyperParameters": {},
        "StoppingCondition": {"MaxRuntimeInSeconds": DEFAULT_MAX_RUNTIME_SECONDS},
        "EnableNetworkIsolation": False,
        "EnableInterContainerTrafficEncryption": False,
        "EnableManagedSpotTraining": False,
        **{k: v for k, v in request.items() if k not in ("TrainingJobName", "Tags")},
    }


class JobRecords:
    """The stored job documents: read, changed (with their transitions) and ended."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def find(self, name: str) -> dict[str, Any] | None:
        return self.store.get(TRAINING_JOB, name)

    def get(self, name: str) -> dict[str, Any]:
        doc = self.find(name)
        if doc is None:
            raise ValidationException(NOT_FOUND)
        return doc

    def all(self) -> list[dict[str, Any]]:
        return self.store.all(TRAINING_JOB)

    def put(self, doc: dict[str, Any]) -> None:
        self.store.put(TRAINING_JOB, doc["TrainingJobName"], doc)

    def delete(self, name: str) -> None:
        self.store.delete(TRAINING_JOB, name)

    def update(
        self, name: str, secondary: str | None = None, message: str | None = None, **changes: Any
    ) -> None:
        """Change the stored record, read afresh (StopTrainingJob may have changed it meanwhile),
        and record a SecondaryStatus transition if ``secondary`` is given."""
        doc = self.get(name)
        now = time.time()
        if secondary is not None:
            transitions = doc["SecondaryStatusTransitions"]
            transitions[-1].setdefault("EndTime", now)
            transitions.append(
                {
                    "Status": secondary,
                    "StartTime": now,
                    "StatusMessage": message or STATUS_MESSAGES[secondary],
                }
            )
            if changes.get("TrainingJobStatus") in FINISHED:
                transitions[-1]["EndTime"] = now
            doc["SecondaryStatus"] = secondary
        doc.update(changes)
        doc["LastModifiedTime"] = now
        self.store.put(TRAINING_JOB, name, doc)

    def finish(self, name: str, status: str, secondary: str, **changes: Any) -> None:
        """End the job in ``status``, with SageMaker's end time and billable seconds."""
        doc = self.get(name)
        end = time.time()
        if "TrainingStartTime" in doc:
            seconds = max(1, round(end - doc["TrainingStartTime"]))
            changes |= {"TrainingTimeInSeconds": seconds, "BillableTimeInSeconds": seconds}
        message = changes.get("FailureReason") if status == "Failed" else None
        self.update(
            name, secondary, message, TrainingJobStatus=status, TrainingEndTime=end, **changes
        )
        log.info("training job %s is %s", name, status)
