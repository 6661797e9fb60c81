"""A lean HTTP/1.1 keep-alive client for the gateway -> instance hop of InvokeEndpoint.

The instances are the kit's own containers on loopback, answering with Content-Length bodies, so
the hot path needs only a pool of open connections and a few lines of framing; a general client
costs more CPU per request than the whole routing decision.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass

from cdlab import config


class UpstreamClosed(ConnectionError):
    """The instance closed the connection or could not be reached."""


@dataclass(frozen=True)
class UpstreamResponse:
    status: int
    headers: dict[str, str]
    body: bytes
    elapsed: float = 0.0  # seconds from sending the request to reading the whole answer


class Upstream:
    """Pooled keep-alive connections to one instance."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []

    async def post(
        self, path: str, body: bytes, headers: Mapping[str, str], timeout: float
    ) -> UpstreamResponse:
        head = [f"POST {path} HTTP/1.1", f"Host: {config.LOOPBACK}:{self.port}"]
        head += [f"{name}: {value}" for name, value in headers.items()]
        head.append(f"Content-Length: {len(body)}")
        request = ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body
        while self.idle:
            connection = self.idle.pop()
            try:
                return await asyncio.wait_for(self._exchange(connection, request), timeout)
            except UpstreamClosed:
                continue  # a kept-alive connection the instance had closed: try the next one
        try:
            connection = await asyncio.open_connection(config.LOOPBACK, self.port)
        except OSError as e:
            raise UpstreamClosed(f"cannot connect to 127.0.0.1:{self.port}: {e}") from e
        return await asyncio.wait_for(self._exchange(connection, request), timeout)

    async def _exchange(
        self, connection: tuple[asyncio.StreamReader, asyncio.StreamWriter], request: bytes
    ) -> UpstreamResponse:
        reader, writer = connection
        started = time.perf_counter()
        try:
            writer.write(request)
            status_line = await reader.readline()
            if not status_line:
                raise UpstreamClosed("the instance closed the connection")
            status = int(status_line.split(b" ", 2)[1])
            headers: dict[str, str] = {}
            while (line := await reader.readline()) not in (b"\r\n", b"\n", b""):
                name, _, value = line.decode("latin-1").partition(":")
                headers[name.strip().lower()] = value.strip()
            body = await reader.readexactly(int(headers.get("content-length", "0")))
        except (OSError, asyncio.IncompleteReadError, ValueError, IndexError) as e:
            writer.close()
            raise UpstreamClosed(f"the connection to 127.0.0.1:{self.port} failed: {e!r}") from e
        except BaseException:
            writer.close()
            raise
        if headers.get("connection", "").lower() == "close":
            writer.close()
        else:
            self.idle.append(connection)
        return UpstreamResponse(status, headers, body, time.perf_counter() - started)
