"""Matching a policy's strings: ``*`` and ``?`` wildcards in actions, resource ARNs and
``StringLike``/``ArnLike`` values, and policy variables (``${aws:username}``, with defaults and the
``${*}``, ``${?}``, ``${$}`` escapes) resolved from the request's context
(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html,
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_resource.html)."""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from cdlab.localcloud.iam.policy.values import Context

_VARIABLE = re.compile(r"\$\{([^}]*)\}")
_DEFAULT = re.compile(r"(.+?), '([^']*)'")


class Unresolved(Exception):
    """A policy variable without a value: it makes its statement not apply
    (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html)."""


# A string with wildcards as (text, wildcards active) pieces: the escapes ${*}, ${?}, ${$} and
# the values of policy variables are literal text.
Pieces = tuple[tuple[str, bool], ...]


@dataclass(frozen=True)
class _Variable:
    """``${key}`` or ``${key, 'default'}``."""

    key: str
    default: str | None

    def resolve(self, context: Context) -> tuple[str, bool]:
        values = context.get(self.key, ())
        if len(values) == 1:
            return values[0], False
        if self.default is None:
            raise Unresolved(self.key)
        return self.default, False


class Mode(enum.Enum):
    """How ``*`` and ``?`` match: anywhere in a string (actions, ``StringLike``); within the
    colon-separated segments of a Resource ARN, ``*`` crossing colons only at a segment's end
    (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_resource.html);
    within each of an ARN's six components (the ARN condition operators)."""

    STRING = "string"
    RESOURCE = "resource"
    ARN = "arn"


def glob_source(pieces: Pieces, mode: Mode) -> str:
    chars = [(c, wild) for text, wild in pieces for c in text]
    source, colons = [], 0
    for i, (c, wild) in enumerate(chars):
        if not wild or c not in "*?":
            colons += c == ":"
            source.append(re.escape(c))
            continue
        segment_end = i + 1 == len(chars) or chars[i + 1][0] == ":"
        within = (mode is Mode.RESOURCE and not (c == "*" and segment_end)) or (
            mode is Mode.ARN and colons < 5
        )
        source.append(("[^:]" if within else ".") + ("*" if c == "*" else ""))
    return "".join(source)


@lru_cache(maxsize=4096)
def _glob(pieces: Pieces, mode: Mode) -> re.Pattern[str]:
    return re.compile(glob_source(pieces, mode), re.DOTALL)


class Template:
    """A policy string, with its policy variables when the policy's Version supports them."""

    __slots__ = ("pieces", "static")

    def __init__(self, raw: str, variables: bool) -> None:
        pieces: list[tuple[str, bool] | _Variable] = []
        end = 0
        for match in _VARIABLE.finditer(raw) if variables else ():
            pieces.append((raw[end : match.start()], True))
            inner = match.group(1)
            if inner in ("*", "?", "$"):
                pieces.append((inner, False))
            else:
                default = _DEFAULT.fullmatch(inner)
                key, value = default.groups() if default else (inner, None)
                pieces.append(_Variable(key.strip().lower(), value))
            end = match.end()
        pieces.append((raw[end:], True))
        self.pieces = tuple(pieces)
        self.static = not any(isinstance(piece, _Variable) for piece in pieces)

    def resolve(self, context: Context) -> Pieces:
        return tuple(p.resolve(context) if isinstance(p, _Variable) else p for p in self.pieces)

    def text(self, context: Context) -> str:
        return "".join(text for text, _ in self.resolve(context))

    def pattern(self, context: Context, mode: Mode) -> re.Pattern[str]:
        return _glob(self.resolve(context), mode)


def union(sources: Iterable[str], flags: int = 0) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{source})" for source in sources), re.DOTALL | flags)


class Patterns:
    """A Resource or NotResource element: its static values as one regular expression, the values
    with policy variables resolved per request (all of them, so an unresolved one voids the
    statement even when another value matches)."""

    __slots__ = ("dynamic", "mode", "static")

    def __init__(self, values: Sequence[str], mode: Mode, variables: bool) -> None:
        templates = [Template(value, variables) for value in values]
        static = [glob_source(t.resolve({}), mode) for t in templates if t.static]
        self.static = union(static) if static else None
        self.dynamic = tuple(t for t in templates if not t.static)
        self.mode = mode

    def match(self, value: str, context: Context) -> bool:
        patterns = [t.pattern(context, self.mode) for t in self.dynamic]
        if self.static is not None and self.static.fullmatch(value):
            return True
        return any(p.fullmatch(value) for p in patterns)
