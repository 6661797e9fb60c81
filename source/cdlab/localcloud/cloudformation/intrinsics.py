"""CloudFormation's intrinsic functions and condition functions, evaluated on template values.

A value is resolved in a `Scope`: parameter values (pseudo parameters included), evaluated
conditions, mappings, and callbacks for a resource's Ref and attributes. While a change set is
planned, a resource that does not exist yet has no Ref: the callbacks answer `Unknown`, which
spreads through any function that uses it, as CloudFormation's change sets show "Dynamic" values.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cdlab.localcloud.protocols.errors import ValidationError


class _NoValue:
    """``AWS::NoValue``: the property (or list item) it stands for is removed."""

    def __repr__(self) -> str:
        return "AWS::NoValue"


NO_VALUE = _NoValue()


@dataclass(frozen=True)
class Unknown:
    """A value that exists only once a resource has been created (e.g. a generated name)."""

    what: str


SUB_VARIABLE = re.compile(r"\$\{([^}]*)\}")
REFUSED = {
    "Fn::ImportValue": "cross-stack imports",
    "Fn::Cidr": "Fn::Cidr",
    "Fn::Length": "Fn::Length (AWS::LanguageExtensions)",
    "Fn::ToJsonString": "Fn::ToJsonString (AWS::LanguageExtensions)",
    "Fn::Transform": "transforms",
}
FUNCTIONS = {
    "Ref", "Fn::GetAtt", "Fn::Sub", "Fn::Join", "Fn::If", "Fn::Equals", "Fn::Not", "Fn::And",
    "Fn::Or", "Fn::Select", "Fn::Split", "Fn::FindInMap", "Fn::Base64", "Fn::GetAZs", *REFUSED,
}  # fmt: skip


def template_error(message: str) -> ValidationError:
    return ValidationError(f"Template error: {message}")


@dataclass
class Scope:
    parameters: dict[str, Any]
    conditions: dict[str, bool] = field(default_factory=dict)
    mappings: dict[str, Any] = field(default_factory=dict)
    resources: frozenset[str] = frozenset()
    ref: Callable[[str], Any] = lambda name: Unknown(name)
    get_att: Callable[[str, str], Any] = lambda name, attr: Unknown(f"{name}.{attr}")
    region: str = "us-east-1"


def function_of(value: Any) -> tuple[str, Any] | None:
    """``(name, argument)`` if ``value`` is an intrinsic function call, else None."""
    if isinstance(value, dict) and len(value) == 1:
        [(name, argument)] = value.items()
        if name in FUNCTIONS:
            return name, argument
    return None


def resolve(value: Any, scope: Scope) -> Any:
    """``value`` with every intrinsic function evaluated and every AWS::NoValue removed."""
    call = function_of(value)
    if call is not None:
        return _CALLS[call[0]](call[1], scope)
    if isinstance(value, dict):
        resolved = {key: resolve(item, scope) for key, item in value.items()}
        return {key: item for key, item in resolved.items() if item is not NO_VALUE}
    if isinstance(value, list):
        return [item for item in (resolve(v, scope) for v in value) if item is not NO_VALUE]
    return value


def condition(value: Any, scope: Scope) -> bool:
    """A condition expression (a condition function or ``{"Condition": name}``) as a bool."""
    if isinstance(value, dict) and set(value) == {"Condition"}:
        name = value["Condition"]
        if name not in scope.conditions:
            raise template_error(f"unresolved condition dependency {name} in Fn::If")
        return scope.conditions[name]
    result = resolve(value, scope)
    if isinstance(result, bool):
        return result
    if str(result).lower() in ("true", "false"):
        return str(result).lower() == "true"
    raise template_error(f"a condition must evaluate to true or false, not {result!r}")


def _args(name: str, argument: Any, count: int) -> list[Any]:
    if not isinstance(argument, list) or len(argument) != count:
        raise template_error(f"{name} needs a list of {count} values, got {argument!r}")
    return argument


def _text(value: Any, where: str) -> str | Unknown:
    if isinstance(value, Unknown | str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    raise template_error(f"{where} does not resolve to a string: {value!r}")


def _ref(name: Any, scope: Scope) -> Any:
    if not isinstance(name, str):
        raise template_error(f"Ref needs the name of a parameter or resource, got {name!r}")
    if name in scope.parameters:
        return scope.parameters[name]
    if name in scope.resources:
        return scope.ref(name)
    raise ValidationError(
        f"Template format error: Unresolved resource dependencies [{name}] in the Resources "
        "block of the template"
    )


def get_att_target(argument: Any, scope: Scope | None = None) -> tuple[str, Any]:
    """The ``(resource, attribute)`` of a Fn::GetAtt, in its string or its list form."""
    if isinstance(argument, str) and "." in argument:
        name, attribute = argument.split(".", 1)
        return name, attribute
    if isinstance(argument, list) and len(argument) == 2 and isinstance(argument[0], str):
        attribute = resolve(argument[1], scope) if scope is not None else argument[1]
        return argument[0], attribute
    raise template_error(
        f"Fn::GetAtt needs [resource, attribute] or 'resource.attribute', got {argument!r}"
    )


def _get_att(argument: Any, scope: Scope) -> Any:
    name, attribute = get_att_target(argument, scope)
    if name not in scope.resources:
        raise template_error(f"instance of Fn::GetAtt references undefined resource {name}")
    return scope.get_att(name, attribute)


def sub_parts(argument: Any) -> tuple[str, dict[str, Any]]:
    """The template string and the variable map of a Fn::Sub."""
    if isinstance(argument, str):
        return argument, {}
    if (
        isinstance(argument, list)
        and len(argument) == 2
        and isinstance(argument[0], str)
        and isinstance(argument[1], dict)
    ):
        return argument[0], argument[1]
    raise template_error(f"Fn::Sub needs a string or [string, {{variables}}], got {argument!r}")


def _sub(argument: Any, scope: Scope) -> Any:
    text, variables = sub_parts(argument)
    values = {key: resolve(value, scope) for key, value in variables.items()}
    unknown: list[Unknown] = []

    def replace(match: re.Match[str]) -> str:
        name = match[1].strip()
        if name.startswith("!"):
            return "${" + name[1:] + "}"
        if name in values:
            value = values[name]
        elif "." in name and name.split(".", 1)[0] in scope.resources:
            value = _get_att(name, scope)
        else:
            value = _ref(name, scope)
        value = _text(value, f"variable {name} in Fn::Sub expression")
        if isinstance(value, Unknown):
            unknown.append(value)
            return ""
        return value

    result = SUB_VARIABLE.sub(replace, text)
    return unknown[0] if unknown else result


def _join(argument: Any, scope: Scope) -> Any:
    delimiter, items = _args("Fn::Join", argument, 2)
    items = resolve(items, scope)
    if isinstance(items, Unknown):
        return items
    if not isinstance(items, list):
        raise template_error(f"Fn::Join needs a list of values, got {items!r}")
    texts = [_text(item, "a value in Fn::Join") for item in items]
    unknown = [t for t in texts if isinstance(t, Unknown)]
    return unknown[0] if unknown else str(delimiter).join(texts)  # type: ignore[arg-type]


def _if(argument: Any, scope: Scope) -> Any:
    name, when_true, when_false = _args("Fn::If", argument, 3)
    return resolve(when_true if condition({"Condition": name}, scope) else when_false, scope)


def _equals(argument: Any, scope: Scope) -> bool:
    left, right = (resolve(v, scope) for v in _args("Fn::Equals", argument, 2))
    return _text(left, "Fn::Equals") == _text(right, "Fn::Equals")


def _not(argument: Any, scope: Scope) -> bool:
    return not condition(_args("Fn::Not", argument, 1)[0], scope)


def _all_conditions(name: str, argument: Any, scope: Scope) -> list[bool]:
    if not isinstance(argument, list) or not 2 <= len(argument) <= 10:
        raise template_error(f"{name} needs a list of 2 to 10 conditions, got {argument!r}")
    return [condition(item, scope) for item in argument]


def _select(argument: Any, scope: Scope) -> Any:
    index, items = (resolve(v, scope) for v in _args("Fn::Select", argument, 2))
    if isinstance(items, Unknown):
        return items
    try:
        return items[int(index)]
    except (IndexError, TypeError, ValueError):
        raise template_error(
            f"Fn::Select cannot select nonexistent value at index {index}"
        ) from None


def _split(argument: Any, scope: Scope) -> Any:
    delimiter, text = (resolve(v, scope) for v in _args("Fn::Split", argument, 2))
    if isinstance(text, Unknown):
        return text
    return _text(text, "Fn::Split").split(delimiter)  # type: ignore[union-attr]


def _find_in_map(argument: Any, scope: Scope) -> Any:
    keys = [_text(resolve(v, scope), "Fn::FindInMap") for v in _args("Fn::FindInMap", argument, 3)]
    try:
        return scope.mappings[keys[0]][keys[1]][keys[2]]
    except (KeyError, TypeError):
        raise template_error(f"Unable to get mapping for {'::'.join(map(str, keys))}") from None


def _base64(argument: Any, scope: Scope) -> Any:
    text = _text(resolve(argument, scope), "Fn::Base64")
    return text if isinstance(text, Unknown) else base64.b64encode(text.encode()).decode()


def _refused(name: str) -> Callable[[Any, Scope], Any]:
    def refuse(_argument: Any, _scope: Scope) -> Any:
        raise template_error(f"the local cloud does not provide {REFUSED[name]} ({name}).")

    return refuse


_CALLS: dict[str, Callable[[Any, Scope], Any]] = {
    "Ref": lambda a, s: _ref(a, s),
    "Fn::GetAtt": _get_att,
    "Fn::Sub": _sub,
    "Fn::Join": _join,
    "Fn::If": _if,
    "Fn::Equals": _equals,
    "Fn::Not": _not,
    "Fn::And": lambda a, s: all(_all_conditions("Fn::And", a, s)),
    "Fn::Or": lambda a, s: any(_all_conditions("Fn::Or", a, s)),
    "Fn::Select": _select,
    "Fn::Split": _split,
    "Fn::FindInMap": _find_in_map,
    "Fn::Base64": _base64,
    "Fn::GetAZs": lambda _a, s: [f"{s.region}{zone}" for zone in "abc"],
    **{name: _refused(name) for name in REFUSED},
}
