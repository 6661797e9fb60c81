"""Data capture: endpoints whose config enables it write what they serve to S3 as SageMaker does
(docs/aws-compatibility.md, "Data capture"), through the running local cloud."""

from __future__ import annotations

import base64
import contextlib
import json
import re
import time
from collections.abc import Iterator
from typing import NamedTuple

import numpy as np
import pytest
from botocore.exceptions import ClientError

from cdlab.localcloud import control
from tests.integration.test_bad_input import raw_post
from tests.polling import poll
from tests.roles import SAGEMAKER, allowing, drop_role, make_role, trusting

BUCKET = "cdlab-test-capture"
UUID = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
HOUR = r"\d{4}/\d{2}/\d{2}/\d{2}"
ONE_MODEL = {"AllTraffic": (1, 1, 1)}
CSV = b"0,0,1" + b",0" * 17
WRITE_CAPTURES = {
    "Effect": "Allow",
    "Action": "s3:PutObject",
    "Resource": f"arn:aws:s3:::{BUCKET}/role/*",
}


@pytest.fixture(scope="module")
def capture_bucket(s3) -> str:
    with contextlib.suppress(s3.exceptions.BucketAlreadyOwnedByYou):
        s3.create_bucket(Bucket=BUCKET)
    return BUCKET


def capture_config(prefix: str, *modes: str, **extra: object) -> dict[str, object]:
    return {
        "EnableCapture": True,
        "InitialSamplingPercentage": 100,
        "DestinationS3Uri": f"s3://{BUCKET}/{prefix}",
        "CaptureOptions": [{"CaptureMode": mode} for mode in modes],
        **extra,
    }


def json_body(row: int) -> bytes:
    return json.dumps({"instances": [{"features": np.eye(20)[row].tolist()}]}).encode()


def captures(s3, prefix: str) -> dict[str, list[dict]]:
    """Each capture file under ``prefix``, by key: its records, one per line."""
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix)
    keys = [o["Key"] for page in pages for o in page.get("Contents", [])]
    bodies = {key: s3.get_object(Bucket=BUCKET, Key=key)["Body"].read() for key in keys}
    return {key: [json.loads(line) for line in body.splitlines()] for key, body in bodies.items()}


def wait_for_records(s3, prefix: str, count: int) -> dict[str, list[dict]]:
    return poll(
        lambda: captures(s3, prefix),
        until=lambda files: sum(map(len, files.values())) >= count,
        timeout=60,
        what=f"{count} captured records under s3://{BUCKET}/{prefix}",
    )


class Served(NamedTuple):
    endpoint: str
    answers: dict[bytes, bytes]  # request body -> answer body
    files: dict[str, list[dict]]  # the capture files, by key


@pytest.fixture(scope="module")
def served(runtime, s3, deploy, capture_bucket, aws_env) -> Served:
    """An endpoint capturing inputs and outputs, JSON as text, that served four JSON requests
    and a CSV one through the runtime's fast path and a JSON one, with an InferenceId, through
    aiohttp's (urllib says Connection: close); its capture files, once all six are written."""
    config = capture_config(
        "both",
        "Input",
        "Output",
        CaptureContentTypeHeader={"JsonContentTypes": ["application/json"]},
    )
    name = deploy("cap", ONE_MODEL, DataCaptureConfig=config)
    requests = [("application/json", json_body(row)) for row in range(4)] + [("text/csv", CSV)]
    answers = {
        body: runtime.invoke_endpoint(EndpointName=name, ContentType=kind, Body=body)["Body"].read()
        for kind, body in requests
    }
    url = f"{aws_env['AWS_ENDPOINT_URL']}/endpoints/{name}/invocations"
    headers = {"Content-Type": "application/json", "X-Amzn-SageMaker-Inference-Id": "row-5"}
    status, answer = raw_post(url, json_body(5), headers)
    assert status == 200
    answers[json_body(5)] = json.dumps(answer).encode()
    return Served(name, answers, wait_for_records(s3, f"both/{name}/", 6))


def records_of(served: Served) -> list[dict]:
    return [record for lines in served.files.values() for record in lines]


def test_describe_endpoint_shows_the_capture(sm, served) -> None:
    assert sm.describe_endpoint(EndpointName=served.endpoint)["DataCaptureConfig"] == {
        "EnableCapture": True,
        "CaptureStatus": "Started",
        "CurrentSamplingPercentage": 100,
        "DestinationS3Uri": f"s3://{BUCKET}/both",
    }


def test_files_are_kept_by_endpoint_variant_and_hour(served) -> None:
    name = re.escape(served.endpoint)
    for key, lines in served.files.items():
        hour = re.fullmatch(
            rf"both/{name}/AllTraffic/({HOUR})/\d{{2}}-\d{{2}}-\d{{3}}-{UUID}\.jsonl", key
        )
        assert hour is not None, key
        for record in lines:
            when = time.strptime(record["eventMetadata"]["inferenceTime"], "%Y-%m-%dT%H:%M:%SZ")
            assert time.strftime("%Y/%m/%d/%H", when) == hour[1]
    assert len(records_of(served)) == 6


def test_each_record_holds_what_was_sent_and_answered(served) -> None:
    records = records_of(served)
    for record in records:
        assert set(record) == {"captureData", "eventMetadata", "eventVersion"}
        assert record["eventVersion"] == "0"
        assert re.fullmatch(UUID, record["eventMetadata"]["eventId"])
        sent, output = (
            record["captureData"]["endpointInput"],
            record["captureData"]["endpointOutput"],
        )
        assert {k: output[k] for k in ("observedContentType", "mode", "encoding")} == {
            "observedContentType": "application/json",
            "mode": "OUTPUT",
            "encoding": "JSON",
        }
        raw = sent["data"]
        body = base64.b64decode(raw) if sent["encoding"] == "BASE64" else raw.encode()
        assert json.loads(output["data"]) == json.loads(served.answers[body])
    inputs = sorted(r["captureData"]["endpointInput"]["data"] for r in records)
    assert inputs == sorted(
        [base64.b64encode(CSV).decode()] + [b.decode() for b in served.answers if b != CSV]
    )


def test_a_type_the_config_does_not_list_is_kept_in_base64(served) -> None:
    [csv] = [
        r
        for r in records_of(served)
        if r["captureData"]["endpointInput"]["observedContentType"] == "text/csv"
    ]
    assert csv["captureData"]["endpointInput"] == {
        "observedContentType": "text/csv",
        "mode": "INPUT",
        "data": base64.b64encode(CSV).decode(),
        "encoding": "BASE64",
    }
    json_inputs = [r for r in records_of(served) if r is not csv]
    assert {r["captureData"]["endpointInput"]["encoding"] for r in json_inputs} == {"JSON"}


def test_the_inference_id_is_kept_with_its_record(served) -> None:
    ids = {
        r["captureData"]["endpointInput"]["data"]: r["eventMetadata"].get("inferenceId")
        for r in records_of(served)
    }
    assert ids.pop(json_body(5).decode()) == "row-5"
    assert set(ids.values()) == {None}


@pytest.mark.slow  # an endpoint of its own and a flush to wait for: 2-3 s
def test_input_only_capture_writes_no_output(runtime, s3, deploy, capture_bucket) -> None:
    config = capture_config(
        "inputs", "Input", CaptureContentTypeHeader={"CsvContentTypes": ["text/csv"]}
    )
    name = deploy("capin", ONE_MODEL, DataCaptureConfig=config)
    csv = b"1" + b",0" * 19 + b"\n"
    runtime.invoke_endpoint(EndpointName=name, ContentType="text/csv; charset=utf-8", Body=csv)
    [record] = [r for lines in wait_for_records(s3, f"inputs/{name}/", 1).values() for r in lines]
    assert record["captureData"] == {
        "endpointInput": {
            "observedContentType": "text/csv; charset=utf-8",
            "mode": "INPUT",
            "data": csv.decode(),
            "encoding": "CSV",
        }
    }


@pytest.mark.slow  # an endpoint of its own and a flush to wait for: 2-3 s
def test_capture_off_writes_nothing(sm, runtime, s3, deploy, capture_bucket) -> None:
    """An endpoint whose config disables capture writes nothing: once a capturing endpoint's
    later invocation is written, any record of the earlier ones would have been too."""
    off = deploy(
        "capoff",
        ONE_MODEL,
        DataCaptureConfig={**capture_config("off", "Input"), "EnableCapture": False},
    )
    on = deploy("capon", ONE_MODEL, DataCaptureConfig=capture_config("off", "Input"))
    assert sm.describe_endpoint(EndpointName=off)["DataCaptureConfig"] == {
        "EnableCapture": False,
        "CaptureStatus": "Stopped",
        "CurrentSamplingPercentage": 100,
        "DestinationS3Uri": f"s3://{BUCKET}/off",
    }
    for endpoint in (off, off, off, on):
        runtime.invoke_endpoint(
            EndpointName=endpoint, ContentType="application/json", Body=json_body(1)
        )
    wait_for_records(s3, f"off/{on}/", 1)
    assert captures(s3, f"off/{off}/") == {}


def test_an_endpoint_without_data_capture_describes_none(sm, deploy) -> None:
    name = deploy("nocap", ONE_MODEL)
    assert "DataCaptureConfig" not in sm.describe_endpoint(EndpointName=name)


def test_a_capture_that_cannot_be_written_is_logged_and_the_invocation_served(
    runtime, deploy, cloud
) -> None:
    config = {
        **capture_config("lost", "Input", "Output"),
        "DestinationS3Uri": "s3://cdlab-no-such-bucket/lost",
    }
    name = deploy("caplost", ONE_MODEL, DataCaptureConfig=config)
    answer = runtime.invoke_endpoint(
        EndpointName=name, ContentType="application/json", Body=json_body(2)
    )
    assert answer["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert json.loads(answer["Body"].read())["predictions"]
    warning = (
        f"WARNING cdlab.sagemaker: data capture: 1 records not written to "
        f"s3://cdlab-no-such-bucket/lost/{name}/AllTraffic/"
    )
    poll(
        lambda: control.log_file(cloud.home).read_text(errors="replace"),
        until=lambda log: warning in log,
        what="the warning in the cloud's log",
    )


def test_an_https_destination_is_refused(sm, deploy) -> None:
    config = {
        **capture_config("x", "Input"),
        "DestinationS3Uri": "https://bucket.s3.amazonaws.com/x",
    }
    with pytest.raises(ClientError) as info:
        deploy.config("caphttps", ONE_MODEL, DataCaptureConfig=config)
    error = info.value.response["Error"]
    assert (error["Code"], error["Message"]) == (
        "ValidationException",
        "DataCaptureConfig.DestinationS3Uri https://bucket.s3.amazonaws.com/x is not an s3:// "
        "URL; the local cloud writes captured data to s3://bucket/prefix destinations only.",
    )


def cloud_log_line(cloud, text: str) -> str:
    """The line of the cloud's log that says ``text``, once it is written."""
    log = poll(
        lambda: control.log_file(cloud.home).read_text(errors="replace"),
        until=lambda log: text in log,
        what=f"{text!r} in the cloud's log",
    )
    return next(line for line in log.splitlines() if text in line)


@pytest.fixture(scope="module")
def capture_roles(client, bucket: str) -> Iterator[dict[str, str]]:
    """SageMaker execution roles that may read the suite's models, by name: ``reader`` and
    ``later`` may not write captures (``later`` is given the permission by its test),
    ``writer`` may write them under ``s3://BUCKET/role/``."""
    iam = client("iam")
    read_models = allowing(
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/*"}
    )
    writes = {**read_models, "Statement": [*read_models["Statement"], WRITE_CAPTURES]}
    policies = {"reader": read_models, "later": read_models, "writer": writes}
    yield {
        name: make_role(iam, f"capture-{name}", trusting(SAGEMAKER), policy)
        for name, policy in policies.items()
    }
    for name in policies:
        drop_role(iam, f"capture-{name}")


def invoke(runtime, endpoint: str, row: int) -> None:
    answer = runtime.invoke_endpoint(
        EndpointName=endpoint, ContentType="application/json", Body=json_body(row)
    )
    assert json.loads(answer["Body"].read())["predictions"]


def refused_capture(cloud, endpoint: str, role: str) -> None:
    """Wait for the cloud's log to say that a capture of ``endpoint``'s was not written under
    ``s3://BUCKET/role/``, with IAM's reason: ``role`` may not put it."""
    line = cloud_log_line(
        cloud, f"data capture: 1 records not written to s3://{BUCKET}/role/{endpoint}/AllTraffic/"
    )
    session = f"arn:aws:sts::123456789012:assumed-role/{role}/SageMaker"
    assert f"User: {session} is not authorized to perform: s3:PutObject on resource: " in line
    assert line.endswith("because no identity-based policy allows the s3:PutObject action")


@pytest.mark.slow  # an endpoint of its own and a flush to wait for: 2-3 s
def test_captures_are_written_as_the_models_role(
    runtime, s3, deploy, capture_bucket, capture_roles, cloud
) -> None:
    """A model role without s3:PutObject on the destination gets no capture written, logged
    with IAM's reason, and its endpoint serves as usual; one with it gets its captures."""
    config = capture_config("role", "Input", "Output")
    denied = deploy("capdenied", ONE_MODEL, role=capture_roles["reader"], DataCaptureConfig=config)
    allowed = deploy("capwriter", ONE_MODEL, role=capture_roles["writer"], DataCaptureConfig=config)
    invoke(runtime, denied, 3)
    invoke(runtime, allowed, 3)
    [record] = [r for lines in wait_for_records(s3, f"role/{allowed}/", 1).values() for r in lines]
    assert record["captureData"]["endpointInput"]["data"] == base64.b64encode(json_body(3)).decode()
    refused_capture(cloud, denied, "capture-reader")
    assert captures(s3, f"role/{denied}/") == {}


@pytest.mark.slow  # an endpoint of its own and a flush to wait for: 2-3 s
def test_a_role_given_the_permission_gets_the_next_captures(
    client, runtime, s3, deploy, capture_bucket, capture_roles, cloud
) -> None:
    """The role's permission is decided anew when IAM changes: a capture refused before the role
    may write is lost, the next one written."""
    config = capture_config("role", "Input", "Output")
    name = deploy("caplater", ONE_MODEL, role=capture_roles["later"], DataCaptureConfig=config)
    invoke(runtime, name, 4)
    refused_capture(cloud, name, "capture-later")
    client("iam").put_role_policy(
        RoleName="capture-later",
        PolicyName="captures",
        PolicyDocument=json.dumps(allowing(WRITE_CAPTURES)),
    )
    invoke(runtime, name, 5)
    [record] = [r for lines in wait_for_records(s3, f"role/{name}/", 1).values() for r in lines]
    assert record["captureData"]["endpointInput"]["data"] == base64.b64encode(json_body(5)).decode()


@pytest.mark.slow
def test_captures_made_just_before_a_stop_are_kept(private) -> None:
    """What is still buffered when the cloud stops is written, to S3 and its disk copy."""
    private.up()
    s3 = private.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    private.deploy("kept", count=1, DataCaptureConfig=capture_config("stop", "Input", "Output"))
    private.score("kept")
    control.down(private.home)
    private.up()
    [record] = [r for lines in captures(s3, "stop/kept/AllTraffic/").values() for r in lines]
    output = record["captureData"]["endpointOutput"]  # no CaptureContentTypeHeader: base64
    assert json.loads(base64.b64decode(output["data"]))["predictions"]


@pytest.mark.slow
def test_cdlab_iam_off_writes_captures_whatever_the_role(private) -> None:
    """With IAM enforcement off, a model role that may do nothing still gets its captures."""
    private.patch.setenv("CDLAB_IAM", "off")
    private.up()
    s3 = private.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    role = make_role(private.client("iam"), "capture-nothing", trusting(SAGEMAKER), None)
    config = capture_config("off-iam", "Input")
    private.deploy("unchecked", count=1, role=role, DataCaptureConfig=config)
    private.score("unchecked")
    assert wait_for_records(s3, "off-iam/unchecked/AllTraffic/", 1)
