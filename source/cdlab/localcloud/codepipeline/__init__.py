"""CodePipeline in the local cloud: the API (:mod:`provider`), the structure it accepts
(:mod:`structure`), the execution engine (:mod:`engine`, :mod:`gates`, :mod:`actions`, acting
through the AWS API at the cloud's own URL, :mod:`cloud`), the executions as stored
(:mod:`records`) and answered (:mod:`views`), and the S3 -> EventBridge trigger (:mod:`trigger`).

Pipelines run in SUPERSEDED mode, the default of V1 and V2 pipelines
(https://docs.aws.amazon.com/codepipeline/latest/userguide/concepts-how-it-works.html).
"""

from __future__ import annotations

from pathlib import Path

from cdlab import config
from cdlab.localcloud.codepipeline.cloud import Cloud
from cdlab.localcloud.codepipeline.engine import Engine
from cdlab.localcloud.codepipeline.provider import CodePipeline
from cdlab.localcloud.codepipeline.records import Executions
from cdlab.localcloud.codepipeline.trigger import Trigger
from cdlab.localcloud.iam.service_roles import ServiceRoles
from cdlab.localcloud.moto.state import MotoState
from cdlab.localcloud.state.store import Store

__all__ = ["CodePipeline", "Trigger", "assemble"]


def assemble(
    store: Store, moto: MotoState, service_roles: ServiceRoles, home: Path, port: int
) -> tuple[CodePipeline, Trigger]:
    """The provider, its engine acting at ``http://127.0.0.1:port`` with the kit's key of
    ``home``, and the trigger that starts its pipelines."""
    cloud = Cloud(f"http://{config.LOOPBACK}:{port}", home, moto.region)
    engine = Engine(Executions(store), cloud, home / "codepipeline")
    provider = CodePipeline(store, engine, moto, service_roles)
    return provider, Trigger(moto, service_roles, provider.start_by_rule)
