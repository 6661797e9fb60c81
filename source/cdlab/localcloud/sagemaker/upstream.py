"""A lean HTTP/1.1 keep-alive client for the gateway -> instance hop of InvokeEndpoint.

The instances are the kit's own containers on loopback, answering with Content-Length bodies, so
the hot path needs only a pool of open connections and a few lines of framing; a general client
costs more CPU per request than the whole routing decision. Each connection is an
``asyncio.Protocol`` that parses the answer as it arrives and completes one future, with one
timer for the deadline: no ``StreamReader`` line by line, and no ``asyncio.wait_for``, which
wraps every request in a task of its own in Python 3.11.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from typing import NamedTuple, cast

from cdlab import config

HEAD_END = b"\r\n\r\n"


class UpstreamClosed(ConnectionError):
    """The instance closed the connection or could not be reached."""


class UpstreamResponse(NamedTuple):
    status: int
    headers: dict[str, str]
    body: bytes
    elapsed: float = 0.0  # seconds from sending the request to reading the whole answer


class _Connection(asyncio.Protocol):
    """One keep-alive connection to an instance, carrying one request at a time."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.answer: asyncio.Future[tuple[int, dict[str, str], bytes]] | None = None
        self.head: tuple[int, dict[str, str], int, int] | None = None  # status, headers, at, len
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if self.answer is None or self.answer.done():
            return
        try:
            if self.head is None:
                end = self.buffer.find(HEAD_END)
                if end < 0:
                    return
                self.head = _parse_head(bytes(self.buffer[:end]), end + len(HEAD_END))
            status, headers, start, length = self.head
            if len(self.buffer) >= start + length:
                body = bytes(self.buffer[start : start + length])
                self.answer.set_result((status, headers, body))
        except (ValueError, IndexError) as e:
            self.fail(UpstreamClosed(f"the instance answered malformed HTTP: {e!r}"))

    def eof_received(self) -> bool:
        self.connection_lost(None)
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.fail(UpstreamClosed(f"the instance closed the connection ({exc or 'EOF'})"))

    def fail(self, error: BaseException) -> None:
        """End the pending request with ``error`` and the connection with it."""
        if self.answer is not None and not self.answer.done():
            self.answer.set_exception(error)
        self.close()

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    async def exchange(self, request: bytes, timeout: float) -> tuple[int, dict[str, str], bytes]:
        """Send ``request`` and wait for the whole answer; TimeoutError after ``timeout`` s."""
        assert self.transport is not None
        self.buffer.clear()
        self.head = None
        self.answer = answer = self.loop.create_future()
        deadline = self.loop.call_later(timeout, self.fail, TimeoutError())
        try:
            self.transport.write(request)
            return await answer
        except BaseException:
            self.close()  # an answer may still come: the connection cannot carry another
            raise
        finally:
            deadline.cancel()
            self.answer = None


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

    async def post(
        self, path: str, body: bytes, headers: Mapping[str, str], timeout: float
    ) -> UpstreamResponse:
        head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        request = (
            f"POST {path} HTTP/1.1\r\n{self.host}{head}Content-Length: {len(body)}\r\n\r\n"
        ).encode("latin-1") + body
        while self.idle:
            connection = self.idle.pop()
            if connection.closed:
                continue
            try:
                return await self._exchange(connection, request, timeout)
            except UpstreamClosed:
                continue  # a kept-alive connection the instance had closed: try the next one
        loop = asyncio.get_running_loop()
        try:
            _, connection = await loop.create_connection(
                lambda: _Connection(loop), config.LOOPBACK, self.port
            )
        except OSError as e:
            raise UpstreamClosed(f"cannot connect to 127.0.0.1:{self.port}: {e}") from e
        return await self._exchange(connection, request, timeout)

    async def _exchange(
        self, connection: _Connection, request: bytes, timeout: float
    ) -> UpstreamResponse:
        started = time.perf_counter()
        status, headers, body = await connection.exchange(request, timeout)
        if headers.get("connection", "").lower() == "close":
            connection.close()
        else:
            self.idle.append(connection)
        return UpstreamResponse(status, headers, body, time.perf_counter() - started)
