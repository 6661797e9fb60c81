"""Request parsing and response formatting of the built-in Factorization Machines formats."""

import io
import json

import numpy as np
import pytest
import scipy.sparse as sp

from cdlab.fm import recordio
from cdlab.fm.inference import (
    RECORDIO,
    BadRequest,
    NotAcceptable,
    UnsupportedContentType,
    format_response,
    parse_request,
    response_type,
)
from cdlab.fm.model import FMModel

DIM = 4


def as_json(instances) -> bytes:
    return json.dumps({"instances": instances}).encode()


def sparse(keys, values, shape=(DIM,)):
    return {"data": {"features": {"keys": keys, "shape": list(shape), "values": values}}}


def test_dense_json():
    body = as_json([{"features": [1, 2.5, 0, -1]}, {"features": [0, 0, 0, 3]}])
    X = parse_request(body, "application/json", DIM)
    assert isinstance(X, sp.csr_matrix)
    assert X.dtype == np.float32
    np.testing.assert_array_equal(X.toarray(), [[1, 2.5, 0, -1], [0, 0, 0, 3]])


def test_sparse_json_and_mixed_instances():
    body = as_json([sparse([0, 3], [1, 1]), {"features": [1, 2, 3, 4]}, sparse([], [])])
    X = parse_request(body, "application/json; charset=utf-8", DIM)
    np.testing.assert_array_equal(X.toarray(), [[1, 0, 0, 1], [1, 2, 3, 4], [0, 0, 0, 0]])


def test_sparse_json_shape_may_be_left_out():
    body = as_json([{"data": {"features": {"keys": [2], "values": [0.5]}}}])
    np.testing.assert_array_equal(
        parse_request(body, "application/json", DIM).toarray(), [[0, 0, 0.5, 0]]
    )


def test_missing_content_type_is_json():
    X = parse_request(as_json([{"features": [1, 2, 3, 4]}]), None, DIM)
    assert X.shape == (1, DIM)


def test_recordio_sparse_and_dense():
    buf = io.BytesIO()
    recordio.write_spmatrix(buf, sp.csr_matrix(np.array([[0, 1, 0, 1]], dtype=np.float32)))
    recordio.write_dense(buf, np.array([[1, 2, 3, 4]], dtype=np.float32))
    X = parse_request(buf.getvalue(), "application/x-recordio-protobuf", DIM)
    np.testing.assert_array_equal(X.toarray(), [[0, 1, 0, 1], [1, 2, 3, 4]])


def test_csv_rows():
    X = parse_request(b"1,2,3,4\n\n0, 0.5 ,0,1e-3\n", "text/csv", DIM)
    np.testing.assert_allclose(X.toarray(), [[1, 2, 3, 4], [0, 0.5, 0, 1e-3]], rtol=1e-7)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"instances": [', "request body is not valid JSON"),
        (b"\xff\xfe", "request body is not valid JSON"),
        (b'{"rows": []}', 'JSON body must be an object with an "instances" list'),
        (b"[1, 2]", 'JSON body must be an object with an "instances" list'),
        (b'{"instances": {"features": [1]}}', '"instances" must be a list'),
        (b'{"instances": []}', '"instances" is empty'),
        (as_json([{"features": [1, 2, 3]}]), "instance 0: 3 features, but the model takes 4"),
        (as_json([{"features": [1, 2, 3, 4]}, {"features": [1] * 5}]), "instance 1: 5 features"),
        (as_json([{"features": "1,2,3,4"}]), 'instance 0: "features" must be a list'),
        (as_json([{"features": [1, "2", 3, 4]}]), "instance 0: feature value '2' is not a number"),
        (as_json([{"features": [1, 2, None, 4]}]), "feature value None is not a number"),
        (as_json([{"features": [1, 2, 3, [4]]}]), r"feature value \[4\] is not a number"),
        (as_json([{"features": [1, 2, 3, True]}]), "feature value True is not a number"),
        (b'{"instances": [{"features": [1, 2, NaN, 4]}]}', "feature value nan is not finite"),
        (as_json([{"feature": [1, 2, 3, 4]}]), 'instance 0: expected one of {"instances"'),
        (as_json([{"features": [1] * 4}, sparse([1, 4], [1, 1])]), "instance 1: key 4 is out of"),
        (as_json([sparse([-1], [1])]), "instance 0: key -1 is out of range for feature_dim 4"),
        (as_json([sparse([1.5], [1])]), "instance 0: key 1.5 is not an integer"),
        (as_json([sparse([1], ["a"])]), "instance 0: feature value 'a' is not a number"),
        (as_json([sparse([1, 2], [1])]), "instance 0: 2 keys but 1 values"),
        (as_json([sparse([1], [1], shape=(7,))]), r"shape \[7\] does not match the model"),
        (as_json([{"data": {"features": {"keys": [1]}}}]), 'need "keys" and "values" lists'),
        (as_json([{"data": [1]}]), 'instance 0: "data" must be'),
    ],
)
def test_bad_json_is_a_clear_bad_request(body, message):
    with pytest.raises(BadRequest, match=message) as info:
        parse_request(body, "application/json", DIM)
    assert info.value.status == 400


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "holds no records"),
        (b"not recordio", "invalid recordio-protobuf body: record 0 at offset 0: bad magic"),
    ],
)
def test_bad_recordio_is_a_clear_bad_request(body, message):
    with pytest.raises(BadRequest, match=message):
        parse_request(body, "application/x-recordio-protobuf", DIM)


def test_recordio_with_the_wrong_feature_count():
    buf = io.BytesIO()
    recordio.write_dense(buf, np.ones((2, 3), dtype=np.float32))
    with pytest.raises(
        BadRequest, match="record 0 at offset 0: 3 features, expected feature_dim 4"
    ):
        parse_request(buf.getvalue(), "application/x-recordio-protobuf", DIM)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"\n\n", "holds no rows"),
        (b"1,2,3,4\n1,2,3\n", "row 1: 3 columns, but the model takes 4"),
        (b"1,2,x,4\n", "row 0: could not convert string to float: 'x'"),
        (b"1,2,inf,4\n", "row 0: feature values must be finite"),
    ],
)
def test_bad_csv_is_a_clear_bad_request(body, message):
    with pytest.raises(BadRequest, match=message):
        parse_request(body, "text/csv", DIM)


def test_unsupported_content_type_names_the_supported_ones():
    with pytest.raises(
        UnsupportedContentType, match="'text/plain'; supported: application/json"
    ) as info:
        parse_request(b"1,2", "text/plain", DIM)
    assert info.value.status == 415
    assert "application/x-recordio-protobuf" in str(info.value)


@pytest.mark.parametrize(
    ("accept", "media"),
    [
        (None, "application/json"),
        ("", "application/json"),
        ("*/*", "application/json"),
        ("application/json", "application/json"),
        ("text/html, application/jsonlines; q=0.9", "application/jsonlines"),
        ("text/html, application/x-recordio-protobuf, application/json", RECORDIO),
        ("application/*, application/x-recordio-protobuf", "application/json"),
    ],
)
def test_response_type(accept, media):
    assert response_type(accept) == media


def test_unsupported_accept():
    with pytest.raises(
        NotAcceptable,
        match="supported: application/json, application/jsonlines, application/x-recordio-protobuf",
    ):
        response_type("text/html")
    assert NotAcceptable.status == 406


def test_responses_have_the_built_in_shape():
    rng = np.random.default_rng(0)
    model = FMModel(
        0.1,
        rng.standard_normal(DIM).astype(np.float32),
        rng.standard_normal((DIM, 2)).astype(np.float32),
        "binary_classifier",
    )
    X = parse_request(as_json([{"features": [1, 0, 0, 1]}, sparse([1, 2], [1, 1])]), None, DIM)
    predictions = model.predict(X)
    doc = json.loads(format_response(predictions, "application/json"))
    assert list(doc) == ["predictions"]
    assert len(doc["predictions"]) == 2
    for p in doc["predictions"]:
        assert set(p) == {"score", "predicted_label"}
        assert 0 < p["score"] < 1
        assert p["predicted_label"] == (1.0 if p["score"] >= 0.5 else 0.0)
    lines = format_response(predictions, "application/jsonlines").decode().splitlines()
    assert [json.loads(line) for line in lines] == doc["predictions"]
