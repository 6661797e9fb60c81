"""Resource handlers: what CloudFormation does to create, update and delete each resource type.

Modules: ``base`` (the Handler interface and what handlers share), ``sagemaker`` (models,
endpoint configs, endpoints), ``moto_backed`` (scalable targets, scaling policies, alarms),
``codebuild`` (projects) and ``codepipeline`` (pipelines).
This module is the registry of the types the local cloud provides.
"""

from __future__ import annotations

from cdlab.localcloud.cloudformation.resources.base import Handler
from cdlab.localcloud.cloudformation.resources.codebuild import Project
from cdlab.localcloud.cloudformation.resources.codepipeline import Pipeline
from cdlab.localcloud.cloudformation.resources.moto_backed import (
    Alarm,
    ScalableTarget,
    ScalingPolicy,
)
from cdlab.localcloud.cloudformation.resources.sagemaker import Endpoint, EndpointConfig, Model

HANDLERS: dict[str, Handler] = {
    h.type: h
    for h in (
        Model(),
        EndpointConfig(),
        Endpoint(),
        ScalableTarget(),
        ScalingPolicy(),
        Alarm(),
        Project(),
        Pipeline(),
    )
}


PROVIDED: dict[str, frozenset[str]] = {t: h.attributes for t, h in HANDLERS.items()}

# The types moto keeps in memory only, so a restart loses them; in the order they are put back
# (a scaling policy after its scalable target, which may be in another stack).
IN_MEMORY: tuple[str, ...] = (ScalableTarget.type, ScalingPolicy.type, Alarm.type)
