"""Listings moto does not page as AWS does, paged over moto's whole answer.

- CloudWatch's DescribeAlarms. Moto ignores ``MaxRecords`` and ``NextToken`` and answers every
  alarm at once, composite alarms whatever ``AlarmTypes`` says. AWS answers at most
  ``MaxRecords`` alarms a page (1 to 100), with a ``NextToken`` while more remain, refuses a
  token it did not give (InvalidNextToken), and answers the alarm types ``AlarmTypes`` names,
  only metric alarms when it names none
  (https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_DescribeAlarms.html);
  50 a page unless ``MaxRecords`` says otherwise (https://github.com/boto/boto/issues/3036).
  The pages go in name order, as AWS lists alarms.
- Application Auto Scaling's DescribeScalableTargets. Moto's ``NextToken`` is a page's length,
  not a position, so from the third page on moto answers the second again. AWS answers at most
  ``MaxResults`` targets a page (1 to 50, 50 unless given) and refuses a token it did not give
  (InvalidNextTokenException)
  (https://docs.aws.amazon.com/autoscaling/application/APIReference/API_DescribeScalableTargets.html).
  The pages go in the order of the targets' resource ids.
- Application Auto Scaling's DescribeScalingPolicies. Moto ignores ``PolicyNames`` and matches
  ``ResourceId`` and ``ScalableDimension`` as substrings of the ones asked. AWS answers the
  policies of those names, resource and dimension, at most ``MaxResults`` a page (1 to 10, 10
  unless given)
  (https://docs.aws.amazon.com/autoscaling/application/APIReference/API_DescribeScalingPolicies.html).
  The pages go in the order of the policies' resource ids, dimensions and names.

The bridge asks moto for the whole listing with the request's filters, over awsJson and signed
as the request was (moto reads the region and the caller from the signature), and keeps the page
the request asks for with the kit's paging helper (:mod:`cdlab.localcloud.protocols.paging`: the
token is a cursor, so an alarm made or deleted between two pages neither repeats nor skips
another). It answers in the request's protocol: awsJson, RPC v2 CBOR or query (CloudWatch speaks
all three). A request the operation's botocore model refuses is refused in that protocol's
words; CloudWatch has the awsQueryCompatible trait, so its JSON and CBOR refusals carry the query
protocol's code as well (a validation failure is a ValidationError), which the SDKs report.
"""

from __future__ import annotations

import dataclasses
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import web
from botocore.model import OperationModel, ServiceModel

from cdlab.localcloud.protocols import awsjson, modelcheck, paging, query, rpcv2cbor
from cdlab.localcloud.protocols.codecs import CBOR_CODEC
from cdlab.localcloud.protocols.errors import (
    AUTOSCALING_INVALID_TOKEN,
    CLOUDWATCH_INVALID_TOKEN,
    AWSError,
    InvalidNextToken,
    InvalidNextTokenException,
    error,
)
from cdlab.localcloud.protocols.modelcheck import Protocol

if TYPE_CHECKING:
    from cdlab.localcloud.moto.bridge import Answer, MotoRequest

Ask = Callable[["MotoRequest"], "Answer"]
Item = dict[str, Any]
# the headers that say a request's protocol: replaced when moto is asked over awsJson
PROTOCOL_HEADERS = frozenset(
    {"x-amz-target", "content-type", "content-length", "smithy-protocol", "accept",
     "x-amzn-query-mode"}
)  # fmt: skip
EVERY = 2**31 - 1  # a page size no listing reaches: moto answers all of it in one page


@dataclass(frozen=True)
class Listing:
    """One listing moto answers whole: the lists of items in its answer, the key its pages go
    by, its page sizes and its refusal of a token it did not give."""

    service: str  # botocore's model
    operation: str
    lists: tuple[str, ...]
    asked: Callable[[dict[str, Any]], tuple[str, ...]]  # the lists a request asks for
    key: Callable[[Item], list[Any]]  # unique among the listing's items
    limit: str  # the member that sizes a page
    size: int  # unless the request gives one
    refuse: paging.Refusal
    whole: dict[str, Any] = field(default_factory=dict)  # asked of moto, for every item
    kept: Callable[[Item, dict[str, Any]], bool] = lambda _item, _params: True  # moto's misses

    @property
    def model(self) -> ServiceModel:
        return awsjson.service_model(self.service)

    def page(self, answer: dict[str, Any], params: dict[str, Any], size: int) -> dict[str, Any]:
        """The page of moto's whole ``answer`` that ``params`` ask for, and the next page's
        token while items remain; the lists not asked for are empty."""
        asked = self.asked(params)
        items = [
            (kind, item)
            for kind in asked
            for item in answer.get(kind) or []
            if self.kept(item, params)
        ]
        shown, token = paging.page(
            items, lambda pair: self.key(pair[1]), params.get("NextToken"),
            listing=self.operation, size=size, refuse=self.refuse,
        )  # fmt: skip
        result: dict[str, Any] = {
            kind: [item for of, item in shown if of == kind]
            for kind in self.lists
            if kind in asked or kind in answer
        }
        return {**result, "NextToken": token} if token else result


def _alarm_types(params: dict[str, Any]) -> tuple[str, ...]:
    """The lists of alarms a DescribeAlarms asks for: its AlarmTypes', metric alarms if none."""
    return tuple(dict.fromkeys(f"{kind}s" for kind in params.get("AlarmTypes") or ["MetricAlarm"]))


ALARMS = Listing(
    "cloudwatch", "DescribeAlarms", ("MetricAlarms", "CompositeAlarms", "LogAlarms"),
    asked=_alarm_types, key=lambda alarm: [alarm["AlarmName"]],
    limit="MaxRecords", size=50,
    refuse=lambda _: InvalidNextToken(CLOUDWATCH_INVALID_TOKEN),
)  # fmt: skip
SCALABLE_TARGETS = Listing(
    "application-autoscaling", "DescribeScalableTargets", ("ScalableTargets",),
    asked=lambda _: ("ScalableTargets",),
    key=lambda target: [target["ResourceId"], target["ScalableDimension"]],
    limit="MaxResults", size=50,
    refuse=lambda _: InvalidNextTokenException(AUTOSCALING_INVALID_TOKEN),
    whole={"MaxResults": EVERY},
)  # fmt: skip


def _policy_asked(policy: Item, params: dict[str, Any]) -> bool:
    """Whether a scaling policy moto answered is one the request's filters name: moto ignores
    PolicyNames and matches the resource and dimension as substrings."""
    return (
        policy["PolicyName"] in params.get("PolicyNames", [policy["PolicyName"]])
        and policy["ResourceId"] == params.get("ResourceId", policy["ResourceId"])
        and policy["ScalableDimension"]
        == params.get("ScalableDimension", policy["ScalableDimension"])
    )


SCALING_POLICIES = Listing(
    "application-autoscaling", "DescribeScalingPolicies", ("ScalingPolicies",),
    asked=lambda _: ("ScalingPolicies",),
    key=lambda policy: [policy["ResourceId"], policy["ScalableDimension"], policy["PolicyName"]],
    limit="MaxResults", size=10,
    refuse=lambda _: InvalidNextTokenException(AUTOSCALING_INVALID_TOKEN),
    whole={"MaxResults": EVERY}, kept=_policy_asked,
)  # fmt: skip
LISTINGS = (ALARMS, SCALABLE_TARGETS, SCALING_POLICIES)


def paged(request: MotoRequest, ask: Ask) -> Answer | None:
    """On moto's thread: the page of a listing that ``request`` asks for, kept from the whole
    listing moto answers (``ask``), in the request's protocol; None for a request of any other
    operation."""
    called = _called(request)
    if called is None:
        return None
    listing, protocol = called
    operation = listing.model.operation_model(listing.operation)
    try:
        params = _params(protocol, request, operation)
        size = params.get(listing.limit, listing.size)  # its bounds are the model's
        whole = ask(_whole(request, listing, params))
        if whole[0] != 200:
            raise _moto_refusal(whole)
        result = listing.page(json.loads(whole[2]), params, size)
    except AWSError as err:
        return _parts(modelcheck.refusal(protocol, listing.model, err))
    return _parts(_respond(protocol, operation, result))


def _called(request: MotoRequest) -> tuple[Listing, Protocol] | None:
    """The listing a request calls and the protocol it speaks; None for any other request."""
    target = request.header("X-Amz-Target")
    route = rpcv2cbor.route(request.raw_path.partition("?")[0], dict(request.headers))
    asked = None
    if not target and route is None:
        signed = query.signing_service({"Authorization": request.header("Authorization")})
        called = modelcheck.query_request(signed or "", request.raw_path, request.body)
        asked = called[0] if called else None
    for listing in LISTINGS:
        called = (listing.model.metadata["targetPrefix"], listing.operation)
        if target == ".".join(called):
            return listing, "json"
        if route == called:
            return listing, "cbor"
        if asked is not None and (asked.service_model.service_name, asked.name) == (
            listing.service,
            listing.operation,
        ):
            return listing, "query"
    return None


def _params(protocol: Protocol, request: MotoRequest, operation: OperationModel) -> dict[str, Any]:
    """The request's members, checked against the operation's botocore model."""
    if protocol == "query":
        return query.parse_request(
            modelcheck.query_pairs(request.raw_path, request.body), operation
        )
    if protocol == "cbor":
        return rpcv2cbor.cbor_params(request.body, operation.input_shape)
    return awsjson.json_params(request.body, operation.input_shape)


def _whole(request: MotoRequest, listing: Listing, params: dict[str, Any]) -> MotoRequest:
    """The request for the whole listing with ``params``' filters, over awsJson, signed as
    ``request`` was."""
    filters = {k: v for k, v in params.items() if k not in (listing.limit, "NextToken")}
    kept = tuple((k, v) for k, v in request.headers if k.lower() not in PROTOCOL_HEADERS)
    target = f"{listing.model.metadata['targetPrefix']}.{listing.operation}"
    headers = (
        *kept,
        ("X-Amz-Target", target),
        ("Content-Type", modelcheck.json_type(listing.model)),
    )
    body = json.dumps({**filters, **listing.whole}).encode()
    return dataclasses.replace(request, method="POST", raw_path="/", headers=headers, body=body)


def _moto_refusal(whole: Answer) -> AWSError:
    """Moto's refusal of the whole listing (an awsJson error), to answer in the request's
    protocol: with its query code if it gives one, else the code of its ``__type``."""
    status, headers, body = whole
    try:
        doc = json.loads(body)
    except ValueError:
        doc = None
    doc = doc if isinstance(doc, dict) else {}
    query_code = next((v for k, v in headers if k.lower() == "x-amzn-query-error"), "")
    code = query_code.partition(";")[0] or str(doc.get("__type", "InternalFailure"))
    message = doc.get("message") or doc.get("Message") or body.decode("utf-8", "replace")
    return error(code.rpartition("#")[2], status)(str(message))


def _parts(response: web.Response) -> Answer:
    """A response the protocols' helpers made, as the bridge answers: status, headers, body."""
    assert isinstance(response.body, bytes)
    return response.status, list(response.headers.items()), response.body


def _respond(protocol: Protocol, operation: OperationModel, result: dict[str, Any]) -> web.Response:
    """``result`` in the request's protocol."""
    if protocol == "cbor":
        return CBOR_CODEC.response(result, operation.output_shape)
    if protocol == "query":
        return query.xml_response(operation, result, str(uuid.uuid4()))
    body = awsjson.json_result(result, operation.output_shape)
    return web.Response(body=body, content_type=modelcheck.json_type(operation.service_model))
