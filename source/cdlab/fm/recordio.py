"""The recordio-protobuf format of SageMaker's built-in algorithms, without generated code.

Each record is framed as a little-endian uint32 magic ``0xced7230a``, a uint32 payload length,
the payload and zero padding to a multiple of 4 bytes. The payload is an ``aialgs.data.Record``
protobuf message; the message classes are built here at import time from a descriptor, in a
private descriptor pool so they never clash with another copy of the schema (such as the one
SageMaker SDK v2 registers). In training and request records, features and labels live under
the map key ``"values"``; a sparse row carries ``keys`` and ``shape``, a dense row ``values`` only.
Response records have no features and name each label (``"score"``, ``"predicted_label"``).

SageMaker SDK v3 ships this codec only as stubs that raise ``NotImplementedError``; the bytes
written here are the same as SDK v2's ``sagemaker.amazon.common`` writers for float32 input
(see ``tests/fixtures/recordio``).
"""

from __future__ import annotations

import struct
from collections.abc import Iterator, Mapping, Sequence
from typing import IO, Any

import numpy as np
import scipy.sparse as sp
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.message import DecodeError

MAGIC = 0xCED7230A
VALUES_KEY = "values"
_HEADER = struct.Struct("<II")
_PADDING = (b"", b"\0", b"\0\0", b"\0\0\0")
# MXNet's recordio keeps a continuation flag in the top 3 bits of the length word.
_LENGTH_MASK = (1 << 29) - 1
_MAX_DIM = np.iinfo(np.int64).max


class RecordIOError(ValueError):
    """The bytes are not valid recordio-protobuf (or not what a factorization machine reads)."""


def _build_record_class() -> Any:
    F = descriptor_pb2.FieldDescriptorProto
    file = descriptor_pb2.FileDescriptorProto(
        name="cdlab/aialgs_data_record.proto", package="aialgs.data", syntax="proto2"
    )

    def field(msg, name, number, ftype, label=F.LABEL_OPTIONAL, type_name=None, packed=False):
        f = msg.field.add(name=name, number=number, type=ftype, label=label)
        if type_name:
            f.type_name = type_name
        if packed:
            f.options.packed = True
        return f

    for name, value_type in (
        ("Float32Tensor", F.TYPE_FLOAT),
        ("Float64Tensor", F.TYPE_DOUBLE),
        ("Int32Tensor", F.TYPE_INT32),
    ):
        tensor = file.message_type.add(name=name)
        field(tensor, "values", 1, value_type, F.LABEL_REPEATED, packed=True)
        field(tensor, "keys", 2, F.TYPE_UINT64, F.LABEL_REPEATED, packed=True)
        field(tensor, "shape", 3, F.TYPE_UINT64, F.LABEL_REPEATED, packed=True)

    raw = file.message_type.add(name="Bytes")
    field(raw, "value", 1, F.TYPE_BYTES, F.LABEL_REPEATED)
    field(raw, "content_type", 2, F.TYPE_STRING)

    value = file.message_type.add(name="Value")
    value.oneof_decl.add(name="value")
    for name, number, type_name in (
        ("float32_tensor", 2, ".aialgs.data.Float32Tensor"),
        ("float64_tensor", 3, ".aialgs.data.Float64Tensor"),
        ("int32_tensor", 7, ".aialgs.data.Int32Tensor"),
        ("bytes", 9, ".aialgs.data.Bytes"),
    ):
        field(value, name, number, F.TYPE_MESSAGE, type_name=type_name).oneof_index = 0

    record = file.message_type.add(name="Record")
    for name, number, entry_name in (("features", 1, "FeaturesEntry"), ("label", 2, "LabelEntry")):
        entry = record.nested_type.add(name=entry_name)
        entry.options.map_entry = True
        field(entry, "key", 1, F.TYPE_STRING)
        field(entry, "value", 2, F.TYPE_MESSAGE, type_name=".aialgs.data.Value")
        field(
            record,
            name,
            number,
            F.TYPE_MESSAGE,
            F.LABEL_REPEATED,
            type_name=f".aialgs.data.Record.{entry_name}",
        )
    field(record, "uid", 3, F.TYPE_STRING)
    field(record, "metadata", 4, F.TYPE_STRING)
    field(record, "configuration", 5, F.TYPE_STRING)

    pool = descriptor_pool.DescriptorPool()
    pool.Add(file)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("aialgs.data.Record"))


Record = _build_record_class()
"""The ``aialgs.data.Record`` message class."""


def _frame(payload: bytes) -> bytes:
    return b"".join((_HEADER.pack(MAGIC, len(payload)), payload, _PADDING[-len(payload) % 4]))


def _labels_list(labels: np.ndarray | None, n_rows: int) -> list[float] | None:
    if labels is None:
        return None
    labels = np.asarray(labels)
    if labels.shape != (n_rows,):
        raise ValueError(f"labels must have shape ({n_rows},); got {labels.shape}")
    return labels.astype(np.float32).tolist()


def write_spmatrix(
    f: IO[bytes], X: sp.spmatrix | sp.sparray, labels: np.ndarray | None = None
) -> None:
    """Write each row of ``X`` as a sparse float32 record (keys, shape, values), with its label."""
    if not sp.issparse(X) or X.ndim != 2:
        raise TypeError("X must be a 2-d scipy sparse matrix")
    X = sp.csr_matrix(X, dtype=np.float32)
    n_rows, n_cols = X.shape
    label_list = _labels_list(labels, n_rows)
    # Python lists make protobuf's extend() several times faster than numpy slices.
    indptr = X.indptr.tolist()
    indices = X.indices.tolist()
    data = X.data.tolist()
    record = Record()
    chunks = []
    for i in range(n_rows):
        record.Clear()
        tensor = record.features[VALUES_KEY].float32_tensor
        start, end = indptr[i], indptr[i + 1]
        tensor.values.extend(data[start:end])
        tensor.keys.extend(indices[start:end])
        tensor.shape.append(n_cols)
        if label_list is not None:
            record.label[VALUES_KEY].float32_tensor.values.append(label_list[i])
        chunks.append(_frame(record.SerializeToString()))
    f.write(b"".join(chunks))


def write_dense(f: IO[bytes], X: np.ndarray, labels: np.ndarray | None = None) -> None:
    """Write each row of ``X`` as a dense float32 record (values only), with its label."""
    X = np.asarray(X)
    if X.ndim != 2:
        raise ValueError(f"X must be a 2-d array; got {X.ndim} dimensions")
    label_list = _labels_list(labels, X.shape[0])
    record = Record()
    chunks = []
    for i, row in enumerate(X.astype(np.float32).tolist()):
        record.Clear()
        record.features[VALUES_KEY].float32_tensor.values.extend(row)
        if label_list is not None:
            record.label[VALUES_KEY].float32_tensor.values.append(label_list[i])
        chunks.append(_frame(record.SerializeToString()))
    f.write(b"".join(chunks))


def write_label_records(f: IO[bytes], rows: Sequence[Mapping[str, float]]) -> None:
    """Write one record per row: no features, and each of the row's named values as a one-value
    float32 tensor under ``label``. Built-in algorithms answer inference requests so, e.g. the
    "Factorization Machines Response Formats",
    https://docs.aws.amazon.com/sagemaker/latest/dg/fm-in-formats.html
    """
    record = Record()
    chunks = []
    for row in rows:
        record.Clear()
        for name, value in row.items():
            record.label[name].float32_tensor.values.append(value)
        chunks.append(_frame(record.SerializeToString()))
    f.write(b"".join(chunks))


def _payloads(data: bytes | memoryview) -> Iterator[tuple[int, int, memoryview]]:
    """Yield (record index, offset of its header, payload) for each framed record."""
    view = memoryview(data)
    size = len(view)
    offset = 0
    index = 0
    while offset < size:
        if size - offset < _HEADER.size:
            raise RecordIOError(
                f"record {index} at offset {offset}: truncated header "
                f"({size - offset} bytes left, need {_HEADER.size})"
            )
        magic, length = _HEADER.unpack_from(view, offset)
        if magic != MAGIC:
            raise RecordIOError(
                f"record {index} at offset {offset}: bad magic 0x{magic:08x} "
                f"(expected 0x{MAGIC:08x}); not recordio-protobuf, or corrupt"
            )
        if length & ~_LENGTH_MASK:
            raise RecordIOError(
                f"record {index} at offset {offset}: multi-part records are not supported"
            )
        start = offset + _HEADER.size
        end = start + length
        if end > size:
            raise RecordIOError(
                f"record {index} at offset {offset}: truncated payload "
                f"({size - start} bytes left, length says {length})"
            )
        yield index, offset, view[start:end]
        # Padding may be missing after the last record; nothing is lost without it.
        offset = end + (-length % 4)
        index += 1


def _parse(index: int, offset: int, payload: memoryview) -> Any:
    record = Record()
    try:
        record.ParseFromString(payload)
    except DecodeError as e:
        raise RecordIOError(
            f"record {index} at offset {offset}: payload is not an aialgs.data.Record ({e})"
        ) from e
    return record


def read_records(f: IO[bytes]) -> list[Any]:
    """Every ``Record`` message in the file object ``f``."""
    return [_parse(*p) for p in _payloads(f.read())]


def _tensor(value: Any) -> Any:
    kind = value.WhichOneof("value")
    if kind is None or kind == "bytes":
        return None
    return getattr(value, kind)


def read_matrix(
    data: bytes, feature_dim: int | None = None
) -> tuple[sp.csr_matrix, np.ndarray | None]:
    """Records to a float32 CSR matrix (one row per record) and their scalar labels.

    Sparse and dense rows may be mixed. ``feature_dim``, if given, is the required row length;
    otherwise every row must agree on it. Labels are returned only if every record has one.
    """
    indptr = [0]
    keys: list[int] = []
    values: list[float] = []
    labels: list[float] = []
    dims: list[int] = []
    # Offsets of the rows, to name the record in a vectorised check's error.
    offsets: list[int] = []
    for index, offset, payload in _payloads(data):
        where = f"record {index} at offset {offset}"
        record = _parse(index, offset, payload)
        row_keys, row_values, dim = _row(where, record)
        keys.extend(row_keys)
        values.extend(row_values)
        dims.append(dim)
        indptr.append(len(values))
        offsets.append(offset)
        label = _label(where, record)
        if label is not None:
            labels.append(label)
        if labels and len(labels) != len(offsets):
            raise RecordIOError(f"{where}: some records have a label and some do not")

    n_rows = len(offsets)
    feature_dim = _check_dims(dims, offsets, feature_dim)
    indices = np.array(keys, dtype=np.uint64)
    row_ptr = np.array(indptr, dtype=np.int64)
    _check_keys(indices, row_ptr, offsets, feature_dim)
    X = sp.csr_matrix(
        (np.array(values, dtype=np.float32), indices.astype(np.int64), row_ptr),
        shape=(n_rows, feature_dim),
    )
    return X, (np.array(labels, dtype=np.float32) if labels else None)


def _row(where: str, record: Any) -> tuple[Sequence[int], Sequence[float], int]:
    """A record's features as (keys, values, row length): a sparse row's own keys, or a dense
    row's positions."""
    feature = record.features.get(VALUES_KEY)
    tensor = None if feature is None else _tensor(feature)
    if tensor is None:
        raise RecordIOError(f"{where}: no numeric tensor under features['{VALUES_KEY}']")
    shape = tensor.shape
    if len(shape) > 1:
        raise RecordIOError(f"{where}: features have shape {list(shape)}; expected a vector")
    n_values = len(tensor.values)
    # A sparse row of zeros has a shape but neither keys nor values.
    if tensor.keys or (shape and not n_values):
        if not shape:
            raise RecordIOError(f"{where}: sparse features (keys) without a shape")
        if len(tensor.keys) != n_values:
            raise RecordIOError(f"{where}: {len(tensor.keys)} keys but {n_values} values")
        if shape[0] > _MAX_DIM:
            raise RecordIOError(f"{where}: shape {list(shape)} is too large")
        return tensor.keys, tensor.values, shape[0]
    if shape and shape[0] != n_values:
        raise RecordIOError(
            f"{where}: dense features have {n_values} values but shape {list(shape)}"
        )
    return range(n_values), tensor.values, n_values


def _label(where: str, record: Any) -> float | None:
    """A record's scalar label, or None when it has none."""
    label = record.label.get(VALUES_KEY)
    if label is None:
        return None
    label_tensor = _tensor(label)
    if label_tensor is None or len(label_tensor.values) != 1:
        raise RecordIOError(f"{where}: label['{VALUES_KEY}'] is not a single number")
    return label_tensor.values[0]


def _check_dims(dims: list[int], offsets: list[int], feature_dim: int | None) -> int:
    """The row length every row has: ``feature_dim`` if given, else the first row's."""
    dim_array = np.array(dims, dtype=np.int64)
    if feature_dim is None:
        feature_dim = int(dim_array[0]) if dims else 0
    bad = np.flatnonzero(dim_array != feature_dim)
    if bad.size:
        i = int(bad[0])
        raise RecordIOError(
            f"record {i} at offset {offsets[i]}: {dims[i]} features, expected feature_dim "
            f"{feature_dim}"
        )
    return feature_dim


def _check_keys(
    indices: np.ndarray, row_ptr: np.ndarray, offsets: list[int], feature_dim: int
) -> None:
    """Every key is below ``feature_dim``; else name the first record with one that is not."""
    bad = np.flatnonzero(indices >= feature_dim)
    if bad.size:
        pos = int(bad[0])
        i = int(np.searchsorted(row_ptr, pos, side="right")) - 1
        raise RecordIOError(
            f"record {i} at offset {offsets[i]}: key {int(indices[pos])} is out of range "
            f"for shape [{feature_dim}]"
        )
