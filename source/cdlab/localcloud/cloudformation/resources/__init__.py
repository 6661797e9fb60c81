"""Resource handlers: what CloudFormation does to create, update and delete each resource type.

Modules: ``base`` (the Handler interface and what handlers share), ``sagemaker`` (models,
endpoint configs, endpoints), ``moto_backed`` (scalable targets, scaling policies, alarms),
``s3`` (buckets), ``iam`` (roles), ``glue`` (databases), ``events`` (rules), with
``moto_calls`` shared by the handlers of what moto keeps, ``codebuild`` (projects) and
``codepipeline`` (pipelines).
This module is the registry of the types the local cloud provides.
"""

from __future__ import annotations

from cdlab.localcloud.cloudformation.resources.base import Handler
from cdlab.localcloud.cloudformation.resources.codebuild import Project
from cdlab.localcloud.cloudformation.resources.codepipeline import Pipeline
from cdlab.localcloud.cloudformation.resources.events import Rule
from cdlab.localcloud.cloudformation.resources.glue import Database
from cdlab.localcloud.cloudformation.resources.iam import Role
from cdlab.localcloud.cloudformation.resources.moto_backed import (
    Alarm,
    ScalableTarget,
    ScalingPolicy,
)
from cdlab.localcloud.cloudformation.resources.s3 import Bucket
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
        Bucket(),
        Role(),
        Database(),
        Rule(),
    )
}


PROVIDED: dict[str, frozenset[str]] = {t: h.attributes for t, h in HANDLERS.items()}

# The types moto keeps in memory only (a bucket's configuration too), so a restart loses what the
# journal does not bring back (see engine.restart); in the order that is put back (a scaling
# policy after its scalable target, which may be in another stack; roles before what names them).
IN_MEMORY: tuple[str, ...] = (
    Role.type, Bucket.type, Database.type, Rule.type,
    ScalableTarget.type, ScalingPolicy.type, Alarm.type,
)  # fmt: skip
