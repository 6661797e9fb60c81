"""CodePipeline in the local cloud: the API (:mod:`provider`), the structure it accepts
(:mod:`structure`), the execution engine (:mod:`engine`, :mod:`gates`, :mod:`actions`, acting
through the AWS API at the cloud's own URL, :mod:`cloud`), the executions as stored
(:mod:`records`) and answered (:mod:`views`), and the S3 -> EventBridge trigger (:mod:`trigger`).

Pipelines run in SUPERSEDED mode, the default of V1 and V2 pipelines
(https://docs.aws.amazon.com/codepipeline/latest/userguide/concepts-how-it-works.html).
"""

from __future__ import annotations

from pathlib import Path

from cdlab.localcloud.codebuild.provider import CodeBuild
from cdlab.localcloud.codebuild.worker import Cloud
from cdlab.localcloud.codepipeline.engine import Engine
from cdlab.localcloud.codepipeline.provider import CodePipeline
from cdlab.localcloud.codepipeline.records import Executions
from cdlab.localcloud.codepipeline.trigger import Trigger
from cdlab.localcloud.iam.service_roles import ServiceRoles
from cdlab.localcloud.moto.state import MotoState
from cdlab.localcloud.state.logarchive import LogArchive
from cdlab.localcloud.state.store import Store

__all__ = ["CodePipeline", "Trigger", "assemble"]


def assemble(
    store: Store,
    moto: MotoState,
    service_roles: ServiceRoles,
    logs: LogArchive,
    home: Path,
    port: int,
) -> tuple[CodeBuild, CodePipeline]:
    """CodeBuild and CodePipeline, which acts through CodeBuild's API, both at the local cloud's
    URL (``port``) with the kit's key of ``home``; what they were running resumed."""
    cloud = Cloud(home, port, moto.region)
    codebuild = CodeBuild(store, service_roles, logs, cloud, home / "codebuild")
    codebuild.resume()
    engine = Engine(Executions(store), cloud, home / "codepipeline")
    provider = CodePipeline(store, engine, moto, service_roles)
    provider.resume()
    return codebuild, provider
