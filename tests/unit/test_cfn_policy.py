"""Stack policies allow and deny update actions per resource, as CloudFormation evaluates them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cdlab.localcloud.cloudformation import policy
from cdlab.localcloud.protocols.errors import ValidationError

PROD = json.loads(
    (Path(__file__).resolve().parents[2] / "cloudformation" / "configuration_prod.json").read_text()
)["StackPolicy"]
ENDPOINT = "AWS::SageMaker::Endpoint"


def test_the_prod_policy_lets_the_endpoint_be_updated_but_never_replaced_or_deleted() -> None:
    prod = policy.parse(json.dumps(PROD))
    assert policy.denial(prod, "Update:Modify", "Endpoint", ENDPOINT) is None
    assert policy.denial(prod, "Update:Replace", "Endpoint", ENDPOINT) == (
        "Action denied by stack policy: Statement [#1] does not allow [Update:Replace] for "
        "resource [LogicalResourceId/Endpoint]"
    )
    assert policy.denial(prod, "Update:Delete", "Endpoint", ENDPOINT) is not None
    assert policy.denial(prod, "Update:Replace", "Model", "AWS::SageMaker::Model") is None


def test_no_policy_allows_everything_and_a_policy_denies_what_it_does_not_allow() -> None:
    assert policy.denial(None, "Update:Delete", "Endpoint", ENDPOINT) is None
    only_models = policy.parse(json.dumps({"Statement": [{
        "Effect": "Allow", "Action": "Update:*", "Principal": "*", "Resource": "*",
        "Condition": {"StringEquals": {"ResourceType": ["AWS::SageMaker::Model"]}},
    }]}))  # fmt: skip
    assert policy.denial(only_models, "Update:Replace", "Model", "AWS::SageMaker::Model") is None
    assert "no statement allows [Update:Modify]" in policy.denial(
        only_models, "Update:Modify", "Endpoint", ENDPOINT
    )


@pytest.mark.parametrize(
    "body", ["{", '{"Statement": []}', '{"Statement": [{"Effect": "Maybe"}]}',
             '{"Statement": [{"Effect": "Allow", "Condition": {"IpAddress": {}}}]}'],
)  # fmt: skip
def test_bad_policies_are_refused(body: str) -> None:
    with pytest.raises(ValidationError, match="Error validating stack policy"):
        policy.parse(body)
