"""AWS errors as exceptions: each class named for what the error is, each carrying AWS's code.

The wire ``code`` and HTTP ``status`` are AWS's; the envelope that carries them is the protocol
family's (:mod:`envelopes`).
"""

from __future__ import annotations

from typing import Any


class AWSError(Exception):
    """An error answered to the client in the service's error envelope."""

    code = "InternalFailure"
    status = 400

    def __init__(self, message: str, **fields: Any) -> None:
        super().__init__(message)
        self.message = message
        self.fields = fields


def error(name: str, status: int = 400, *, code: str | None = None) -> type[AWSError]:
    """An AWSError subclass called ``name`` that answers with AWS's ``code`` (``name`` unless
    they differ: AWS reuses one code for several errors): the error types are data, not code."""
    return type(name, (AWSError,), {"code": code or name, "status": status})


ValidationException = error("ValidationException")
SerializationException = error("SerializationException")
UnknownOperationException = error("UnknownOperationException")
ResourceInUse = error("ResourceInUse")
InternalFailure = error("InternalFailure", 500)
RequestEntityTooLarge = error("RequestEntityTooLarge", 413)  # a signed body over the guard's limit

# the query services' validation error, and sagemaker-runtime's
ValidationError = error("ValidationError")

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
