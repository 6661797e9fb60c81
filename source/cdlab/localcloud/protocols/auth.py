"""Who may talk to the local cloud: loopback Host names and requests signed with a key it knows.

Every request but the kit's own ``/_cdlab/health`` must carry a SigV4 signature (an
``Authorization`` header, or a presigned URL's query; S3's SigV2 presigned URLs, which boto3
still makes by default, too) made with the local access key that ``control.credentials`` keeps
in the state dir (the account's administrator), or with an IAM user's access key or a role
session's temporary credentials (:mod:`cdlab.localcloud.iam.principals`). A session's request
must carry its session token, and an expired session is refused. The signature is recomputed
(:mod:`.signatures`) over the canonical request (botocore's own, or for header-signed requests
to services other than S3 the same string made directly), so a client that merely knows the key
id is refused too. A body the client compressed (``Content-Encoding: gzip``) is checked as sent
and then served decoded (:mod:`.compression`).
A Host other than the loopback names is refused first: a web page that rebinds its DNS name to
127.0.0.1 still sends its own name as Host. Refusals use each protocol's own error, as AWS does;
a service with the awsQueryCompatible trait (CloudWatch) also names the query protocol's code in
``x-amzn-query-error`` (``SignatureDoesNotMatch;Sender`` beside JSON's
``InvalidSignatureException``), which the SDKs report (:func:`.envelopes.with_query_code`).
"""

from __future__ import annotations

import functools
import hmac
import re
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from aiohttp import web
from botocore.auth import (
    SIGV4_TIMESTAMP,
)
from multidict import CIMultiDict

from cdlab import config
from cdlab.localcloud.context import Principal, RequestContext
from cdlab.localcloud.iam.principals import Principals
from cdlab.localcloud.protocols import compression
from cdlab.localcloud.protocols.envelopes import Family, error_response, family, is_invocation
from cdlab.localcloud.protocols.errors import (
    AWSError,
    PayloadTooLarge,
    RequestEntityTooLarge,
    error,
    in_family,
)
from cdlab.localcloud.protocols.signatures import (
    CONTENT_SHA256,
    Signed,
    header_signature_valid,
    signature_valid,
)
from cdlab.localcloud.sagemaker.router import MAX_PAYLOAD_BYTES

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Middleware = Callable[[web.Request, Handler], Awaitable[web.StreamResponse]]
CONTEXT = web.RequestKey("cdlab.context", RequestContext)  # the request's context, once signed

HEALTH_PATH = "/_cdlab/health"
MAX_SIGNED_BODY_BYTES = 32 * 1024**2
MissingContentLength = error("MissingContentLength", 411)
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")
SECURITY_TOKEN = "X-Amz-Security-Token"
AUTHORIZATION = re.compile(
    r"^AWS4-HMAC-SHA256\s+Credential=(?P<credential>[^,\s]+),\s*"
    r"SignedHeaders=(?P<signed>[^,\s]+),\s*Signature=(?P<signature>[0-9a-f]+)\s*$"
)
# The AWS error for each refusal, by protocol family: JSON (awsJson and the runtime's
# rest-json), query (form-encoded, XML answers) and S3 (rest-xml). A session token that is not
# the session's is refused as an unknown key is (S3: InvalidToken); an expired session's is
# ExpiredTokenException (https://docs.aws.amazon.com/IAM/latest/APIReference/CommonErrors.html),
# which the query services (STS, IAM) name ExpiredToken and the JSON services, like their other
# key refusals here, answer with 400; S3's are InvalidToken and ExpiredToken, both 400
# (https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html).
REFUSALS = {
    "missing": {
        "json": error("MissingAuthenticationTokenException", 403),
        "query": error("MissingAuthenticationToken", 403),
        "s3": error("AccessDenied", 403),
    },
    "key": {
        "json": error("UnrecognizedClientException", 400),
        "query": error("InvalidClientTokenId", 403),
        "s3": error("InvalidAccessKeyId", 403),
    },
    "token": {
        "json": error("UnrecognizedClientException", 400),
        "query": error("InvalidClientTokenId", 403),
        "s3": error("InvalidToken", 400),
    },
    "token-expired": {
        "json": error("ExpiredTokenException", 400),
        "query": error("ExpiredToken", 403),
        "s3": error("ExpiredToken", 400),
    },
    "signature": {
        "json": error("InvalidSignatureException", 400),
        "query": error("SignatureDoesNotMatch", 403),
        "s3": error("SignatureDoesNotMatch", 403),
    },
    "expired": {
        "json": error("AccessDeniedException", 403),
        "query": error("AccessDenied", 403),
        "s3": error("AccessDenied", 403),
    },
    "host": {
        "json": error("AccessDeniedException", 403),
        "query": error("AccessDenied", 403),
        "s3": error("AccessDenied", 403),
    },
}
MESSAGES = {
    "missing": "Missing Authentication Token: sign requests with the local cloud's key "
    "(cdlab local env prints it).",
    "signature": "The request signature we calculated does not match the signature you "
    "provided. Check your AWS Secret Access Key and signing method.",
    "expired": "Request has expired",
}
FAMILY_MESSAGES = {
    "key": {
        "json": "The security token included in the request is invalid.",
        "query": "The security token included in the request is invalid.",
        "s3": "The AWS Access Key Id you provided does not exist in our records.",
    },
    "token": {
        "json": "The security token included in the request is invalid.",
        "query": "The security token included in the request is invalid.",
        "s3": "The provided token is malformed or otherwise invalid.",
    },
    "token-expired": {
        "json": "The security token included in the request is expired",
        "query": "The security token included in the request is expired",
        "s3": "The provided token has expired.",
    },
}


def refusal(kind: str, protocol_family: Family, message: str | None = None) -> AWSError:
    """The refusal of ``kind``; an RPC v2 CBOR service answers with its JSON codes. It carries
    the query family's code too, which a service with the awsQueryCompatible trait names in
    its JSON and CBOR refusals (:func:`.errors.in_family`)."""
    codes = "json" if protocol_family == "cbor" else protocol_family
    if message is None:
        by_family = FAMILY_MESSAGES.get(kind)
        message = by_family[codes] if by_family else MESSAGES[kind]
    return in_family(REFUSALS[kind], protocol_family, message)


def host_allowed(request: web.Request) -> bool:
    """Whether the Host header names the loopback on the port the request arrived at."""
    sockname = request.transport.get_extra_info("sockname") if request.transport else None
    port = sockname[1] if sockname else None
    return request.headers.get("Host", "").lower() in _loopback_hosts(port)


def _host_refused(
    request: web.Request, protocol_family: Family, service: str | None
) -> web.Response:
    host = request.headers.get("Host", "")
    return error_response(
        refusal(
            "host",
            protocol_family,
            f"The local cloud answers only requests addressed to 127.0.0.1, localhost or [::1] "
            f"on its own port, not to Host {host!r} (a guard against DNS rebinding).",
        ),
        protocol_family,
        service=service,
    )


@functools.lru_cache(maxsize=8)
def _loopback_hosts(port: int | None) -> frozenset[str]:
    return frozenset(f"{name}:{port}" for name in LOOPBACK_NAMES)


def parse(request: web.Request) -> Signed | None:
    """The request's SigV4 claims, from its Authorization header or presigned query."""
    header = request.headers.get("Authorization")
    if header is not None:
        return header_claims(header, request.headers.get("X-Amz-Date", ""))
    query = request.query
    if "X-Amz-Signature" in query:
        return _claims(
            query.get("X-Amz-Credential", ""), query.get("X-Amz-SignedHeaders", ""),
            query["X-Amz-Signature"], query.get("X-Amz-Date", ""), True,
            query.get("X-Amz-Expires", ""),
        )  # fmt: skip
    if "Signature" in query and "AWSAccessKeyId" in query:
        return Signed(
            query["AWSAccessKeyId"], "", "", "s3", (), query["Signature"],
            query.get("Expires", ""), presigned=True, version=2,
        )  # fmt: skip
    return None


def header_claims(header: str, timestamp: str) -> Signed:
    """The claims of an ``Authorization`` header (empty ones when it is not SigV4's)."""
    match = AUTHORIZATION.match(header)
    if match is None:
        return Signed("", "", "", "", (), "", timestamp, presigned=False)
    return _claims(match["credential"], match["signed"], match["signature"], timestamp, False)


def _claims(
    credential: str, signed: str, signature: str, timestamp: str, presigned: bool, expires: str = ""
) -> Signed:
    key_id, _, scope = credential.partition("/")
    date, region, service = ([*scope.split("/"), "", "", ""])[:3]
    return Signed(
        key_id, date, region, service, tuple(signed.split(";")), signature, timestamp, presigned,
        expires,
    )  # fmt: skip


def session_token(request: web.Request) -> str | None:
    """The request's X-Amz-Security-Token: a header, or a presigned URL's query parameter
    (SigV4 spells it ``X-Amz-Security-Token``, S3's SigV2 ``x-amz-security-token``)."""
    token = request.headers.get(SECURITY_TOKEN)
    if token is None:
        token = request.query.get(SECURITY_TOKEN) or request.query.get(SECURITY_TOKEN.lower())
    return token


def expired(claims: Signed) -> bool:
    """Whether a presigned URL is past its expiry (a malformed expiry counts as past)."""
    if not claims.presigned:
        return False
    try:
        if claims.version == 2:
            return int(claims.timestamp) < time.time()
        signed_at = datetime.strptime(claims.timestamp, SIGV4_TIMESTAMP).replace(tzinfo=UTC)
        return signed_at.timestamp() + int(claims.expires) < time.time()
    except ValueError:
        return True


def _needs_body(request: web.Request, claims: Signed) -> bool:
    """Whether the body must be read (and bounded) here: when the signature covers the body
    itself rather than a declared hash (S3 declares its payload hash in a signed header, so
    large uploads are not read twice), and always for InvokeEndpoint."""
    if claims.service != "s3" or is_invocation(request.path):
        return True
    return not claims.presigned and CONTENT_SHA256 not in claims.signed_headers


def _unbounded(request: web.Request) -> AWSError | None:
    """The refusal of a body the guard may not read: of no Content-Length, or over the limit
    (InvokeEndpoint's 6 MB, any other signed body's 32 MiB); None for one it may."""
    if request.content_length is None:
        return MissingContentLength("You must provide the Content-Length HTTP header.")
    endpoint = is_invocation(request.path)
    limit = MAX_PAYLOAD_BYTES if endpoint else MAX_SIGNED_BODY_BYTES
    return _too_large(request) if request.content_length > limit else None


def _too_large(request: web.Request) -> AWSError:
    if is_invocation(request.path):
        return PayloadTooLarge(f"HTTP content length exceeded {MAX_PAYLOAD_BYTES} bytes.")
    return RequestEntityTooLarge(f"Request bodies are limited to {MAX_SIGNED_BODY_BYTES} bytes.")


def invocation_allowed(
    port: int | None,
    raw_path: str,
    headers: CIMultiDict[str],
    body: bytes,
    key_id: str,
    secret: str,
) -> bool:
    """Whether an InvokeEndpoint request (POST, its whole body read, bounded by the caller)
    passes every check the guard makes of it: Host, key id, and the header signature over its
    headers and body. Only the kit's own key (the administrator) is allowed here: IAM users'
    and role sessions' requests, whose principals and policies the guard and the enforcement
    middleware check, are left to aiohttp. The runtime's fast path serves only allowed requests
    and hands any other to the guard, which serves or refuses it in its own words."""
    host = headers.get("Host", "")
    header = headers.get("Authorization")
    if header is None or host.lower() not in _loopback_hosts(port):
        return False
    claims = header_claims(header, headers.get("X-Amz-Date", ""))
    if claims.service == "s3" or not hmac.compare_digest(claims.key_id, key_id):
        return False
    return header_signature_valid("POST", host, raw_path, headers, claims, body, secret)


def middleware(key_id: str, secret: str, principals: Principals) -> Middleware:
    """The gateway's guard: Host, then key id (the kit's, ``key_id``, or one ``principals``
    resolves, with its session token), then signature; health checks pass unsigned."""
    administrator = Principal.administrator(config.ACCOUNT_ID, key_id)

    @web.middleware
    async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
        claims = parse(request)
        service = claims.service if claims else None
        protocol_family = family(request, service)
        # every refusal below, in the family's envelope and as the signed-for service answers
        refuse = functools.partial(error_response, protocol_family=protocol_family, service=service)
        if not host_allowed(request):
            return _host_refused(request, protocol_family, service)
        if request.path == HEALTH_PATH and request.method == "GET":
            return await handler(request)
        if claims is None:
            return refuse(refusal("missing", protocol_family))
        if hmac.compare_digest(claims.key_id, key_id):
            principal, signing_secret = administrator, secret
        else:
            known = await principals.resolve(claims.key_id)
            if known is None:
                return refuse(refusal("key", protocol_family))
            refused = known.refusal(session_token(request), time.time())
            if refused is not None:
                return refuse(refusal(refused, protocol_family))
            principal, signing_secret = known.principal, known.secret
        if expired(claims):
            return refuse(refusal("expired", protocol_family))
        encoded = compression.applies(request, claims.service)  # read, whatever _needs_body says
        body = b""
        if (encoded or _needs_body(request, claims)) and request.body_exists:
            unbounded = _unbounded(request)
            if unbounded is not None:
                return refuse(unbounded)
            # a body to decode is read off the stream: aiohttp clones only an unread request
            body = await (request.content.read() if encoded else request.read())
        if not signature_valid(request, claims, body, claims.key_id, signing_secret):
            return refuse(refusal("signature", protocol_family))
        if encoded:  # checked as sent, served decoded
            try:
                request = compression.inflated(
                    request, body, protocol_family, MAX_SIGNED_BODY_BYTES
                )
            except AWSError as err:
                return refuse(err)
        request[CONTEXT] = RequestContext(
            config.ACCOUNT_ID,
            claims.region or config.region(),  # SigV2 scopes no region
            principal,
        )
        return await handler(request)

    return guard
