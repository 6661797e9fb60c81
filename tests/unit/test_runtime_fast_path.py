"""InvokeEndpoint's fast path: it serves plain, allowed invocations, in order, and hands any
other request, with its connection, to aiohttp."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest
from aiohttp import web
from multidict import CIMultiDict

from cdlab.localcloud.sagemaker.invocations import Reply
from cdlab.localcloud.sagemaker.router import MAX_PAYLOAD_BYTES
from cdlab.localcloud.sagemaker.runtime import FastInvocations, parse_head

HEAD = "POST /endpoints/{name}/invocations HTTP/1.1\r\nHost: 127.0.0.1\r\n"


def invocation(body: bytes, name: str = "ep", extra: str = "Authorization: ok\r\n") -> bytes:
    return (HEAD.format(name=name) + extra + f"Content-Length: {len(body)}\r\n\r\n").encode() + body


def allowed(port: int | None, raw_path: str, headers: CIMultiDict[str], body: bytes) -> bool:
    return headers.get("Authorization") == "ok"


def echo(name: str, body: bytes, headers: CIMultiDict[str], reply: Reply) -> None:
    """The body back, after the name; "slow" answers 0.2 s later, "late-bug" fails then."""
    if name == "broken":
        raise RuntimeError("a bug")
    answer = (
        200,
        {"Content-Type": "application/json", "X-Served-By": "fast"},
        name.encode() + body,
    )
    if name == "slow":
        asyncio.get_running_loop().call_later(0.2, reply, answer)
    elif name == "late-bug":
        asyncio.get_running_loop().call_later(0.01, reply, RuntimeError("a later bug"))
    else:
        reply(answer)


async def by_aiohttp(request: web.BaseRequest) -> web.Response:
    body = await request.read()
    return web.Response(body=body, headers={"X-Served-By": "aiohttp", "X-Path": request.raw_path})


async def read_answer(reader: asyncio.StreamReader) -> tuple[int, dict[str, str], bytes]:
    head = (await reader.readuntil(b"\r\n\r\n")).decode()
    lines = head.split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:] if line)
    body = await reader.readexactly(int(headers.get("Content-Length", "0")))
    return int(lines[0].split()[1]), headers, body


Exchange = Callable[[list[bytes], int], Awaitable[list[tuple[int, dict[str, str], bytes]]]]


def run(test: Callable[[Exchange], Awaitable[None]]) -> None:
    """Run ``test(exchange)``: ``exchange(writes, answers)`` sends ``writes`` on one connection
    to a fast path in front of aiohttp and reads ``answers`` answers."""

    async def main() -> None:
        fast = FastInvocations(allowed, echo)
        aiohttp_server = web.Server(by_aiohttp)
        loop = asyncio.get_running_loop()
        server = await loop.create_server(fast.protocol(aiohttp_server), "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]

        async def exchange(writes: list[bytes], answers: int) -> list:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            for data in writes:
                writer.write(data)
                await writer.drain()
                await asyncio.sleep(0.02)
            got = [await asyncio.wait_for(read_answer(reader), 5) for _ in range(answers)]
            writer.close()
            return got

        try:
            await test(exchange)
        finally:
            server.close()
            await fast.close(timeout=1)
            await aiohttp_server.shutdown(1)

    asyncio.run(main())


def test_an_allowed_invocation_is_answered_by_the_fast_path() -> None:
    async def test(exchange: Exchange) -> None:
        [(status, headers, body)] = await exchange([invocation(b"{}", name="a%2Fb")], 1)
        assert (status, headers["X-Served-By"], body) == (200, "fast", b"a/b{}")
        assert headers["Content-Type"] == "application/json" and "Date" in headers

    run(test)


def test_pipelined_and_split_requests_are_answered_in_order() -> None:
    async def test(exchange: Exchange) -> None:
        both = invocation(b"1", name="first") + invocation(b"2", name="second")
        third = invocation(b"3333", name="third")
        answers = await exchange([both, third[:10], third[10:-2], third[-2:]], 3)
        assert [body for _, _, body in answers] == [b"first1", b"second2", b"third3333"]

    run(test)


def test_reading_pauses_while_a_large_request_waits_its_turn() -> None:
    async def test(exchange: Exchange) -> None:
        large = b"x" * 3_000_000
        answers = await exchange([invocation(b"1", name="slow") + invocation(large)], 2)
        assert [body for _, _, body in answers] == [b"slow1", b"ep" + large]

    run(test)


@pytest.mark.parametrize(
    "request_bytes",
    [
        invocation(b"{}", extra="Authorization: wrong\r\n"),  # a refusal: the guard's words
        invocation(b"{}", extra=""),
        b"GET /_cdlab/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
        b"POST /endpoints/ep/invocations HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: ok\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
    ],
    ids=["refused", "unsigned", "another path", "chunked"],
)
def test_any_other_request_goes_to_aiohttp_with_its_connection(request_bytes: bytes) -> None:
    async def test(exchange: Exchange) -> None:
        answers = await exchange([request_bytes, invocation(b"{}")], 2)
        assert [headers["X-Served-By"] for _, headers, _ in answers] == ["aiohttp", "aiohttp"]

    run(test)


def test_connection_close_is_aiohttps_to_honour() -> None:
    async def test(exchange: Exchange) -> None:
        closing = invocation(b"{}", extra="Authorization: ok\r\nConnection: close\r\n")
        [(_, headers, _)] = await exchange([closing], 1)
        assert headers["X-Served-By"] == "aiohttp"

    run(test)


def test_an_invocation_after_fast_ones_can_still_be_handed_over() -> None:
    async def test(exchange: Exchange) -> None:
        refused = invocation(b"x", extra="Authorization: no\r\n")
        answers = await exchange([invocation(b"1"), refused], 2)
        assert [h["X-Served-By"] for _, h, _ in answers] == ["fast", "aiohttp"]
        assert answers[1][2] == b"x"  # aiohttp got the whole request, body included

    run(test)


@pytest.mark.parametrize("name, message", [("broken", b"a bug"), ("late-bug", b"a later bug")])
def test_a_failure_of_the_gateway_is_an_internal_failure(name: str, message: bytes) -> None:
    async def test(exchange: Exchange) -> None:
        writes = [invocation(b"{}", name=name) + invocation(b"!", name="next")]
        [(status, headers, body), after] = await exchange(writes, 2)
        assert (status, headers["x-amzn-ErrorType"]) == (500, "InternalFailure")
        assert message in body
        assert after[2] == b"next!"  # the connection goes on serving

    run(test)


def test_closing_waits_for_the_invocations_being_served() -> None:
    async def main() -> None:
        fast = FastInvocations(allowed, echo)
        server = await asyncio.get_running_loop().create_server(
            fast.protocol(lambda: web.Server(by_aiohttp)()), "127.0.0.1", 0
        )
        reader, writer = await asyncio.open_connection(*server.sockets[0].getsockname()[:2])
        writer.write(invocation(b"1", name="slow"))
        for _ in range(500):  # up to 5 s for the request to arrive
            if fast.serving:
                break
            await asyncio.sleep(0.01)
        assert fast.serving == 1
        await fast.close(timeout=5)
        assert fast.serving == 0
        assert (await read_answer(reader))[2] == b"slow1"
        writer.close()
        server.close()

    asyncio.run(main())


@pytest.mark.parametrize(
    "head",
    [
        b"POST /endpoints/ep/invocations HTTP/1.0\r\nHost: h\r\nContent-Length: 1",
        b"POST /endpoints/ep/invocations?x=1 HTTP/1.1\r\nHost: h\r\nContent-Length: 1",
        b"POST /endpoints/a/b/invocations HTTP/1.1\r\nHost: h\r\nContent-Length: 1",
        b"POST /endpoints/a%2/invocations HTTP/1.1\r\nHost: h\r\nContent-Length: 1",
        b"PUT /endpoints/ep/invocations HTTP/1.1\r\nHost: h\r\nContent-Length: 1",
        b"POST /endpoints/ep/invocations HTTP/1.1\r\nContent-Length: 1",
        b"POST /endpoints/ep/invocations HTTP/1.1\r\nHost: h\r\nHost: h\r\nContent-Length: 1",
        b"POST /endpoints/ep/invocations HTTP/1.1\r\nHost: h",
        b"POST /endpoints/ep/invocations HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\n"
        b"Content-Length: 1",
        b"POST /endpoints/ep/invocations HTTP/1.1\r\nHost: h\r\nContent-Length: +1",
        b"POST /endpoints/ep/invocations HTTP/1.1\r\nHost: h\r\nContent-Length: "
        + str(MAX_PAYLOAD_BYTES + 1).encode(),
        b"POST /endpoints/ep/invocations HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\n folded",
        b"POST /endpoints/ep/invocations HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nX: \xc3\xa9",
        b"POST /endpoints/ep/invocations HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nX\x01: y",
        b"POST /endpoints/ep/invocations HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nX: a\x00b",
        b"POST /endpoints/ep/invocations HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\n"
        b"Expect: 100-continue",
        b"POST /endpoints/ep/invocations HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nUpgrade: h2c",
    ],
)
def test_only_plain_invocation_heads_are_the_fast_paths(head: bytes) -> None:
    assert parse_head(head) is None


def test_a_plain_invocation_head_is_parsed() -> None:
    head = (
        b"POST /endpoints/my-endpoint/invocations HTTP/1.1\r\nhost: 127.0.0.1:80\r\n"
        b"content-length: 12\r\nX-Amzn-SageMaker-Custom-Attributes:  a=1 \r\nAccept: */*"
    )
    parsed = parse_head(head)
    assert parsed is not None
    raw_path, headers, length = parsed
    assert (raw_path, length) == ("/endpoints/my-endpoint/invocations", 12)
    assert headers["Host"] == "127.0.0.1:80"
    assert headers["x-amzn-sagemaker-custom-attributes"] == "a=1"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        (b"X-Empty:", ""),
        (b"X-Blank: \t ", ""),
        (b"X-Tabs:\tin\tside\t", "in\tside"),
        (b"X-Colons: a:b: c ", "a:b: c"),
        (b"X-One:x", "x"),
    ],
)
def test_a_fields_value_is_read_without_the_blanks_around_it(field: bytes, value: str) -> None:
    head = b"POST /endpoints/e/invocations HTTP/1.1\r\nHost: h\r\n%s\r\nContent-Length: 0" % field
    parsed = parse_head(head)
    assert parsed is not None
    assert parsed[1].getall(field.split(b":")[0].decode()) == [value]
    assert parsed[1]["Content-Length"] == "0"
