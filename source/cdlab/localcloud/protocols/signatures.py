"""SigV4 (and S3's presigned SigV2) signatures, recomputed: what a request claims about its
signature (:class:`Signed`), and whether a secret made it. A header-signed request to any service
but S3 is checked directly over its own headers (the hot path, InvokeEndpoint among them); S3 and
presigned URLs with botocore's own signers. The auth guard (:mod:`.auth`) decides whose secret.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
from typing import NamedTuple
from urllib.parse import urlsplit

from aiohttp import web
from botocore.auth import (
    SIGNED_HEADERS_BLACKLIST,
    HmacV1QueryAuth,
    S3SigV4Auth,
    S3SigV4QueryAuth,
    SigV4Auth,
)
from botocore.awsrequest import AWSRequest
from botocore.compat import HTTPHeaders
from botocore.credentials import Credentials
from multidict import CIMultiDict, CIMultiDictProxy

Headers = CIMultiDictProxy[str] | CIMultiDict[str]
CONTENT_SHA256 = "x-amz-content-sha256"
NEVER_SIGNED = frozenset(SIGNED_HEADERS_BLACKLIST)  # botocore's list, as a set


class Signed(NamedTuple):
    """What a request says about its signature: who, for which scope, over which headers (a
    named tuple: made on every request, at a fifth of a frozen dataclass's cost)."""

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
    digest = _sha256_hex(canonical.encode())
    return _signed_with(secret, claims, f"AWS4-HMAC-SHA256\n{claims.timestamp}\n{scope}\n{digest}")


def _dated(claims: Signed) -> bool:
    return bool(claims.date) and claims.timestamp.startswith(claims.date)


def _signed_with(secret: str, claims: Signed, string_to_sign: str | None) -> bool:
    """Whether ``claims.signature`` signs ``string_to_sign`` with the key of ``secret``."""
    if string_to_sign is None:
        return False
    mac = _signer(secret, claims.date, claims.region, claims.service).copy()
    mac.update(string_to_sign.encode())
    return hmac.compare_digest(mac.hexdigest(), claims.signature)


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
        found = headers.getall(name, ())  # a new list
        if not found:
            return None
        lname = name.lower()
        if lname not in NEVER_SIGNED:
            if lname in values:
                values[lname] += found
            else:
                values[lname] = found
    if "host" not in values:
        values["host"] = [default_host]
    names = sorted(values)
    lines = []  # a loop, not nested generators: this runs on every invocation
    for name in names:
        found = values[name]
        if len(found) == 1:
            value = " ".join(found[0].split())
        else:
            value = ",".join([" ".join(v.split()) for v in found])
        lines.append(f"{name}:{value}\n")
    canonical_headers = "".join(lines)
    declared = values.get(CONTENT_SHA256)
    payload = declared[0] if declared else _sha256_hex(body)
    return "\n".join((method.upper(), path, query, canonical_headers, ";".join(names), payload))


@functools.lru_cache(maxsize=1024)
def _canonical_url(host: str, raw_path: str) -> tuple[str, str, str]:
    """The canonical path and query string of a request, and the Host botocore would sign when
    the request signs none, made by botocore's signer from a request with no headers: its
    canonical request is then method, path, query, ``host:HOST``, blank, ``host``, hash."""
    url = f"http://{host}{raw_path}"
    lines = SigV4Auth(None, "", "").canonical_request(AWSRequest("GET", url)).split("\n")
    return lines[1], lines[2], lines[3].removeprefix("host:")


def _sha256_hex(data: bytes) -> str:
    """SHA-256 of ``data``, in hex, from a copy of an empty hash: making a new one costs OpenSSL 3
    a provider lookup per call, a copy does not (a few percent of the gateway's CPU per
    invocation, by ``perf`` at 400/s)."""
    sha256 = _EMPTY_SHA256.copy()
    sha256.update(data)
    return sha256.hexdigest()


_EMPTY_SHA256 = hashlib.sha256()


@functools.lru_cache(maxsize=64)
def _signer(secret: str, date: str, region: str, service: str) -> hmac.HMAC:
    """An HMAC-SHA256 keyed with SigV4's derived key (as botocore's ``SigV4Auth.signature``
    derives it), kept per day, region and service and copied for each signature: deriving the
    key is most of the cost of checking a signature, and a copy spares OpenSSL 3's lookups."""
    key = f"AWS4{secret}".encode()
    for part in (date, region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return hmac.new(key, digestmod=hashlib.sha256)
