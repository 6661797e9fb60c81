"""The local services' refusal of a page token their listings did not give, each with its
own error (:mod:`cdlab.localcloud.protocols.paging`): CloudFormation's ValidationError,
SageMaker's ValidationException and Application Auto Scaling's InvalidNextTokenException."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

NOT_GIVEN = "100"  # an offset, as these tokens once were


def refusal(call, **params) -> tuple[str, str]:
    with pytest.raises(ClientError) as info:
        call(**params)
    error = info.value.response["Error"]
    return error["Code"], error["Message"]


@pytest.mark.parametrize("operation", ["list_stacks", "describe_stacks", "list_exports"])
def test_cloudformation_refuses_a_token_it_did_not_give(client, operation: str) -> None:
    call = getattr(client("cloudformation"), operation)
    assert refusal(call, NextToken=NOT_GIVEN) == (
        "ValidationError",
        f"{NOT_GIVEN} is not a valid NextToken",
    )


@pytest.mark.parametrize("operation", ["list_models", "list_endpoints", "list_training_jobs"])
def test_sagemaker_refuses_a_token_it_did_not_give(client, operation: str) -> None:
    call = getattr(client("sagemaker"), operation)
    assert refusal(call, NextToken=NOT_GIVEN) == (
        "ValidationException",
        f"Invalid pagination token '{NOT_GIVEN}'.",
    )


def test_application_autoscaling_refuses_a_token_it_did_not_give(client) -> None:
    call = client("application-autoscaling").describe_scaling_activities
    assert refusal(call, ServiceNamespace="sagemaker", NextToken=NOT_GIVEN) == (
        "InvalidNextTokenException",
        "The next token supplied was invalid.",
    )
