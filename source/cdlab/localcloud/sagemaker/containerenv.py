"""The environment a container's process starts with: the local cloud's own, with the variables
the request named over it.

On SageMaker, a model container's Environment (CreateModel's ContainerDefinition) and a training
job's Environment are set as environment variables in the Docker container
(https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_ContainerDefinition.html,
https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_CreateTrainingJob.html). The local
cloud's container is a Python process of the kit's own, started with the local cloud's
environment and its arguments on the command line: a requested variable replaces the local
cloud's of the same name, except those in ``KEPT``, which decide which interpreter, Python
modules and shared libraries the process starts with, and stay the local cloud's (a value meant
for a Docker image's file system would stop the process from starting). The kit sets no
``SAGEMAKER_*`` variable of its own: those a request names reach the process as given.

A training container also gets the variables SageMaker itself sets in it, ``TRAINING_JOB_NAME``
and ``TRAINING_JOB_ARN``, besides the job's Environment
(https://docs.aws.amazon.com/sagemaker/latest/dg/your-algorithms-training-algo-running-container.html).
They name the job being run, so a variable of the same name in the Environment does not replace
them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from cdlab.localcloud.protocols.errors import ValidationException

KEPT = frozenset({"PATH", "PYTHONHOME", "PYTHONPATH", "LD_LIBRARY_PATH", "LD_PRELOAD"})
# "The maximum length of all keys and values in the map, combined, is 32 KB", and of all the maps
# of a CreateModel's containers (ContainerDefinition, above); botocore's model has only the 1024
# of each key and value
MODEL_ENVIRONMENT_BYTES = 32 * 1024


def process_environment(requested: Mapping[str, str] | None) -> dict[str, str]:
    """The environment of a container's process: the local cloud's, with ``requested`` (a
    model's or a job's Environment) over it, but for the variables in ``KEPT``."""
    applied = {k: v for k, v in (requested or {}).items() if k not in KEPT}
    return {**os.environ, **applied}


def training_environment(
    requested: Mapping[str, str] | None, job_name: str, job_arn: str
) -> dict[str, str]:
    """The environment of a training job's process: ``process_environment`` of its Environment
    (``requested``), with the variables SageMaker sets in a training container over it."""
    return process_environment(requested) | {
        "TRAINING_JOB_NAME": job_name,
        "TRAINING_JOB_ARN": job_arn,
    }


def not_applied(requested: Mapping[str, str] | None) -> list[str]:
    """The names in ``requested`` that the process does not get (``KEPT``), sorted."""
    return sorted(KEPT.intersection(requested or {}))


def check_settable(requested: Mapping[str, str] | None, member: str) -> None:
    """Refuse an Environment (request member ``member``) whose value holds a NUL character:
    botocore's model allows any character in a value, but no process environment can hold that
    one, so the local cloud refuses it when the request comes rather than fail later."""
    held = sorted(k for k, v in (requested or {}).items() if "\0" in v)
    if held:
        raise ValidationException(
            f"{member}: the value of {', '.join(held)} holds a NUL character, which the local "
            "cloud cannot set in a process's environment."
        )


def check_model_size(containers: list[Mapping[str, Any]]) -> None:
    """Refuse a model whose containers' Environment maps hold more than 32 KB of keys and
    values, combined, as SageMaker does; ``containers`` as CreateModel gives them."""
    size = sum(
        len(key.encode()) + len(value.encode())
        for container in containers
        for key, value in (container.get("Environment") or {}).items()
    )
    if size > MODEL_ENVIRONMENT_BYTES:
        raise ValidationException(
            "The maximum length of all keys and values in the Environment maps of a model's "
            f"containers, combined, is 32 KB ({MODEL_ENVIRONMENT_BYTES} bytes); this model's "
            f"is {size} bytes."
        )
