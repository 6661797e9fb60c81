"""What EventBridge refuses in a rule's pattern and targets, and TestEventPattern, which moto
accepts or leaves a stub.

Patterns: PutRule (and an archive's pattern) is refused with InvalidEventPatternException for
the reasons in :mod:`eventpatterns`. Moto's parser is wrapped, so a pattern from the API, a
stack's ``AWS::Events::Rule`` or a journal's replay is held to the same rules.

Targets (PutTargets, from the API or a stack's rule):

- a CodePipeline, CodeBuild or Step Functions target without ``RoleArn`` is refused with
  ValidationException, "RoleArn is required for target arn:aws:codepipeline:...:MyPipeline."
  (the CLI's answer in awsdocs/aws-codepipeline-user-guide#18; the same for a CodeBuild
  project in a stack, awsdocs/aws-cloudformation-user-guide#1178, and a state machine,
  hashicorp/terraform-provider-aws#19913). EventBridge invokes these with the role: "For EC2
  instances, Kinesis Data Streams, AWS Step Functions state machines and API Gateway APIs,
  EventBridge relies on IAM roles that you specify in the RoleARN argument in PutTargets"
  (https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_PutTargets.html). Moto
  refuses it as an exception, not a FailedEntries member, as AWS does: the CLI reports it as
  "An error occurred (ValidationException) when calling the PutTargets operation".
- "Each rule can have up to five (5) targets associated with it at one time" (the same page): a
  PutTargets that would leave a rule more than five is refused with LimitExceededException, "The
  requested resource exceeds the maximum number allowed." (aws-cloudformation/cfn-lint#306,
  quoting the CLI at six targets; 18F/identity-terraform#121), a target whose Id the rule has
  replacing it rather than adding one.

TestEventPattern (https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_TestEventPattern.html)
is a stub in moto that answers ``{}``; here it answers ``{"Result": true|false}`` with the matcher
the local EventBridge routes events with (moto's ``EventPattern.matches_event``), after the same
checks of the pattern. An event that is not a JSON object with ``id``, ``account``, ``source``,
``time``, ``region`` and ``detail-type`` is refused with ValidationException, "Parameter Event is
not valid." (localstack/localstack's ``test_events_patterns.snapshot.json``, recorded against
AWS). The API reference lists ``resources`` as mandatory too, yet the events recorded there
match without it, so it is not required here.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from moto.core.exceptions import JsonRESTError
from moto.events.exceptions import InvalidEventPatternException, ValidationException
from moto.events.models import EventPattern, EventPatternParser, EventsBackend
from moto.events.responses import EventsHandler

from cdlab.localcloud.moto import eventpatterns
from cdlab.localcloud.moto.wrapping import wrap_once

ROLE_SERVICES = ("codepipeline", "codebuild", "states")  # targets invoked with a RoleArn
MAX_TARGETS = 5
EVENT_FIELDS = ("id", "account", "source", "time", "region", "detail-type")
INVALID_EVENT = "Parameter Event is not valid."
TOO_MANY = "The requested resource exceeds the maximum number allowed."


def install() -> None:
    wrap_once(EventPatternParser, "parse", _checking_patterns)
    wrap_once(EventsBackend, "put_targets", _checking_targets)
    wrap_once(EventsHandler, "test_event_pattern", _testing_patterns)


def role_refusal(target: dict[str, Any]) -> str | None:
    """Why EventBridge refuses ``target`` (a PutTargets member) for want of a role; None if it
    does not."""
    arn = target.get("Arn")
    if not isinstance(arn, str) or target.get("RoleArn"):
        return None
    service = arn.split(":")[2] if arn.count(":") >= 5 else ""
    return f"RoleArn is required for target {arn}." if service in ROLE_SERVICES else None


def _checking_patterns(parse: Callable[..., dict[str, Any]]) -> Callable[..., dict[str, Any]]:
    def checked_parse(parser: EventPatternParser) -> dict[str, Any]:
        if parser.pattern:  # none: a scheduled rule's
            reason = eventpatterns.refusal(parser.pattern)
            if reason is not None:
                raise InvalidEventPatternException(reason=reason)
        return parse(parser)

    return checked_parse


def _checking_targets(put: Callable[..., None]) -> Callable[..., None]:
    def put_targets(
        backend: EventsBackend, name: str, event_bus_arn: str | None, targets: list[dict[str, Any]]
    ) -> None:
        for target in targets:
            refused = role_refusal(target)
            if refused is not None:
                raise ValidationException(refused)
        bus = backend.event_buses.get(backend._normalize_event_bus_arn(event_bus_arn))
        rule = bus.rules.get(name) if bus is not None else None
        if rule is not None:  # else moto's own ResourceNotFoundException
            ids = {t["Id"] for t in rule.targets} | {t.get("Id") for t in targets}
            if len(ids) > MAX_TARGETS:
                raise JsonRESTError("LimitExceededException", TOO_MANY)
        put(backend, name, event_bus_arn, targets)

    return put_targets


def pattern_result(event_text: Any, pattern_text: Any) -> bool:
    """TestEventPattern's Result: whether the event matches the pattern, as the local
    EventBridge matches it; refused as EventBridge refuses either."""
    if not isinstance(pattern_text, str):
        raise InvalidEventPatternException(reason="Invalid JSON")
    reason = eventpatterns.refusal(pattern_text)
    if reason is not None:
        raise InvalidEventPatternException(reason=reason)
    try:
        event = json.loads(event_text) if isinstance(event_text, str) else None
    except ValueError:
        event = None
    if not isinstance(event, dict) or any(field not in event for field in EVENT_FIELDS):
        raise ValidationException(INVALID_EVENT)
    return EventPattern.load(pattern_text).matches_event(event)


def _testing_patterns(_stub: Callable[..., Any]) -> Callable[..., Any]:
    def answer(handler: EventsHandler) -> tuple[str, dict[str, Any]]:
        result = pattern_result(handler._get_param("Event"), handler._get_param("EventPattern"))
        return json.dumps({"Result": result}), handler.response_headers

    return answer
