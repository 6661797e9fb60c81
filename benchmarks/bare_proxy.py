"""The floor under the gateway's hot path: a proxy that only moves an InvokeEndpoint request's
bytes to one instance and its answer back, on uvloop as the gateway is, and does nothing else: no
parsing beyond Content-Length, no signature, no routing, no metrics. What it costs per request
at a fixed rate is what two loopback connections and an event loop cost Python on this machine;
``bench_local_cloud.py`` prints the gateway's cost beside it. Not a part of the kit.

Run: ``python benchmarks/bare_proxy.py INSTANCE_PORT``; it prints ``listening on PORT``.
"""

from __future__ import annotations

import asyncio
import sys
from collections import deque
from typing import cast

import uvloop

HEAD_END = b"\r\n\r\n"
CONNECTIONS = 32  # to the instance, opened before the first request


def framed(buffer: bytearray) -> bytes | None:
    """The body of the message at the start of ``buffer`` once it is all there (and takes the
    message out of the buffer), else None."""
    end = buffer.find(HEAD_END)
    if end < 0:
        return None
    at = buffer.lower().find(b"content-length:", 0, end) + len(b"content-length:")
    length = int(buffer[at : buffer.find(b"\r\n", at)])
    start = end + len(HEAD_END)
    if len(buffer) < start + length:
        return None
    body = bytes(buffer[start : start + length])
    del buffer[: start + length]
    return body


class Pool:
    """The open connections to the instance, and the requests waiting for one: under a stall of
    the machine more requests may be in flight than there are connections, and they wait their
    turn, as at the gateway, rather than fail."""

    def __init__(self) -> None:
        self.idle: list[Upstream] = []
        self.waiting: deque[tuple[Client, bytes]] = deque()

    def send(self, client: Client, body: bytes) -> None:
        if self.idle:
            self.idle.pop().send(client, body)
        else:
            self.waiting.append((client, body))

    def free(self, upstream: Upstream) -> None:
        if self.waiting:
            upstream.send(*self.waiting.popleft())
        else:
            self.idle.append(upstream)


class Upstream(asyncio.Protocol):
    def __init__(self, pool: Pool) -> None:
        self.pool, self.buffer = pool, bytearray()
        self.client: Client | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)

    def send(self, client: Client, body: bytes) -> None:
        self.client = client
        self.transport.write(
            b"POST /invocations HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            + b"Content-Length: %d\r\n\r\n" % len(body)
            + body
        )

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        body = framed(self.buffer)
        if body is None or self.client is None:
            return
        client, self.client = self.client, None
        client.transport.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            + b"Content-Length: %d\r\n\r\n" % len(body)
            + body
        )
        self.pool.free(self)


class Client(asyncio.Protocol):
    def __init__(self, pool: Pool) -> None:
        self.pool, self.buffer = pool, bytearray()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        body = framed(self.buffer)
        if body is not None:
            self.pool.send(self, body)


async def serve(instance_port: int) -> None:
    loop = asyncio.get_running_loop()
    pool = Pool()
    for _ in range(CONNECTIONS):
        _, upstream = await loop.create_connection(
            lambda: Upstream(pool), "127.0.0.1", instance_port
        )
        pool.idle.append(upstream)
    server = await loop.create_server(lambda: Client(pool), "127.0.0.1", 0)
    print(f"listening on {server.sockets[0].getsockname()[1]}", flush=True)
    await server.serve_forever()


if __name__ == "__main__":
    uvloop.run(serve(int(sys.argv[1])))
