"""InvokeEndpoint held to botocore's model, as SageMaker holds it.

botocore checks none of the lengths and patterns of InvokeEndpoint's members before it sends a
request; SageMaker does. So the endpoint's name in the URI and each member a header carries (a
name's pattern for TargetVariant; at most 1024 characters for CustomAttributes, ContentType and
Accept; 1 to 64 for InferenceId ...) are checked here against the model's bounds, and a request
that breaks one is refused with the runtime's ``ValidationError`` in AWS's validation wording
(:func:`awsjson.member_violations`): the value left out for a member the model marks sensitive,
as AWS leaves it out (``Value at 'username' failed to satisfy constraint``, a Cognito refusal in
https://github.com/massif-press/compcon/issues/1951). Every invocation passes here, so only the
members a request carries are checked (about 2 µs of Python, hot), and the message is made only
for a request that breaks one.
"""

from __future__ import annotations

import re
import sys
from typing import NamedTuple

from botocore.model import Shape

from cdlab.localcloud.protocols import awsjson
from cdlab.localcloud.protocols.errors import ValidationError
from cdlab.localcloud.protocols.signatures import Headers


class _Member(NamedTuple):
    """A member of InvokeEndpoint's input the URI or a header carries, and its bounds."""

    header: str | None  # None: the URI's EndpointName
    path: str  # as AWS's validation message names it: customAttributes
    shape: Shape
    low: int
    high: int
    pattern: re.Pattern[str] | None
    values: frozenset[str] | None  # the enum's, if the model gives one


def _members() -> tuple[_Member, ...]:
    model = awsjson.service_model("sagemaker-runtime").operation_model("InvokeEndpoint")
    shape = model.input_shape
    assert shape is not None
    members = []
    for name, member in shape.members.items():
        location = member.serialization.get("location")
        if location not in ("uri", "header"):
            continue  # the body: its size is checked first
        meta = member.metadata
        pattern = awsjson.compiled(meta["pattern"]) if "pattern" in meta else None
        header = member.serialization["name"] if location == "header" else None
        bounds = meta.get("min", 0), meta.get("max", sys.maxsize)
        values = frozenset(member.enum) if member.enum else None
        members.append(_Member(header, awsjson.camel(name), member, *bounds, pattern, values))
    return tuple(members)


MEMBERS = _members()
NAME = next(member for member in MEMBERS if member.header is None)
BY_HEADER = {member.header.lower(): member for member in MEMBERS if member.header is not None}


def _fits(member: _Member, value: str) -> bool:
    """Whether ``value`` passes every check :func:`awsjson.member_violations` makes of a
    string: length, enum, pattern (precomputed here, so that a passing request costs little)."""
    return (
        member.low <= len(value) <= member.high
        and (member.values is None or value in member.values)
        and (member.pattern is None or member.pattern.fullmatch(value) is not None)
    )


def refusal(name: str, headers: Headers) -> ValidationError | None:
    """SageMaker's refusal of an invocation whose name or headers break botocore's model of
    InvokeEndpoint, or None."""
    if not _fits(NAME, name):
        return _refused(name, headers)
    for key, value in headers.items():
        member = BY_HEADER.get(key.lower())
        if member is not None and not _fits(member, value):
            return _refused(name, headers)
    return None


def _refused(name: str, headers: Headers) -> ValidationError:
    problems = awsjson.member_violations(name, NAME.shape, NAME.path)
    for key, value in headers.items():
        member = BY_HEADER.get(key.lower())
        if member is not None:
            problems += awsjson.member_violations(value, member.shape, member.path)
    return ValidationError(awsjson.detected(problems))
