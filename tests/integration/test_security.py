"""Who may talk to the local cloud: loopback only, signed with the kit's key, addressed to a
loopback name; instances only through InvokeEndpoint; nothing unpickles outside data."""

from __future__ import annotations

import http.client
import json
import re
import urllib.error
import urllib.request
from pathlib import Path

import boto3
import pytest
from botocore.config import Config

from cdlab.localcloud import control
from tests.aws_errors import refused
from tests.conftest import children_with_pids
from tests.integration.test_endpoints import BODY
from tests.polling import poll
from tests.signing import signed_headers

SOURCE = Path(__file__).parents[2] / "source"
UNPICKLING = re.compile(
    r"\bpickle\.(load|loads|Unpickler)\b|allow_pickle\s*=\s*True|\b(cloudpickle|dill|joblib|shelve)\b"
    r"|\bmarshal\.loads?\b|\btorch\.load\b"
)


@pytest.fixture(scope="module")
def serving(deploy) -> str:
    return deploy("sec", {"AllTraffic": (1, 1, 1)})


def raw(
    cloud: control.Cloud, method: str, path: str, body: bytes = b"", headers=None, host=None
) -> tuple[int, dict[str, str], bytes]:
    """One HTTP request as given (no signing unless the caller signed it)."""
    connection = http.client.HTTPConnection("127.0.0.1", cloud.port, timeout=30)
    try:
        connection.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        headers = {"Host": host or f"127.0.0.1:{cloud.port}", **(headers or {})}
        headers.setdefault("Content-Length", str(len(body)))
        for name, value in headers.items():
            connection.putheader(name, value)
        connection.endheaders(body)
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


def signed(cloud, aws_env, method: str, path: str, body: bytes = b"", headers=None, **kw):
    url = path if path.startswith("http") else f"http://127.0.0.1:{cloud.port}{path}"
    return raw(cloud, method, path, body, signed_headers(method, url, body, headers or {}, **kw))


def with_key(aws_env, service: str, key_id: str, secret: str):
    return boto3.client(
        service,
        endpoint_url=aws_env["AWS_ENDPOINT_URL"],
        region_name="us-east-1",
        aws_access_key_id=key_id,
        aws_secret_access_key=secret,
        config=Config(retries={"total_max_attempts": 1}),
    )


def listening(pid: int) -> list[tuple[str, int]]:
    """(address, port) of each TCP socket in LISTEN state that process ``pid`` holds."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = fd.readlink().name
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    found = []
    for table in ("tcp", "tcp6"):
        for line in Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A" and fields[9] in inodes:  # 0A: LISTEN
                address, port = fields[1].split(":")
                if len(address) == 8:  # IPv4, little-endian hex
                    address = ".".join(str(int(address[i : i + 2], 16)) for i in (6, 4, 2, 0))
                found.append((address, int(port, 16)))
    return found


def test_cloud_and_instances_listen_on_loopback_only(cloud, serving) -> None:
    pids = [cloud.pid] + [pid for pid, _ in children_with_pids(cloud.pid)]
    sockets = [socket for pid in pids for socket in listening(pid)]
    assert ("127.0.0.1", cloud.port) in sockets
    assert len(sockets) >= 2  # the gateway and at least the serving instance
    assert {address for address, _ in sockets} == {"127.0.0.1"}


def test_unsigned_requests_are_refused_in_each_protocol(cloud, serving) -> None:
    status, _, body = raw(
        cloud, "POST", "/", b"{}",
        {"X-Amz-Target": "SageMaker.ListEndpoints", "Content-Type": "application/x-amz-json-1.1"},
    )  # fmt: skip
    assert status == 403
    assert json.loads(body)["__type"] == "MissingAuthenticationTokenException"
    status, _, body = raw(cloud, "POST", f"/endpoints/{serving}/invocations", BODY.encode())
    assert status == 403 and b"MissingAuthenticationToken" in body
    status, _, body = raw(cloud, "GET", "/cdlab-test-models")
    assert status == 403 and b"<Code>AccessDenied</Code>" in body
    status, _, body = raw(
        cloud, "POST", "/", b"Action=GetCallerIdentity&Version=2011-06-15",
        {"Content-Type": "application/x-www-form-urlencoded"},
    )  # fmt: skip
    assert status == 403 and b"<Code>MissingAuthenticationToken</Code>" in body


def test_health_check_needs_no_signature(cloud) -> None:
    status, _, body = raw(cloud, "GET", "/_cdlab/health")
    assert status == 200 and json.loads(body)["pid"] == cloud.pid


def test_an_unknown_access_key_is_refused_as_aws_does(aws_env) -> None:
    secret = aws_env["AWS_SECRET_ACCESS_KEY"]
    code, message, status = refused(
        with_key(aws_env, "sagemaker", "AKIAWRONGKEY", secret).list_endpoints
    )
    assert (code, message, status) == (
        "UnrecognizedClientException",
        "The security token included in the request is invalid.",
        400,
    )
    code, message, status = refused(
        with_key(aws_env, "sts", "AKIAWRONGKEY", secret).get_caller_identity
    )
    assert (code, status) == ("InvalidClientTokenId", 403)
    assert message == "The security token included in the request is invalid."
    code, message, status = refused(with_key(aws_env, "s3", "AKIAWRONGKEY", secret).list_buckets)
    assert (code, status) == ("InvalidAccessKeyId", 403)
    code, _, status = refused(
        with_key(aws_env, "sagemaker-runtime", "AKIAWRONGKEY", secret).invoke_endpoint,
        EndpointName="x", Body=b"{}", ContentType="application/json",
    )  # fmt: skip
    assert (code, status) == ("UnrecognizedClientException", 400)


def test_the_right_key_with_a_wrong_secret_is_refused(aws_env) -> None:
    key_id = aws_env["AWS_ACCESS_KEY_ID"]
    code, message, _ = refused(
        with_key(aws_env, "sagemaker", key_id, "not-the-secret").list_endpoints
    )
    assert code == "InvalidSignatureException" and "signature we calculated" in message
    code, _, status = refused(with_key(aws_env, "s3", key_id, "not-the-secret").list_buckets)
    assert (code, status) == ("SignatureDoesNotMatch", 403)
    code, _, status = refused(
        with_key(aws_env, "cloudformation", key_id, "not-the-secret").list_stacks
    )
    assert (code, status) == ("SignatureDoesNotMatch", 403)


def test_a_signed_request_with_another_body_is_refused(cloud, aws_env, serving) -> None:
    url = f"http://127.0.0.1:{cloud.port}/endpoints/{serving}/invocations"
    headers = signed_headers("POST", url, BODY.encode(), {"Content-Type": "application/json"})
    status, _, _ = raw(cloud, "POST", f"/endpoints/{serving}/invocations", BODY.encode(), headers)
    assert status == 200
    tampered = BODY.replace("1.0", "2.0").encode()
    status, _, body = raw(cloud, "POST", f"/endpoints/{serving}/invocations", tampered, headers)
    assert status == 400 and json.loads(body)["__type"] == "InvalidSignatureException"


def test_a_foreign_host_name_is_refused_even_when_signed(cloud, aws_env) -> None:
    body = b"{}"
    headers = {"X-Amz-Target": "SageMaker.ListEndpoints",
               "Content-Type": "application/x-amz-json-1.1"}  # fmt: skip
    for host in (f"rebound.example:{cloud.port}", "127.0.0.1:1", "localhost"):
        url = f"http://{host}/"
        status, _, answer = raw(
            cloud, "POST", "/", body, signed_headers("POST", url, body, headers), host=host
        )
        assert status == 403, host
        assert "DNS rebinding" in json.loads(answer)["message"]
    for host in (f"localhost:{cloud.port}", f"127.0.0.1:{cloud.port}"):
        url = f"http://{host}/"
        status, _, _ = raw(
            cloud, "POST", "/", body, signed_headers("POST", url, body, headers), host=host
        )
        assert status == 200, host


@pytest.mark.parametrize("version", ["s3", "s3v4"])
@pytest.mark.slow
def test_presigned_urls_work_and_cannot_be_altered_or_outlive_expiry(
    aws_env, s3, bucket, version
) -> None:
    s3.put_object(Bucket=bucket, Key="presigned.txt", Body=b"hello")
    signer = boto3.client(
        "s3",
        endpoint_url=aws_env["AWS_ENDPOINT_URL"],
        region_name="us-east-1",
        aws_access_key_id=aws_env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=aws_env["AWS_SECRET_ACCESS_KEY"],
        config=Config(signature_version=version),
    )
    params = {"Bucket": bucket, "Key": "presigned.txt"}
    url = signer.generate_presigned_url("get_object", Params=params)
    assert fetch(url) == (200, b"hello")
    status, body = fetch(url.replace("presigned.txt", "other.txt"))
    assert status == 403 and b"SignatureDoesNotMatch" in body
    short = signer.generate_presigned_url("get_object", Params=params, ExpiresIn=1)
    status, body = poll(
        lambda: fetch(short),
        until=lambda answer: answer[0] != 200,
        timeout=10,
        what="the one-second URL to expire",
    )
    assert status == 403 and b"Request has expired" in body


def fetch(url: str) -> tuple[int, bytes]:
    """GET ``url`` unsigned (a presigned URL carries its signature): status and body."""
    try:
        with urllib.request.urlopen(url, timeout=30) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def test_no_gateway_path_reaches_an_instance(cloud, aws_env, serving) -> None:
    instance_ports = [
        port
        for pid, cmdline in children_with_pids(cloud.pid)
        if serving.encode() in cmdline
        for _, port in listening(pid)
    ]
    assert instance_ports
    probes = [
        ("GET", "/ping"),
        ("POST", "/invocations"),
        ("GET", f"/endpoints/{serving}/ping"),
        ("GET", f"/endpoints/{serving}/invocations"),
        ("POST", f"/endpoints/{serving}/invocations/../ping"),
        ("POST", f"/endpoints/{serving}/invocations%2f..%2fping"),
    ] + [("GET", f"http://127.0.0.1:{port}/ping") for port in instance_ports]
    for method, path in probes:
        status, headers, body = signed(
            cloud, aws_env, method, path, b"", {"Content-Type": "application/json"}
        )
        assert not (status == 200 and body == b""), (method, path)
        assert "x-Amzn-Invoked-Production-Variant" not in headers, (method, path)
    for port in instance_ports:
        status, _, _ = raw(cloud, "GET", "/ping", host=f"127.0.0.1:{port}")
        assert status == 403


def test_nothing_in_the_kit_unpickles() -> None:
    offenders = [
        f"{path.relative_to(SOURCE)}:{n}: {line.strip()}"
        for path in SOURCE.rglob("*.py")
        for n, line in enumerate(path.read_text().splitlines(), start=1)
        if UNPICKLING.search(line)
    ]
    assert offenders == []
