"""AWS errors as exceptions: each class named for what the error is, each carrying AWS's code.

The wire ``code`` and HTTP ``status`` are AWS's; the envelope that carries them is the protocol
family's (:mod:`envelopes`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class AWSError(Exception):
    """An error answered to the client in the service's error envelope. ``query_code`` is the
    code the query protocol names the same error by, where it differs from ``code`` (JSON's
    ``AccessDeniedException`` is the query protocol's ``AccessDenied``): a service with the
    awsQueryCompatible trait names it in its JSON and CBOR errors' ``x-amzn-query-error``
    header (:func:`cdlab.localcloud.protocols.envelopes.with_query_code`)."""

    code = "InternalFailure"
    status = 400
    query_code: str | None = None

    def __init__(self, message: str, **fields: Any) -> None:
        super().__init__(message)
        self.message = message
        self.fields = fields


def error(name: str, status: int = 400, *, code: str | None = None) -> type[AWSError]:
    """An AWSError subclass called ``name`` that answers with AWS's ``code`` (``name`` unless
    they differ: AWS reuses one code for several errors): the error types are data, not code."""
    return type(name, (AWSError,), {"code": code or name, "status": status})


def in_family(row: Mapping[str, type[AWSError]], family: str, message: str) -> AWSError:
    """The error of ``row`` (one error's class in each protocol family: ``json``, ``cbor``,
    ``query``, ``s3``) for ``family``, with ``message``: the JSON family's where the row names
    none of ``family``'s own (RPC v2 CBOR answers with JSON's codes). It carries the query
    family's code as its :attr:`AWSError.query_code`, the code a service with the
    awsQueryCompatible trait names in ``x-amzn-query-error``
    (https://smithy.io/2.0/aws/protocols/aws-query-protocol.html#aws-protocols-awsquerycompatible-trait)."""
    err = row.get(family, row["json"])(message)
    if "query" in row:
        err.query_code = row["query"].code
    return err


ValidationException = error("ValidationException")
SerializationException = error("SerializationException")
UnknownOperationException = error("UnknownOperationException")
ResourceInUse = error("ResourceInUse")
InternalFailure = error("InternalFailure", 500)
RequestEntityTooLarge = error("RequestEntityTooLarge", 413)  # a signed body over the guard's limit

# the query services' validation error, and sagemaker-runtime's
ValidationError = error("ValidationError")

# sagemaker: a call that would take the account over a quota (:mod:`..sagemaker.quotas`)
ResourceLimitExceeded = error("ResourceLimitExceeded")

# sagemaker-runtime
ModelError = error("ModelError", 424)
ServiceUnavailable = error("ServiceUnavailable", 503)
PayloadTooLarge = error("PayloadTooLarge", 413, code="ValidationError")

# codebuild
InvalidInputException = error("InvalidInputException")

# a next-page token its listing did not give, as CloudWatch refuses it
# (https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_DescribeAlarms.html) and
# as Application Auto Scaling does
# (https://docs.aws.amazon.com/autoscaling/application/APIReference/API_DescribeScalingActivities.html)
InvalidNextToken = error("InvalidNextToken")
CLOUDWATCH_INVALID_TOKEN = "The next token specified is invalid."
InvalidNextTokenException = error("InvalidNextTokenException")
AUTOSCALING_INVALID_TOKEN = "The next token supplied was invalid."
