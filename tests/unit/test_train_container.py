"""The FM training process in SageMaker's layout, run as a real process on a temporary /opt/ml."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from cdlab.fm import train_container
from cdlab.fm.model import FMModel
from cdlab.fm.recordio import write_spmatrix
from cdlab.localcloud.sagemaker import images
from cdlab.parent import EXIT_PARENT_GONE

USERS, ITEMS = 20, 30
FEATURE_DIM = USERS + ITEMS
HYPERPARAMETERS = {
    "feature_dim": str(FEATURE_DIM),
    "num_factors": "4",
    "predictor_type": "binary_classifier",
    "epochs": "10",
    "mini_batch_size": "100",
    "bias_lr": "0.05",
    "linear_lr": "0.05",
    "factors_lr": "0.01",
}


def dataset(rows: int, seed: int) -> tuple[sp.csr_matrix, np.ndarray]:
    """One-hot (user, item) rows, MovieLens-style, labelled by a hidden per-user and per-item
    taste, so that a few epochs learn it well."""
    rng = np.random.default_rng(seed)
    taste = np.random.default_rng(0).normal(size=FEATURE_DIM)
    users = rng.integers(0, USERS, rows)
    items = rng.integers(USERS, FEATURE_DIM, rows)
    X = sp.csr_matrix(
        (np.ones(2 * rows, dtype=np.float32), np.column_stack([users, items]).ravel(),
         np.arange(0, 2 * rows + 1, 2)),
        shape=(rows, FEATURE_DIM),
    )  # fmt: skip
    y = (taste[users] + taste[items] > 0).astype(np.float32)
    return X, y


def recordio(X: sp.csr_matrix, y: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    write_spmatrix(buffer, X, y)
    return buffer.getvalue()


def corrupt_at_record(
    data: bytes, X: sp.csr_matrix, y: np.ndarray, index: int
) -> tuple[bytes, int]:
    """``data`` with the header of record ``index`` overwritten, and that record's offset."""
    offset = len(recordio(X[:index], y[:index]))
    return data[:offset] + b"\xff" * 4 + data[offset + 4 :], offset


def layout(
    root: Path,
    hyperparameters: dict[str, str] | None = None,
    channels: dict[str, bytes] | None = None,
) -> Path:
    """A SageMaker /opt/ml for the trainer: config files and one file per channel."""
    if channels is None:
        channels = {"train": recordio(*dataset(800, 1)), "test": recordio(*dataset(200, 2))}
    config = root / "input" / "config"
    config.mkdir(parents=True)
    (config / "hyperparameters.json").write_text(json.dumps(hyperparameters or HYPERPARAMETERS))
    (config / "inputdataconfig.json").write_text(
        json.dumps({c: {"TrainingInputMode": "File"} for c in channels})
    )
    for channel, data in channels.items():
        (root / "input" / "data" / channel).mkdir(parents=True)
        (root / "input" / "data" / channel / "part-0.rec").write_bytes(data)
    return root


def start(root: Path, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "cdlab.fm.train_container", "--job", "j", "--root", str(root),
         *extra],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip


def run(root: Path) -> tuple[int, str]:
    process = start(root)
    out, _ = process.communicate(timeout=60)
    return process.returncode, out


def failure(root: Path) -> str:
    return (root / "output" / "failure").read_text()


def test_trains_saves_the_model_and_logs_the_builtin_metric_lines(tmp_path: Path) -> None:
    code, out = run(layout(tmp_path))
    assert code == 0, out
    model = FMModel.load(tmp_path / "model")
    assert (model.feature_dim, model.num_factors) == (FEATURE_DIM, 4)
    X, y = dataset(200, 2)
    accuracy = np.mean([p["predicted_label"] for p in model.predict(X)] == y)
    assert accuracy > 0.8
    assert "#quality_metric: host=algo-1, epoch=9, train binary_classification_accuracy" in out
    assert "#test_score (algo-1) : ('binary_classification_accuracy'," in out
    assert not (tmp_path / "output" / "failure").exists()


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"num_factors": "abc"}, "num_factors must be an integer; got 'abc'"),
        ({"feature_dim": None}, "missing required hyperparameter(s): feature_dim"),
        ({"learning_rate": "0.1"}, "unknown hyperparameter(s): learning_rate"),
        ({"predictor_type": "classifier"}, "predictor_type must be"),
        ({"feature_dim": "49"}, "50 features, expected feature_dim 49"),
    ],
)
def test_bad_hyperparameters_fail_with_a_client_error(
    tmp_path: Path, change: dict[str, str | None], expected: str
) -> None:
    hyperparameters = {k: v for k, v in (HYPERPARAMETERS | change).items() if v is not None}
    code, out = run(layout(tmp_path, hyperparameters))
    assert code == train_container.EXIT_FAILED
    reason = failure(tmp_path)
    assert reason.startswith("ClientError: ") and expected in reason, reason
    assert reason in out  # the reason is the last log line too
    assert not (tmp_path / "model").exists()


def test_a_missing_train_channel_fails_with_a_client_error(tmp_path: Path) -> None:
    code, _ = run(layout(tmp_path, channels={"test": recordio(*dataset(50, 2))}))
    assert code == train_container.EXIT_FAILED
    assert failure(tmp_path) == (
        "ClientError: Unable to initialize the algorithm. Failed to validate input data "
        "configuration: channel train is required (channels given: test)."
    )


def test_a_corrupt_recordio_file_names_the_record_and_its_offset(tmp_path: Path) -> None:
    X, y = dataset(50, 1)
    data, offset = corrupt_at_record(recordio(X, y), X, y, 3)
    code, _ = run(layout(tmp_path, channels={"train": data}))
    assert code == train_container.EXIT_FAILED
    reason = failure(tmp_path)
    assert reason.startswith("ClientError: Unable to read data channel 'train': file part-0.rec")
    assert f"record 3 at offset {offset}: bad magic" in reason


def test_sigterm_stops_training_promptly_with_its_own_exit_code(tmp_path: Path) -> None:
    process = start(layout(tmp_path, HYPERPARAMETERS | {"epochs": "100000"}))
    assert process.stdout is not None
    for line in process.stdout:
        if "#quality_metric" in line:
            break
    stopped_at = time.monotonic()
    process.terminate()
    out, _ = process.communicate(timeout=10)
    assert time.monotonic() - stopped_at < 2
    assert process.returncode == train_container.EXIT_STOPPED
    assert "SIGTERM received" in out
    assert not (tmp_path / "model").exists()


def test_exits_at_once_if_its_parent_is_gone(tmp_path: Path) -> None:
    process = start(layout(tmp_path), "--parent-pid", str(os.getpid() + 1_000_000))
    process.communicate(timeout=30)
    assert process.returncode == EXIT_PARENT_GONE


def test_the_fm_image_trains_with_this_module_and_others_are_unknown() -> None:
    assert images.training_module(images.fm_image_uri("us-east-1")) == images.FM_TRAINER
    with pytest.raises(images.UnknownImage, match="it trains the built-in"):
        images.training_module("123.dkr.ecr.amazonaws.com/algo")
