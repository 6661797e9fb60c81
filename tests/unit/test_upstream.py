"""The gateway -> instance client: keep-alive, answers in pieces, deadlines, closed connections."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest
import uvloop

from cdlab.localcloud.sagemaker.upstream import (
    Upstream,
    UpstreamClosed,
    UpstreamResponse,
    completing,
)

Reply = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[bool]]


async def post(
    upstream: Upstream, body: bytes, headers: dict[str, str] | None = None, timeout: float = 5
) -> UpstreamResponse:
    """POST ``body`` to the instance's /invocations and wait for what ``send`` hands back."""
    answered: asyncio.Future[UpstreamResponse] = asyncio.get_running_loop().create_future()
    request = upstream.request("/invocations", body, headers or {})
    upstream.send(request, timeout, completing(answered))
    return await answered


async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
    """Echo the body back in one write; keep the connection."""
    head = await reader.readuntil(b"\r\n\r\n")
    length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
    body = await reader.readexactly(length)
    writer.write(
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
        b"X-Amzn-SageMaker-Custom-Attributes: c=1\r\n"
        + f"Content-Length: {len(body)}\r\n\r\n".encode()
        + body
    )
    return True


async def serve(reply: Reply, test: Callable[[int, list[int]], Awaitable[None]]) -> None:
    """Run ``test(port, connections)`` against a server answering each request with ``reply``
    (False closes the connection); ``connections`` counts the connections accepted."""
    connections: list[int] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(1)
        try:
            while not reader.at_eof() and await reply(reader, writer):
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    try:
        await test(server.sockets[0].getsockname()[1], connections)
    finally:
        server.close()  # not wait_closed: on 3.12 it waits for the kept-alive connections


def test_requests_share_one_kept_alive_connection() -> None:
    async def test(port: int, connections: list[int]) -> None:
        upstream = Upstream(port)
        for i in range(3):
            body = f'{{"n": {i}}}'.encode()
            response = await post(upstream, body, {"Accept": "*/*"})
            assert (response.status, response.body) == (200, body)
            assert response.headers["x-amzn-sagemaker-custom-attributes"] == "c=1"
            assert response.elapsed > 0
        assert len(connections) == 1

    asyncio.run(serve(answer, test))


def test_an_answer_in_pieces_is_put_together() -> None:
    async def in_pieces(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        await reader.readuntil(b"\r\n\r\n")
        await reader.readexactly(2)
        for piece in (b"HTTP/1.1 201 Created\r\nContent-", b"Length: 5\r\n\r", b"\nab", b"cde"):
            writer.write(piece)
            await writer.drain()
            await asyncio.sleep(0.01)
        return True

    async def test(port: int, connections: list[int]) -> None:
        response = await post(Upstream(port), b"{}")
        assert (response.status, response.body) == (201, b"abcde")

    asyncio.run(serve(in_pieces, test))


def test_a_closed_kept_alive_connection_is_replaced_without_an_error() -> None:
    async def once(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        await answer(reader, writer)
        return False  # the instance closes each connection after one answer

    async def test(port: int, connections: list[int]) -> None:
        upstream = Upstream(port)
        for _ in range(3):
            assert (await post(upstream, b"{}")).status == 200
            await asyncio.sleep(0.05)  # the close reaches the idle connection
        assert len(connections) == 3

    asyncio.run(serve(once, test))


def test_a_write_on_a_connection_closed_under_it_goes_on_a_fresh_one() -> None:
    """On uvloop, as the gateway runs: a kept-alive connection whose transport is already closed
    (connection_lost not yet called back) drops the write, and when connection_lost comes the
    request goes on a new connection instead of failing."""

    async def test(port: int, connections: list[int]) -> None:
        upstream = Upstream(port)
        assert (await post(upstream, b"{}")).status == 200
        (kept,) = upstream.idle
        assert kept.transport is not None
        kept.transport.abort()  # closed now; its connection_lost comes on a later loop turn
        response = await post(upstream, b'{"again": 1}')
        assert (response.status, response.body) == (200, b'{"again": 1}')
        assert len(connections) == 2
        assert kept.closed and kept not in upstream.idle

    uvloop.run(serve(answer, test))


def test_connection_close_is_honoured() -> None:
    async def closing(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        await reader.readuntil(b"\r\n\r\n")
        await reader.readexactly(2)
        writer.write(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok")
        return True

    async def test(port: int, connections: list[int]) -> None:
        upstream = Upstream(port)
        assert (await post(upstream, b"{}")).body == b"ok"
        assert not upstream.idle

    asyncio.run(serve(closing, test))


async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
    """Read the request and never answer."""
    await reader.read(65536)
    await asyncio.sleep(5)
    return False


def test_no_answer_within_the_deadline_is_a_timeout_and_drops_the_connection() -> None:
    async def test(port: int, connections: list[int]) -> None:
        upstream = Upstream(port)
        with pytest.raises(TimeoutError):
            await post(upstream, b"{}", timeout=0.2)
        assert not upstream.idle

    asyncio.run(serve(silent, test))


def test_a_shorter_deadline_after_a_longer_one_still_ends_its_request() -> None:
    async def test(port: int, connections: list[int]) -> None:
        upstream = Upstream(port)
        long = asyncio.create_task(post(upstream, b"{}", timeout=60))
        await asyncio.sleep(0.05)  # in flight, on its own connection
        short = asyncio.create_task(post(upstream, b"{}", timeout=0.2))
        done, _ = await asyncio.wait({short}, timeout=3)
        assert short in done and isinstance(short.exception(), TimeoutError)
        assert not long.done()
        long.cancel()
        await asyncio.gather(long, return_exceptions=True)

    asyncio.run(serve(silent, test))


@pytest.mark.parametrize(
    "reply",
    [b"", b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", b"garbage\r\n\r\n"],
    ids=["closed", "cut short", "malformed"],
)
def test_an_instance_that_dies_or_garbles_is_upstream_closed(reply: bytes) -> None:
    async def dying(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        await reader.read(65536)
        writer.write(reply)
        return False

    async def test(port: int, connections: list[int]) -> None:
        with pytest.raises(UpstreamClosed):
            await post(Upstream(port), b"{}")

    asyncio.run(serve(dying, test))


def test_nothing_listening_is_upstream_closed() -> None:
    async def refused() -> None:
        server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        server.close()
        await server.wait_closed()
        with pytest.raises(UpstreamClosed):
            await post(Upstream(port), b"{}")

    asyncio.run(refused())
