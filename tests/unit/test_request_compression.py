"""Gzipped request bodies (:mod:`cdlab.localcloud.protocols.compression`): inflated within a
bound, refused in the request's protocol when they are not gzip, and behind the auth guard
checked as sent and served inflated, to every operation botocore compresses."""

from __future__ import annotations

import asyncio
import gzip
import json
import pathlib
from collections.abc import Iterator
from typing import Any

import botocore
import pytest
from aiohttp import ClientSession, web
from aiohttp.test_utils import TestServer, make_mocked_request
from botocore.auth import S3SigV4Auth, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from cdlab.localcloud.protocols import auth, compression
from cdlab.localcloud.protocols.auth import CONTEXT
from cdlab.localcloud.protocols.awsjson import service_model
from cdlab.localcloud.protocols.errors import (
    RequestEntityTooLarge,
    SerializationException,
    ValidationError,
)

KEY, SECRET = "AKIACDLABGZIPTEST000", "gzip-secret"
PLAIN = json.dumps({"Namespace": "CDLab/Unit", "MetricData": [{"MetricName": "m"}] * 50}).encode()


def test_a_body_inflates_to_the_limit_and_no_further() -> None:
    body = gzip.compress(PLAIN)
    assert compression.gunzip(body, len(PLAIN), "json") == PLAIN
    with pytest.raises(RequestEntityTooLarge, match="inflated"):
        compression.gunzip(body, len(PLAIN) - 1, "json")


def test_a_gzip_bomb_is_refused_at_the_limit() -> None:
    bomb = gzip.compress(b"\0" * (64 * 1024**2))  # 64 KiB of gzip
    assert len(bomb) < 128 * 1024
    with pytest.raises(RequestEntityTooLarge):
        compression.gunzip(bomb, 1024**2, "json")


def test_members_back_to_back_are_one_body() -> None:
    """RFC 1952, 2.2: a gzip file is a series of members; each fed in bounded pieces."""
    parts = [PLAIN[:10], PLAIN[10:], b"x" * (3 * compression.CHUNK_BYTES)]
    body = b"".join(gzip.compress(part) for part in parts)
    assert compression.gunzip(body, 10**9, "json") == b"".join(parts)


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (PLAIN, "not valid gzip"),  # sent plain
        (gzip.compress(PLAIN)[:-4], "ends mid-stream"),  # cut short
        (gzip.compress(PLAIN)[:5], "ends mid-stream"),  # within the header
        (gzip.compress(PLAIN) + b"junk", "not valid gzip"),  # a member that is not gzip
        (b"", "is empty"),
    ],
    ids=["plain", "cut short", "within the header", "junk after", "empty"],  # gzip's bytes hold
)  # the time they were made: as ids, they would differ between pytest-xdist's workers
def test_a_body_that_is_not_gzip_is_the_callers_error(body: bytes, problem: str) -> None:
    with pytest.raises(SerializationException, match=problem) as json_error:
        compression.gunzip(body, 10**6, "json")
    assert "Content-Encoding: gzip" in json_error.value.message
    with pytest.raises(SerializationException):
        compression.gunzip(body, 10**6, "cbor")
    with pytest.raises(ValidationError, match=problem):  # the query protocol's code
        compression.gunzip(body, 10**6, "query")


def mocked(encoding: str, path: str = "/") -> web.Request:
    return make_mocked_request("POST", path, headers={"Content-Encoding": encoding})


def test_only_gzip_and_identity_are_decoded() -> None:
    """Encodings apply in the order listed, so are undone last first (RFC 9110, 8.4)."""
    twice = gzip.compress(gzip.compress(PLAIN))
    for encoding, body in (("gzip, gzip", twice), ("identity,gzip", gzip.compress(PLAIN))):
        copy = compression.inflated(mocked(encoding), body, "json", 10**6)
        assert "Content-Encoding" not in copy.headers
        assert copy.headers["Content-Length"] == str(len(PLAIN))
        assert asyncio.run(copy.read()) == PLAIN
    for coding in ("br", "deflate", "aws-chunked"):
        with pytest.raises(SerializationException, match=f"encoded with '{coding}'"):
            compression.inflated(mocked(coding), PLAIN, "json", 10**6)


def test_s3_and_invoke_endpoint_bodies_are_left_as_sent() -> None:
    """S3 keeps an object's Content-Encoding with its bytes; InvokeEndpoint's body is the
    model's (and the runtime's fast path never inflated it)."""
    assert compression.applies(mocked("gzip"), "monitoring")
    assert compression.applies(mocked("gzip"), "sagemaker")
    assert not compression.applies(mocked("gzip", "/bucket/key"), "s3")
    assert not compression.applies(mocked("gzip", "/endpoints/e/invocations"), "sagemaker")
    plain = make_mocked_request("POST", "/")
    assert not compression.applies(plain, "monitoring")


def compressed_operations() -> Iterator[tuple[str, str]]:
    """(service, operation) of every operation botocore's models mark ``requestcompression``."""
    root = pathlib.Path(botocore.__file__).parent / "data"
    for path in sorted(root.glob("*/*/service-2.json.gz")):
        if b'"requestcompression"' not in gzip.decompress(path.read_bytes()):
            continue
        model = service_model(path.parent.parent.name)
        for name in model.operation_names:
            if model.operation_model(name).request_compression is not None:
                yield model.service_name, name


def test_every_operation_botocore_compresses_is_decoded() -> None:
    """Whatever botocore compresses (CloudWatch's PutMetricData in 1.44), in every protocol its
    model lists, is a request the gateway decodes, and gzip is what it compresses with."""
    found = list(compressed_operations())
    assert ("cloudwatch", "PutMetricData") in found
    for service, name in found:
        model = service_model(service)
        operation = model.operation_model(name)
        assert "gzip" in operation.request_compression["encodings"]
        target = model.metadata.get("targetPrefix", "")
        paths = [operation.http["requestUri"], f"/service/{target}/operation/{name}"]
        for path in paths:
            assert compression.applies(mocked("gzip", path), model.signing_name), (name, path)


@pytest.fixture
def echo() -> Iterator[Any]:
    """``echo(path, body, headers, service, signed=body)``: the (status, answer) of a request
    of ``body`` signed over ``signed`` (SigV4, or for S3 botocore's S3 signer, which declares the
    payload's hash), the answer being what a handler behind the auth guard sees of it (body and
    headers), on a server that leaves bodies as sent, as the gateway's does."""
    loop = asyncio.new_event_loop()

    async def seen(request: web.Request) -> web.Response:
        assert request[CONTEXT].principal.kind == "root"
        body = await request.read()
        return web.json_response({"body": body.decode("latin-1"), "headers": dict(request.headers)})

    app = web.Application(middlewares=[auth.middleware(KEY, SECRET, None)])  # type: ignore[arg-type]
    app.router.add_route("*", "/{tail:.*}", seen)
    server = TestServer(app, host="127.0.0.1")
    loop.run_until_complete(server.start_server(auto_decompress=False))

    async def post(
        path: str, body: bytes, headers: dict[str, str], service: str, signed: bytes | None = None
    ) -> Any:
        url = str(server.make_url(path))
        request = AWSRequest("POST", url, data=body if signed is None else signed, headers=headers)
        signer = S3SigV4Auth if service == "s3" else SigV4Auth
        signer(Credentials(KEY, SECRET), service, "us-east-1").add_auth(request)
        async with (
            ClientSession(auto_decompress=False) as session,
            session.post(url, data=body, headers=dict(request.headers.items())) as answer,
        ):
            return answer.status, await answer.json(content_type=None)

    yield lambda *args: loop.run_until_complete(post(*args))
    loop.run_until_complete(server.close())
    loop.close()


TARGET = {"X-Amz-Target": "GraniteServiceVersion20100801.PutMetricData"}


def test_the_guard_checks_the_body_as_sent_and_serves_it_inflated(echo) -> None:
    sent = gzip.compress(PLAIN)
    status, seen = echo("/", sent, {"Content-Encoding": "gzip", **TARGET}, "monitoring")
    assert status == 200
    assert seen["body"].encode("latin-1") == PLAIN
    assert "Content-Encoding" not in seen["headers"]
    assert seen["headers"]["Content-Length"] == str(len(PLAIN))


def test_the_signature_is_over_the_gzipped_bytes(echo) -> None:
    """Signed over the plain body, sent gzipped: refused, as a signature over other bytes."""
    headers = {"Content-Encoding": "gzip", **TARGET}
    status, seen = echo("/", gzip.compress(PLAIN), headers, "monitoring", PLAIN)
    assert (status, seen["__type"]) == (400, "InvalidSignatureException")


def test_a_body_that_is_not_gzip_is_refused_after_the_signature(echo) -> None:
    status, seen = echo("/", PLAIN, {"Content-Encoding": "gzip", **TARGET}, "monitoring")
    assert (status, seen["__type"]) == (400, "SerializationException")
    assert "not valid gzip" in seen["message"]


def test_the_guard_leaves_an_s3_body_as_sent(echo) -> None:
    sent = gzip.compress(PLAIN)
    status, seen = echo("/bucket/key.json", sent, {"Content-Encoding": "gzip"}, "s3")
    assert status == 200
    assert seen["body"].encode("latin-1") == sent
    assert seen["headers"]["Content-Encoding"] == "gzip"
