"""AWS::IAM::Role: a role in moto's IAM with its trust policy, inline policies and attached
managed policies
(https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-iam-role.html).

Each change is the IAM call CloudFormation makes (CreateRole, PutRolePolicy, AttachRolePolicy
...), authorized as the stack's principal, then journaled and made in moto's backend (see
:mod:`moto_calls`); the enforcer's cached policies are dropped after it, as after an IAM request
through the gateway. Moto keeps IAM in memory, so the role is an IN_MEMORY type: ``reapply``
makes it again with the RoleId it had, for a stack recorded before its changes were journaled.
"""

from __future__ import annotations

import json
from typing import Any

from cdlab import config
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

PROVIDED = (
    "RoleName", "AssumeRolePolicyDocument", "Policies", "ManagedPolicyArns", "Description",
    "Path", "MaxSessionDuration", "Tags", "PermissionsBoundary",
)  # fmt: skip


def _document(value: Any) -> str:
    """A policy document as IAM takes it: JSON text (a template may give an object)."""
    return value if isinstance(value, str) else json.dumps(value)


def _inline(props: dict[str, Any]) -> dict[str, str]:
    return {p["PolicyName"]: _document(p["PolicyDocument"]) for p in props.get("Policies", [])}


@replayable
def _make(moto: MotoState, p: dict[str, Any], role_id: str | None) -> str:
    """On moto's thread: create the role (with ``role_id`` if given); its RoleId."""
    iam = moto.iam_backend()
    role = iam.create_role(
        p["RoleName"],
        p["AssumeRolePolicyDocument"],
        p.get("Path", "/"),
        permissions_boundary=p.get("PermissionsBoundary"),
        description=p.get("Description", ""),
        tags=p.get("Tags", []),
        max_session_duration=str(p.get("MaxSessionDuration", 3600)),
    )
    if role_id is not None:
        del iam.roles[role.id]
        role.id = role_id
        iam.roles[role_id] = role
    return role.id


def _exists(moto: MotoState, name: str) -> bool:
    return any(role.name == name for role in moto.iam_backend().get_roles())


@replayable
def _change(moto: MotoState, name: str, operation: str, p: dict[str, Any]) -> None:
    """On moto's thread: make IAM ``operation`` on role ``name``."""
    iam = moto.iam_backend()
    if operation == "PutRolePolicy":
        iam.put_role_policy(name, p["PolicyName"], p["PolicyDocument"])
    elif operation == "DeleteRolePolicy":
        iam.delete_role_policy(name, p["PolicyName"])
    elif operation == "AttachRolePolicy":
        iam.attach_role_policy(p["PolicyArn"], name)
    elif operation == "DetachRolePolicy":
        iam.detach_role_policy(p["PolicyArn"], name)
    elif operation == "UpdateAssumeRolePolicy":
        iam.update_assume_role_policy(name, p["PolicyDocument"])
    elif operation == "UpdateRole":
        iam.update_role(name, p.get("Description", ""), str(p.get("MaxSessionDuration", 3600)))
    elif operation == "TagRole":
        iam.tag_role(name, p["Tags"])
    elif operation == "UntagRole":
        iam.untag_role(name, p["TagKeys"])
    else:
        iam.delete_role(name)


def _policy_calls(old: dict[str, Any], new: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The calls that take the role's inline and managed policies from ``old`` to ``new``."""
    before, after = _inline(old), _inline(new)
    calls: list[tuple[str, dict[str, Any]]] = [
        ("PutRolePolicy", {"PolicyName": name, "PolicyDocument": document})
        for name, document in after.items()
        if before.get(name) != document
    ]
    calls += [("DeleteRolePolicy", {"PolicyName": name}) for name in before if name not in after]
    old_arns, new_arns = old.get("ManagedPolicyArns", []), new.get("ManagedPolicyArns", [])
    calls += [("AttachRolePolicy", {"PolicyArn": a}) for a in new_arns if a not in old_arns]
    calls += [("DetachRolePolicy", {"PolicyArn": a}) for a in old_arns if a not in new_arns]
    return calls


def _settings_calls(old: dict[str, Any], new: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The calls that update the trust policy, description, session duration and tags."""
    calls: list[tuple[str, dict[str, Any]]] = []
    if _document(old["AssumeRolePolicyDocument"]) != _document(new["AssumeRolePolicyDocument"]):
        document = _document(new["AssumeRolePolicyDocument"])
        calls.append(("UpdateAssumeRolePolicy", {"PolicyDocument": document}))
    settings = ("Description", "MaxSessionDuration")
    if any(old.get(k) != new.get(k) for k in settings):
        calls.append(("UpdateRole", {k: new[k] for k in settings if k in new}))
    new_tags = {t["Key"]: t["Value"] for t in new.get("Tags", [])}
    gone = [t["Key"] for t in old.get("Tags", []) if t["Key"] not in new_tags]
    if gone:
        calls.append(("UntagRole", {"TagKeys": gone}))
    if new.get("Tags") and new.get("Tags") != old.get("Tags"):
        calls.append(("TagRole", {"Tags": new["Tags"]}))
    return calls


class Role(Handler):
    type = "AWS::IAM::Role"
    name_property = "RoleName"
    attributes = frozenset({"Arn", "RoleId"})
    create_only = frozenset({"RoleName", "Path"})
    journaled = True

    async def create(self, ctx: Context, props: dict[str, Any], started: Started) -> Resource:
        name = props.get("RoleName") or generated_name(ctx, 64, with_stack=True)
        role_id, calls = await self._make_role(ctx, name, props, None)
        made = self._resource(name, props, role_id)
        started(made)  # a policy IAM refuses now rolls the role back
        await self._change(ctx, name, calls)
        return made

    @staticmethod
    def _resource(name: str, props: dict[str, Any], role_id: str) -> Resource:
        arn = f"arn:aws:iam::{config.ACCOUNT_ID}:role{props.get('Path', '/')}{name}"
        return Resource(name, {"Arn": arn, "RoleId": role_id})

    async def _make_role(
        self, ctx: Context, name: str, props: dict[str, Any], role_id: str | None
    ) -> tuple[str, list[tuple[str, dict[str, Any]]]]:
        """Make the role (with ``role_id`` if given), every call authorized first; its RoleId,
        and the authorized calls that give it its policies."""
        refuse_others(ctx, props, PROVIDED)
        create = {
            k: props[k]
            for k in ("Path", "Description", "MaxSessionDuration", "Tags", "PermissionsBoundary")
            if k in props
        }
        create["RoleName"] = name
        create["AssumeRolePolicyDocument"] = _document(props.get("AssumeRolePolicyDocument", ""))
        typed = await authorized_params(ctx, "iam", "CreateRole", create)
        calls = await self._authorized(ctx, name, _policy_calls({}, props))
        return await journaled(ctx, _make, typed, role_id), calls

    @staticmethod
    async def _authorized(
        ctx: Context, name: str, calls: list[tuple[str, dict[str, Any]]]
    ) -> list[tuple[str, dict[str, Any]]]:
        return [
            (op, await authorized_params(ctx, "iam", op, {"RoleName": name, **p}))
            for op, p in calls
        ]

    @staticmethod
    async def _change(ctx: Context, name: str, calls: list[tuple[str, dict[str, Any]]]) -> None:
        try:
            for operation, params in calls:  # one by one: each is journaled whole or not at all
                await journaled(ctx, _change, name, operation, params)
        finally:
            if ctx.roles.enforcer is not None:
                ctx.roles.enforcer.forget()

    async def update(
        self, ctx: Context, current: Resource, old: dict[str, Any], new: dict[str, Any]
    ) -> Resource:
        refuse_others(ctx, new, PROVIDED)
        name = current.physical_id
        calls = _settings_calls(old, new) + _policy_calls(old, new)
        await self._change(ctx, name, await self._authorized(ctx, name, calls))
        return current

    async def reapply(self, ctx: Context, current: Resource, props: dict[str, Any]) -> None:
        name = current.physical_id
        if not await ctx.moto.run(_exists, ctx.moto, name):
            _, calls = await self._make_role(ctx, name, props, current.attributes["RoleId"])
            await self._change(ctx, name, calls)

    async def delete(self, ctx: Context, current: Resource) -> None:
        name = current.physical_id
        await authorized_params(ctx, "iam", "DeleteRole", {"RoleName": name})
        if not await ctx.moto.run(_exists, ctx.moto, name):
            return
        calls = await ctx.moto.run(_detaching, ctx.moto, name)
        await self._change(
            ctx, name, [*await self._authorized(ctx, name, calls), ("DeleteRole", {})]
        )


def _detaching(moto: MotoState, name: str) -> list[tuple[str, dict[str, Any]]]:
    """On moto's thread: the calls that empty role ``name`` of its policies before its delete."""
    role = moto.iam_backend().get_role(name)
    return [("DeleteRolePolicy", {"PolicyName": n}) for n in role.policies] + [
        ("DetachRolePolicy", {"PolicyArn": arn}) for arn in role.managed_policies
    ]
