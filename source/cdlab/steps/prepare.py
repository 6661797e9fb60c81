"""predata: MovieLens files -> one-hot recordio-protobuf channels in S3, and a Glue table.

Writes the five MovieLens files into the working directory (the deck's post_build then removes
``u.data`` and ``ua.base*``, keeping ``ua.test`` for the predictor tests) and
``prepdata_result.json``, which names the channels for ``train.py`` and ``test.py``. The data is
generated (or extracted) in a temporary directory first, so no second copy of it stays in the
working directory, which the build exports whole as its artifact.
"""

from __future__ import annotations

import contextlib
import io
import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

import boto3

from cdlab import buckets, data
from cdlab.fm import recordio

RESULT_FILE = "prepdata_result.json"
TABLE = "ratings"


def _channel(s3: Any, bucket: str, key: str, X: Any, y: Any) -> str:
    buf = io.BytesIO()
    recordio.write_spmatrix(buf, X, y)
    s3.put_object(Bucket=bucket, Key=key, Body=buf.getvalue())
    return f"s3://{bucket}/{key}"


def ensure_database(glue: Any, database: str) -> None:
    """Create the database only when it is missing: the pipeline stack owns it, so the build
    reads it (glue:GetDatabase) and needs no glue:CreateDatabase; a notebook run makes its own."""
    try:
        glue.get_database(Name=database)
    except glue.exceptions.EntityNotFoundException:
        with contextlib.suppress(glue.exceptions.AlreadyExistsException):
            glue.create_database(DatabaseInput={"Name": database})


def register_table(database: str, bucket: str, key_prefix: str) -> None:
    """The ratings as a Glue table over ``u.data`` in S3 (tab-separated), so Athena can query it."""
    glue = boto3.client("glue")
    ensure_database(glue, database)
    table = {
        "Name": TABLE,
        "TableType": "EXTERNAL_TABLE",
        "Parameters": {"classification": "csv", "delimiter": "\t"},
        "StorageDescriptor": {
            "Columns": [
                {"Name": "user_id", "Type": "int"},
                {"Name": "item_id", "Type": "int"},
                {"Name": "rating", "Type": "int"},
                {"Name": "timestamp", "Type": "bigint"},
            ],
            "Location": f"s3://{bucket}/{key_prefix}",
            "InputFormat": "org.apache.hadoop.mapred.TextInputFormat",
            "OutputFormat": "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat",
            "SerdeInfo": {
                "SerializationLibrary": "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe",
                "Parameters": {"field.delim": "\t"},
            },
        },
    }
    try:
        glue.create_table(DatabaseName=database, TableInput=table)
    except glue.exceptions.AlreadyExistsException:
        glue.update_table(DatabaseName=database, TableInput=table)


def run(bucket: str, database: str, source: Path | None, workdir: Path, log=print) -> dict:
    log(f"preparing MovieLens data ({'from ' + str(source) if source else 'generated offline'})")
    with tempfile.TemporaryDirectory(prefix="cdlab-data-") as scratch:
        data_dir = data.prepare(source, Path(scratch))
        for name in data.FILES:
            shutil.copyfile(data_dir / name, workdir / name)
        ceiling = data.ceiling(data_dir) if source is None else None
    base = data.load_ratings(workdir, "ua.base")
    test = data.load_ratings(workdir, "ua.test")
    n_users, n_items = len(data.load_users(workdir)), len(data.load_items(workdir))
    X_train, X_test = data.one_hot(base, n_users, n_items), data.one_hot(test, n_users, n_items)
    log(f"{len(base)} training and {len(test)} test ratings, {X_train.shape[1]} features")

    s3 = boto3.client("s3")
    buckets.ensure(s3, bucket)  # in the client's region (outside us-east-1 with its constraint)
    train_uri = _channel(s3, bucket, "prepdata/train/train.protobuf", X_train, base.labels())
    test_uri = _channel(s3, bucket, "prepdata/test/test.protobuf", X_test, test.labels())
    log(f"channels written: {train_uri}, {test_uri}")
    s3.upload_file(str(workdir / "u.data"), bucket, "raw/ratings/u.data")
    register_table(database, bucket, "raw/ratings/")
    log(f"Glue table {database}.{TABLE} registered over s3://{bucket}/raw/ratings/")

    result = {
        "train": train_uri,
        "test": test_uri,
        "feature_dim": int(X_train.shape[1]),
        "train_rows": len(base),
        "test_rows": len(test),
        "source": str(source) if source else "generated",
        "glue_table": f"{database}.{TABLE}",
    }
    if ceiling is not None:
        result["ceiling"] = ceiling
    (workdir / RESULT_FILE).write_text(json.dumps(result, indent=2))
    log(f"wrote {RESULT_FILE}")
    return result
