"""Bad input, generated: the JSON control plane and the invocation path under thousands of
requests built from botocore's shapes and then mutated. Every answer is an AWS-style error or a
success, never a 5xx and never a hang, and the local cloud serves normally afterwards. Also:
unsafe model archives end to end, and oversized bodies refused before they are sent.

A longer run: ``CDLAB_FUZZ_EXAMPLES=50000 .venv/bin/pytest tests/integration/test_fuzz.py``
(the default, 1500 examples per test, keeps CI under a minute).
"""

from __future__ import annotations

import functools
import gzip
import http.client
import io
import json
import os
import socket
import tarfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import numpy as np
import pytest
from botocore import xform_name
from botocore.model import Shape
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from cdlab.localcloud import control
from cdlab.localcloud.protocols import awsjson
from cdlab.localcloud.sagemaker.endpointconfigs import EndpointConfigs
from cdlab.localcloud.sagemaker.endpoints import Endpoints
from cdlab.localcloud.sagemaker.models import Models
from cdlab.localcloud.sagemaker.training import Training
from cdlab.localcloud.state import journal
from tests.conftest import free_port, small_model
from tests.integration.private_cloud import PrivateCloud
from tests.integration.test_endpoints import BODY
from tests.polling import poll
from tests.signing import signed_headers

pytestmark = pytest.mark.slow

EXAMPLES = int(os.environ.get("CDLAB_FUZZ_EXAMPLES", "1500"))
REQUEST_TIMEOUT = 10.0
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
SERVICE = awsjson.service_model("sagemaker")
PROVIDED = sorted(
    op
    for op in SERVICE.operation_names
    if any(hasattr(cls, xform_name(op)) for cls in (Models, EndpointConfigs, Endpoints, Training))
)
NOT_PROVIDED = ["CreateNotebookInstance", "ListDomains", "CreatePipeline", "DescribeUserProfile"]
NAME = st.from_regex(r"[a-z0-9](-?[a-z0-9]){0,12}", fullmatch=True)
HEADER_TEXT = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=40)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=8,
)


def from_shape(shape: Shape, depth: int = 0) -> st.SearchStrategy[Any]:
    """Values that fit a botocore shape (depth-limited: some shapes are recursive)."""
    kind = shape.type_name
    if kind == "structure":
        if depth > 3:
            return st.just({})
        members = {name: from_shape(member, depth + 1) for name, member in shape.members.items()}
        required = {k: v for k, v in members.items() if k in shape.required_members}
        optional = {k: v for k, v in members.items() if k not in required}
        return st.fixed_dictionaries(required, optional=optional)
    if kind == "list":
        return st.lists(from_shape(shape.member, depth + 1), max_size=3)
    if kind == "map":
        return st.dictionaries(NAME, from_shape(shape.value, depth + 1), max_size=3)
    if kind == "string":
        if shape.enum:
            return st.sampled_from(shape.enum) | st.text(max_size=10)
        return NAME | st.text(max_size=80)
    if kind in ("integer", "long"):
        return st.integers(-(2**40), 2**40)
    if kind in ("float", "double"):
        return st.floats()
    if kind == "boolean":
        return st.booleans()
    if kind == "timestamp":
        return st.floats(0, 2e9) | st.text(max_size=30)
    return st.text(max_size=40)


@st.composite
def mutated(draw: st.DrawFn, body: dict[str, Any]) -> bytes:
    """A valid body, or one with a member replaced, added or dropped, or not JSON at all."""
    how = draw(st.sampled_from(["valid", "replace", "add", "drop", "other-json", "bytes"]))
    if how == "replace" and body:
        body[draw(st.sampled_from(sorted(body)))] = draw(JSON_VALUES)
    elif how == "add":
        body[draw(st.text(max_size=12))] = draw(JSON_VALUES)
    elif how == "drop" and body:
        del body[draw(st.sampled_from(sorted(body)))]
    elif how == "other-json":
        return json.dumps(draw(JSON_VALUES)).encode()
    elif how == "bytes":
        return draw(st.binary(max_size=200))
    return json.dumps(body).encode()


@st.composite
def control_plane_requests(draw: st.DrawFn) -> tuple[str, bytes]:
    operation = draw(st.sampled_from(PROVIDED + NOT_PROVIDED))
    shape = SERVICE.operation_model(operation).input_shape if operation in PROVIDED else None
    body = draw(from_shape(shape)) if shape is not None else draw(st.dictionaries(NAME, NAME))
    return operation, draw(mutated(body))


class Client:
    """Signed requests over one keep-alive connection, each with a deadline."""

    def __init__(self, cloud: PrivateCloud) -> None:
        self.cloud = cloud
        self.env = control.client_environment(cloud.home, cloud.port)
        self.connection = http.client.HTTPConnection(
            "127.0.0.1", cloud.port, timeout=REQUEST_TIMEOUT
        )

    def send(
        self, method: str, path: str, body: bytes, headers: dict[str, str], service="sagemaker"
    ):
        url = f"http://127.0.0.1:{self.cloud.port}{path}"
        headers = signed_headers(method, url, body, headers, service, env=self.env)
        try:
            self.connection.request(method, path, body, headers)
            response = self.connection.getresponse()
            return response.status, dict(response.getheaders()), response.read()
        except (ConnectionError, http.client.HTTPException):
            self.connection.close()  # a connection the server closed: once more on a new one
            self.connection.request(method, path, body, headers)
            response = self.connection.getresponse()
            return response.status, dict(response.getheaders()), response.read()


def assert_aws_answer(status: int, body: bytes, what: object) -> None:
    assert status < 500, (what, status, body[:500])
    if status >= 400:
        assert json.loads(body)["__type"], (what, body[:500])


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[PrivateCloud, str]]:
    """A local cloud of the module's own (fuzzing creates junk) with one serving endpoint."""
    with pytest.MonkeyPatch.context() as patch:
        cloud = PrivateCloud(tmp_path_factory.mktemp("fuzz") / "home", free_port(), patch)
        try:
            cloud.up()
            cloud.deploy("fuzz-serving", count=1)
            yield cloud, "fuzz-serving"
        finally:
            control.down(cloud.home)


def assert_still_serving(cloud: PrivateCloud, endpoint: str) -> None:
    assert cloud.score(endpoint) == pytest.approx(small_model(1).predict(json_row())[0]["score"])
    assert (
        cloud.client("sagemaker").describe_endpoint(EndpointName=endpoint)["EndpointStatus"]
        == "InService"
    )


def json_row() -> np.ndarray:
    return np.array(json.loads(BODY)["instances"][0]["features"], dtype=np.float32)[None, :]


def test_fuzzed_control_plane_answers_every_request_like_aws(fuzzed) -> None:
    cloud, endpoint = fuzzed
    client = Client(cloud)

    @FUZZ
    @given(control_plane_requests())
    @example(("CreateModel", b'{"ModelName": "1", "PrimaryContainer": null}'))  # was a 500
    def run(request: tuple[str, bytes]) -> None:
        operation, body = request
        status, _, answer = client.send(
            "POST", "/", body,
            {"X-Amz-Target": f"SageMaker.{operation}",
             "Content-Type": "application/x-amz-json-1.1"},
        )  # fmt: skip
        assert_aws_answer(status, answer, (operation, body[:300]))

    run()
    assert_still_serving(cloud, endpoint)


@st.composite
def invocations(draw: st.DrawFn, endpoint: str) -> tuple[str, bytes, dict[str, str]]:
    name = draw(st.sampled_from([endpoint, endpoint.upper()]) | st.text(min_size=1, max_size=70))
    body = draw(
        st.sampled_from([BODY.encode(), b""])
        | st.binary(max_size=300)
        | JSON_VALUES.map(lambda v: json.dumps({"instances": v}).encode())
    )
    headers = {
        "Content-Type": draw(
            st.sampled_from(
                ["application/json", "text/csv", "application/x-recordio-protobuf", "a/b"]
            )
            | HEADER_TEXT
        )
    }
    for header in ("Accept", "X-Amzn-SageMaker-Custom-Attributes",
                   "X-Amzn-SageMaker-Target-Variant"):  # fmt: skip
        if draw(st.booleans()):
            headers[header] = draw(
                st.sampled_from(["AllTraffic", "application/json"]) | HEADER_TEXT
            )
    return f"/endpoints/{quote(name, safe='')}/invocations", body, headers


def test_fuzzed_invocations_answer_every_request_like_aws(fuzzed) -> None:
    cloud, endpoint = fuzzed
    client = Client(cloud)

    @FUZZ
    @given(invocations(endpoint))
    def run(request: tuple[str, bytes, dict[str, str]]) -> None:
        path, body, headers = request
        status, _, answer = client.send("POST", path, body, headers)
        assert_aws_answer(status, answer, (path, headers, body[:200]))

    run()
    assert_still_serving(cloud, endpoint)


def archive(member: tarfile.TarInfo, data: bytes = b"x") -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        if member.isfile():
            member.size = len(data)
            tar.addfile(member, io.BytesIO(data))
        else:
            tar.addfile(member)
    return buffer.getvalue()


def unsafe_archives(outside: Path) -> dict[str, bytes]:
    def info(name: str, kind: bytes = tarfile.REGTYPE, link: str = "") -> tarfile.TarInfo:
        member = tarfile.TarInfo(name)
        member.type, member.linkname = kind, link
        return member

    raw = bytearray(tarfile.TarInfo("huge.bin").tobuf())
    raw[124:136] = b"%011o\0" % (3 * 1024**3)  # a header that claims a 3 GiB member
    raw[148:156] = b"        "
    raw[148:155] = b"%06o\0" % sum(raw)
    return {
        "dotdot": archive(info(f"../../../../../..{outside}")),
        "absolute": archive(info(str(outside))),
        "symlink": archive(info("model.npz", tarfile.SYMTYPE, str(outside))),
        "hardlink": archive(info("model.npz", tarfile.LNKTYPE, str(outside))),
        "huge": gzip.compress(bytes(raw) + b"\0" * 1024),
    }


def test_unsafe_model_archives_fail_the_endpoint_and_write_nothing_outside(
    fuzzed, tmp_path: Path
) -> None:
    cloud, endpoint = fuzzed
    s3, sm = cloud.client("s3"), cloud.client("sagemaker")
    outside = tmp_path / f"escaped-{uuid.uuid4().hex}"
    for kind, data in unsafe_archives(outside).items():
        name = f"unsafe-{kind}"
        s3.put_object(Bucket="models", Key=f"{name}.tar.gz", Body=data)
        cloud.config(name, f"s3://models/{name}.tar.gz", 1)
        sm.create_endpoint(EndpointName=name, EndpointConfigName=name)
        described = poll(
            functools.partial(sm.describe_endpoint, EndpointName=name),
            until=lambda d: d["EndpointStatus"] != "Creating",
            what=f"{name} to finish creating",
        )
        assert described["EndpointStatus"] == "Failed", kind
        reason = described["FailureReason"]
        assert any(
            word in reason for word in ("outside the model directory", "link", "too large", "tar")
        ), (kind, reason)
        assert not outside.exists(), kind
    assert_still_serving(cloud, endpoint)


def test_oversized_bodies_are_refused_before_they_are_sent(fuzzed) -> None:
    cloud, endpoint = fuzzed
    env = control.client_environment(cloud.home, cloud.port)
    for path, target, length, expected in (
        (f"/endpoints/{endpoint}/invocations", None, 7_000_000,
         "HTTP content length exceeded 6291456 bytes."),
        ("/", "SageMaker.ListEndpoints", 40 * 1024**2, "Request bodies are limited to"),
    ):  # fmt: skip
        headers = {"Content-Type": "application/json"}
        if target:
            headers |= {"X-Amz-Target": target, "Content-Type": "application/x-amz-json-1.1"}
        url = f"http://127.0.0.1:{cloud.port}{path}"
        headers = signed_headers("POST", url, b"x" * length, headers, env=env)
        head = [f"POST {path} HTTP/1.1", f"Host: 127.0.0.1:{cloud.port}"]
        head.append(f"Content-Length: {length}")
        head += [f"{k}: {v}" for k, v in headers.items() if k.lower() != "host"]
        with socket.create_connection(("127.0.0.1", cloud.port), timeout=5) as s:
            s.sendall(("\r\n".join(head) + "\r\n\r\n").encode() + b"x" * 1000)  # a slow body
            started = time.monotonic()
            answer = s.recv(65536)
            assert time.monotonic() - started < 5
        status_line, _, rest = answer.partition(b"\r\n")
        assert b" 413 " in status_line, answer[:300]
        assert expected.encode() in rest
    assert_still_serving(cloud, endpoint)


JOURNALED = ("application-autoscaling", "logs", "glue")  # moto's, state in memory, journaled
NAMESPACES = ("sagemaker", "ecs", "dynamodb")


@st.composite
def moto_changes(draw: st.DrawFn) -> tuple[str, str, bytes]:
    """A state-changing request to a service moto keeps in memory, valid or mutated."""
    service = awsjson.service_model(draw(st.sampled_from(JOURNALED)))
    changing = sorted(op for op in service.operation_names if not op.startswith(journal.READS))
    operation = draw(st.sampled_from(changing))
    shape = service.operation_model(operation).input_shape
    body = draw(from_shape(shape)) if shape is not None else {}
    target = f"{service.metadata['targetPrefix']}.{operation}"
    return service.service_name, target, draw(mutated(body))


def moto_state(cloud: PrivateCloud) -> dict[str, list]:
    """Names of what the fuzzed services hold (ids and times aside: those are not compared)."""
    logs, glue = cloud.client("logs"), cloud.client("glue")
    autoscaling = cloud.client("application-autoscaling")
    return {
        "log groups": [g["logGroupName"] for g in logs.describe_log_groups()["logGroups"]],
        "databases": sorted(str(d.get("Name")) for d in glue.get_databases()["DatabaseList"]),
        **{
            f"{ns} targets": sorted(
                t["ResourceId"]
                for t in autoscaling.describe_scalable_targets(ServiceNamespace=ns)[
                    "ScalableTargets"
                ]
            )
            for ns in NAMESPACES
        },
        **{
            f"{ns} policies": sorted(
                p["PolicyARN"]
                for p in autoscaling.describe_scaling_policies(ServiceNamespace=ns)[
                    "ScalingPolicies"
                ]
            )
            for ns in NAMESPACES
        },
    }


def test_fuzzed_changes_to_moto_come_back_the_same_after_a_crash(private: PrivateCloud) -> None:
    """Whatever moto accepted is journaled and replays to the same state after a SIGKILL; what
    it refused is not kept, and nothing in the journal stops the cloud from starting."""
    private.up()
    private.client("logs").create_log_group(logGroupName="/fuzz/kept")
    private.client("glue").create_database(DatabaseInput={"Name": "fuzz_kept"})
    autoscaling = private.client("application-autoscaling")
    target = {"ServiceNamespace": "sagemaker", "ResourceId": "endpoint/fuzz/variant/AllTraffic",
              "ScalableDimension": "sagemaker:variant:DesiredInstanceCount"}  # fmt: skip
    autoscaling.register_scalable_target(**target, MinCapacity=1, MaxCapacity=2)
    tracking = {"PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"}
    autoscaling.put_scaling_policy(
        PolicyName="kept", PolicyType="TargetTrackingScaling", **target,
        TargetTrackingScalingPolicyConfiguration={"TargetValue": 10.0,
                                                  "PredefinedMetricSpecification": tracking},
    )  # fmt: skip
    client = Client(private)

    @settings(FUZZ, max_examples=max(EXAMPLES // 5, 50))
    @given(moto_changes())
    def run(request: tuple[str, str, bytes]) -> None:
        service, target, body = request
        client.send(
            "POST", "/", body,
            {"X-Amz-Target": target, "Content-Type": "application/x-amz-json-1.1"}, service,
        )  # fmt: skip

    run()
    before = moto_state(private)
    assert "/fuzz/kept" in before["log groups"] and "fuzz_kept" in before["databases"]
    assert before["sagemaker targets"] and before["sagemaker policies"]
    private.kill()
    private.up()
    poll(
        lambda: moto_state(private),
        until=lambda state: state == before,
        timeout=10,
        what="the same moto state",
    )
