"""The CloudFormation API: operations as methods named after it, on stacks kept in the Store.

Modules: ``inputs`` (a request's template and stack policies), ``submission`` (what the
operations that submit a template share), ``stack_operations``, ``change_set_operations`` and
``read_operations`` (describe, list, get and validate).
"""

from __future__ import annotations

from cdlab.localcloud.cloudformation.engine import Engine
from cdlab.localcloud.cloudformation.provider.change_set_operations import ChangeSetOperations
from cdlab.localcloud.cloudformation.provider.read_operations import ReadOperations
from cdlab.localcloud.cloudformation.provider.stack_operations import StackOperations
from cdlab.localcloud.cloudformation.stacks import Stacks
from cdlab.localcloud.iam.service_roles import ServiceRoles
from cdlab.localcloud.moto.state import MotoState
from cdlab.localcloud.sagemaker.controlplane import SageMaker
from cdlab.localcloud.state.store import Store


class CloudFormation(StackOperations, ChangeSetOperations, ReadOperations):
    """Every CloudFormation operation the local cloud provides, with the engine that runs them."""

    def __init__(
        self, store: Store, sagemaker: SageMaker, moto: MotoState, roles: ServiceRoles
    ) -> None:
        self.stacks = Stacks(store)
        self.engine = Engine(self.stacks, sagemaker, moto, roles)
        self.moto = moto

    async def put_back(self) -> None:
        await self.engine.put_back()

    async def resume(self) -> None:
        await self.engine.resume()

    async def shutdown(self) -> None:
        await self.engine.shutdown()
