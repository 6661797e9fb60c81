"""IAM's and STS's resources.

- IAM: ``arn:aws:iam::ACCOUNT:role/PATH/NAME`` (``user/``, ``group/``, ``policy/``,
  ``instance-profile/``)
  (https://docs.aws.amazon.com/service-authorization/latest/reference/list_awsidentityandaccessmanagementiam.html);
- STS: AssumeRole on the role's ARN, GetFederationToken on
  ``arn:aws:sts::ACCOUNT:federated-user/NAME``
  (https://docs.aws.amazon.com/service-authorization/latest/reference/list_awssecuritytokenservice.html).
"""

from __future__ import annotations

from cdlab.localcloud.iam.resources.builders import Builder, Params, Scope, given, members


def _path(text: str | None) -> str:
    """An IAM path as it sits in an ARN: ``/`` or ``/a/b/``."""
    if not text:
        return "/"
    return "/" + text.strip("/") + "/" if text.strip("/") else "/"


def _iam(kind: str, member: str, *, path_member: str = "", caller: bool = False) -> Builder:
    """ARNs of IAM entities named in the request (at the path it gives, else at the path the
    scope knows); with ``caller``, the calling user when the request names nobody."""

    def build(params: Params, scope: Scope) -> list[str]:
        names = members(params, member) or ([scope.username] if caller and scope.username else [])
        given = members(params, path_member)[:1] if path_member else []
        return [
            f"arn:aws:iam::{scope.account}:{kind}"
            + _path(given[0] if given else scope.iam_path and scope.iam_path(kind, name))
            + name
            for name in names
        ]

    return build


_ROLE = _iam("role", "RoleName")
_USER = _iam("user", "UserName")
_SELF = _iam("user", "UserName", caller=True)
_GROUP_IAM = _iam("group", "GroupName")
_PROFILE = _iam("instance-profile", "InstanceProfileName")
_POLICY_ARN = given("PolicyArn")

IAM: dict[str, Builder] = {
    "CreateRole": _iam("role", "RoleName", path_member="Path"),
    **dict.fromkeys(
        (
            "GetRole",
            "DeleteRole",
            "UpdateRole",
            "UpdateRoleDescription",
            "UpdateAssumeRolePolicy",
            "PutRolePolicy",
            "GetRolePolicy",
            "DeleteRolePolicy",
            "ListRolePolicies",
            "AttachRolePolicy",
            "DetachRolePolicy",
            "ListAttachedRolePolicies",
            "TagRole",
            "UntagRole",
            "ListRoleTags",
            "PutRolePermissionsBoundary",
            "DeleteRolePermissionsBoundary",
            "ListInstanceProfilesForRole",
        ),
        _ROLE,
    ),
    "CreateUser": _iam("user", "UserName", path_member="Path"),
    **dict.fromkeys(
        (
            "DeleteUser",
            "UpdateUser",
            "PutUserPolicy",
            "GetUserPolicy",
            "DeleteUserPolicy",
            "ListUserPolicies",
            "AttachUserPolicy",
            "DetachUserPolicy",
            "ListAttachedUserPolicies",
            "TagUser",
            "UntagUser",
            "ListUserTags",
            "ListGroupsForUser",
            "CreateLoginProfile",
            "DeleteLoginProfile",
            "UpdateLoginProfile",
            "PutUserPermissionsBoundary",
            "DeleteUserPermissionsBoundary",
        ),
        _USER,
    ),
    **dict.fromkeys(
        (
            "GetUser",
            "CreateAccessKey",
            "DeleteAccessKey",
            "UpdateAccessKey",
            "ListAccessKeys",
            "GetLoginProfile",
            "ChangePassword",
            "ListMFADevices",
            "ListSSHPublicKeys",
            "ListSigningCertificates",
            "ListServiceSpecificCredentials",
        ),
        _SELF,
    ),
    "CreateGroup": _iam("group", "GroupName", path_member="Path"),
    **dict.fromkeys(
        (
            "GetGroup",
            "DeleteGroup",
            "UpdateGroup",
            "AddUserToGroup",
            "RemoveUserFromGroup",
            "PutGroupPolicy",
            "GetGroupPolicy",
            "DeleteGroupPolicy",
            "ListGroupPolicies",
            "AttachGroupPolicy",
            "DetachGroupPolicy",
            "ListAttachedGroupPolicies",
        ),
        _GROUP_IAM,
    ),
    "CreatePolicy": _iam("policy", "PolicyName", path_member="Path"),
    **dict.fromkeys(
        (
            "GetPolicy",
            "DeletePolicy",
            "CreatePolicyVersion",
            "GetPolicyVersion",
            "DeletePolicyVersion",
            "ListPolicyVersions",
            "SetDefaultPolicyVersion",
            "TagPolicy",
            "UntagPolicy",
            "ListPolicyTags",
            "ListEntitiesForPolicy",
        ),
        _POLICY_ARN,
    ),
    "CreateInstanceProfile": _iam("instance-profile", "InstanceProfileName", path_member="Path"),
    **dict.fromkeys(
        (
            "GetInstanceProfile",
            "DeleteInstanceProfile",
            "AddRoleToInstanceProfile",
            "RemoveRoleFromInstanceProfile",
            "TagInstanceProfile",
            "UntagInstanceProfile",
            "ListInstanceProfileTags",
        ),
        _PROFILE,
    ),
}


def _federated_user(params: Params, scope: Scope) -> list[str]:
    return [f"arn:aws:sts::{scope.account}:federated-user/{n}" for n in members(params, "Name")]


STS: dict[str, Builder] = {
    **dict.fromkeys(
        ("AssumeRole", "AssumeRoleWithWebIdentity", "AssumeRoleWithSAML"), given("RoleArn")
    ),
    "GetFederationToken": _federated_user,
}
