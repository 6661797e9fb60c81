"""What an AWS client's refused call comes back with, for tests to compare whole."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError


def refused(call: Callable[..., Any], **kwargs: Any) -> tuple[str, str, int]:
    """The (error code, message, HTTP status) of ``call(**kwargs)``, which must fail."""
    with pytest.raises(ClientError) as info:
        call(**kwargs)
    response = info.value.response
    return (
        response["Error"]["Code"],
        response["Error"].get("Message", ""),
        response["ResponseMetadata"]["HTTPStatusCode"],
    )
