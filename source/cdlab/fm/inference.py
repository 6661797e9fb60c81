"""Requests and responses in the formats of the built-in Factorization Machines inference.

In: ``application/json`` with dense ``{"instances": [{"features": [...]}]}`` or sparse
``{"instances": [{"data": {"features": {"keys": [...], "shape": [N], "values": [...]}}}]}``
instances (both may be mixed), ``application/x-recordio-protobuf``, or ``text/csv`` rows of
features. Out: ``application/json`` ``{"predictions": [...]}`` (the default),
``application/jsonlines``, one prediction per line, or ``application/x-recordio-protobuf``, one
record per row with empty features and each value of the prediction (``score``, and
``predicted_label`` for a binary classifier) a float32 tensor under ``label``; see
https://docs.aws.amazon.com/sagemaker/latest/dg/fm-in-formats.html

Every problem with a request raises :class:`BadRequest` (or a subclass) whose message says what
is wrong and where; its ``status`` is the HTTP status a container should answer with.
"""

from __future__ import annotations

import io
import json
import math

import numpy as np
import scipy.sparse as sp

from cdlab.fm.recordio import RecordIOError, read_matrix, write_label_records

JSON = "application/json"
JSONLINES = "application/jsonlines"
RECORDIO = "application/x-recordio-protobuf"
CSV = "text/csv"
CONTENT_TYPES = (JSON, RECORDIO, CSV)
ACCEPT_TYPES = (JSON, JSONLINES, RECORDIO)

_JSON_SHAPES = (
    '{"instances": [{"features": [x0, x1, ...]}]} or '
    '{"instances": [{"data": {"features": {"keys": [...], "shape": [N], "values": [...]}}}]}'
)


class BadRequest(ValueError):
    """The request cannot be answered; the message is meant for the caller."""

    status = 400


class UnsupportedContentType(BadRequest):
    status = 415


class NotAcceptable(BadRequest):
    status = 406


def _media_type(header: str) -> str:
    return header.split(";", 1)[0].strip().lower()


def response_type(accept: str | None) -> str:
    """The response media type for an Accept header: the first supported one listed."""
    if not accept:
        return JSON
    for item in accept.split(","):
        media = _media_type(item)
        if media in ACCEPT_TYPES:
            return media
        if media in ("*/*", "application/*"):
            return JSON
    raise NotAcceptable(
        f"cannot answer with Accept {accept!r}; supported: {', '.join(ACCEPT_TYPES)}"
    )


def parse_request(body: bytes, content_type: str | None, feature_dim: int) -> sp.csr_matrix:
    """The request's rows as a float32 CSR matrix with ``feature_dim`` columns.

    A missing content type is read as JSON, which is what clients send most.
    """
    media = _media_type(content_type) if content_type else JSON
    if media == JSON:
        return _parse_json(body, feature_dim)
    if media == RECORDIO:
        return _parse_recordio(body, feature_dim)
    if media == CSV:
        return _parse_csv(body, feature_dim)
    raise UnsupportedContentType(
        f"unsupported content type {content_type!r}; supported: {', '.join(CONTENT_TYPES)}"
    )


def format_response(predictions: list[dict[str, float]], media_type: str) -> bytes:
    """Encode predictions for a media type from :func:`response_type`."""
    if media_type == JSONLINES:
        return "".join(json.dumps(p) + "\n" for p in predictions).encode()
    if media_type == RECORDIO:
        buf = io.BytesIO()
        write_label_records(buf, predictions)
        return buf.getvalue()
    return json.dumps({"predictions": predictions}).encode()


def _parse_json(body: bytes, feature_dim: int) -> sp.csr_matrix:
    try:
        doc = json.loads(body)
    except (ValueError, RecursionError) as e:
        raise BadRequest(f"request body is not valid JSON: {e}") from e
    if not isinstance(doc, dict) or "instances" not in doc:
        raise BadRequest(
            f'JSON body must be an object with an "instances" list, as in {_JSON_SHAPES}'
        )
    instances = doc["instances"]
    if not isinstance(instances, list):
        raise BadRequest(f'"instances" must be a list: {_JSON_SHAPES}')
    if not instances:
        raise BadRequest('"instances" is empty: send at least one instance')

    indptr = [0]
    keys: list = []
    values: list = []
    dense_keys = range(feature_dim)
    for i, instance in enumerate(instances):
        if isinstance(instance, dict) and "features" in instance:
            features = instance["features"]
            if not isinstance(features, list):
                raise BadRequest(f'instance {i}: "features" must be a list of numbers')
            if len(features) != feature_dim:
                raise BadRequest(
                    f"instance {i}: {len(features)} features, but the model takes {feature_dim}"
                )
            keys.extend(dense_keys)
            values.extend(features)
        elif isinstance(instance, dict) and "data" in instance:
            k, v = _sparse_instance(i, instance["data"], feature_dim)
            keys.extend(k)
            values.extend(v)
        else:
            raise BadRequest(f"instance {i}: expected one of {_JSON_SHAPES}")
        indptr.append(len(values))
    row_ptr = np.array(indptr, dtype=np.int64)
    # numpy takes true and false for 1 and 0; look for them only if the body could hold them.
    bools = b"true" in body or b"false" in body
    return _csr(
        _numbers(keys, row_ptr, "key", integer=True, bools=bools),
        _numbers(values, row_ptr, "feature value", integer=False, bools=bools),
        row_ptr,
        feature_dim,
    )


def _sparse_instance(i: int, data: object, feature_dim: int) -> tuple[list, list]:
    features = data.get("features") if isinstance(data, dict) else None
    if not isinstance(features, dict):
        raise BadRequest(
            f'instance {i}: "data" must be {{"features": {{"keys", "shape", "values"}}}}'
        )
    keys, values = features.get("keys"), features.get("values")
    if not isinstance(keys, list) or not isinstance(values, list):
        raise BadRequest(f'instance {i}: sparse features need "keys" and "values" lists')
    if len(keys) != len(values):
        raise BadRequest(f"instance {i}: {len(keys)} keys but {len(values)} values")
    shape = features.get("shape", [feature_dim])
    if shape != [feature_dim]:
        raise BadRequest(
            f"instance {i}: shape {shape!r} does not match the model, which takes [{feature_dim}]"
        )
    return keys, values


def _numbers(
    items: list, row_ptr: np.ndarray, what: str, *, integer: bool, bools: bool
) -> np.ndarray:
    """``items`` as a 1-d array, or a BadRequest naming the first item that is not a number."""
    try:
        array = np.array(items)
    except ValueError:  # ragged nested lists
        array = None
    kinds = "iu" if integer else "iuf"
    if (
        array is not None
        and array.ndim == 1
        and array.dtype.kind in kinds
        and not (bools and any(type(item) is bool for item in items))
    ):
        return array
    allowed = (int,) if integer else (int, float)
    for j, item in enumerate(items):
        if type(item) not in allowed:
            noun = "an integer" if integer else "a number"
            raise BadRequest(f"{_where(row_ptr, j)}: {what} {item!r} is not {noun}")
    # Only integers too large for int64 get here.
    return np.array(items, dtype=np.float64)


def _where(row_ptr: np.ndarray, position: int) -> str:
    return f"instance {int(np.searchsorted(row_ptr, position, side='right')) - 1}"


def _csr(
    keys: np.ndarray, values: np.ndarray, row_ptr: np.ndarray, feature_dim: int
) -> sp.csr_matrix:
    bad = np.flatnonzero((keys < 0) | (keys >= feature_dim))
    if bad.size:
        j = int(bad[0])
        raise BadRequest(
            f"{_where(row_ptr, j)}: key {keys[j]} is out of range for feature_dim {feature_dim} "
            f"(keys run from 0 to {feature_dim - 1})"
        )
    bad = np.flatnonzero(~np.isfinite(values))
    if bad.size:
        j = int(bad[0])
        raise BadRequest(f"{_where(row_ptr, j)}: feature value {values[j]} is not finite")
    return sp.csr_matrix(
        (values.astype(np.float32), keys.astype(np.int64), row_ptr),
        shape=(len(row_ptr) - 1, feature_dim),
    )


def _parse_recordio(body: bytes, feature_dim: int) -> sp.csr_matrix:
    try:
        X, _ = read_matrix(body, feature_dim)
    except RecordIOError as e:
        raise BadRequest(f"invalid recordio-protobuf body: {e}") from e
    if X.shape[0] == 0:
        raise BadRequest("recordio-protobuf body holds no records: send at least one")
    bad = np.flatnonzero(~np.isfinite(X.data))
    if bad.size:
        row = int(np.searchsorted(X.indptr, bad[0], side="right")) - 1
        raise BadRequest(f"record {row}: feature value {X.data[bad[0]]} is not finite")
    return X


def _parse_csv(body: bytes, feature_dim: int) -> sp.csr_matrix:
    try:
        lines = [line for line in body.decode().splitlines() if line.strip()]
    except UnicodeDecodeError as e:
        raise BadRequest(f"text/csv body is not UTF-8: {e}") from e
    if not lines:
        raise BadRequest("text/csv body holds no rows: send at least one")
    rows = []
    for i, line in enumerate(lines):
        cells = line.split(",")
        if len(cells) != feature_dim:
            raise BadRequest(f"row {i}: {len(cells)} columns, but the model takes {feature_dim}")
        try:
            row = [float(cell) for cell in cells]
        except ValueError as e:
            raise BadRequest(f"row {i}: {e}") from e
        if not all(math.isfinite(x) for x in row):
            raise BadRequest(f"row {i}: feature values must be finite")
        rows.append(row)
    return sp.csr_matrix(np.array(rows, dtype=np.float32))
