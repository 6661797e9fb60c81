"""One training job of the local Factorization Machines image, in SageMaker's container layout.

    python -m cdlab.fm.train_container --job NAME --root DIR [--parent-pid PID]

DIR is what SageMaker mounts at ``/opt/ml``: ``input/config/hyperparameters.json`` (every value a
string), ``input/config/inputdataconfig.json`` (the channels), ``input/data/<channel>/`` (the
channel's recordio-protobuf files: ``train`` required, ``test`` optional). The trained model is
written to ``DIR/model``; a failure writes its reason to ``DIR/output/failure``, which SageMaker
turns into the job's FailureReason: ``ClientError: ...`` for what the caller can fix (the
hyperparameters, the channels, the data), ``AlgorithmError: ...`` for anything else. Log lines
(the built-in's ``#quality_metric`` and ``#test_score`` lines among them) go to stdout.

Exit codes: 0 trained; 1 failed (reason in ``DIR/output/failure``); 2 bad command line; 4 the
parent named by ``--parent-pid`` is already gone; 143 stopped by SIGTERM (StopTrainingJob, or the
parent died), leaving no model.
"""

from __future__ import annotations

import argparse
import json
import shutil
import signal
import sys
import time
from pathlib import Path
from types import FrameType
from typing import Any

import numpy as np
import scipy.sparse as sp

from cdlab.fm.recordio import RecordIOError, read_matrix
from cdlab.fm.trainer import (
    HOST,
    HyperparameterError,
    TrainingDivergedError,
    parse_hyperparameters,
    train,
)
from cdlab.parent import die_with_parent

EXIT_FAILED = 1
EXIT_STOPPED = 128 + signal.SIGTERM
CHANNELS = ("train", "test")
CONTENT_TYPES = ("application/x-recordio-protobuf",)
MAX_FAILURE_CHARS = 1024  # DescribeTrainingJob's FailureReason holds at most this


class ClientError(Exception):
    """A failure the caller can fix; the message is the FailureReason without its prefix."""


class Stopped(BaseException):
    """SIGTERM arrived: unwinds whatever is running (a BaseException, so nothing swallows it)."""


def log(message: str) -> None:
    """A log line in the built-in algorithms' shape, flushed at once (it streams to CloudWatch)."""
    stamp = time.strftime("%m/%d/%Y %H:%M:%S")
    print(f"[{stamp} INFO {HOST}] {message}", flush=True)


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # once is enough: let the unwinding finish
    raise Stopped


def _read_json(path: Path, what: str) -> Any:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise ClientError(f"Unable to initialize the algorithm: {what} is missing.") from None
    except (OSError, ValueError) as e:
        raise ClientError(f"Unable to initialize the algorithm: {what} is not JSON ({e}).") from e


def read_channels(root: Path) -> list[str]:
    """The channels of ``inputdataconfig.json``, checked against what the algorithm reads."""
    config = _read_json(root / "input/config/inputdataconfig.json", "the input data configuration")
    problem = None
    if not isinstance(config, dict):
        problem = "it is not a JSON object"
    elif "train" not in config:
        given = ", ".join(sorted(config)) or "none"
        problem = f"channel train is required (channels given: {given})"
    else:
        for name, channel in config.items():
            content_type = (channel or {}).get("ContentType")
            if name not in CHANNELS:
                problem = (
                    f"channel {name} is not supported; Factorization Machines reads the channels "
                    "train and test"
                )
            elif content_type and content_type not in CONTENT_TYPES:
                problem = (
                    f"channel {name} has ContentType {content_type}; Factorization Machines "
                    f"trains on {' or '.join(CONTENT_TYPES)}"
                )
            if problem:
                break
    if problem:
        raise ClientError(
            f"Unable to initialize the algorithm. Failed to validate input data configuration: "
            f"{problem}."
        )
    return sorted(config, key=CHANNELS.index)


def read_channel(root: Path, channel: str, feature_dim: int) -> tuple[sp.csr_matrix, np.ndarray]:
    """Every record of a channel's files (in name order) as one matrix and its labels."""
    directory = root / "input/data" / channel
    files = sorted(p for p in directory.rglob("*") if p.is_file()) if directory.is_dir() else []
    matrices, labels = [], []
    for path in files:
        name = path.relative_to(directory)
        try:
            X, y = read_matrix(path.read_bytes(), feature_dim)
        except RecordIOError as e:
            raise ClientError(f"Unable to read data channel '{channel}': file {name}: {e}.") from e
        if X.shape[0] and y is None:
            raise ClientError(
                f"Unable to read data channel '{channel}': the records of file {name} have no "
                "label; Factorization Machines trains on labelled records."
            )
        if X.shape[0]:
            matrices.append(X)
            labels.append(y)
        log(f"channel {channel}: {X.shape[0]} records in {name}")
    if not matrices:
        raise ClientError(f"Unable to read data channel '{channel}': it has no records.")
    return sp.vstack(matrices, format="csr"), np.concatenate(labels)


def run(root: Path) -> None:
    """Read the configuration and the data, train, and save the model to ``root/model``."""
    raw = _read_json(root / "input/config/hyperparameters.json", "the hyperparameter file")
    if not isinstance(raw, dict):
        raise ClientError("Unable to initialize the algorithm: hyperparameters.json is not a map.")
    try:
        hp = parse_hyperparameters(raw)
    except HyperparameterError as e:
        raise ClientError(
            f"Unable to initialize the algorithm. Failed to validate hyperparameters: {e}."
        ) from e
    log(f"Final configuration: {json.dumps(raw, sort_keys=True)}")
    data = {c: read_channel(root, c, hp.feature_dim) for c in read_channels(root)}
    X, y = data["train"]
    X_test, y_test = data.get("test", (None, None))
    try:
        model = train(X, y, raw, X_test, y_test, log=log)
    except (HyperparameterError, TrainingDivergedError) as e:
        raise ClientError(f"Unable to train the model: {e}.") from e
    except ValueError as e:  # the labels or shapes do not suit the predictor_type
        raise ClientError(f"The data cannot be used for training: {e}.") from e
    model.save(root / "model")
    log(f"saved the model ({hp.predictor_type}, {hp.num_factors} factors) to {root / 'model'}")


def fail(root: Path, reason: str) -> int:
    """Write the FailureReason where SageMaker looks for it, and log it too."""
    reason = reason[:MAX_FAILURE_CHARS]
    (root / "output").mkdir(parents=True, exist_ok=True)
    (root / "output/failure").write_text(reason)
    log(reason)
    return EXIT_FAILED


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m cdlab.fm.train_container",
        description="Run one Factorization Machines training job in SageMaker's layout.",
    )
    parser.add_argument("--job", required=True, help="training job name (for ps and logs)")
    parser.add_argument("--root", required=True, type=Path, help="the job's /opt/ml directory")
    parser.add_argument("--parent-pid", type=int, help="exit at once unless this is the parent")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        die_with_parent(args.parent_pid)
        log(f"training job {args.job} started")
        run(args.root)
    except Stopped:
        shutil.rmtree(args.root / "model", ignore_errors=True)
        log("SIGTERM received: training stopped, no model saved")
        return EXIT_STOPPED
    except ClientError as e:
        return fail(args.root, f"ClientError: {e}")
    except Exception as e:  # whatever it is, it becomes the job's FailureReason
        return fail(args.root, f"AlgorithmError: {type(e).__name__}: {e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
