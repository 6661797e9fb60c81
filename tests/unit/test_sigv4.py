"""The gateway's own SigV4 canonical request equals botocore's, and signatures check as before."""

from __future__ import annotations

import hashlib
from unittest import mock

import pytest
from aiohttp.test_utils import make_mocked_request
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.compat import HTTPHeaders
from botocore.credentials import Credentials
from hypothesis import given, settings
from hypothesis import strategies as st
from multidict import CIMultiDict, CIMultiDictProxy

from cdlab.localcloud.protocols import auth, signatures

KEY, SECRET = "AKIACDLABTEST", "local-secret"
HOSTS = ("127.0.0.1:5555", "localhost:80", "[::1]:8080")


def botocore_canonical(
    method: str,
    host: str,
    raw_path: str,
    headers: CIMultiDictProxy[str],
    signed: tuple[str, ...],
    body: bytes,
) -> str | None:
    """The canonical request as the gateway made it with botocore before (None: a signed
    header is missing)."""
    path, _, query = raw_path.partition("?")
    url = f"http://{host}{path}" + (f"?{query}" if query else "")
    request = AWSRequest(method=method, url=url, data=body)
    request.headers = HTTPHeaders()
    for name in signed:
        values = headers.getall(name, [])
        if not values:
            return None
        for value in values:
            request.headers[name] = value
    return SigV4Auth(Credentials(KEY, SECRET), "sagemaker", "us-east-1").canonical_request(request)


SEGMENT = st.sampled_from(
    ["", ".", "..", "a", "endpoints", "my-endpoint", "invocations", "%2F", "%20", "%25",
     "%E2%82%AC", "~user", "a+b", "a=b", "@:!$&'()*,;", "A_Z-0.9", "é", "#frag", "x%2e%2E"]
)  # fmt: skip
QUERY_PART = st.sampled_from(["", "a", "b", "Action", "X", "%20", "+", "=", "%3D", "~", "é"])
PAIR = st.tuples(QUERY_PART, st.sampled_from(["", "="]), QUERY_PART).map("".join)
RAW_PATH = st.builds(
    lambda segments, trailing, query: "/" + "/".join(segments) + trailing + query,
    st.lists(SEGMENT, max_size=6),
    st.sampled_from(["", "/", "//"]),
    st.one_of(st.just(""), st.lists(PAIR, max_size=5).map(lambda p: "?" + "&".join(p))),
)
VALUE = st.sampled_from(
    ["application/json", "  spaced   out  value ", "\ttabbed\tvalue", "a,b", "", "é ü",
     "20261204T101010Z", "SageMaker.InvokeEndpoint", "UNSIGNED-PAYLOAD", "x  y"]
)  # fmt: skip
NAMES = ("Content-Type", "X-Amz-Date", "X-Amz-Target", "X-Amz-Content-SHA256", "User-Agent",
         "X-Custom", "Accept", "Connection")  # fmt: skip


@st.composite
def requests(draw: st.DrawFn) -> tuple[str, str, str, CIMultiDictProxy[str], tuple[str, ...]]:
    host = draw(st.sampled_from(HOSTS))
    headers: CIMultiDict[str] = CIMultiDict()
    if draw(st.booleans()):
        headers["Host"] = host
    for name in draw(st.lists(st.sampled_from(NAMES), max_size=6)):
        headers.add(name, draw(VALUE))  # a name drawn twice has two values
    present = sorted({name.lower() for name in headers})
    signed = draw(st.lists(st.sampled_from([*present, "missing-header"]), max_size=6))
    if draw(st.booleans()):  # as clients send it: every header once, lower case, sorted
        signed = sorted(set(signed) - {"missing-header"})
    cased = tuple(n.upper() if draw(st.booleans()) else n for n in signed)
    method = draw(st.sampled_from(["POST", "GET", "PUT", "DELETE", "post"]))
    return method, host, draw(RAW_PATH), CIMultiDictProxy(headers), cased


@pytest.mark.slow  # 1500 examples
@settings(max_examples=1500, deadline=None)
@given(requests(), st.binary(max_size=64))
def test_canonical_request_equals_botocores(request, body: bytes) -> None:
    method, host, raw_path, headers, signed = request
    assert signatures.canonical_request(
        method, host, raw_path, headers, signed, body
    ) == botocore_canonical(method, host, raw_path, headers, signed, body)


def test_invoke_endpoint_canonical_request_equals_botocores() -> None:
    headers = CIMultiDictProxy(
        CIMultiDict(
            {
                "Host": "127.0.0.1:5555",
                "Content-Type": "application/json",
                "X-Amz-Date": "20261204T101010Z",
                "X-Amzn-SageMaker-Custom-Attributes": "trace=1",
            }
        )
    )
    signed = ("content-type", "host", "x-amz-date", "x-amzn-sagemaker-custom-attributes")
    for raw_path in ("/endpoints/my-endpoint/invocations", "/endpoints/a%2Fb/invocations"):
        ours = signatures.canonical_request(
            "POST", "127.0.0.1:5555", raw_path, headers, signed, b"{}"
        )
        assert ours == botocore_canonical(
            "POST", "127.0.0.1:5555", raw_path, headers, signed, b"{}"
        )
        assert ours is not None and ours.endswith(hashlib.sha256(b"{}").hexdigest())


def signed_request(
    body: bytes,
    path: str = "/endpoints/e/invocations",
    sent_path: str | None = None,
    changed: dict[str, str] | None = None,
):
    """An aiohttp request as boto3 sends one, signed by botocore for ``path``; then sent to
    ``sent_path`` instead, or with the ``changed`` headers."""
    url = f"http://127.0.0.1:5555{path}"
    request = AWSRequest("POST", url, data=body, headers={"Content-Type": "application/json"})
    SigV4Auth(Credentials(KEY, SECRET), "sagemaker", "us-east-1").add_auth(request)
    headers = CIMultiDict(request.headers.items())
    headers["Host"] = "127.0.0.1:5555"
    headers.update(changed or {})
    transport = mock.Mock()
    transport.get_extra_info.return_value = ("127.0.0.1", 5555)
    return make_mocked_request("POST", sent_path or path, headers=headers, transport=transport)


def check(request, body: bytes, secret: str = SECRET) -> bool:
    claims = auth.parse(request)
    assert claims is not None
    return signatures.signature_valid(request, claims, body, KEY, secret)


def test_a_request_signed_by_botocore_passes() -> None:
    body = b'{"instances": [{"features": [1, 2]}]}'
    assert check(signed_request(body), body)
    assert check(signed_request(body, "/endpoints/a%2Fb/invocations"), body)


def test_a_changed_body_header_path_or_secret_fails() -> None:
    body = b'{"instances": []}'
    assert not check(signed_request(body), body + b" ")
    assert not check(signed_request(body, changed={"Content-Type": "text/csv"}), body)
    assert not check(signed_request(body, sent_path="/endpoints/other/invocations"), body)
    assert not check(signed_request(body), body, secret="another-secret")


def invocation(key: str, secret: str, region: str = "us-east-1", host: str = "127.0.0.1:5555"):
    """Raw path, headers and body of an InvokeEndpoint request as boto3 signs it."""
    body = b'{"instances": []}'
    request = AWSRequest(
        "POST", f"http://{host}/endpoints/e/invocations", data=body,
        headers={"Content-Type": "application/json"},
    )  # fmt: skip
    SigV4Auth(Credentials(key, secret), "sagemaker", region).add_auth(request)
    headers = CIMultiDict(request.headers.items())
    headers["Host"] = host
    return "/endpoints/e/invocations", headers, body


def test_the_fast_path_allows_only_the_kits_key() -> None:
    raw_path, headers, body = invocation(KEY, SECRET)
    assert auth.invocation_allowed(5555, raw_path, headers, body, KEY, SECRET)
    # an IAM user's (or a session's) key, however well signed, is left to the guard and IAM
    raw_path, headers, body = invocation("AKIAIAMUSER", "user-secret")
    assert not auth.invocation_allowed(5555, raw_path, headers, body, KEY, SECRET)
    raw_path, headers, body = invocation(KEY, SECRET, host="evil.example:5555")
    assert not auth.invocation_allowed(5555, raw_path, headers, body, KEY, SECRET)
    raw_path, headers, body = invocation(KEY, SECRET)
    assert not auth.invocation_allowed(5555, raw_path, headers, body + b" ", KEY, SECRET)


def test_the_fast_paths_context_is_the_guards() -> None:
    from cdlab.localcloud import server

    _, headers, _ = invocation(KEY, SECRET, region="eu-west-1")
    ctx = server._signed_context(headers)
    assert ctx.region == "eu-west-1"
    assert ctx.principal.kind == "root"
    assert ctx.arn("logs", "log-group:x").startswith("arn:aws:logs:eu-west-1:")
