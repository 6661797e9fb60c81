"""Request bodies a client compressed (``Content-Encoding: gzip``): signed as sent, served inflated.

The AWS SDKs gzip the body of each operation a service's model marks with the
``requestCompression`` trait, once it is ``request_min_compression_size_bytes`` (10240 by
default) or more, unless ``disable_request_compression`` is set, and say so in
``Content-Encoding`` (https://docs.aws.amazon.com/sdkref/latest/guide/feature-compression.html;
botocore's ``compress.py``). In botocore 1.44 that is CloudWatch's PutMetricData, in each protocol
it speaks (awsJson, query, RPC v2 CBOR), and CloudWatch takes it: "You can send a payload
compressed by gzip" (https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricData.html).
botocore compresses before it signs (``maybe_compress_request``, then the request is made and
signed), and SigV4 hashes the payload as sent
(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-create-signed-request.html):
the signature covers the gzipped bytes.

So the gateway's web server leaves bodies as they arrive (``auto_decompress=False``, in
``server._serve``; aiohttp inflated them before the guard hashed them, and refused every gzipped
request with InvalidSignatureException), the guard checks the signature over those bytes and
then, for a request this module :func:`applies` to, hands the operation an inflated copy of the
request (:func:`inflated`): no ``Content-Encoding``, its own ``Content-Length``, so IAM's check,
the model check, the kit's services, moto and the journal all see the plain body.

Which requests: every JSON, RPC v2 CBOR or query request, not only the operations botocore
compresses today (a test holds that they are all among these): AWS's JSON services take a
gzipped body of operations botocore does not compress (DynamoDB's PutItem, tested against
DynamoDB: https://github.com/scylladb/scylladb/blob/master/test/alternator/test_compressed_request.py).
Not S3's, whose Content-Encoding is the object's own, kept with the bytes as uploaded
(https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutObject.html), nor InvokeEndpoint's,
whose body goes to the model as sent (the runtime's fast path never inflated it either).

Limits: the guard's size limit is on the body as sent, as CloudWatch's is ("limited to 1 MB in
size for HTTP POST requests. You can send a payload compressed by gzip", the page above: gzip is
how more fits). Inflating is bounded too, at the same 32 MiB the guard reads of any signed body
(a few KB of gzip inflate to gigabytes): past it, RequestEntityTooLarge (413), from the bytes
inflated so far, never the whole. DynamoDB does not bound it (the tests above); CloudWatch's
bound is not documented. A body that is not gzip, or an encoding other than gzip, is the caller's
error, SerializationException (400) in JSON and CBOR and the query protocol's ValidationError
(400): AWS's words for it are not documented (DynamoDB answers a broken gzip with HTTP 500).
"""

from __future__ import annotations

import zlib

from aiohttp import web
from multidict import CIMultiDict

from cdlab.localcloud.protocols.envelopes import Family, is_invocation
from cdlab.localcloud.protocols.errors import (
    AWSError,
    RequestEntityTooLarge,
    SerializationException,
    ValidationError,
)

CONTENT_ENCODING = "Content-Encoding"
GZIP = "gzip"
IDENTITY = "identity"
GZIP_WBITS = 16 + zlib.MAX_WBITS  # a gzip header and trailer around deflate
CHUNK_BYTES = 1 << 16  # input fed at a time: a member's leftovers are copied, at most this


def applies(request: web.Request, service: str) -> bool:
    """Whether ``request`` (signed for ``service``) says its body is encoded and is one whose
    body the gateway decodes: any but S3's and InvokeEndpoint's."""
    return (
        CONTENT_ENCODING in request.headers and service != "s3" and not is_invocation(request.path)
    )


def inflated(request: web.Request, body: bytes, family: Family, limit: int) -> web.Request:
    """A copy of ``request`` whose body is ``body`` (as it arrived, the signature checked)
    decoded, at most ``limit`` bytes, without Content-Encoding; raises the caller's AWSError.
    ``request``'s own body must not have been read by ``request.read()``: aiohttp clones only
    an unread request."""
    codings = [
        token.strip().lower()
        for value in request.headers.getall(CONTENT_ENCODING)
        for token in value.split(",")
    ]
    for coding in reversed(codings):  # the last one applied first
        if coding == GZIP:
            body = gunzip(body, limit, family)
        elif coding not in (IDENTITY, ""):
            raise _malformed(
                family,
                f"The request body is encoded with {coding!r} (Content-Encoding: "
                f"{request.headers[CONTENT_ENCODING]}); the local cloud decodes gzip only, the "
                "one encoding the AWS SDKs compress requests with.",
            )
    headers = CIMultiDict(request.headers)
    headers.popall(CONTENT_ENCODING)
    headers["Content-Length"] = str(len(body))
    copy = request.clone(headers=headers)
    copy._read_bytes = body  # what copy.read() answers: aiohttp's cache of the read body
    return copy


def gunzip(data: bytes, limit: int, family: Family) -> bytes:
    """``data`` inflated: one gzip member or several, back to back (RFC 1952, 2.2), and no
    more than ``limit`` bytes, inflated a bounded piece at a time (a gzip bomb is refused once
    ``limit`` is passed, having cost that much)."""
    parts: list[bytes] = []
    size, members, position = 0, 0, 0
    pending = b""  # input the member being inflated has not taken yet
    member = None
    try:
        while True:
            if not pending and position < len(data):
                pending = data[position : position + CHUNK_BYTES]
                position += CHUNK_BYTES
            if not pending and member is None:
                break
            if member is None:
                member, members = zlib.decompressobj(GZIP_WBITS), members + 1
            part = member.decompress(pending, limit + 1 - size)  # never 0, which is unbounded
            size += len(part)
            if size > limit:
                raise RequestEntityTooLarge(
                    f"The request body, inflated (Content-Encoding: gzip), is over {limit} "
                    "bytes; request bodies are limited to that, inflated or not."
                )
            parts.append(part)
            if member.eof:
                pending, member = member.unused_data, None
            else:
                pending = member.unconsumed_tail
                if not (part or pending) and position >= len(data):
                    break  # the member ends mid-stream
    except zlib.error as e:
        raise _malformed(family, f"The request body is not valid gzip ({e}).") from None
    if members == 0 or member is not None:
        problem = "is empty" if members == 0 else "ends mid-stream"
        raise _malformed(family, f"The request body is not valid gzip (it {problem}).")
    return b"".join(parts)


def _malformed(family: Family, problem: str) -> AWSError:
    """The refusal of a body that cannot be decoded: a JSON or CBOR request's
    SerializationException, a query request's ValidationError."""
    message = f"{problem} Send a gzip body with Content-Encoding: gzip, or a plain one without it."
    return (ValidationError if family == "query" else SerializationException)(message)
