"""A workshop participant in the local cloud: an IAM user holding only the participant's policy
(``cloudformation/participant.yml``), as an instructor sets one up on AWS.

The local CloudFormation creates the endpoint stacks' resource types only, so the template's
policy document is resolved here (its parameters' defaults, the account and region of the
local cloud) and created through the IAM API, with the user and an access key. Clients that
sign with that key are evaluated against the policy, as the participant's are on AWS; the
kit's own key stays the account's administrator.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cdlab.localcloud import control
from cdlab.localcloud.cloudformation import intrinsics, template

POLICY_LOGICAL_ID = "ParticipantPolicy"
USER_NAME = "cdlab-participant"


@dataclass(frozen=True)
class Participant:
    """The participant's user and the access key its clients sign with."""

    user_arn: str
    policy_arn: str
    access_key_id: str
    secret_access_key: str

    def environment(self) -> dict[str, str]:
        """The variables that make :func:`control.client_environment` sign as the participant
        (``cdlab local env``, ``cdlab.target.ready`` and the kernels that call it)."""
        return {
            control.ACCESS_KEY_VARIABLE: self.access_key_id,
            control.SECRET_KEY_VARIABLE: self.secret_access_key,
        }


def policy(path: Path, region: str, account: str) -> tuple[str, dict[str, Any]]:
    """The managed policy's name and its document, resolved as CloudFormation would resolve the
    template ``path`` with its parameters' defaults, in ``region`` of ``account``."""
    parsed = template.load(path.read_text())
    values = template.parameter_values(parsed.get("Parameters") or {}, [], None)
    stack_id = f"arn:aws:cloudformation:{region}:{account}:stack/cdlab-participant/local"
    scope = template.evaluate(parsed, values, "cdlab-participant", stack_id).scope
    properties = intrinsics.resolve(parsed["Resources"][POLICY_LOGICAL_ID]["Properties"], scope)
    return properties["ManagedPolicyName"], properties["PolicyDocument"]


def create(iam: Any, path: Path, region: str, account: str) -> Participant:
    """Create the participant's managed policy (from the template ``path``), a user holding only
    it, and an access key, with ``iam``, an IAM client of the account's administrator."""
    name, document = policy(path, region, account)
    created = iam.create_policy(PolicyName=name, PolicyDocument=json.dumps(document))
    user = iam.create_user(UserName=USER_NAME)["User"]
    iam.attach_user_policy(UserName=USER_NAME, PolicyArn=created["Policy"]["Arn"])
    key = iam.create_access_key(UserName=USER_NAME)["AccessKey"]
    return Participant(
        user["Arn"], created["Policy"]["Arn"], key["AccessKeyId"], key["SecretAccessKey"]
    )
