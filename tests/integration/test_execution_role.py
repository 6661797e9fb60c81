"""The notebooks' execution role on the local target: made once, and given the kit's policy
again when an earlier kit made it with less (a rollback alarm watched as the role needs more)."""

from __future__ import annotations

import json

from cdlab import execution_role
from cdlab.execution_role import NAME, POLICY, POLICY_NAME

OLD = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": "*"}],
}


def test_a_role_an_earlier_kit_made_gets_the_policy_the_notebooks_need(client) -> None:
    iam = client("iam")
    arn = execution_role.ensure(iam)
    assert iam.get_role_policy(RoleName=NAME, PolicyName=POLICY_NAME)["PolicyDocument"] == POLICY
    iam.put_role_policy(RoleName=NAME, PolicyName=POLICY_NAME, PolicyDocument=json.dumps(OLD))
    iam.put_role_policy(RoleName=NAME, PolicyName="own", PolicyDocument=json.dumps(OLD))
    try:
        assert execution_role.ensure(iam) == arn
        held = iam.get_role_policy(RoleName=NAME, PolicyName=POLICY_NAME)["PolicyDocument"]
        assert held == POLICY
        assert iam.get_role_policy(RoleName=NAME, PolicyName="own")["PolicyDocument"] == OLD
    finally:
        iam.delete_role_policy(RoleName=NAME, PolicyName="own")
