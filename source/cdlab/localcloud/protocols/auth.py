"""Who may talk to the local cloud: loopback Host names and requests signed with a key it knows.

Every request but the kit's own ``/_cdlab/health`` must carry a SigV4 signature (an
``Authorization`` header, or a presigned URL's query; S3's SigV2 presigned URLs, which boto3
still makes by default, too) made with the local access key that ``control.credentials`` keeps
in the state dir (the account's administrator), or with an IAM user's access key or a role
session's temporary credentials (:mod:`cdlab.localcloud.iam.principals`). A session's request
must carry its session token, and an expired session is refused. The signature is recomputed
over the canonical request (botocore's own, or for header-signed requests to services other
than S3 the same string made directly), so a client that merely knows the key id is refused too.
A Host other than the loopback names is refused first: a web page that rebinds its DNS name to
127.0.0.1 still sends its own name as Host. Refusals use each protocol's own error, as AWS does.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

from aiohttp import web
from botocore.auth import (
    SIGNED_HEADERS_BLACKLIST,
    SIGV4_TIMESTAMP,
    HmacV1QueryAuth,
    S3SigV4Auth,
    S3SigV4QueryAuth,
    SigV4Auth,
)
from botocore.awsrequest import AWSRequest
from botocore.compat import HTTPHeaders
from botocore.credentials import Credentials
from multidict import CIMultiDict, CIMultiDictProxy

from cdlab import config
from cdlab.localcloud.context import Principal, RequestContext
from cdlab.localcloud.iam.principals import Principals
from cdlab.localcloud.protocols.envelopes import Family, error_response, family
from cdlab.localcloud.protocols.errors import AWSError, PayloadTooLarge, error
from cdlab.localcloud.sagemaker.router import MAX_PAYLOAD_BYTES

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Headers = CIMultiDictProxy[str] | CIMultiDict[str]
Middleware = Callable[[web.Request, Handler], Awaitable[web.StreamResponse]]
CONTEXT = web.RequestKey("cdlab.context", RequestContext)  # the request's context, once signed

HEALTH_PATH = "/_cdlab/health"
CONTENT_SHA256 = "x-amz-content-sha256"
NEVER_SIGNED = frozenset(SIGNED_HEADERS_BLACKLIST)  # botocore's list, as a set
MAX_SIGNED_BODY_BYTES = 32 * 1024**2
MissingContentLength = error("MissingContentLength", 411)
RequestEntityTooLarge = error("RequestEntityTooLarge", 413)
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


@dataclass(frozen=True)
class Signed:
    """What a request says about its signature: who, for which scope, over which headers."""

    key_id: str
    date: str
    region: str
    service: str
    signed_headers: tuple[str, ...]
    signature: str
    timestamp: str  # X-Amz-Date; for SigV2 presigned URLs, Expires
    presigned: bool
    expires: str = ""  # X-Amz-Expires of a SigV4 presigned URL
    version: int = 4


def refusal(kind: str, protocol_family: Family, message: str | None = None) -> AWSError:
    if message is None:
        by_family = FAMILY_MESSAGES.get(kind)
        message = by_family[protocol_family] if by_family else MESSAGES[kind]
    return REFUSALS[kind][protocol_family](message)


def host_allowed(request: web.Request) -> bool:
    """Whether the Host header names the loopback on the port the request arrived at."""
    sockname = request.transport.get_extra_info("sockname") if request.transport else None
    port = sockname[1] if sockname else None
    return request.headers.get("Host", "").lower() in _loopback_hosts(port)


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


class _PresignedV2(HmacV1QueryAuth):
    """botocore's SigV2 query signer, with the URL's own Expires in the string to sign."""

    def __init__(self, credentials: Credentials, expires: str) -> None:
        super().__init__(credentials)
        self._expires_at = expires

    def _get_date(self) -> str:
        return self._expires_at


def _v2_signature_valid(request: web.Request, claims: Signed, key_id: str, secret: str) -> bool:
    headers = HTTPHeaders()
    for name, value in request.headers.items():
        if name.lower() in ("content-md5", "content-type") or name.lower().startswith("x-amz-"):
            headers[name] = value
    for name, value in request.query.items():  # the x-amz- headers a presigned URL carries
        if name.lower().startswith("x-amz-"):
            headers[name] = value
    signer = _PresignedV2(Credentials(key_id, secret), claims.timestamp)
    expected = signer.get_signature(request.method, urlsplit(request.raw_path), headers)
    return hmac.compare_digest(expected, claims.signature)


def signature_valid(
    request: web.Request, claims: Signed, body: bytes, key_id: str, secret: str
) -> bool:
    """Recompute the signature over the canonical request: directly for a header-signed
    request to any service but S3 (every boto3 call but S3's, InvokeEndpoint among them), with
    botocore's signer for S3 and presigned URLs."""
    if claims.version == 2:
        return _v2_signature_valid(request, claims, key_id, secret)
    if not (claims.presigned or claims.service == "s3"):
        return header_signature_valid(
            request.method, request.host, request.raw_path, request.headers, claims, body, secret
        )
    if not _dated(claims):
        return False
    return _signed_with(
        secret, claims, _botocore_string_to_sign(request, claims, body, key_id, secret)
    )


def header_signature_valid(
    method: str,
    host: str,
    raw_path: str,
    headers: Headers,
    claims: Signed,
    body: bytes,
    secret: str,
) -> bool:
    """The signature check of a header-signed request to any service but S3."""
    canonical = (
        canonical_request(method, host, raw_path, headers, claims.signed_headers, body)
        if _dated(claims)
        else None
    )
    if canonical is None:
        return False
    scope = f"{claims.timestamp[:8]}/{claims.region}/{claims.service}/aws4_request"
    digest = hashlib.sha256(canonical.encode()).hexdigest()
    return _signed_with(secret, claims, f"AWS4-HMAC-SHA256\n{claims.timestamp}\n{scope}\n{digest}")


def _dated(claims: Signed) -> bool:
    return bool(claims.date) and claims.timestamp.startswith(claims.date)


def _signed_with(secret: str, claims: Signed, string_to_sign: str | None) -> bool:
    """Whether ``claims.signature`` signs ``string_to_sign`` with the key of ``secret``."""
    if string_to_sign is None:
        return False
    key = _signing_key(secret, claims.date, claims.region, claims.service)
    expected = hmac.digest(key, string_to_sign.encode(), "sha256").hex()
    return hmac.compare_digest(expected, claims.signature)


def _botocore_string_to_sign(
    request: web.Request, claims: Signed, body: bytes, key_id: str, secret: str
) -> str | None:
    """SigV4's string to sign as botocore's S3 and query signers derive it (None when a signed
    header is missing)."""
    s3 = claims.service == "s3"
    signer_class = (S3SigV4QueryAuth if claims.presigned else S3SigV4Auth) if s3 else SigV4Auth
    signer = signer_class(Credentials(key_id, secret), claims.service, claims.region)
    raw_path, _, query = request.raw_path.partition("?")
    if claims.presigned:
        query = "&".join(p for p in query.split("&") if not p.startswith("X-Amz-Signature="))
    url = f"http://{request.host}{raw_path}" + (f"?{query}" if query else "")
    signed = AWSRequest(method=request.method, url=url, data=body)
    signed.headers = HTTPHeaders()
    for name in claims.signed_headers:
        values = request.headers.getall(name, [])
        if not values:
            return None
        for value in values:
            signed.headers[name] = value
    signed.context["timestamp"] = claims.timestamp
    return signer.string_to_sign(signed, signer.canonical_request(signed))


def canonical_request(
    method: str,
    host: str,
    raw_path: str,
    headers: Headers,
    signed_headers: tuple[str, ...],
    body: bytes,
) -> str | None:
    """SigV4's canonical request for a header-signed request, exactly as botocore's
    ``SigV4Auth.canonical_request`` makes it (a unit test holds them equal), or None when a
    signed header is missing.

    botocore's way (an ``AWSRequest`` whose ``HTTPHeaders`` are an ``email.message.Message``,
    copied once more when the body is prepared) took a fifth to a third of the gateway's Python
    time per invocation; this is string work on the request's own headers, and what depends on
    the URL alone is cached: one endpoint's URL recurs on every request."""
    path, query, default_host = _canonical_url(host, raw_path)
    values: dict[str, list[str]] = {}
    for name in signed_headers:
        found = headers.getall(name, ())
        if not found:
            return None
        lname = name.lower()
        if lname not in NEVER_SIGNED:
            values.setdefault(lname, []).extend(found)
    if "host" not in values:
        values["host"] = [default_host]
    names = sorted(values)
    canonical_headers = "".join(
        f"{name}:{','.join(' '.join(v.split()) for v in values[name])}\n" for name in names
    )
    declared = values.get(CONTENT_SHA256)
    payload = declared[0] if declared else hashlib.sha256(body).hexdigest()
    return "\n".join((method.upper(), path, query, canonical_headers, ";".join(names), payload))


@functools.lru_cache(maxsize=1024)
def _canonical_url(host: str, raw_path: str) -> tuple[str, str, str]:
    """The canonical path and query string of a request, and the Host botocore would sign when
    the request signs none, made by botocore's signer from a request with no headers: its
    canonical request is then method, path, query, ``host:HOST``, blank, ``host``, hash."""
    url = f"http://{host}{raw_path}"
    lines = SigV4Auth(None, "", "").canonical_request(AWSRequest("GET", url)).split("\n")
    return lines[1], lines[2], lines[3].removeprefix("host:")


@functools.lru_cache(maxsize=64)
def _signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    """SigV4's derived key (as botocore's ``SigV4Auth.signature`` derives it), kept per day,
    region and service: it is most of the cost of checking a signature."""
    key = f"AWS4{secret}".encode()
    for part in (date, region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def _needs_body(request: web.Request, claims: Signed) -> bool:
    """Whether the body must be read (and bounded) here: when the signature covers the body
    itself rather than a declared hash (S3 declares its payload hash in a signed header, so
    large uploads are not read twice), and always for InvokeEndpoint."""
    if claims.service != "s3" or request.path.startswith("/endpoints/"):
        return True
    return not claims.presigned and CONTENT_SHA256 not in claims.signed_headers


def _too_large(request: web.Request) -> AWSError:
    if request.path.startswith("/endpoints/"):
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
        protocol_family = family(request, claims.service if claims else None)
        if not host_allowed(request):
            host = request.headers.get("Host", "")
            return error_response(
                refusal(
                    "host",
                    protocol_family,
                    f"The local cloud answers only requests addressed to 127.0.0.1, localhost "
                    f"or [::1] on its own port, not to Host {host!r} (a guard against DNS "
                    "rebinding).",
                ),
                protocol_family,
            )
        if request.path == HEALTH_PATH and request.method == "GET":
            return await handler(request)
        if claims is None:
            return error_response(refusal("missing", protocol_family), protocol_family)
        if hmac.compare_digest(claims.key_id, key_id):
            principal, signing_secret = administrator, secret
        else:
            known = await principals.resolve(claims.key_id)
            if known is None:
                return error_response(refusal("key", protocol_family), protocol_family)
            refused = known.refusal(session_token(request), time.time())
            if refused is not None:
                return error_response(refusal(refused, protocol_family), protocol_family)
            principal, signing_secret = known.principal, known.secret
        if expired(claims):
            return error_response(refusal("expired", protocol_family), protocol_family)
        body = b""
        if _needs_body(request, claims) and request.body_exists:
            limit = (
                MAX_PAYLOAD_BYTES
                if request.path.startswith("/endpoints/")
                else MAX_SIGNED_BODY_BYTES
            )
            if request.content_length is None:
                err = MissingContentLength("You must provide the Content-Length HTTP header.")
                return error_response(err, protocol_family)
            if request.content_length > limit:
                return error_response(_too_large(request), protocol_family)
            body = await request.read()
        if not signature_valid(request, claims, body, claims.key_id, signing_secret):
            return error_response(refusal("signature", protocol_family), protocol_family)
        request[CONTEXT] = RequestContext(
            config.ACCOUNT_ID,
            claims.region or config.region(),  # SigV2 scopes no region
            principal,
        )
        return await handler(request)

    return guard
