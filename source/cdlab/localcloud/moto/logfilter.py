"""FilterLogEvents' ``logStreamNamePrefix``, which moto's FilterLogEvents ignores (it searches
every stream of the group): the bridge narrows such a request before moto answers it, on moto's
thread, so the streams it searches are the ones the group has when it does.

As the CloudWatch Logs API Reference has it
(https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_FilterLogEvents.html):
only the events of the streams whose names start with the prefix; a request that also names
``logStreamNames`` is refused with InvalidParameterException. The prefix becomes the list of the
matching streams' names, which moto honours (its pages and ``nextToken`` too: each page's
request names the same streams). A prefix no stream has gives no events; an unknown group is
left to moto, which refuses it as AWS does (ResourceNotFoundException).

A ``filterPattern`` CloudWatch Logs refuses, or the local cloud does not evaluate, is refused
here too (:mod:`logpatterns`, which moto's search of a stream evaluates the others with), so
that a pattern is refused whether or not the group has streams to search.

The same page says ``interleaved`` has been ignored since June 17, 2019, and assumed true: the
answer always interleaves the streams' events, in time order. Moto interleaves only when asked,
so every FilterLogEvents reaches it asking.
"""

from __future__ import annotations

import dataclasses
import json
from typing import TYPE_CHECKING, Any

from cdlab.localcloud.moto import logpatterns
from cdlab.localcloud.protocols.envelopes import JSON_11, json_error_parts
from cdlab.localcloud.protocols.errors import error

if TYPE_CHECKING:
    from cdlab.localcloud.moto.bridge import MotoRequest
    from cdlab.localcloud.moto.state import MotoState

TARGET = "Logs_20140328.FilterLogEvents"
InvalidParameterException = error("InvalidParameterException")
Answer = tuple[int, list[tuple[str, str]], bytes]


def narrowed(moto: MotoState, request: MotoRequest) -> MotoRequest | Answer:
    """``request`` as moto should see it, or the answer it gets without moto: a FilterLogEvents
    asks for interleaved events and, with ``logStreamNamePrefix``, names the matching streams
    instead (none match: no events), or is refused if it also names ``logStreamNames`` or has a
    ``filterPattern`` the local cloud refuses (:mod:`logpatterns`); any other request is left
    as it is."""
    if request.header("X-Amz-Target") != TARGET:
        return request
    params = _params(request.body)
    if not params:
        return request  # not a JSON object: moto's own error
    prefix = params.get("logStreamNamePrefix")
    if isinstance(prefix, str) and "logStreamNames" in params:
        return _refused("logStreamNames and logStreamNamePrefix cannot both be specified.")
    refused = logpatterns.refusal(params.get("filterPattern"))
    if refused is not None:  # before any stream is looked for: refused with none to search
        return _refused(refused)
    group = params.get("logGroupName")
    if isinstance(prefix, str) and isinstance(group, str):
        names = moto.log_stream_names(group, prefix)
        if names == []:
            answer = {"events": [], "searchedLogStreams": []}
            return 200, [("Content-Type", JSON_11)], json.dumps(answer).encode()
        if names is not None:  # else no such group: moto's own error
            del params["logStreamNamePrefix"]
            params["logStreamNames"] = names
    params["interleaved"] = True
    return dataclasses.replace(request, body=json.dumps(params).encode())


def _refused(message: str) -> Answer:
    status, headers, body = json_error_parts(InvalidParameterException(message))
    return status, list(headers.items()), body


def _params(body: bytes) -> dict[str, Any]:
    """The request's JSON members; none if it is not a JSON object (moto answers it as it is)."""
    try:
        params = json.loads(body or b"{}")
    except ValueError:
        return {}
    return params if isinstance(params, dict) else {}
