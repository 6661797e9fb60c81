"""Glue's resources: the catalog ``arn:aws:glue:REGION:ACCOUNT:catalog``, ``database/NAME`` and
``table/DATABASE/NAME``; a table action acts on all three
(https://docs.aws.amazon.com/service-authorization/latest/reference/list_awsglue.html,
https://docs.aws.amazon.com/glue/latest/dg/glue-specifying-resource-arns.html)."""

from __future__ import annotations

from cdlab.localcloud.iam.resources.builders import Builder, Params, Scope, all_of, given, members


def _glue(params: Params, scope: Scope, resource: str) -> str:
    [account] = members(params, "CatalogId")[:1] or [scope.account]
    return f"arn:aws:glue:{scope.region}:{account}:{resource}"


def _catalog(params: Params, scope: Scope) -> list[str]:
    return [_glue(params, scope, "catalog")]


def _database(member: str) -> Builder:
    return lambda params, scope: [
        _glue(params, scope, f"database/{name}") for name in members(params, member)
    ]


def _tables(database: str, table: str) -> Builder:
    def build(params: Params, scope: Scope) -> list[str]:
        return [
            _glue(params, scope, f"table/{db}/{name}")
            for db in members(params, database)
            for name in members(params, table)
        ]

    return build


def _contents(params: Params, scope: Scope) -> list[str]:
    """Everything in the database DeleteDatabase deletes: its tables and functions."""
    return [
        _glue(params, scope, f"{kind}/{name}/*")
        for name in members(params, "Name")
        for kind in ("table", "userDefinedFunction")
    ]


_DB = _database("DatabaseName")
_TABLE = all_of(_catalog, _DB, _tables("DatabaseName", "TableName"))

GLUE: dict[str, Builder] = {
    "CreateDatabase": all_of(_catalog, _database("DatabaseInput.Name")),
    **dict.fromkeys(("GetDatabase", "UpdateDatabase"), all_of(_catalog, _database("Name"))),
    "DeleteDatabase": all_of(_catalog, _database("Name"), _contents),
    "GetDatabases": _catalog,
    "GetTables": all_of(_catalog, _DB),
    **dict.fromkeys(
        ("CreateTable", "UpdateTable"),
        all_of(_catalog, _DB, _tables("DatabaseName", "TableInput.Name")),
    ),
    **dict.fromkeys(
        ("GetTable", "DeleteTable"), all_of(_catalog, _DB, _tables("DatabaseName", "Name"))
    ),
    "BatchDeleteTable": all_of(_catalog, _DB, _tables("DatabaseName", "TablesToDelete")),
    **dict.fromkeys(
        (
            "GetPartition",
            "GetPartitions",
            "CreatePartition",
            "BatchCreatePartition",
            "UpdatePartition",
            "DeletePartition",
            "BatchDeletePartition",
            "BatchGetPartition",
            "GetTableVersion",
            "GetTableVersions",
            "DeleteTableVersion",
            "BatchDeleteTableVersion",
        ),
        _TABLE,
    ),
    **dict.fromkeys(("TagResource", "UntagResource", "GetTags"), given("ResourceArn")),
}
