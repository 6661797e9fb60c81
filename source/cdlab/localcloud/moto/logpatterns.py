"""FilterLogEvents' ``filterPattern`` (and ``aws logs tail --filter-pattern``) as CloudWatch Logs
evaluates its terms, and a clear refusal of the syntax the local cloud does not evaluate.

The syntax (https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/FilterAndPatternSyntax.html):
terms separated by spaces must all appear in an event ("all terms must appear in a log event
for there to be a match"), "Filter patterns are case sensitive", a term matches within a word
(``ERROR`` matches "ERRORCODE"); ``?term`` is OR ("Use a question mark for OR, such as
?term": ``?ERROR ?WARN`` matches events with either); ``-term`` excludes ("To exclude a term,
use a minus sign (-) before the term": ``ERROR -WARN`` matches events with ERROR and without
WARN); "Enclose exact phrases and terms that include non-alphanumeric characters in double
quotation marks". An empty pattern matches every event. How ``?`` terms combine with plain ones
the guide does not say; here an event needs every plain term, none of the excluded ones and, if
there are ``?`` terms, one of them (the kit's reading).

Refused with InvalidParameterException, in CloudWatch Logs' words as its users quote them: a
term with other characters than letters, digits and underscores outside quotes, or an empty
quoted one, "Invalid character(s) in term '?'" (dougmoscrop/serverless-plugin-log-subscription#47,
naming the characters; ``'""'`` for ``""``, DefangLabs/defang#1008;
ministryofjustice/modernisation-platform-environments#5137); a pattern that starts with ``{``
and does not end with ``}``, "If a filter pattern starts with '{' it must end with '}'"
(jorgebastida/awslogs#210); an operator with no term after it or a quote left open, "Invalid
filter pattern" (aws/aws-toolkit-jetbrains#3219 quotes those words; for these two cases they are
the kit's choice, AWS's exact answer is not known).

Not evaluated locally, and refused (InvalidParameterException, the kit's words naming what is
not evaluated) rather than matched against every event as moto did: JSON patterns
(``{ $.level = "error" }``), space-delimited ones (``[ip, user, status=404]``) and regular
expressions (``%ERROR%``). Moto evaluated only one plain or quoted term group, and matched
every event with anything else (``?a ?b``, ``-a``, a JSON pattern, even a malformed one).
"""

from __future__ import annotations

import string
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from moto.logs.exceptions import InvalidParameterException
from moto.logs.models import LogStream

from cdlab.localcloud.moto.wrapping import wrap_once

SYNTAX = "https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/FilterAndPatternSyntax.html"
TERM_CHARACTERS = frozenset(string.ascii_letters + string.digits + "_")
INVALID = "Invalid filter pattern"
UNCLOSED_JSON = "If a filter pattern starts with '{' it must end with '}'"
EVALUATED = 'terms, "quoted phrases", ?terms (any of them) and -terms (none of them)'


class PatternRefused(Exception):
    """Why CloudWatch Logs, or the local cloud, refuses a filter pattern."""


def not_evaluated(what: str) -> PatternRefused:
    return PatternRefused(
        f"The local cloud does not evaluate {what} in a filter pattern; it evaluates "
        f"{EVALUATED} ({SYNTAX})."
    )


@dataclass(frozen=True)
class FilterPattern:
    """A pattern of terms: every one of ``all_of``, none of ``none_of``, and one of ``any_of``
    if it has any."""

    all_of: tuple[str, ...] = ()
    any_of: tuple[str, ...] = ()
    none_of: tuple[str, ...] = ()

    def matches(self, message: str) -> bool:
        return (
            all(term in message for term in self.all_of)
            and not any(term in message for term in self.none_of)
            and (not self.any_of or any(term in message for term in self.any_of))
        )


def parse(pattern: str | None) -> FilterPattern:
    """``pattern`` as the local cloud evaluates it; :class:`PatternRefused` if CloudWatch Logs
    refuses it or the local cloud does not evaluate it."""
    text = (pattern or "").strip()
    if text.startswith("{") and not text.endswith("}"):
        raise PatternRefused(UNCLOSED_JSON)
    if text.startswith("{"):
        raise not_evaluated("JSON patterns ({ ... })")
    if text.startswith("["):
        raise not_evaluated("space-delimited patterns ([ ... ])")
    groups: dict[str, list[str]] = {"": [], "?": [], "-": []}
    for operator, term in _terms(text):
        groups[operator].append(term)
    return FilterPattern(tuple(groups[""]), tuple(groups["?"]), tuple(groups["-"]))


def refusal(pattern: Any) -> str | None:
    """Why ``pattern`` (a request's ``filterPattern``) is refused; None if it is evaluated."""
    if pattern is not None and not isinstance(pattern, str):
        return None  # the model check's to refuse
    try:
        parse(pattern)
    except PatternRefused as refused:
        return str(refused)
    return None


def _terms(text: str) -> Iterator[tuple[str, str]]:
    """(operator, term) for each term of ``text``: operator ``""``, ``"?"`` or ``"-"``."""
    i = 0
    while i < len(text):
        if text[i].isspace():
            i += 1
            continue
        operator = text[i] if text[i] in "?-" else ""
        i += len(operator)
        if i == len(text) or text[i].isspace():
            raise PatternRefused(INVALID)
        if text[i] == '"':
            term, i = _quoted(text, i)
        else:
            end = next((j for j in range(i, len(text)) if text[j].isspace()), len(text))
            term, i = _word(text[i:end]), end
        yield operator, term


def _quoted(text: str, start: int) -> tuple[str, int]:
    """The phrase quoted at ``start`` (a backslash takes the next character as it is), and
    where it ends."""
    phrase, i = [], start + 1
    while i < len(text) and text[i] != '"':
        if text[i] == "\\" and i + 1 < len(text):
            i += 1
        phrase.append(text[i])
        i += 1
    if i == len(text) or (i + 1 < len(text) and not text[i + 1].isspace()):
        raise PatternRefused(INVALID)  # open, or followed by more than a space
    if not phrase:
        raise PatternRefused("Invalid character(s) in term '\"\"'")
    return "".join(phrase), i + 1


def _word(word: str) -> str:
    if word.startswith("%"):
        raise not_evaluated("regular expressions (%...%)")
    invalid = dict.fromkeys(c for c in word if c not in TERM_CHARACTERS)
    if invalid:
        raise PatternRefused(f"Invalid character(s) in term '{''.join(invalid)}'")
    return word


def install() -> None:
    """Wrap moto's search of a stream so that it matches as :func:`parse` has it."""
    wrap_once(LogStream, "filter_log_events", _matching)


def _matching(search: Callable[..., list[dict[str, Any]]]) -> Callable[..., list[Any]]:
    def filter_log_events(
        stream: LogStream, start_time: int, end_time: int, filter_pattern: str | None
    ) -> list[dict[str, Any]]:
        try:
            pattern = parse(filter_pattern)
        except PatternRefused as refused:
            raise InvalidParameterException(msg=str(refused)) from None
        found = search(stream, start_time, end_time, "")  # moto's: every event in the range
        return [event for event in found if pattern.matches(event["message"])]

    return filter_log_events
