"""A lean HTTP/1.1 keep-alive client for the gateway -> instance hop of InvokeEndpoint.

The instances are the kit's own containers on loopback, answering with Content-Length bodies, so
the hot path needs only a pool of open connections and a few lines of framing; a general client
costs more CPU per request than the whole routing decision. Each connection is an
``asyncio.Protocol`` that parses the answer as it arrives and hands it to a callback: no task,
future or coroutine per request, which is what the runtime's fast path needs to stay callbacks
end to end (:mod:`.runtime`; ``await`` takes the form of :func:`completing`). The deadlines of an
instance's requests share one timer, armed for the earliest, rather than a timer made and
cancelled per request.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from typing import NamedTuple, TypeVar, cast

from cdlab import config

HEAD_END = b"\r\n\r\n"
T = TypeVar("T")


class UpstreamClosed(ConnectionError):
    """The instance closed the connection or could not be reached."""


class UpstreamResponse(NamedTuple):
    status: int
    headers: dict[str, str]
    body: bytes
    elapsed: float = 0.0  # seconds from sending the request to reading the whole answer


Done = Callable[[UpstreamResponse | BaseException], None]


def completing(future: asyncio.Future[T]) -> Callable[[T | BaseException], None]:
    """A callback that completes ``future`` with what it is given: a result or an exception."""

    def done(result: T | BaseException) -> None:
        if future.done():
            return
        if isinstance(result, BaseException):
            future.set_exception(result)
        else:
            future.set_result(result)

    return done


class _Deadlines:
    """The deadlines of the requests in flight on an instance's connections, on one timer: it
    fails each request past its deadline with TimeoutError, then waits for the next deadline."""

    def __init__(self) -> None:
        self.loop: asyncio.AbstractEventLoop | None = None  # the running one, at the first add
        self.pending: dict[_Connection, float] = {}
        self.timer: asyncio.TimerHandle | None = None

    def add(self, connection: _Connection, timeout: float) -> None:
        loop = self.loop
        if loop is None:
            loop = self.loop = asyncio.get_running_loop()
        deadline = self.pending[connection] = loop.time() + timeout
        if self.timer is None or deadline < self.timer.when():
            if self.timer is not None:
                self.timer.cancel()
            self.timer = loop.call_at(deadline, self.expire)

    def discard(self, connection: _Connection) -> None:
        self.pending.pop(connection, None)

    def expire(self) -> None:
        assert self.loop is not None
        self.timer = None
        now = self.loop.time()
        for connection, deadline in list(self.pending.items()):
            if deadline <= now:
                del self.pending[connection]
                connection.fail(TimeoutError())
        if self.pending:
            self.timer = self.loop.call_at(min(self.pending.values()), self.expire)


class _Connection(asyncio.Protocol):
    """One keep-alive connection to an instance, carrying one request at a time."""

    def __init__(self, upstream: Upstream) -> None:
        self.upstream = upstream
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.done: Done | None = None
        self.head: tuple[int, dict[str, str], int, int] | None = None  # status, headers, at, len
        self.request = b""
        self.reused = False  # kept alive from an earlier request
        self.timeout = 0.0
        self.started = 0.0
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if self.done is None:
            return
        try:
            if self.head is None:
                end = self.buffer.find(HEAD_END)
                if end < 0:
                    return
                self.head = _parse_head(bytes(self.buffer[:end]), end + len(HEAD_END))
            status, headers, start, length = self.head
        except (ValueError, IndexError) as e:
            self.fail(UpstreamClosed(f"the instance answered malformed HTTP: {e!r}"))
            return
        if len(self.buffer) < start + length:
            return
        response = UpstreamResponse(
            status, headers, bytes(self.buffer[start : start + length]), self._elapsed()
        )
        done, self.done = self.done, None
        self.upstream.deadlines.discard(self)
        if headers.get("connection", "").lower() == "close":
            self.close()
        else:
            self.upstream.idle.append(self)
        done(response)

    def eof_received(self) -> bool:
        self.connection_lost(None)
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.fail(UpstreamClosed(f"the instance closed the connection ({exc or 'EOF'})"))

    def fail(self, error: BaseException) -> None:
        """End the pending request with ``error`` and the connection with it: an answer may
        still come, and the connection cannot carry another request. A kept-alive connection
        the instance had closed is no error of the request's: it goes on a fresh one."""
        self.close()
        done, self.done = self.done, None
        if done is None:
            return
        self.upstream.deadlines.discard(self)
        if self.reused and isinstance(error, UpstreamClosed):
            self.upstream.send(self.request, self.timeout, done)
        else:
            done(error)

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    def exchange(self, request: bytes, timeout: float, done: Done, reused: bool) -> None:
        """Send ``request``; ``done`` gets the whole answer, or the error (TimeoutError after
        ``timeout`` s)."""
        assert self.transport is not None
        self.buffer.clear()
        self.head = None
        self.request, self.timeout, self.reused, self.done = request, timeout, reused, done
        self.started = time.perf_counter()
        self.upstream.deadlines.add(self, timeout)
        self.transport.write(request)  # closed under us: dropped, and connection_lost fails it

    def _elapsed(self) -> float:
        return time.perf_counter() - self.started


def _parse_head(head: bytes, body_at: int) -> tuple[int, dict[str, str], int, int]:
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return status, headers, body_at, int(headers.get("content-length", "0"))


class Upstream:
    """Pooled keep-alive connections to one instance."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.host = f"Host: {config.LOOPBACK}:{port}\r\n"
        self.idle: list[_Connection] = []
        self.deadlines = _Deadlines()
        self.connecting: set[asyncio.Task[None]] = set()

    def request(self, path: str, body: bytes, headers: Mapping[str, str]) -> bytes:
        """A POST of ``body`` to ``path``, with ``headers``, as bytes to send."""
        head = "".join([f"{name}: {value}\r\n" for name, value in headers.items()])
        return (
            f"POST {path} HTTP/1.1\r\n{self.host}{head}Content-Length: {len(body)}\r\n\r\n"
        ).encode("latin-1") + body

    def send(self, request: bytes, timeout: float, done: Done) -> None:
        """Send ``request`` on a kept-alive connection, or on a new one; ``done`` gets the answer,
        or the error: UpstreamClosed when the instance cannot be reached or goes away,
        TimeoutError when it does not answer within ``timeout`` s."""
        while self.idle:
            connection = self.idle.pop()
            if not connection.closed:
                connection.exchange(request, timeout, done, reused=True)
                return
        connecting = asyncio.get_running_loop().create_task(self._connect(request, timeout, done))
        self.connecting.add(connecting)
        connecting.add_done_callback(self.connecting.discard)

    async def _connect(self, request: bytes, timeout: float, done: Done) -> None:
        loop = asyncio.get_running_loop()
        try:
            _, connection = await loop.create_connection(
                lambda: _Connection(self), config.LOOPBACK, self.port
            )
        except OSError as e:
            done(UpstreamClosed(f"cannot connect to 127.0.0.1:{self.port}: {e}"))
            return
        connection.exchange(request, timeout, done, reused=False)
