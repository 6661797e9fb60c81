"""Whether moto implements an operation, asked before a request goes to moto.

Moto serves a service through the response classes its ``moto.<service>.urls`` routes to, and
answers an operation with the method named for it (``put_composite_alarm``); any other fails with
NotImplementedError, which moto's server turns into a 500 "Server got itself in trouble" that the
SDKs retry, then report as an internal error of the service. The gateway refuses such a request
at once instead, in the request's protocol, naming the operation moto lacks.

A method whose body is only ``pass`` (or a docstring, or ``...``) is a stub, not an answer: moto
answered EventBridge's TestEventPattern so, with ``{}`` and no ``Result``, until the kit gave it
one (:mod:`eventrules`). Such an operation is refused as one moto lacks.
"""

from __future__ import annotations

import ast
import functools
import importlib
import inspect
import textwrap
from typing import Any

from aiohttp import web
from moto.core.utils import camelcase_to_underscores

from cdlab.localcloud.protocols import awsjson, envelopes
from cdlab.localcloud.protocols.errors import UnknownOperationException
from cdlab.localcloud.protocols.query import InvalidAction


def refusal(request: web.Request, service: str, name: str) -> web.Response | None:
    """The refusal of operation ``name`` of a request signed for ``service``, if moto does not
    implement it, in the request's protocol (the query services' InvalidAction, the others'
    UnknownOperationException); None if moto does."""
    model_name = awsjson.model_name(service)
    if model_name not in awsjson.botocore_services() or implemented(model_name, name):
        return None
    family = envelopes.family(request, service)
    refused = InvalidAction if family == "query" else UnknownOperationException
    service_id = awsjson.service_model(model_name).service_id
    return envelopes.error_response(
        refused(
            f"The local cloud does not provide {service_id} {name}: moto, which serves "
            f"{service_id} here, does not implement it."
        ),
        family,
        service=service,
    )


@functools.cache
def implemented(service: str, operation: str) -> bool:
    """Whether moto answers ``operation`` of ``service`` (botocore's model name: ``cloudwatch``,
    ``application-autoscaling``); True where moto's routing cannot tell (moto answers then)."""
    try:
        urls = importlib.import_module(f"moto.{service.replace('-', '')}.urls")
    except ImportError:
        return True
    handlers = getattr(urls, "url_paths", {}).values()
    responses = {owner for h in handlers if isinstance(owner := getattr(h, "__self__", None), type)}
    if not responses:
        return True
    method = camelcase_to_underscores(operation)
    return any(_answers(getattr(response, method, None)) for response in responses)


def _answers(method: Any) -> bool:
    """Whether ``method`` is there and not a stub (a body of only ``pass``, a docstring or
    ``...``); True where its source cannot be read."""
    if not callable(method):
        return False
    code = getattr(method, "__code__", None)  # a wrapper's own, not what it wraps
    try:
        [definition] = ast.parse(textwrap.dedent(inspect.getsource(code))).body
    except (OSError, TypeError, SyntaxError, ValueError):
        return True
    body = getattr(definition, "body", None) or [None]
    return not all(
        isinstance(s, ast.Pass) or (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))
        for s in body
    )
