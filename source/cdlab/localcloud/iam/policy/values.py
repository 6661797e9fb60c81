"""The values of policies and requests as the evaluation compares them: strings. A policy
element's value is a string, number or boolean or a list of them; a condition context key's is a
tuple of strings (:data:`Context`). :class:`PolicyError` is raised for a document outside the
grammar."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

Context = Mapping[str, tuple[str, ...]]


class PolicyError(ValueError):
    """A policy document the local cloud refuses: not JSON, outside the policy grammar
    (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_grammar.html), or using
    an operator it does not evaluate."""


def scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    raise TypeError(f"condition context values are strings, numbers or booleans, not {value!r}")


def strings(value: Any, what: str) -> tuple[str, ...]:
    values = value if isinstance(value, list) else [value]
    if not values or not all(isinstance(v, str | bool | int | float) for v in values):
        raise PolicyError(f"{what} is a string or a non-empty list of strings, not {value!r}")
    return tuple(map(scalar, values))
