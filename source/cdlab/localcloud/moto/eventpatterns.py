"""Whether EventBridge takes an event pattern, and if not why, in its words.

EventBridge matches events with Event Ruler, which AWS open-sourced as "a key technology that
powers EventBridge" (https://aws.amazon.com/blogs/opensource/open-sourcing-event-ruler/); its
``JsonRuleCompiler`` (https://github.com/aws/event-ruler, ``src/main/software/amazon/event/ruler/
JsonRuleCompiler.java``) refuses a pattern with the reasons checked here, in its words, which
EventBridge sends back after "Event pattern is not valid. Reason: " (InvalidEventPatternException).
AWS's answers quoted by users and recorded against AWS: "Empty objects are not allowed"
(cloud-custodian/cloud-custodian#6507, for ``{"source": ["aws.health"], "detail": {}}``),
"suffix match pattern must be a string" (aws/aws-cdk#32492), "Unrecognized match type NUMERIC",
"\\"int\\" must be an object or an array", "Filter is not an object", "Value of < must be
numeric", "Null prefix/suffix not allowed" and more (localstack/localstack's
``tests/aws/services/events/test_events_patterns.snapshot.json``, recorded against AWS).
AWS's messages end with the parser's position (``at [Source: ...; line: 1, column: 40]``),
which the local cloud leaves out, as moto does.

Moto checked only that each value is an object or a non-empty array: an empty object, a match
type it does not know (``{"bogus": "x"}``, which its matcher then takes as matching every
event), a prefix given as a list, ``{}`` itself were all kept. Beyond the compiler, the local
cloud refuses the match type ``exactly``, which the compiler knows but EventBridge's list of
comparison operators does not
(https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-create-pattern-operators.html) and
moto's matcher would take as matching every event (the kit's words). Not checked: the
compiler's limits on a rule's complexity and on the range of numbers.
"""

from __future__ import annotations

import ipaddress
import json
import re
from typing import Any

NOT_EVALUATED = ("exactly",)  # known to Event Ruler, not evaluated by moto's matcher
STRING_TYPES = ("prefix", "suffix", "equals-ignore-case", "wildcard")
ANYTHING_BUT_SETS = ("equals-ignore-case", "prefix", "suffix", "wildcard")
RESERVED_IN_OR = (
    "exactly", "equals-ignore-case", "prefix", "suffix", "anything-but", "exists", "wildcard",
    "numeric", "cidr", "=", "<", "<=", ">", ">=", "regex", "not-wildcard",
    "not-equals-ignore-case", "date-after", "date-on-or-after", "date-before",
    "date-on-or-before", "in-date-range", "ip-address-in-range", "ip-address-not-in-range",
)  # fmt: skip
IPV4 = re.compile(r"[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+")
IPV6 = re.compile(r"[0-9a-fA-F:]*:[0-9a-fA-F:]*")


class Refused(Exception):
    """The reason EventBridge gives for refusing a pattern."""


def refusal(raw: str) -> str | None:
    """Why EventBridge refuses the pattern ``raw`` (JSON text), in its words after "Reason: ";
    None if it takes it."""
    try:
        pattern = json.loads(raw)
    except ValueError:
        return "Invalid JSON"  # moto's words; AWS gives its JSON parser's own
    try:
        if not isinstance(pattern, dict):
            raise Refused("Filter is not an object")
        _check_object(pattern, in_or=False)
    except Refused as refused:
        return str(refused)
    return None


def _check_object(node: dict[str, Any], in_or: bool) -> None:
    if not node:
        raise Refused("Empty objects are not allowed")
    for name, value in node.items():
        if name == "$or":
            _check_or(value)
            continue
        if in_or and name in RESERVED_IN_OR:
            raise Refused(f"{name} is Ruler reserved fieldName which cannot be used inside $or.")
        if isinstance(value, dict):
            _check_object(value, in_or)
        elif isinstance(value, list):
            _check_values(value)
        else:
            raise Refused(f'"{name}" must be an object or an array')


def _check_or(value: Any) -> None:
    if not isinstance(value, list):
        raise Refused("It must be an Array followed with $or.")
    for item in value:
        if not isinstance(item, dict):
            raise Refused("Only JSON object is allowed in array of $or relationship.")
        _check_object(item, in_or=True)
    if len(value) < 2:
        raise Refused("There must have at least 2 Objects in $or relationship.")


def _check_values(values: list[Any]) -> None:
    if not values:
        raise Refused("Empty arrays are not allowed")
    for value in values:
        if isinstance(value, dict):
            _check_match(value)
        elif isinstance(value, list):
            raise Refused("Match value must be String, number, true, false, or null")


def _check_match(expression: dict[str, Any]) -> None:
    """A match expression: ``{"prefix": "us-"}``, ``{"numeric": [">", 0]}`` ..."""
    if not expression:
        raise Refused("Match expression name not found")
    (name, value), *others = expression.items()
    if name in STRING_TYPES:
        _check_string_match(name, value)
    elif name == "numeric":
        if not isinstance(value, list):
            raise Refused("Value of numeric must be an array.")
        _check_numeric(value)
    elif name == "anything-but":
        _check_anything_but(value)
    elif name == "exists":
        if not isinstance(value, bool):
            raise Refused("exists match pattern must be either true or false.")
    elif name == "cidr":
        if not isinstance(value, str):
            raise Refused("prefix match pattern must be a string")  # sic, the compiler's words
        _check_cidr(value)
    elif name in NOT_EVALUATED:
        raise Refused(f"the local cloud does not evaluate the match type {name}")
    else:
        raise Refused(f"Unrecognized match type {name}")
    if others:
        too_many = name in ("numeric", "anything-but")
        raise Refused(
            "Too many elements in numeric expression"
            if too_many
            else "Only one key allowed in match expression"
        )


def _check_string_match(name: str, value: Any) -> None:
    """prefix, suffix, equals-ignore-case, wildcard: a string; prefix and suffix also
    ``{"equals-ignore-case": "..."}``."""
    if name in ("prefix", "suffix") and isinstance(value, dict):
        if not value:
            raise Refused(f"{name.capitalize()} expression name not found")
        (inner, text), *others = value.items()
        if inner != "equals-ignore-case":
            raise Refused(f"Unsupported {name} pattern: {inner}")
        if not isinstance(text, str):
            raise Refused("equals-ignore-case match pattern must be a string")
        if others:
            raise Refused("Only one key allowed in match expression")
        return
    if not isinstance(value, str):
        raise Refused(f"{name} match pattern must be a string")
    if name == "wildcard":
        _check_wildcard(value)


def _check_wildcard(text: str) -> None:
    """Event Ruler's WildcardParser, which reads the value with its quotes (positions count the
    opening one) as UTF-8 bytes."""
    data = f'"{text}"'.encode()
    i = 0
    while i < len(data):
        if data[i : i + 2] == b"**":
            raise Refused(f"Consecutive wildcard characters at pos {i}")
        if data[i : i + 1] == b"\\":
            if data[i + 1 : i + 2] not in (b"*", b"\\"):
                raise Refused(f"Invalid escape character at pos {i}")
            i += 1
        i += 1


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _check_numeric(terms: list[Any]) -> None:
    if not terms or not isinstance(terms[0], str):
        shown = json.dumps(terms[0]) if terms else "]"
        raise Refused(f"Invalid member in numeric match: {shown.strip(chr(34))}")
    operator, rest = terms[0], terms[1:]
    if operator not in ("=", ">=", ">", "<=", "<"):
        raise Refused(f"Unrecognized numeric range operator: {operator}")
    if not rest or not _is_number(rest[0]):
        raise Refused(f"Value of {'equals' if operator == '=' else operator} must be numeric")
    if len(rest) == 1:
        return
    if operator not in (">=", ">"):
        raise Refused("Too many elements in numeric expression")
    top = rest[1]
    if not isinstance(top, str):
        raise Refused(f"Bad value in numeric range: {json.dumps(top)}")
    if top not in ("<", "<="):
        raise Refused(f"Bad numeric range operator: {top}")
    if len(rest) < 3 or not _is_number(rest[2]):
        raise Refused(f"Value of {top} must be numeric")
    if len(rest) > 3:
        raise Refused("Too many terms in numeric range expression")


def _check_anything_but(value: Any) -> None:
    kind = None
    if isinstance(value, dict):
        if not value:
            raise Refused("Anything-But expression name not found")
        (kind, value), *others = value.items()
        if kind not in ANYTHING_BUT_SETS:
            raise Refused(f"Unsupported anything-but pattern: {kind}")
        if others:
            raise Refused("Too many elements in numeric expression")
    if not (isinstance(value, list | str) or _is_number(value)):
        raise Refused("Value of anything-but must be an array or single string/number value.")
    values = value if isinstance(value, list) else [value]
    if kind is None:
        _check_anything_but_values(values, listed=isinstance(value, list))
        return
    for item in values:
        if not isinstance(item, str):
            raise Refused(
                "Inside anything-but/equals-ignore-case list, number|start|null|boolean is "
                "not supported."
                if kind == "equals-ignore-case"
                else "wildcard match pattern must be a string"
                if kind == "wildcard"
                else "prefix/suffix match pattern must be a string"
            )
        if kind in ("prefix", "suffix") and not item:
            raise Refused("Null prefix/suffix not allowed")
        if kind == "wildcard":
            _check_wildcard(item)


def _check_anything_but_values(values: list[Any], listed: bool) -> None:
    """Plain anything-but: strings or numbers, not both."""
    for item in values:
        if not (isinstance(item, str) or _is_number(item)):
            raise Refused(
                f"Inside anything{' ' if listed else '-'}but list, start|null|boolean is not "
                "supported."
            )
    kinds = {isinstance(item, str) for item in values}
    if len(kinds) != 1:
        raise Refused(
            "Inside anything but list, either all values are number or string, mixed type is "
            "not supported"
        )


def _check_cidr(cidr: str) -> None:
    """Event Ruler's CIDR.cidr."""
    parts = cidr.split("/")
    if len(parts) != 2:
        raise Refused("Malformed CIDR, one '/' required")
    address, bits = parts
    if not re.fullmatch(r"[+-]?[0-9]+", bits):
        raise Refused("Malformed CIDR, mask bits must be an integer")
    mask = int(bits)
    if mask < 0:
        raise Refused("Malformed CIDR, mask bits must not be negative")
    if not (IPV4.fullmatch(address) or IPV6.fullmatch(address)):
        raise Refused(f"Nonstandard IP address: {address}")
    try:
        version = ipaddress.ip_address(address).version
    except ValueError:
        raise Refused(f"Invalid IP address: {address}") from None
    if version == 4 and mask > 31:
        raise Refused("IPv4 mask bits must be < 32")
    if version == 6 and mask > 127:
        raise Refused("IPv6 mask bits must be < 128")
