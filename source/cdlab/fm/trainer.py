"""The factorization machine trainer behind the local image: the built-in algorithm's
hyperparameters, its metric log lines, and the kit's own vectorised optimiser.

Hyperparameter names, defaults and valid ranges follow the built-in algorithm. Sources:
- AWS docs, "Factorization Machines Hyperparameters" (docs.aws.amazon.com/sagemaker/latest/dg/
  fact-machines-hyperparameters.html; also awsdocs/amazon-sagemaker-developer-guide,
  doc_source/fact-machines-hyperparameters.md): required feature_dim, num_factors,
  predictor_type; defaults epochs 1, mini_batch_size 1000, bias/linear/factors_lr 0.1/0.001/0.0001,
  bias/linear/factors_wd 0.01/0.001/0.00001, *_init_method normal, bias/linear_init_sigma 0.01,
  factors_init_sigma 0.001; clip_gradient, eps, rescale_grad and *_init_scale/value have none.
- SageMaker Python SDK v2, src/sagemaker/amazon/factorization_machines.py: validation (num_factors
  and epochs > 0, learning rates, weight decays, init scales and sigmas >= 0).
- Metric lines: the ``#quality_metric: host=..., epoch=..., train <name> <score|loss>=<v>`` and
  ``#test_score (algo-1) : ('<name>', <v>)`` shapes of the built-in algorithms' logs, which the
  SageMaker metric definitions (e.g. ``test binary_f_\\S+ <score>=``) parse.

The optimiser is Adam with lazy (row-sparse) updates: a mini-batch only touches the rows of ``w``
and ``V`` for the features present in it (like MXNet's lazy_update for row-sparse gradients), so
an epoch costs O(non-zeros * num_factors) whatever feature_dim is. AWS does not document the
built-in's exact optimiser, so learning rates that suit it need not suit this one (and vice versa).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, fields

import numpy as np
import scipy.sparse as sp

from cdlab.fm.model import PREDICTOR_TYPES, FMModel, sigmoid

HOST = "algo-1"
INIT_METHODS = ("normal", "uniform", "constant")
DEFAULT_EPS = 1e-8
ADAM_BETA1 = 0.9
ADAM_BETA2 = 0.999

# What the kit recommends for MovieLens-shaped data (one-hot user + item; add feature_dim).
# On the generated data (seed 100) it scores 0.882 on ua.test against a ceiling of 0.900, in
# about 3 s on 2 cores; a linear model (factors_lr 0) scores 0.863, the built-in defaults
# (1 epoch, tiny learning rates) 0.56. See benchmarks/bench_training.py.
RECOMMENDED_HYPERPARAMETERS: dict[str, str] = {
    "num_factors": "64",
    "predictor_type": "binary_classifier",
    "epochs": "20",
    "mini_batch_size": "500",
    "bias_lr": "0.01",
    "linear_lr": "0.01",
    "factors_lr": "0.003",
    "bias_wd": "0",
    "linear_wd": "0.00001",
    "factors_wd": "0.0001",
}

# Added by SageMaker to a tuning job's training jobs; accepted and ignored.
IGNORED = frozenset({"_tuning_objective_metric"})


class HyperparameterError(ValueError):
    """A hyperparameter is missing, unknown, malformed, out of range, or does not fit the data."""


class TrainingDivergedError(RuntimeError):
    """The weights stopped being finite numbers: the learning rates or init scales are too big."""


@dataclass(frozen=True)
class Hyperparameters:
    """Parsed hyperparameters; the optional ones default to the built-in's values.

    As in MXNet's optimisers, a batch's gradient is the sum over its rows times ``rescale_grad``
    (unset: 1 / batch size, i.e. the mean), clipped to ``clip_gradient`` if set, plus ``*_wd``
    times the weights. Weight decay reaches only the rows a batch touches, so for one-hot data
    its pull relative to the data grows with ``mini_batch_size``. ``eps`` unset is 1e-8.
    """

    feature_dim: int
    num_factors: int
    predictor_type: str
    epochs: int = 1
    mini_batch_size: int = 1000
    bias_lr: float = 0.1
    linear_lr: float = 0.001
    factors_lr: float = 0.0001
    bias_wd: float = 0.01
    linear_wd: float = 0.001
    factors_wd: float = 0.00001
    bias_init_method: str = "normal"
    bias_init_scale: float | None = None
    bias_init_sigma: float = 0.01
    bias_init_value: float | None = None
    linear_init_method: str = "normal"
    linear_init_scale: float | None = None
    linear_init_sigma: float = 0.01
    linear_init_value: float | None = None
    factors_init_method: str = "normal"
    factors_init_scale: float | None = None
    factors_init_sigma: float = 0.001
    factors_init_value: float | None = None
    clip_gradient: float | None = None
    eps: float | None = None
    rescale_grad: float | None = None


REQUIRED = ("feature_dim", "num_factors", "predictor_type")
_POSITIVE_INT = ("feature_dim", "num_factors", "epochs", "mini_batch_size")
_POSITIVE_FLOAT = ("clip_gradient", "eps", "rescale_grad")
_ANY_FLOAT = ("bias_init_value", "linear_init_value", "factors_init_value")
_CHOICES = {f"{group}_init_method": INIT_METHODS for group in ("bias", "linear", "factors")} | {
    "predictor_type": PREDICTOR_TYPES
}
_NAMES = tuple(f.name for f in fields(Hyperparameters))


def _parse_int(name: str, text: str) -> int:
    try:
        value = int(text.strip())
    except ValueError:
        raise HyperparameterError(f"{name} must be an integer; got {text!r}") from None
    if value <= 0:
        raise HyperparameterError(f"{name} must be a positive integer; got {value}")
    return value


def _parse_float(name: str, text: str) -> float:
    try:
        value = float(text.strip())
    except ValueError:
        raise HyperparameterError(f"{name} must be a number; got {text!r}") from None
    if not math.isfinite(value):
        raise HyperparameterError(f"{name} must be a finite number; got {text!r}")
    if name in _POSITIVE_FLOAT and value <= 0:
        raise HyperparameterError(f"{name} must be greater than 0; got {value}")
    if name not in _POSITIVE_FLOAT and name not in _ANY_FLOAT and value < 0:
        raise HyperparameterError(f"{name} must be non-negative; got {value}")
    return value


def _parse_one(name: str, raw: object) -> int | float | str:
    if not isinstance(raw, str | int | float) or isinstance(raw, bool):
        raise HyperparameterError(f"{name} must be given as a string; got {type(raw).__name__}")
    text = str(raw)
    if name in _CHOICES:
        if text not in _CHOICES[name]:
            allowed = " or ".join(repr(c) for c in _CHOICES[name])
            raise HyperparameterError(f"{name} must be {allowed}; got {text!r}")
        return text
    if name in _POSITIVE_INT:
        return _parse_int(name, text)
    return _parse_float(name, text)


def parse_hyperparameters(raw: dict[str, str]) -> Hyperparameters:
    """Parse and validate hyperparameters as SageMaker passes them (all values strings)."""
    unknown = sorted(set(raw) - set(_NAMES) - IGNORED)
    if unknown:
        raise HyperparameterError(f"unknown hyperparameter(s): {', '.join(unknown)}")
    missing = [name for name in REQUIRED if name not in raw]
    if missing:
        raise HyperparameterError(f"missing required hyperparameter(s): {', '.join(missing)}")
    values = {name: _parse_one(name, value) for name, value in raw.items() if name in _NAMES}
    hp = Hyperparameters(**values)
    for group in ("bias", "linear", "factors"):
        method = getattr(hp, f"{group}_init_method")
        needed = {"uniform": f"{group}_init_scale", "constant": f"{group}_init_value"}.get(method)
        if needed and getattr(hp, needed) is None:
            raise HyperparameterError(f"{needed} is required when {group}_init_method is {method}")
    return hp


def _init(
    rng: np.random.Generator, hp: Hyperparameters, group: str, shape: tuple[int, ...]
) -> np.ndarray:
    method = getattr(hp, f"{group}_init_method")
    if method == "normal":
        values = rng.normal(0.0, getattr(hp, f"{group}_init_sigma"), shape)
    elif method == "uniform":
        scale = getattr(hp, f"{group}_init_scale")
        values = rng.uniform(-scale, scale, shape)
    else:
        values = np.full(shape, getattr(hp, f"{group}_init_value"))
    return values.astype(np.float32)


class _Adam:
    """Adam over the rows of one parameter array, with a learning rate and weight decay per
    column; ``update`` touches only the given rows (lazy, row-sparse updates)."""

    def __init__(self, param: np.ndarray, lr: np.ndarray, wd: np.ndarray, hp: Hyperparameters):
        self.param, self.lr, self.wd = param, lr, wd
        self.clip, self.eps = hp.clip_gradient, hp.eps or DEFAULT_EPS
        self.m = np.zeros_like(param)
        self.v = np.zeros_like(param)
        self.steps = np.zeros((param.shape[0], 1), dtype=np.float32)

    def update(self, rows: np.ndarray, grad: np.ndarray) -> None:
        if self.clip is not None:
            np.clip(grad, -self.clip, self.clip, out=grad)
        param = self.param[rows]
        grad += self.wd * param
        t = self.steps[rows] + 1
        self.steps[rows] = t
        m = self.m[rows]
        m *= ADAM_BETA1
        m += (1 - ADAM_BETA1) * grad
        v = self.v[rows]
        v *= ADAM_BETA2
        v += (1 - ADAM_BETA2) * grad * grad
        self.m[rows] = m
        self.v[rows] = v
        denominator = np.sqrt(v / (1 - ADAM_BETA2**t))
        denominator += self.eps
        step = m * (self.lr / (1 - ADAM_BETA1**t))
        step /= denominator
        param -= step
        self.param[rows] = param


def evaluate(model: FMModel, X: sp.spmatrix | np.ndarray, y: np.ndarray) -> dict[str, float]:
    """The built-in's test metrics for ``model`` on ``(X, y)``."""
    return _metrics(model.predictor_type, model.raw_scores(X), np.asarray(y, dtype=np.float32))


def _metrics(predictor_type: str, raw: np.ndarray, y: np.ndarray) -> dict[str, float]:
    if predictor_type == "regressor":
        return {"rmse": float(np.sqrt(np.mean((raw - y) ** 2)))}
    p = np.clip(sigmoid(raw), 1e-7, 1 - 1e-7)
    predicted = p >= 0.5
    positive = y == 1
    true_pos = float(np.sum(predicted & positive))
    f1_denominator = 2 * true_pos + np.sum(predicted & ~positive) + np.sum(~predicted & positive)
    return {
        "binary_classification_accuracy": float(np.mean(predicted == positive)),
        "binary_classification_cross_entropy": float(
            -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))
        ),
        "binary_f_1.000": 2 * true_pos / f1_denominator if f1_denominator else 0.0,
    }


def _kind(metric: str) -> str:
    return "loss" if metric in ("rmse", "binary_classification_cross_entropy") else "score"


def _check_data(hp: Hyperparameters, X: sp.spmatrix, y: np.ndarray, channel: str) -> None:
    if X.shape[0] == 0:
        raise ValueError(f"the {channel} data has no rows")
    if X.shape[1] != hp.feature_dim:
        raise HyperparameterError(
            f"feature_dim is {hp.feature_dim} but the {channel} data has {X.shape[1]} features"
        )
    if X.shape[0] != y.shape[0]:
        raise ValueError(f"the {channel} data has {X.shape[0]} rows but {y.shape[0]} labels")
    if hp.predictor_type == "binary_classifier" and not np.isin(y, (0.0, 1.0)).all():
        raise ValueError(f"binary_classifier needs 0/1 labels; the {channel} labels have others")


def train(
    X: sp.spmatrix | np.ndarray,
    y: np.ndarray,
    hp: dict[str, str],
    X_test: sp.spmatrix | np.ndarray | None = None,
    y_test: np.ndarray | None = None,
    log: Callable[[str], None] = print,
    seed: int = 0,
) -> FMModel:
    """Train a factorization machine on ``(X, y)``; deterministic for a given ``seed``.

    Logs the training metrics once per epoch as ``#quality_metric`` lines (computed on each
    batch before its update, like the built-in), then the test channel's ``#test_score`` lines
    when ``X_test`` is given. Raises ``HyperparameterError`` for bad hyperparameters, and
    ``TrainingDivergedError`` as soon as an epoch leaves a weight non-finite (NaN or inf) rather
    than returning an unusable model.
    """
    params = parse_hyperparameters(hp)
    X = sp.csr_matrix(X, dtype=np.float32)
    y = np.asarray(y, dtype=np.float32).ravel()
    _check_data(params, X, y, "train")
    rng = np.random.default_rng(seed)
    bias, weights = _optimisers(rng, params)
    _fit(X, y, bias, weights, params, rng, log)
    model = FMModel(
        float(bias.param[0, 0]),
        weights.param[:, 0].copy(),
        weights.param[:, 1:].copy(),
        params.predictor_type,
    )
    if X_test is not None and y_test is not None:
        _log_test(model, params, X_test, y_test, log)
    return model


def _optimisers(rng: np.random.Generator, params: Hyperparameters) -> tuple[_Adam, _Adam]:
    """The bias's optimiser and the weights', over freshly initialised parameters."""
    bias = _Adam(
        _init(rng, params, "bias", (1, 1)),
        np.float32(params.bias_lr),
        np.float32(params.bias_wd),
        params,
    )
    # One table, column 0 the linear weights w and the rest the factors V, so that a batch
    # gathers and updates each feature's row once.
    weights = _Adam(
        np.hstack(
            [
                _init(rng, params, "linear", (params.feature_dim, 1)),
                _init(rng, params, "factors", (params.feature_dim, params.num_factors)),
            ]
        ),
        np.array([params.linear_lr] + [params.factors_lr] * params.num_factors, np.float32),
        np.array([params.linear_wd] + [params.factors_wd] * params.num_factors, np.float32),
        params,
    )
    return bias, weights


def _fit(
    X: sp.csr_matrix,
    y: np.ndarray,
    bias: _Adam,
    weights: _Adam,
    params: Hyperparameters,
    rng: np.random.Generator,
    log: Callable[[str], None],
) -> None:
    """Run the epochs, logging each one's training metrics and then the throughput; raises
    ``TrainingDivergedError`` as soon as an epoch leaves a weight non-finite."""
    started = time.monotonic()
    for epoch in range(params.epochs):
        order = rng.permutation(X.shape[0])
        with np.errstate(over="ignore", invalid="ignore"):  # checked just below
            raw = _epoch(X[order], y[order], bias, weights, params)
        if not (np.isfinite(bias.param).all() and np.isfinite(weights.param).all()):
            raise TrainingDivergedError(
                f"the weights became non-finite in epoch {epoch}: lower the learning rates "
                "(bias_lr, linear_lr, factors_lr) or the init scales (*_init_sigma/scale/value)"
            )
        for name, value in _metrics(params.predictor_type, raw, y[order]).items():
            log(
                f"#quality_metric: host={HOST}, epoch={epoch}, train {name} <{_kind(name)}>={value}"
            )
    throughput = params.epochs * X.shape[0] / max(time.monotonic() - started, 1e-9)
    log(f"#throughput_metric: host={HOST}, train throughput={throughput:.1f} records/second")


def _log_test(
    model: FMModel,
    params: Hyperparameters,
    X_test: sp.spmatrix | np.ndarray,
    y_test: np.ndarray,
    log: Callable[[str], None],
) -> None:
    """Log the test channel's metrics, as ``#test_score`` and ``#quality_metric`` lines."""
    X_test = sp.csr_matrix(X_test, dtype=np.float32)
    y_test = np.asarray(y_test, dtype=np.float32).ravel()
    _check_data(params, X_test, y_test, "test")
    for name, value in evaluate(model, X_test, y_test).items():
        log(f"#test_score ({HOST}) : ('{name}', {value})")
        log(f"#quality_metric: host={HOST}, test {name} <{_kind(name)}>={value}")


def _epoch(
    X: sp.csr_matrix, y: np.ndarray, bias: _Adam, weights: _Adam, hp: Hyperparameters
) -> np.ndarray:
    """One pass over the (shuffled) rows; returns each row's score before its batch's update.

    Per batch, with the batch re-indexed onto the c columns it uses (so every step costs
    O(non-zeros * num_factors), whatever feature_dim is), W = [w | V] restricted to them and
    g = d loss / d score (the residual, for logistic and halved squared loss alike):
    score = w0 + x.w + 1/2 (|x V|^2 - (x*x).(V*V) 1), d/dw = X^T g and
    d/dV = X^T (g * XV) - ((X*X)^T g) * V.
    """
    raw = np.empty(X.shape[0], dtype=np.float32)
    ones = np.ones((hp.mini_batch_size, 1), dtype=np.float32)
    for start in range(0, X.shape[0], hp.mini_batch_size):
        batch = X[start : start + hp.mini_batch_size]
        size = batch.shape[0]
        cols, local = np.unique(batch.indices, return_inverse=True)
        shape = (size, cols.size)
        Xb = sp.csr_matrix((batch.data, local, batch.indptr), shape=shape)
        Xb2 = sp.csr_matrix((batch.data * batch.data, local, batch.indptr), shape=shape)
        Wb = weights.param[cols]
        XW = Xb @ Wb
        XV = XW[:, 1:]
        squares = Xb2 @ np.einsum("ij,ij->i", Wb[:, 1:], Wb[:, 1:])
        scores = bias.param[0, 0] + XW[:, 0] + 0.5 * (np.einsum("ij,ij->i", XV, XV) - squares)
        raw[start : start + size] = scores
        targets = y[start : start + size]
        residual = sigmoid(scores) if hp.predictor_type == "binary_classifier" else scores
        g = (residual - targets) * np.float32(hp.rescale_grad or 1.0 / size)
        grad = Xb.T @ (g[:, None] * np.hstack([ones[:size], XV]))
        grad[:, 1:] -= (Xb2.T @ g)[:, None] * Wb[:, 1:]
        bias.update(np.zeros(1, dtype=np.intp), np.array([[g.sum()]], dtype=np.float32))
        weights.update(cols, grad)
    return raw
