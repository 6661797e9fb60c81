"""Through the gateway, a policy change is seen at the very next call, whatever decisions the
enforcer keeps: an inline policy put and deleted, a managed policy attached, given a new default
version, and detached."""

from __future__ import annotations

import json
import uuid

from tests.aws_errors import refused
from tests.integration.test_iam_enforcement import Session, drop_role, make_role

SUFFIX = uuid.uuid4().hex[:8]
ALLOW_LIST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "sagemaker:ListModels", "Resource": "*"}],
}
DENY_LIST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Deny", "Action": "sagemaker:ListModels", "Resource": "*"}],
}
ALLOW_NOTHING = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "sagemaker:ListEndpoints", "Resource": "*"}],
}


def test_a_policy_change_is_seen_at_the_next_call(client, aws_env) -> None:
    iam, name = client("iam"), f"cdlab-iam-cache-{SUFFIX}"
    session = Session(
        client("sts"), make_role(iam, name, ALLOW_LIST), aws_env["AWS_DEFAULT_REGION"]
    )
    sm = session.client("sagemaker")
    managed = iam.create_policy(PolicyName=name, PolicyDocument=json.dumps(ALLOW_NOTHING))
    arn = managed["Policy"]["Arn"]
    try:
        for _ in range(3):
            assert "Models" in sm.list_models()
        iam.put_role_policy(RoleName=name, PolicyName="deny", PolicyDocument=json.dumps(DENY_LIST))
        assert refused(sm.list_models)[0] == "AccessDeniedException"
        iam.delete_role_policy(RoleName=name, PolicyName="deny")
        assert "Models" in sm.list_models()

        iam.attach_role_policy(RoleName=name, PolicyArn=arn)
        assert "Models" in sm.list_models()
        iam.create_policy_version(
            PolicyArn=arn, PolicyDocument=json.dumps(DENY_LIST), SetAsDefault=True
        )
        assert refused(sm.list_models)[0] == "AccessDeniedException"
        iam.detach_role_policy(RoleName=name, PolicyArn=arn)
        assert "Models" in sm.list_models()
    finally:
        if iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]:
            iam.detach_role_policy(RoleName=name, PolicyArn=arn)
        for version in iam.list_policy_versions(PolicyArn=arn)["Versions"]:
            if not version["IsDefaultVersion"]:
                iam.delete_policy_version(PolicyArn=arn, VersionId=version["VersionId"])
        iam.delete_policy(PolicyArn=arn)
        drop_role(iam, name)
