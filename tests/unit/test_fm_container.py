"""The instance process, started for real: the container contract over HTTP, exits and signals."""

import http.client
import io
import json
import os
import re
import select
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from cdlab.fm import recordio
from cdlab.fm.model import FMModel
from tests.polling import poll

SOURCE = Path(__file__).resolve().parents[2] / "source"
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "recordio"
ENV = {**os.environ, "PYTHONPATH": str(SOURCE)}
DIM = 7  # 3 users + 4 items, as in the recordio fixture


def command(*args: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "cdlab.fm.serve_container",
        "--endpoint",
        "ep-test",
        "--variant",
        "variant-1",
        "--instance",
        "i-test",
        *args,
    ]


def start(*args: str, **popen) -> subprocess.Popen:
    popen = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, **popen}
    return subprocess.Popen(command(*args), text=True, env=ENV, **popen)


def listening_port(proc: subprocess.Popen) -> int:
    """The port of the container's first line, ``listening on 127.0.0.1:PORT``."""
    poll(
        lambda: select.select([proc.stdout], [], [], 0)[0],
        timeout=30,
        what="the container's first line",
    )
    line = proc.stdout.readline()
    match = re.fullmatch(r"listening on 127\.0\.0\.1:(\d+)\n", line)
    assert match, f"no 'listening on' line but {line!r}"
    return int(match[1])


def stop(proc: subprocess.Popen) -> tuple[str, str]:
    if proc.poll() is None:
        proc.terminate()
    try:
        return proc.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.communicate()


def call(port: int, method: str, path: str, body: bytes | None = None, **headers: str):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request(method, path, body, {k.replace("_", "-"): v for k, v in headers.items()})
        response = conn.getresponse()
        return response.status, response.getheader("Content-Type"), response.read()
    finally:
        conn.close()


def invoke(port: int, body: bytes, content_type: str, **headers: str):
    return call(port, "POST", "/invocations", body, Content_Type=content_type, **headers)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    rng = np.random.default_rng(7)
    directory = tmp_path_factory.mktemp("model")
    FMModel(
        -0.2,
        rng.standard_normal(DIM).astype(np.float32),
        rng.standard_normal((DIM, 3)).astype(np.float32),
        "binary_classifier",
    ).save(directory)
    return directory


@pytest.fixture(scope="module")
def model(model_dir) -> FMModel:
    return FMModel.load(model_dir)


@pytest.fixture(scope="module")
def port(model_dir):
    proc = start("--model-dir", str(model_dir), "--port", "0")
    try:
        yield listening_port(proc)
    finally:
        stop(proc)


def assert_predictions(body: bytes, model: FMModel, X) -> None:
    predictions = json.loads(body)["predictions"]
    expected = model.predict(X)
    assert len(predictions) == len(expected)
    for got, want in zip(predictions, expected, strict=True):
        assert got["predicted_label"] == want["predicted_label"]
        assert got["score"] == pytest.approx(want["score"], rel=1e-6)


def test_ping(port):
    status, _, _ = call(port, "GET", "/ping")
    assert status == 200


def test_dense_json(port, model):
    X = np.eye(DIM, dtype=np.float32)[:3] + 0.5
    body = json.dumps({"instances": [{"features": row.tolist()} for row in X]}).encode()
    status, content_type, answer = invoke(port, body, "application/json")
    assert (status, content_type) == (200, "application/json")
    assert_predictions(answer, model, X)


def test_sparse_json(port, model):
    instances = [
        {"data": {"features": {"keys": [0, 3], "shape": [DIM], "values": [1, 1]}}},
        {"data": {"features": {"keys": [2, 6], "shape": [DIM], "values": [1, 0.5]}}},
    ]
    status, _, answer = invoke(
        port, json.dumps({"instances": instances}).encode(), "application/json"
    )
    assert status == 200
    X = np.zeros((2, DIM), dtype=np.float32)
    X[0, [0, 3]] = 1
    X[1, [2, 6]] = [1, 0.5]
    assert_predictions(answer, model, X)


def test_recordio_written_by_sdk_v2(port, model):
    body = (FIXTURES / "sparse_onehot_labeled.rec").read_bytes()
    status, _, answer = invoke(port, body, "application/x-recordio-protobuf")
    assert status == 200
    assert_predictions(answer, model, recordio.read_matrix(body)[0])


def test_recordio_dense_and_jsonlines_answer(port, model):
    X = np.linspace(-1, 1, 2 * DIM, dtype=np.float32).reshape(2, DIM)
    buf = io.BytesIO()
    recordio.write_dense(buf, X)
    status, content_type, answer = invoke(
        port, buf.getvalue(), "application/x-recordio-protobuf", Accept="application/jsonlines"
    )
    assert (status, content_type) == (200, "application/jsonlines")
    lines = answer.decode().splitlines()
    assert_predictions(
        json.dumps({"predictions": [json.loads(x) for x in lines]}).encode(), model, X
    )


ROWS = np.array(
    [[1, 0, 0, 1, 0, 0, 0], [0, 1, 0, 0, 0.5, 0, 0], [0.25, 0, -2, 0, 0, 1, 3]], dtype=np.float32
)


def request_as(form: str, X: np.ndarray) -> tuple[bytes, str]:
    """``X`` as a request body in one of the forms the built-in container reads."""
    if form == "json-dense":
        body = {"instances": [{"features": row.tolist()} for row in X]}
        return json.dumps(body).encode(), "application/json"
    if form == "json-sparse":
        instances = []
        for row in X:
            keys = np.flatnonzero(row)
            features = {"keys": keys.tolist(), "shape": [DIM], "values": row[keys].tolist()}
            instances.append({"data": {"features": features}})
        return json.dumps({"instances": instances}).encode(), "application/json"
    buf = io.BytesIO()
    if form == "recordio-sparse":
        recordio.write_spmatrix(buf, sp.csr_matrix(X))
    elif form == "recordio-dense":
        recordio.write_dense(buf, X)
    else:
        return "".join(",".join(map(str, row.tolist())) + "\n" for row in X).encode(), "text/csv"
    return buf.getvalue(), "application/x-recordio-protobuf"


def decode(answer: bytes, media_type: str) -> list[dict[str, float]]:
    """Predictions from a response body, read without the container's own formatting code."""
    if media_type == "application/json":
        return json.loads(answer)["predictions"]
    if media_type == "application/jsonlines":
        return [json.loads(line) for line in answer.decode().splitlines()]
    predictions = []
    for record in recordio.read_records(io.BytesIO(answer)):
        assert not record.features
        assert all(v.WhichOneof("value") == "float32_tensor" for v in record.label.values())
        assert all(len(v.float32_tensor.values) == 1 for v in record.label.values())
        predictions.append({k: v.float32_tensor.values[0] for k, v in record.label.items()})
    return predictions


@pytest.fixture(scope="module", params=["binary_classifier", "regressor"])
def served(request, tmp_path_factory) -> tuple[int, FMModel]:
    """A container for each predictor type: (port, the model it serves)."""
    rng = np.random.default_rng(11)
    model = FMModel(
        0.3,
        rng.standard_normal(DIM).astype(np.float32),
        rng.standard_normal((DIM, 2)).astype(np.float32),
        request.param,
    )
    directory = tmp_path_factory.mktemp(request.param)
    model.save(directory)
    proc = start("--model-dir", str(directory), "--port", "0")
    try:
        yield listening_port(proc), model
    finally:
        stop(proc)


@pytest.mark.parametrize(
    "form", ["json-dense", "json-sparse", "recordio-sparse", "recordio-dense", "csv"]
)
@pytest.mark.parametrize(
    "accept", ["application/json", "application/jsonlines", "application/x-recordio-protobuf"]
)
def test_every_response_format_answers_as_json_does(served, form, accept):
    port, model = served
    body, content_type = request_as(form, ROWS)
    status, _, as_json = invoke(port, body, content_type, Accept="application/json")
    assert status == 200
    expected = decode(as_json, "application/json")
    binary = model.predictor_type == "binary_classifier"
    names = {"score", "predicted_label"} if binary else {"score"}
    assert [set(p) for p in expected] == [names] * len(ROWS)
    for got, want in zip(expected, model.predict(ROWS), strict=True):
        assert got == pytest.approx(want, rel=1e-6)

    status, got_type, answer = invoke(port, body, content_type, Accept=accept)
    assert (status, got_type) == (200, accept)
    # Every value is a float32: the formats agree on it exactly.
    float32 = [{k: np.float32(v) for k, v in p.items()} for p in expected]
    assert decode(answer, accept) == float32


def test_large_batch(port, model):
    rng = np.random.default_rng(0)
    X = sp.random(3000, DIM, density=0.3, format="csr", dtype=np.float32, random_state=rng)
    buf = io.BytesIO()
    recordio.write_spmatrix(buf, X)
    status, _, answer = invoke(port, buf.getvalue(), "application/x-recordio-protobuf")
    assert status == 200
    assert_predictions(answer, model, X)


@pytest.mark.parametrize(
    ("body", "content_type", "accept", "status", "message"),
    [
        (b"{not json", "application/json", "application/json", 400, "not valid JSON"),
        (b'{"instances": []}', "application/json", "*/*", 400, '"instances" is empty'),
        (
            b'{"instances": [{"features": [1, 2]}]}',
            "application/json",
            "application/json",
            400,
            "instance 0: 2 features, but the model takes 7",
        ),
        (b"garbage!", "application/x-recordio-protobuf", "application/json", 400, "bad magic"),
        (b"1,2", "text/plain", "application/json", 415, "supported: application/json"),
        (b'{"instances": [{"features": [1]}]}', "application/json", "text/html", 406, "Accept"),
    ],
)
def test_refusals_say_why(port, body, content_type, accept, status, message):
    got_status, got_type, answer = invoke(port, body, content_type, Accept=accept)
    assert got_status == status
    assert got_type.startswith("text/plain")
    assert message in answer.decode()


def test_body_larger_than_invoke_endpoint_allows(port):
    status, _, _ = invoke(port, b"1" * (6_291_456 + 1), "text/csv")
    assert status == 413


def test_serves_a_socket_passed_by_the_parent(model_dir):
    listener = socket.create_server(("127.0.0.1", 0))
    with listener:
        proc = start(
            "--model-dir",
            str(model_dir),
            "--fd",
            str(listener.fileno()),
            "--parent-pid",
            str(os.getpid()),
            pass_fds=(listener.fileno(),),
        )
        try:
            assert listening_port(proc) == listener.getsockname()[1]
            assert call(listener.getsockname()[1], "GET", "/ping")[0] == 200
        finally:
            stop(proc)
    assert proc.returncode == 0


def test_names_itself_in_the_process_list(port):
    # The fixture's process is the only container with these names among our children.
    out = subprocess.run(["ps", "-ww", "-eo", "args"], capture_output=True, text=True, check=True)
    out = out.stdout
    assert "--endpoint ep-test --variant variant-1 --instance i-test" in out


@pytest.mark.parametrize(
    ("breakage", "reason"),
    [
        (lambda d: (d / "fm_model.npz").unlink(), "model artifact is missing fm_model.npz"),
        (lambda d: (d / "fm_meta.json").write_text("{"), "is not a factorization machine"),
        (lambda d: (d / "fm_model.npz").write_bytes(b"PK\x03\x04junk"), "not a factorization"),
    ],
    ids=["missing-arrays", "corrupt-meta", "corrupt-arrays"],
)
def test_a_broken_model_exits_3_with_the_reason(tmp_path, model, breakage, reason):
    model.save(tmp_path)
    breakage(tmp_path)
    proc = start("--model-dir", str(tmp_path), "--port", "0")
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 3
    assert "listening" not in out
    last_line = err.strip().splitlines()[-1]
    assert last_line.startswith(f"cannot load the model from {tmp_path}: ")
    assert reason in last_line


def test_exits_if_the_named_parent_is_not_its_parent(model_dir):
    proc = start("--model-dir", str(model_dir), "--port", "0", "--parent-pid", str(os.getppid()))
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 4
    assert f"parent process {os.getppid()} is gone" in err


def test_sigterm_finishes_the_request_in_flight_then_exits_0(model_dir):
    proc = start("--model-dir", str(model_dir), "--port", "0")
    try:
        port = listening_port(proc)
        body = json.dumps({"instances": [{"features": [1.0] * DIM}]}).encode()
        head = (
            f"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode()
        with socket.create_connection(("127.0.0.1", port), timeout=30) as client:
            client.sendall(head + body[:5])
            time.sleep(0.5)  # the handler has started and waits for the rest of the body
            proc.send_signal(signal.SIGTERM)
            poll(
                lambda: refused(port),
                timeout=10,
                what="the container to refuse new connections after SIGTERM",
            )
            client.sendall(body[5:])
            answer = b""
            while chunk := client.recv(65536):
                answer += chunk
        assert answer.startswith(b"HTTP/1.1 200 OK")
        assert b'"predictions"' in answer
        assert proc.wait(timeout=15) == 0
    finally:
        _, err = stop(proc)
    assert "stopping: no new connections, finishing in-flight requests" in err
    assert "stopped" in err.splitlines()[-1]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_dies_with_its_parent(model_dir):
    parent = f"""
import subprocess, sys
child = subprocess.Popen({command("--model-dir", str(model_dir), "--port", "0")!r},
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
print(child.pid, flush=True)
print(child.stdout.readline(), end="", flush=True)
"""
    out = subprocess.run(
        [sys.executable, "-c", parent], capture_output=True, text=True, env=ENV, timeout=60
    ).stdout
    pid_line, listening = out.splitlines()
    pid = int(pid_line)
    try:
        assert listening.startswith("listening on 127.0.0.1:")
        poll(lambda: process_gone(pid), timeout=15, what="the container to die with its parent")
    finally:
        if not process_gone(pid):
            os.kill(pid, signal.SIGKILL)


def refused(port: int) -> bool:
    """Whether a new connection to ``port`` is refused."""
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except ConnectionRefusedError:
        return True
    return False


def process_gone(pid: int) -> bool:
    """True if ``pid`` no longer runs (a zombie waiting for init to reap it counts as gone)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return True
    return "\nState:\tZ" in status
