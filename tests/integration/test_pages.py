"""The local services' refusal of a page token their listings did not give, each with its
own error (:mod:`cdlab.localcloud.protocols.paging`): CloudFormation's ValidationError,
SageMaker's ValidationException and Application Auto Scaling's InvalidNextTokenException (its
DescribeScalableTargets too, which moto answers and the bridge pages)."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

NOT_GIVEN = "100"  # an offset, as these tokens once were
CFN = ("ValidationError", f"{NOT_GIVEN} is not a valid NextToken")
SAGEMAKER = ("ValidationException", f"Invalid pagination token '{NOT_GIVEN}'.")


@pytest.mark.parametrize(
    ("service", "operation", "params", "refusal"),
    [
        ("cloudformation", "list_stacks", {}, CFN),
        ("cloudformation", "describe_stacks", {}, CFN),
        ("cloudformation", "list_exports", {}, CFN),
        ("sagemaker", "list_models", {}, SAGEMAKER),
        ("sagemaker", "list_endpoints", {}, SAGEMAKER),
        ("sagemaker", "list_training_jobs", {}, SAGEMAKER),
        (
            "application-autoscaling",
            "describe_scaling_activities",
            {"ServiceNamespace": "sagemaker"},
            ("InvalidNextTokenException", "The next token supplied was invalid."),
        ),
        (
            "application-autoscaling",
            "describe_scalable_targets",
            {"ServiceNamespace": "sagemaker"},
            ("InvalidNextTokenException", "The next token supplied was invalid."),
        ),
    ],
)
def test_a_token_the_listing_did_not_give_is_refused_with_the_services_error(
    client, service: str, operation: str, params: dict, refusal: tuple[str, str]
) -> None:
    with pytest.raises(ClientError) as info:
        getattr(client(service), operation)(NextToken=NOT_GIVEN, **params)
    error = info.value.response["Error"]
    assert (error["Code"], error["Message"]) == refusal
