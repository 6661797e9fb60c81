"""SageMaker SDK v2, unmodified, against the local cloud: a whole Factorization Machines flow.

SDK v2 cannot live in the kit's environment (it needs ``sagemaker-core`` below 2, the kit 2.27 or
later), so it gets a virtual environment of its own, built once per machine in the user's cache
directory and reused while its pinned version stays the same. The flow itself is
``sdkv2_flow.py``, run there as a subprocess with the local cloud's environment.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from cdlab.localcloud import control
from cdlab.localcloud.sagemaker.images import fm_image_uri
from tests.roles import S3_EVERYWHERE, SAGEMAKER, allowing, make_role, trusting

SDK_V2 = "sagemaker==2.257.7"
FLOW = Path(__file__).with_name("sdkv2_flow.py")


def sdk_v2_python() -> Path:
    """The Python of a virtual environment with SDK v2 in it, built here on first use."""
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    tag = f"{SDK_V2.replace('==', '-')}-py{sys.version_info.major}.{sys.version_info.minor}"
    venv = cache / "cdlab-sdkv2" / tag
    python = venv / "bin" / "python"
    ready = venv / ".cdlab-ready"
    if ready.exists():
        return python
    shutil.rmtree(venv, ignore_errors=True)  # a build that was cut short
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", SDK_V2],
        capture_output=True,
        text=True,
        timeout=900,
    )
    if pip.returncode != 0:
        shutil.rmtree(venv, ignore_errors=True)
        pytest.fail(
            f"cannot build the SDK v2 environment: `pip install {SDK_V2}` failed (does this "
            f"machine reach a package index?):\n{pip.stderr[-3000:]}",
            pytrace=False,
        )
    ready.touch()
    return python


@pytest.mark.sdkv2
@pytest.mark.timeout(1200)
def test_sdk_v2_trains_deploys_predicts_and_cleans_up(cloud, client, tmp_path) -> None:
    python = sdk_v2_python()
    role = make_role(client("iam"), "cdlab-sdkv2", trusting(SAGEMAKER), allowing(S3_EVERYWHERE))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env |= control.client_environment(cloud.home, cloud.port)
    env["SAGEMAKER_SUPPRESS_V2_WARNING"] = "1"
    result_path = tmp_path / "result.json"
    run = subprocess.run(
        [str(python), str(FLOW), "cdlab-sdkv2", role, str(result_path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert run.returncode == 0, f"the SDK v2 flow failed:\n{run.stdout[-4000:]}{run.stderr[-4000:]}"
    result = json.loads(result_path.read_text())

    assert result["sagemaker_version"] == SDK_V2.split("==")[1]
    assert result["image"] == fm_image_uri(env["AWS_DEFAULT_REGION"])
    assert result["training_job_status"] == "Completed"
    # fit(logs=True) streamed the trainer's lines from CloudWatch Logs: all of record_set's rows.
    assert "channel train: 200 records" in run.stdout
    assert "train throughput=" in run.stdout

    # FM response formats: https://docs.aws.amazon.com/sagemaker/latest/dg/fm-in-formats.html
    records, predictions = result["records"], result["json"]["predictions"]
    assert len(records) == len(predictions) == len(result["jsonlines"]) == 10
    for record, prediction, line in zip(records, predictions, result["jsonlines"], strict=True):
        assert set(prediction) == {"score", "predicted_label"}
        assert record["features"] == []
        assert record["label"] == {k: [np.float32(v)] for k, v in prediction.items()}
        # The CSV request's rows are the same numbers, summed in another order.
        assert line == pytest.approx(prediction, rel=1e-6)

    assert result["model_gone"] and result["endpoint_gone"] and result["endpoint_config_gone"]
