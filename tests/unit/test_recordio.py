"""The kit's recordio-protobuf codec, checked against files written by SageMaker SDK v2."""

import io
import json
import struct
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from cdlab.fm import recordio
from cdlab.fm.recordio import MAGIC, Record, RecordIOError, read_matrix, read_records

FIXTURES = Path(__file__).parent.parent / "fixtures" / "recordio"
EXPECTED = json.loads((FIXTURES / "expected.json").read_text())["files"]


def frame(payload: bytes) -> bytes:
    return struct.pack("<II", MAGIC, len(payload)) + payload + b"\0" * (-len(payload) % 4)


def sparse_record(keys: list[int], values: list[float], shape: list[int] | None) -> bytes:
    record = Record()
    tensor = record.features["values"].float32_tensor
    tensor.keys.extend(keys)
    tensor.values.extend(values)
    if shape is not None:
        tensor.shape.extend(shape)
    return frame(record.SerializeToString())


def written(writer, *args) -> bytes:
    buf = io.BytesIO()
    writer(buf, *args)
    return buf.getvalue()


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_reads_sdk_v2_files_to_the_expected_arrays(name):
    case = EXPECTED[name]
    X, labels = read_matrix((FIXTURES / case["file"]).read_bytes())
    expected = np.array(case["features"], dtype=np.float32)
    assert isinstance(X, sp.csr_matrix)
    assert X.dtype == np.float32
    np.testing.assert_array_equal(X.toarray(), expected)
    if case["labels"] is None:
        assert labels is None
    else:
        np.testing.assert_array_equal(labels, np.array(case["labels"], dtype=np.float32))
    if case["sparse"]:
        # Sparse rows carry only their non-zeros.
        assert X.nnz == np.count_nonzero(expected)


@pytest.mark.parametrize(
    "name", sorted(n for n, c in EXPECTED.items() if c["kit_writes_same_bytes"])
)
def test_writes_the_same_bytes_as_sdk_v2(name):
    case = EXPECTED[name]
    features = np.array(case["features"], dtype=np.float32)
    labels = None if case["labels"] is None else np.array(case["labels"], dtype=np.float32)
    if case["sparse"]:
        data = written(recordio.write_spmatrix, sp.csr_matrix(features), labels)
    else:
        data = written(recordio.write_dense, features, labels)
    assert data == (FIXTURES / case["file"]).read_bytes()


def test_read_records_gives_protobuf_messages_with_keys_and_shape():
    with open(FIXTURES / "sparse_onehot_labeled.rec", "rb") as f:
        records = read_records(f)
    assert len(records) == 8
    tensor = records[0].features["values"].float32_tensor
    assert list(tensor.keys) == [0, 3]
    assert list(tensor.values) == [1.0, 1.0]
    assert list(tensor.shape) == [7]
    assert list(records[1].label["values"].float32_tensor.values) == [0.0]
    assert Record.DESCRIPTOR.full_name == "aialgs.data.Record"


def test_round_trip_of_mixed_sparse_and_dense_rows_with_feature_dim():
    sparse = sp.csr_matrix(np.array([[0, 2, 0, 0], [0, 0, 0, 0]], dtype=np.float32))
    dense = np.array([[1, 2, 3, 4]], dtype=np.float32)
    data = written(recordio.write_spmatrix, sparse) + written(recordio.write_dense, dense)
    X, labels = read_matrix(data, feature_dim=4)
    np.testing.assert_array_equal(X.toarray(), [[0, 2, 0, 0], [0, 0, 0, 0], [1, 2, 3, 4]])
    assert labels is None


def test_large_round_trip():
    rng = np.random.default_rng(1)
    n, users, items = 20_000, 300, 500
    cols = np.stack([rng.integers(0, users, n), users + rng.integers(0, items, n)], 1).ravel()
    X = sp.csr_matrix(
        (np.ones(2 * n, np.float32), (np.repeat(np.arange(n), 2), cols)), shape=(n, users + items)
    )
    y = rng.integers(0, 2, n).astype(np.float32)
    X2, y2 = read_matrix(written(recordio.write_spmatrix, X, y), feature_dim=users + items)
    assert (X2 != X).nnz == 0
    np.testing.assert_array_equal(y2, y)


def test_empty_input_is_an_empty_matrix():
    X, labels = read_matrix(b"", feature_dim=5)
    assert X.shape == (0, 5)
    assert labels is None


def test_missing_padding_after_the_last_record_is_accepted():
    data = sparse_record([1], [0.5], [3])
    payload_end = 8 + struct.unpack_from("<I", data, 4)[0]
    assert payload_end < len(data)
    X, _ = read_matrix(data[:payload_end])
    np.testing.assert_array_equal(X.toarray(), [[0, 0.5, 0]])


def test_writers_validate_their_input():
    with pytest.raises(ValueError, match=r"labels must have shape \(2,\)"):
        written(recordio.write_dense, np.zeros((2, 3)), np.zeros(3))
    with pytest.raises(ValueError, match="2-d"):
        written(recordio.write_dense, np.zeros(3))
    with pytest.raises(TypeError, match="sparse"):
        written(recordio.write_spmatrix, np.zeros((2, 3)))


# Corrupt input: every error is a RecordIOError naming the record and its offset.

GOOD = sparse_record([0], [1.0], [4])


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\x00\x01\x02\x03" + GOOD[4:], r"record 0 at offset 0: bad magic 0x03020100"),
        (GOOD + b"junkjunk" + GOOD, rf"record 1 at offset {len(GOOD)}: bad magic"),
        (GOOD + GOOD[:5], rf"record 1 at offset {len(GOOD)}: truncated header"),
        (GOOD + GOOD[:10], rf"record 1 at offset {len(GOOD)}: truncated payload"),
        (frame(b"\xff\xff\xff\xff"), "record 0 at offset 0: payload is not an aialgs.data.Record"),
        (struct.pack("<II", MAGIC, 4 | 1 << 29) + b"abcd", "multi-part records are not supported"),
        (GOOD + sparse_record([2, 9], [1.0, 1.0], [4]), r"record 1 at offset \d+: key 9 is out of"),
        (sparse_record([1], [1.0], [2**64 - 1]), r"shape \[18446744073709551615\] is too large"),
        (sparse_record([1], [1.0], None), "sparse features \\(keys\\) without a shape"),
        (sparse_record([1, 2], [1.0], [4]), "2 keys but 1 values"),
        (sparse_record([], [1.0, 2.0], [3]), r"dense features have 2 values but shape \[3\]"),
        (
            GOOD + sparse_record([0], [1.0], [5]),
            rf"record 1 at offset {len(GOOD)}: 5 features, expected feature_dim 4",
        ),
        (frame(Record().SerializeToString()), r"no numeric tensor under features\['values'\]"),
    ],
    ids=[
        "bad-magic",
        "bad-magic-second-record",
        "truncated-header",
        "truncated-payload",
        "not-protobuf",
        "multi-part",
        "key-out-of-range",
        "huge-shape",
        "keys-without-shape",
        "keys-values-mismatch",
        "dense-shape-mismatch",
        "rows-disagree-on-dim",
        "no-features",
    ],
)
def test_corrupt_input_raises_a_clear_error(data, message):
    with pytest.raises(RecordIOError, match=message):
        read_matrix(data)


def test_feature_dim_mismatch_is_reported():
    with pytest.raises(
        RecordIOError, match="record 0 at offset 0: 4 features, expected feature_dim 7"
    ):
        read_matrix(GOOD, feature_dim=7)


def test_labels_on_some_records_only_is_an_error():
    labeled = written(recordio.write_dense, np.ones((1, 4)), np.ones(1))
    unlabeled = written(recordio.write_dense, np.ones((1, 4)))
    with pytest.raises(RecordIOError, match=r"record 1 .*some records have a label"):
        read_matrix(labeled + unlabeled)


def test_read_records_reports_corruption_too():
    with pytest.raises(RecordIOError, match="bad magic"):
        read_records(io.BytesIO(b"not a recordio file"))
    assert issubclass(RecordIOError, ValueError)
