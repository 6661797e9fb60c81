"""A workshop participant in the local cloud: an IAM user holding only the participant's policies
(``cloudformation/participant.yml``), as an instructor sets one up on AWS.

The local CloudFormation has no ``AWS::IAM::ManagedPolicy`` or ``AWS::IAM::Group``, so the
template's policy documents are resolved here (its parameters' defaults, the account and region
of the local cloud) and created through the IAM API, with the user and an access key. Clients
that sign with that key are evaluated against the policies, as the participant's are on AWS; the
kit's own key stays the account's administrator.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cdlab.localcloud import control
from cdlab.localcloud.cloudformation import intrinsics, template

USER_NAME = "cdlab-participant"
MANAGED_POLICY = "AWS::IAM::ManagedPolicy"


@dataclass(frozen=True)
class Participant:
    """The participant's user and the access key its clients sign with."""

    user_arn: str
    policy_arns: tuple[str, ...]
    access_key_id: str
    secret_access_key: str

    def environment(self) -> dict[str, str]:
        """The variables that make :func:`control.client_environment` sign as the participant
        (``cdlab local env``, ``cdlab.target.ready`` and the kernels that call it)."""
        return {
            control.ACCESS_KEY_VARIABLE: self.access_key_id,
            control.SECRET_KEY_VARIABLE: self.secret_access_key,
        }


def policies(
    path: Path, region: str, account: str, parameters: Mapping[str, str] | None = None
) -> list[tuple[str, dict[str, Any]]]:
    """Each managed policy's name and document, in the template's order, resolved as
    CloudFormation would resolve the template ``path`` with ``parameters`` (the defaults for the
    rest), in ``region`` of ``account``."""
    parsed = template.load(path.read_text())
    given = [{"ParameterKey": k, "ParameterValue": v} for k, v in (parameters or {}).items()]
    values = template.parameter_values(parsed.get("Parameters") or {}, given, None)
    stack_id = f"arn:aws:cloudformation:{region}:{account}:stack/cdlab-participant/local"
    scope = template.evaluate(parsed, values, "cdlab-participant", stack_id).scope
    made = (
        intrinsics.resolve(resource["Properties"], scope)
        for resource in parsed["Resources"].values()
        if resource["Type"] == MANAGED_POLICY
    )
    return [(policy["ManagedPolicyName"], policy["PolicyDocument"]) for policy in made]


def create(iam: Any, path: Path, region: str, account: str) -> Participant:
    """Create the participant's managed policies (from the template ``path``), a user holding
    only them, and an access key, with ``iam``, an IAM client of the account's administrator."""
    arns = tuple(
        iam.create_policy(PolicyName=name, PolicyDocument=json.dumps(document))["Policy"]["Arn"]
        for name, document in policies(path, region, account)
    )
    user = iam.create_user(UserName=USER_NAME)["User"]
    for arn in arns:
        iam.attach_user_policy(UserName=USER_NAME, PolicyArn=arn)
    key = iam.create_access_key(UserName=USER_NAME)["AccessKey"]
    return Participant(user["Arn"], arns, key["AccessKeyId"], key["SecretAccessKey"])
