"""The training step's image is the one of the region its SageMaker client calls: the session's,
which ``aws configure`` alone may name (SageMaker runs an image of its own region only)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cdlab.localcloud.sagemaker.images import fm_image_uri
from cdlab.steps import training
from cdlab.steps.prepare import RESULT_FILE

UNSET = ("AWS_DEFAULT_REGION", "AWS_REGION", "AWS_PROFILE", "AWS_DEFAULT_PROFILE")


class Started(Exception):
    """Raised by the log at the run's first line, before it calls SageMaker."""


def stop_at_start(lines: list[str]):
    def log(line: str) -> None:
        lines.append(line)
        if line.startswith("starting training job"):
            raise Started

    return log


@pytest.fixture
def configured_region(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    """A region named only by the AWS config file, as ``aws configure`` writes it."""
    for name in UNSET:
        monkeypatch.delenv(name, raising=False)
    (tmp_path / "config").write_text("[default]\nregion = eu-west-1\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    return "eu-west-1"


def test_the_training_image_is_the_configured_regions(
    configured_region: str, tmp_path: Path
) -> None:
    (tmp_path / RESULT_FILE).write_text(json.dumps({"feature_dim": 10}))
    lines: list[str] = []
    role = "arn:aws:iam::123456789012:role/me"
    with pytest.raises(Started):
        training.run(
            role, "bucket", "cdlab-lab3", "abc123", tmp_path, tmp_path, log=stop_at_start(lines)
        )
    assert lines[-1].endswith(f"({fm_image_uri(configured_region)})")


def test_no_region_anywhere_is_a_clear_error(configured_region: str, tmp_path: Path) -> None:
    (tmp_path / "config").write_text("[default]\n")
    (tmp_path / RESULT_FILE).write_text(json.dumps({"feature_dim": 10}))
    with pytest.raises(ValueError, match="aws configure"):
        training.run("role", "bucket", "cdlab-lab3", "abc123", tmp_path, tmp_path)
