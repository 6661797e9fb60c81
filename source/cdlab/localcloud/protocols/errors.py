"""AWS errors as exceptions, named and worded as AWS has them."""

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


def error(code: str, status: int = 400) -> type[AWSError]:
    """An AWSError subclass for ``code``: the error types are data, not code."""
    return type(code, (AWSError,), {"code": code, "status": status})


ValidationException = error("ValidationException")
SerializationException = error("SerializationException")
UnknownOperationException = error("UnknownOperationException")
ResourceNotFound = error("ResourceNotFound")
ResourceLimitExceeded = error("ResourceLimitExceeded")
ResourceInUse = error("ResourceInUse")
InternalFailure = error("InternalFailure", 500)

# sagemaker-runtime
ValidationError = error("ValidationError")
ModelError = error("ModelError", 424)
ModelNotReadyException = error("ModelNotReadyException", 429)
ServiceUnavailable = error("ServiceUnavailable", 503)
PayloadTooLarge = error("ValidationError", 413)
