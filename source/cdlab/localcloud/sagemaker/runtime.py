"""InvokeEndpoint's own HTTP/1.1 path on the gateway's port, in front of aiohttp.

Why: at 400 invocations/s, aiohttp's web server alone (request and response objects, router,
middleware chain, writer) costs the gateway about 150 µs of CPU per request on the kit's 2-core
machines, against some 40 µs for a protocol that reads one well-formed request and writes
its answer (benchmarks/bench_local_cloud.py, canned answers, measured in alternation); that
was most of the gateway's cost per proxied invocation.

Each connection starts here. A request that is a plain, well-formed, correctly signed
``POST /endpoints/{name}/invocations`` (HTTP/1.1, ASCII head, one Content-Length within
InvokeEndpoint's 6 MB, no Transfer-Encoding, Expect, Upgrade or Connection: close, no query)
is checked as the auth middleware checks it (Host, key id, signature over headers and body:
``auth.invocation_allowed``; the kit's own key only, so an IAM user's or a role session's
invocation goes through aiohttp, where the guard resolves its principal and IAM is enforced)
and answered by :mod:`.invocations`, the same code as aiohttp's handler: the model's checks,
routing, TargetVariant, weights, retries, metrics, ModelError. Callbacks end to end, from the
client's bytes to the instance and back, with no task or coroutine per request: at 400
invocations/s, a task and its chain of coroutines cost the gateway some 40 us of CPU per
invocation, an eighth of it (benchmarks/bench_local_cloud.py). Any other request -- another
operation, a refusal, anything unusual -- hands the connection, with every
byte not yet answered, to aiohttp's own protocol, which serves it as before (and refuses it in
the right envelope). Answers are in order: one request at a time per connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import Callable
from email.utils import formatdate
from http import HTTPStatus
from typing import cast
from urllib.parse import unquote

from aiohttp.http import SERVER_SOFTWARE
from multidict import CIMultiDict

from cdlab.localcloud.protocols import envelopes
from cdlab.localcloud.protocols.errors import InternalFailure
from cdlab.localcloud.sagemaker.invocations import Answer, Reply
from cdlab.localcloud.sagemaker.router import MAX_PAYLOAD_BYTES

log = logging.getLogger("cdlab.gateway")

Check = Callable[[int | None, str, CIMultiDict[str], bytes], bool]
Invoke = Callable[[str, bytes, CIMultiDict[str], Reply], None]

NAME = r"([^/?#%\x00-\x20\x7f]|%[0-9A-Fa-f]{2})+"  # a path segment, percent-encoding strict
REQUEST_LINE = re.compile(rf"POST (/endpoints/{NAME}/invocations) HTTP/1\.1")
TOKEN = r"[!#$%&'*+.^_`|~0-9A-Za-z-]+"
FIELD = rf"{TOKEN}:[\t\x20-\x7e]*"  # a token, a colon, visible ASCII
FIELDS = re.compile(rf"{FIELD}(\r\n{FIELD})*")
HEAD_END = b"\r\n\r\n"
MAX_HEAD_BYTES = 8190  # aiohttp's own limit per line; a longer head goes to aiohttp
PAUSE_BYTES = 1 << 20  # stop reading while one request is served and this much more waits
REASONS = {status.value: status.phrase for status in HTTPStatus}


def parse_head(head: bytes) -> tuple[str, CIMultiDict[str], int] | None:
    """Raw path, headers and Content-Length of an InvokeEndpoint request head this path
    serves; None for any other (aiohttp's then)."""
    try:
        text = head.decode("ascii")
    except UnicodeDecodeError:
        return None
    request_line, _, fields = text.partition("\r\n")
    target = REQUEST_LINE.fullmatch(request_line)
    if target is None or not FIELDS.fullmatch(fields):
        return None
    # once FIELDS holds, each line is a token, a colon and the value: string methods split
    # them (a third of a second regex's cost, on every invocation)
    split = [field.partition(":") for field in fields.split("\r\n")]
    headers = CIMultiDict([(name, value.strip(" \t")) for name, _, value in split])
    lengths = headers.getall("Content-Length", ())
    if (
        len(lengths) != 1
        or not lengths[0].isdigit()
        or int(lengths[0]) > MAX_PAYLOAD_BYTES
        or len(headers.getall("Host", ())) != 1
        or "Transfer-Encoding" in headers
        or "Expect" in headers
        or "Upgrade" in headers
        or headers.get("Connection", "").lower() == "close"
    ):
        return None
    return target[1], headers, int(lengths[0])


class FastInvocations:
    """The protocol factory for the gateway's port; ``fallback`` makes aiohttp's protocol."""

    def __init__(self, allowed: Check, invoke: Invoke) -> None:
        self.allowed = allowed
        self.invoke = invoke
        self.connections: set[_Connection] = set()
        self.serving = 0  # invocations not yet answered
        self.drained: asyncio.Event | None = None  # set when none is left, once closing
        self._date = (0, "")

    def protocol(self, fallback: Callable[[], asyncio.Protocol]) -> Callable[[], asyncio.Protocol]:
        return lambda: _Connection(self, fallback)

    def date(self) -> str:
        """The Date header's value, made once a second."""
        now = int(time.time())
        if self._date[0] != now:
            self._date = (now, formatdate(now, usegmt=True))
        return self._date[1]

    def answered(self) -> None:
        self.serving -= 1
        if not self.serving and self.drained is not None:
            self.drained.set()

    async def close(self, timeout: float) -> None:
        """Finish the invocations being served (for up to ``timeout`` s), close the rest."""
        if self.serving:
            self.drained = asyncio.Event()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.drained.wait(), timeout)
        for connection in list(self.connections):
            connection.close()


class _Connection(asyncio.Protocol):
    """One client connection, until it is handed over to aiohttp."""

    def __init__(self, server: FastInvocations, fallback: Callable[[], asyncio.Protocol]) -> None:
        self.server = server
        self.fallback = fallback
        self.transport: asyncio.Transport | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.port: int | None = None
        self.buffer = bytearray()
        self.busy = self.paused = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        self.loop = asyncio.get_running_loop()
        sockname = transport.get_extra_info("sockname")
        self.port = sockname[1] if sockname else None
        self.server.connections.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.server.connections.discard(self)

    def close(self) -> None:
        if self.transport is not None and not self.busy:
            self.transport.close()

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if not self.busy:
            self._next()
        elif len(self.buffer) > PAUSE_BYTES and not self.paused:
            assert self.transport is not None
            self.transport.pause_reading()
            self.paused = True

    def _next(self) -> None:
        """Serve the next request in the buffer once it is all there, or hand over."""
        if self.busy:
            return
        end = self.buffer.find(HEAD_END)
        if end < 0 and len(self.buffer) <= MAX_HEAD_BYTES:
            return
        head = parse_head(bytes(self.buffer[:end])) if 0 <= end <= MAX_HEAD_BYTES else None
        if head is None:
            self._hand_over()
            return
        raw_path, headers, length = head
        start = end + len(HEAD_END)
        if len(self.buffer) < start + length:
            return
        body = bytes(self.buffer[start : start + length])
        if not self.server.allowed(self.port, raw_path, headers, body):
            self._hand_over()  # the guard refuses it in its own words
            return
        del self.buffer[: start + length]
        self.busy = True
        self.server.serving += 1
        name = unquote(raw_path.split("/")[2])  # as Gateway.dispatch names it
        try:
            self.server.invoke(name, body, headers, self._reply)
        except Exception as e:
            self._reply(e)

    def _reply(self, answer: Answer | BaseException) -> None:
        """Write the answer, then serve the next request, if one is waiting."""
        if isinstance(answer, BaseException):
            log.error("InvokeEndpoint failed", exc_info=answer)
            err = InternalFailure(f"The local cloud failed on InvokeEndpoint: {answer}")
            answer = envelopes.json_error_parts(err, envelopes.REST_JSON)
        status, headers, body = answer
        transport = self.transport
        assert transport is not None and self.loop is not None
        if not transport.is_closing():
            lines = [f"HTTP/1.1 {status} {REASONS.get(status, '')}\r\n"]
            lines += [f"{field}: {value}\r\n" for field, value in headers.items()]
            lines.append(
                f"Content-Length: {len(body)}\r\nDate: {self.server.date()}\r\n"
                f"Server: {SERVER_SOFTWARE}\r\n\r\n"
            )
            transport.write("".join(lines).encode("latin-1") + body)
        self.busy = False
        self.server.answered()
        if transport.is_closing():
            return
        if self.paused:
            self.paused = False
            transport.resume_reading()
        if self.buffer:
            # on the loop, not nested here: this answer may come from within invoke's call
            self.loop.call_soon(self._next)

    def _hand_over(self) -> None:
        """aiohttp's protocol serves this connection from here on, from the first byte not
        yet answered."""
        assert self.transport is not None
        protocol = self.fallback()
        self.server.connections.discard(self)
        self.transport.set_protocol(protocol)
        protocol.connection_made(self.transport)
        if self.buffer:
            protocol.data_received(bytes(self.buffer))
