"""A factorization machine as plain arrays, and its artifact format.

The artifact is ``model.tar.gz`` holding ``fm_model.npz`` (arrays ``w0`` shape (1,), ``w`` shape
(feature_dim,), ``V`` shape (feature_dim, num_factors), all float32) and ``fm_meta.json``
(``format``, ``predictor_type``, ``feature_dim``, ``num_factors``). Arrays are read with
``allow_pickle=False``: nothing from outside is ever unpickled.
"""

from __future__ import annotations

import io
import json
import tarfile
import zipfile
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import scipy.sparse as sp

ARRAYS_FILE = "fm_model.npz"
META_FILE = "fm_meta.json"
FORMAT = "cdlab-fm-1"
PREDICTOR_TYPES = ("binary_classifier", "regressor")


def sigmoid(x: np.ndarray) -> np.ndarray:
    """The logistic function, in a form that does not overflow for large scores."""
    return 0.5 * (1.0 + np.tanh(0.5 * x))


class ModelFormatError(ValueError):
    """The model directory or artifact does not hold a usable factorization machine."""


class NonFiniteScore(ArithmeticError):
    """The model computed NaN or infinity for a row: a fault of the model, not of the request."""


@dataclass(frozen=True)
class FMModel:
    w0: float
    w: np.ndarray
    V: np.ndarray
    predictor_type: str

    @property
    def feature_dim(self) -> int:
        return int(self.w.shape[0])

    @property
    def num_factors(self) -> int:
        return int(self.V.shape[1])

    @cached_property
    def _V2(self) -> np.ndarray:
        """V * V, kept: it costs feature_dim * num_factors, too much to pay per request."""
        return self.V * self.V

    def raw_scores(self, X: sp.csr_matrix | np.ndarray) -> np.ndarray:
        """w0 + Xw + 1/2 * sum_f ((XV)_f^2 - (X^2)(V^2)_f), one value per row."""
        if X.shape[1] != self.feature_dim:
            raise ValueError(f"Each row must have {self.feature_dim} features; got {X.shape[1]}.")
        X = sp.csr_matrix(X, dtype=np.float32)
        XV = X @ self.V
        X2V2 = X.multiply(X) @ self._V2
        pairwise = 0.5 * np.asarray(XV * XV - X2V2).sum(axis=1)
        return self.w0 + np.asarray(X @ self.w).ravel() + pairwise

    def predict(self, X: sp.csr_matrix | np.ndarray) -> list[dict[str, float]]:
        """Predictions in the built-in algorithm's response shape."""
        raw = self.raw_scores(X)
        bad = np.flatnonzero(~np.isfinite(raw))
        if bad.size:
            raise NonFiniteScore(
                f"the model's score for row {int(bad[0])} is {raw[bad[0]]}: its weights for the "
                "features of that row are not finite numbers"
            )
        if self.predictor_type == "regressor":
            return [{"score": float(s)} for s in raw]
        scores = sigmoid(raw)
        return [{"score": float(s), "predicted_label": 1.0 if s >= 0.5 else 0.0} for s in scores]

    def files(self) -> dict[str, bytes]:
        """The artifact's files by name: what a training job leaves in its model dir."""
        arrays = io.BytesIO()
        np.savez(
            arrays,
            w0=np.array([self.w0], dtype=np.float32),
            w=self.w.astype(np.float32),
            V=self.V.astype(np.float32),
        )
        meta = {
            "format": FORMAT,
            "predictor_type": self.predictor_type,
            "feature_dim": self.feature_dim,
            "num_factors": self.num_factors,
        }
        return {ARRAYS_FILE: arrays.getvalue(), META_FILE: json.dumps(meta, indent=2).encode()}

    def save(self, model_dir: Path) -> None:
        model_dir.mkdir(parents=True, exist_ok=True)
        for name, data in self.files().items():
            (model_dir / name).write_bytes(data)

    @classmethod
    def load(cls, model_dir: Path) -> FMModel:
        try:
            meta = json.loads((model_dir / META_FILE).read_text())
            with np.load(model_dir / ARRAYS_FILE, allow_pickle=False) as arrays:
                w0, w, V = arrays["w0"], arrays["w"], arrays["V"]
        except FileNotFoundError as e:
            raise ModelFormatError(f"model artifact is missing {Path(e.filename).name}") from e
        except (KeyError, ValueError, OSError, zipfile.BadZipFile) as e:
            raise ModelFormatError(f"model artifact is not a factorization machine: {e}") from e
        except TypeError as e:  # np.load gave a plain array: not an .npz archive
            raise ModelFormatError(f"{ARRAYS_FILE} is not an .npz archive") from e
        if (
            not isinstance(meta, dict)
            or meta.get("format") != FORMAT
            or meta.get("predictor_type") not in PREDICTOR_TYPES
        ):
            raise ModelFormatError(f"unsupported model metadata: {meta}")
        if any(a.dtype.kind not in "iuf" for a in (w0, w, V)):
            raise ModelFormatError(
                f"model arrays must be numeric: w0 {w0.dtype}, w {w.dtype}, V {V.dtype}"
            )
        if w.ndim != 1 or V.ndim != 2 or V.shape[0] != w.shape[0] or w0.shape != (1,):
            raise ModelFormatError(
                f"inconsistent array shapes: w0 {w0.shape}, w {w.shape}, V {V.shape}"
            )
        return cls(float(w0[0]), w.astype(np.float32), V.astype(np.float32), meta["predictor_type"])


def artifact_bytes(model: FMModel) -> bytes:
    """The SageMaker-style ``model.tar.gz`` of ``model``."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in model.files().items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()
