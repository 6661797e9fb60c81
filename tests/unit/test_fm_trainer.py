"""The local factorization machine trainer: the built-in's hyperparameters, logs and accuracy."""

from __future__ import annotations

import re
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pytest
import scipy.sparse as sp

from cdlab import data
from cdlab.fm.model import FMModel
from cdlab.fm.trainer import (
    RECOMMENDED_HYPERPARAMETERS,
    HyperparameterError,
    TrainingDivergedError,
    evaluate,
    parse_hyperparameters,
    train,
)

FEATURE_DIM = data.N_USERS + data.N_ITEMS
REQUIRED = {"feature_dim": "2625", "num_factors": "8", "predictor_type": "binary_classifier"}
RECOMMENDED = RECOMMENDED_HYPERPARAMETERS | {"feature_dim": str(FEATURE_DIM)}


class Split(NamedTuple):
    X: sp.csr_matrix
    y: np.ndarray
    ratings: data.Ratings


class MovieLens(NamedTuple):
    train: Split
    test: Split
    ceiling: float


@pytest.fixture(scope="module")
def movielens(tmp_path_factory: pytest.TempPathFactory) -> MovieLens:
    directory = data.prepare(None, tmp_path_factory.mktemp("data"))

    def split(name: str) -> Split:
        ratings = data.load_ratings(directory, name)
        X = data.one_hot(ratings, data.N_USERS, data.N_ITEMS)
        return Split(X, ratings.labels(), ratings)

    return MovieLens(split("ua.base"), split("ua.test"), data.ceiling(directory))


@pytest.fixture(scope="module")
def recommended_run(movielens: MovieLens) -> tuple[FMModel, list[str]]:
    lines: list[str] = []
    model = train(
        movielens.train.X, movielens.train.y, RECOMMENDED,
        movielens.test.X, movielens.test.y, log=lines.append,
    )  # fmt: skip
    return model, lines


def test_only_the_three_required_hyperparameters_are_needed_and_defaults_are_aws() -> None:
    hp = parse_hyperparameters(REQUIRED)
    assert (hp.feature_dim, hp.num_factors, hp.predictor_type) == (2625, 8, "binary_classifier")
    assert (hp.epochs, hp.mini_batch_size) == (1, 1000)
    assert (hp.bias_lr, hp.linear_lr, hp.factors_lr) == (0.1, 0.001, 0.0001)
    assert (hp.bias_wd, hp.linear_wd, hp.factors_wd) == (0.01, 0.001, 0.00001)
    assert (hp.bias_init_sigma, hp.linear_init_sigma, hp.factors_init_sigma) == (0.01, 0.01, 0.001)
    assert hp.clip_gradient is hp.eps is hp.rescale_grad is None


def test_string_values_are_parsed_to_their_types() -> None:
    hp = parse_hyperparameters(
        REQUIRED | {"epochs": "12", "factors_lr": "1e-3", "bias_init_method": "constant",
                    "bias_init_value": "-0.5", "_tuning_objective_metric": "test:rmse"}
    )  # fmt: skip
    assert (hp.epochs, hp.factors_lr, hp.bias_init_value) == (12, 0.001, -0.5)


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"feature_dim": None}, "feature_dim"),
        ({"predictor_type": None}, "predictor_type"),
        ({"learning_rate": "0.1"}, "learning_rate"),
        ({"num_factors": "sixty-four"}, "num_factors"),
        ({"num_factors": "64.5"}, "num_factors"),
        ({"num_factors": "0"}, "num_factors"),
        ({"epochs": "-3"}, "epochs"),
        ({"mini_batch_size": ""}, "mini_batch_size"),
        ({"predictor_type": "multiclass_classifier"}, "predictor_type"),
        ({"factors_init_method": "xavier"}, "factors_init_method"),
        ({"bias_lr": "-0.1"}, "bias_lr"),
        ({"linear_wd": "nan"}, "linear_wd"),
        ({"factors_lr": "inf"}, "factors_lr"),
        ({"eps": "0"}, "eps"),
        ({"clip_gradient": "-1"}, "clip_gradient"),
        ({"factors_init_method": "uniform"}, "factors_init_scale"),
        ({"linear_init_method": "constant"}, "linear_init_value"),
    ],
)
def test_bad_hyperparameters_raise_an_error_naming_them(
    change: dict[str, str | None], named: str
) -> None:
    raw = {k: v for k, v in (REQUIRED | change).items() if v is not None}
    with pytest.raises(HyperparameterError, match=named):
        parse_hyperparameters(raw)


def test_feature_dim_must_match_the_data(movielens: MovieLens) -> None:
    with pytest.raises(
        HyperparameterError, match="feature_dim is 2624 but the train data has 2625"
    ):
        train(movielens.train.X, movielens.train.y, REQUIRED | {"feature_dim": "2624"})
    with pytest.raises(HyperparameterError, match="test data"):
        train(
            movielens.train.X[:100], movielens.train.y[:100], REQUIRED,
            movielens.test.X[:, :-1], movielens.test.y, log=lambda line: None,
        )  # fmt: skip


def test_a_binary_classifier_needs_0_1_labels(movielens: MovieLens) -> None:
    ratings = movielens.train.ratings.rating.astype(np.float32)
    with pytest.raises(ValueError, match="0/1 labels"):
        train(movielens.train.X, ratings, REQUIRED)


def test_training_is_deterministic_for_a_seed(movielens: MovieLens) -> None:
    X, y = movielens.train.X[:20_000], movielens.train.y[:20_000]
    hp = REQUIRED | {"epochs": "2", "mini_batch_size": "500"}

    def run(seed: int) -> FMModel:
        return train(X, y, hp, log=lambda line: None, seed=seed)

    first, again, other = run(7), run(7), run(8)
    assert first.w0 == again.w0
    assert np.array_equal(first.w, again.w) and np.array_equal(first.V, again.V)
    assert not np.array_equal(first.V, other.V)


@pytest.mark.slow  # trains a model for each recommended setting
def test_recommended_hyperparameters_come_within_3_points_of_the_ceiling(
    movielens: MovieLens, recommended_run: tuple[FMModel, list[str]]
) -> None:
    model, _ = recommended_run
    accuracy = evaluate(model, movielens.test.X, movielens.test.y)["binary_classification_accuracy"]
    assert accuracy > 0.85
    assert movielens.ceiling - accuracy < 0.03
    linear = train(
        movielens.train.X, movielens.train.y, RECOMMENDED | {"factors_lr": "0"}, log=lambda _: None
    )
    linear_accuracy = evaluate(linear, movielens.test.X, movielens.test.y)
    assert accuracy > linear_accuracy["binary_classification_accuracy"] + 0.01  # factors matter


def test_the_log_has_the_built_in_metric_lines(
    recommended_run: tuple[FMModel, list[str]],
) -> None:
    _, lines = recommended_run
    log = "\n".join(lines)
    # The regexes SageMaker metric definitions use for the built-in algorithm.
    per_epoch = re.findall(
        r"#quality_metric: host=\S+, epoch=(\S+), train binary_classification_accuracy "
        r"<score>=(\S+)",
        log,
    )
    assert [int(epoch) for epoch, _ in per_epoch] == list(range(20))
    assert float(per_epoch[-1][1]) > float(per_epoch[0][1])
    test_accuracy = re.search(
        r"#quality_metric: host=\S+, test binary_classification_accuracy <score>=(\S+)", log
    )
    f_beta = re.search(r"#quality_metric: host=\S+, test binary_f_\S+ <score>=(\S+)", log)
    assert test_accuracy and f_beta and 0.5 < float(f_beta.group(1)) <= 1
    assert re.search(r"#test_score \(algo-1\) : \('binary_classification_accuracy', 0\.\d+\)", log)
    assert re.search(r"#throughput_metric: host=\S+, train throughput=\S+ records/second", log)


@pytest.mark.parametrize(
    ("hp", "below"),
    [
        pytest.param(RECOMMENDED | {"epochs": "1", "factors_lr": "1e6"}, 0.78, id="factors_lr"),
        pytest.param(RECOMMENDED | {"epochs": "1", "linear_lr": "1e6"}, 0.6, id="linear_lr"),
        pytest.param(REQUIRED | {"num_factors": "64"}, 0.6, id="built-in-defaults"),
    ],
)
def test_bad_hyperparameters_score_well_under_0_8_without_nan(
    movielens: MovieLens, hp: dict[str, str], below: float
) -> None:
    model = train(movielens.train.X, movielens.train.y, hp, log=lambda _: None)
    metrics = evaluate(model, movielens.test.X, movielens.test.y)
    assert np.isfinite(model.V).all() and np.isfinite(model.w).all()
    assert metrics["binary_classification_accuracy"] < below


def test_weights_that_overflow_raise_a_clear_error(movielens: MovieLens) -> None:
    with pytest.raises(TrainingDivergedError, match="non-finite in epoch 0"):
        train(
            movielens.train.X, movielens.train.y,
            RECOMMENDED | {"epochs": "1", "factors_init_sigma": "1e20"}, log=lambda _: None,
        )  # fmt: skip


def test_regressor_predicts_ratings_better_than_their_mean(
    movielens: MovieLens, tmp_path: Path
) -> None:
    ratings = movielens.train.ratings.rating.astype(np.float32)
    truth = movielens.test.ratings.rating.astype(np.float32)
    lines: list[str] = []
    hp = RECOMMENDED | {"predictor_type": "regressor", "epochs": "10"}
    model = train(movielens.train.X, ratings, hp, movielens.test.X, truth, log=lines.append)
    rmse = evaluate(model, movielens.test.X, truth)["rmse"]
    assert rmse < 0.8 * float(np.sqrt(np.mean((truth - ratings.mean()) ** 2)))
    assert any(line.startswith("#test_score (algo-1) : ('rmse', ") for line in lines)
    assert any(
        re.match(r"#quality_metric: host=\S+, epoch=9, train rmse <loss>=", x) for x in lines
    )
    model.save(tmp_path)
    predictions = FMModel.load(tmp_path).predict(movielens.test.X[:3])
    assert predictions == model.predict(movielens.test.X[:3])
    assert set(predictions[0]) == {"score"}
