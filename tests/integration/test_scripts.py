"""The deck's three scripts, offline: predata -> train -> deploy -> test passes the 0.80 gate,
and a deliberately bad model fails it with a non-zero exit."""

from __future__ import annotations

import json
import os
import runpy
import shutil
import subprocess
import sys
from pathlib import Path

import boto3
import pytest

from cdlab import movielens_pypi
from tests import recbole_wheel

REPO = Path(__file__).resolve().parents[2]
ROLE = "arn:aws:iam::123456789012:role/cdlab-sagemaker"


def script(name: str, *args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(REPO / "source" / name), *args],
        cwd=cwd,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture(scope="module")
def build(tmp_path_factory: pytest.TempPathFactory, aws_env: dict[str, str]) -> Path:
    """A build directory after predata.py, as the CodeBuild stage leaves it."""
    workdir = tmp_path_factory.mktemp("build")
    shutil.copytree(REPO / "cloudformation", workdir / "cloudformation")
    result = script("predata.py", "cdlab-scripts-data", "cdlab_db", cwd=workdir, env=aws_env)
    assert result.returncode == 0, result.stderr
    assert "prepdata_result.json" in result.stdout
    return workdir


def deploy(sm, name: str, model_data: str, image: str) -> None:
    sm.create_model(
        ModelName=name,
        PrimaryContainer={"Image": image, "ModelDataUrl": model_data},
        ExecutionRoleArn=ROLE,
    )
    sm.create_endpoint_config(
        EndpointConfigName=name,
        ProductionVariants=[
            {"VariantName": "AllTraffic", "ModelName": name, "InitialInstanceCount": 1,
             "InstanceType": "ml.t2.medium"}
        ],
    )  # fmt: skip
    sm.create_endpoint(EndpointName=name, EndpointConfigName=name)
    sm.get_waiter("endpoint_in_service").wait(EndpointName=name)


def train_and_deploy(build: Path, aws_env: dict[str, str], sm, commit: str, *extra: str) -> dict:
    result = script(
        "train.py", ROLE, "cdlab-scripts-data", "cdlab-lab", commit, *extra,
        cwd=build, env=aws_env,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    trained = json.loads((build / "train_result.json").read_text())
    name = f"qa-cdlab-lab-{trained['CommitID']}-{trained['Timestamp']}"
    deploy(sm, name, trained["ModelData"], trained["ContainerImage"])
    return trained


def test_predata_writes_channels_and_registers_the_glue_table(build: Path, client) -> None:
    prepared = json.loads((build / "prepdata_result.json").read_text())
    assert prepared["feature_dim"] == 2625
    assert prepared["train_rows"] + prepared["test_rows"] == 100_000
    assert prepared["ceiling"] > 0.85
    table = client("glue").get_table(DatabaseName="cdlab_db", Name="ratings")["Table"]
    assert [c["Name"] for c in table["StorageDescriptor"]["Columns"]][:3] == [
        "user_id", "item_id", "rating",
    ]  # fmt: skip
    assert (build / "ua.test").exists()


@pytest.mark.slow
def test_a_good_model_passes_the_gate(build: Path, aws_env: dict[str, str], sm) -> None:
    trained = train_and_deploy(build, aws_env, sm, "1a2b3c4d5e6f")
    assert trained["CommitID"] == "1a2b3c4d"
    configuration = json.loads((build / "cloudformation/configuration_qa.json").read_text())
    assert configuration["Parameters"]["ModelData"] == trained["ModelData"]
    assert configuration["Parameters"]["Environment"] == "qa"
    result = script(
        "test.py", "qa-cdlab-lab", "prepdata_result.json", "cloudformation/configuration_qa.json",
        cwd=build, env=aws_env,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    rate = float(result.stdout.split("Match Rate: ")[1].split()[0])
    assert rate >= 0.80


@pytest.mark.slow
def test_a_bad_model_fails_the_gate(build: Path, aws_env: dict[str, str], sm) -> None:
    train_and_deploy(build, aws_env, sm, "badbad00", "-p", "linear_lr=1000000", "-p", "epochs=1")
    result = script(
        "test.py", "qa-cdlab-lab", "prepdata_result.json", "cloudformation/configuration_qa.json",
        cwd=build, env=aws_env,
    )  # fmt: skip
    assert result.returncode == 1
    assert "is under 0.80" in result.stderr


@pytest.mark.slow
def test_bad_hyperparameters_fail_the_training_job_clearly(build: Path, aws_env) -> None:
    result = script(
        "train.py", ROLE, "cdlab-scripts-data", "cdlab-lab", "cafe0001", "-p", "num_factors=abc",
        cwd=build, env=aws_env,
    )  # fmt: skip
    assert result.returncode == 1
    assert "Failed" in result.stderr and "num_factors" in result.stderr


def test_predata_downloads_the_real_data_from_the_package_index(
    aws_env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``--download pypi`` goes through pip; here pip takes a small wheel from a local folder."""
    wheel = recbole_wheel.make(tmp_path / "index", recbole_wheel.ratings())
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(wheel.parent))
    monkeypatch.setattr(movielens_pypi, "RATINGS_SHA256", recbole_wheel.ratings_sha256(wheel))
    monkeypatch.chdir(tmp_path)
    predata = runpy.run_path(str(REPO / "source" / "predata.py"))["main"]
    assert predata(["cdlab-pypi-data", "cdlab_db", "--download", "pypi"]) == 0
    prepared = json.loads((tmp_path / "prepdata_result.json").read_text())
    assert prepared["source"] == str(tmp_path / "ml-100k")
    assert prepared["feature_dim"] == 6  # three users and three films, one-hot
    assert prepared["test_rows"] == len(recbole_wheel.COUNTS) * 10
    assert prepared["train_rows"] + prepared["test_rows"] == sum(recbole_wheel.COUNTS.values())
    s3 = boto3.client("s3")
    body = s3.get_object(Bucket="cdlab-pypi-data", Key="raw/ratings/u.data")["Body"]
    assert body.read() == (tmp_path / "ml-100k" / "u.data").read_bytes()


@pytest.mark.parametrize("name", ["predata.py", "train.py", "test.py"])
def test_scripts_explain_themselves(name: str) -> None:
    result = subprocess.run(
        [sys.executable, str(REPO / "source" / name), "--help"], capture_output=True, text=True
    )
    assert result.returncode == 0 and "usage:" in result.stdout
