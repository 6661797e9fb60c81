"""AWS::Glue::Database: a database of moto's Glue Data Catalog
(https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-glue-database.html).

Ref is the database's name. CreateDatabase, UpdateDatabase and DeleteDatabase are authorized as
the stack's principal, then journaled and made in moto's backend (see :mod:`moto_calls`). Moto
keeps Glue in memory, so the database is an IN_MEMORY type: ``reapply`` makes it again, for a
stack recorded before its changes were journaled.
"""

from __future__ import annotations

from typing import Any

from cdlab.localcloud.cloudformation.resources.base import (
    Context,
    Handler,
    Resource,
    Started,
    authorized_params,
    generated_name,
)
from cdlab.localcloud.cloudformation.resources.moto_calls import journaled, refuse_others
from cdlab.localcloud.moto.replayable import replayable
from cdlab.localcloud.moto.state import MotoState


def _exists(moto: MotoState, name: str) -> bool:
    return name in moto.glue_backend().databases


@replayable
def _create(moto: MotoState, database_input: dict[str, Any]) -> None:
    moto.glue_backend().create_database(database_input["Name"], database_input)


@replayable
def _update(moto: MotoState, name: str, database_input: dict[str, Any]) -> None:
    moto.glue_backend().update_database(name, database_input)


@replayable
def _delete(moto: MotoState, name: str) -> None:
    if _exists(moto, name):
        moto.glue_backend().delete_database(name)


class Database(Handler):
    type = "AWS::Glue::Database"
    create_only = frozenset({"CatalogId"})
    journaled = True

    def predict(self, props: dict[str, Any]) -> Resource | None:
        name = (props.get("DatabaseInput") or {}).get("Name")
        return Resource(name.lower(), {}) if isinstance(name, str) else None

    async def create(self, ctx: Context, props: dict[str, Any], started: Started) -> Resource:
        refuse_others(ctx, props, ("CatalogId", "DatabaseInput"))
        given = props.get("DatabaseInput") or {}
        name = str(given.get("Name") or generated_name(ctx, 255, with_stack=True)).lower()
        database_input = {**given, "Name": name}
        await self._create(ctx, props, database_input)
        return Resource(name, {})

    async def _create(
        self, ctx: Context, props: dict[str, Any], database_input: dict[str, Any]
    ) -> None:
        catalog = {"CatalogId": props["CatalogId"]} if "CatalogId" in props else {}
        typed = await authorized_params(
            ctx, "glue", "CreateDatabase", {**catalog, "DatabaseInput": database_input}
        )
        await journaled(ctx, _create, typed["DatabaseInput"])

    async def update(
        self, ctx: Context, current: Resource, old: dict[str, Any], new: dict[str, Any]
    ) -> Resource:
        refuse_others(ctx, new, ("CatalogId", "DatabaseInput"))
        database_input = {**new.get("DatabaseInput", {}), "Name": current.physical_id}
        params = {"Name": current.physical_id, "DatabaseInput": database_input}
        if "CatalogId" in new:
            params["CatalogId"] = new["CatalogId"]
        typed = await authorized_params(ctx, "glue", "UpdateDatabase", params)
        await journaled(ctx, _update, current.physical_id, typed["DatabaseInput"])
        return current

    async def reapply(self, ctx: Context, current: Resource, props: dict[str, Any]) -> None:
        if not await ctx.moto.run(_exists, ctx.moto, current.physical_id):
            database_input = {**props.get("DatabaseInput", {}), "Name": current.physical_id}
            await self._create(ctx, props, database_input)

    async def delete(self, ctx: Context, current: Resource) -> None:
        await authorized_params(ctx, "glue", "DeleteDatabase", {"Name": current.physical_id})
        await journaled(ctx, _delete, current.physical_id)
