"""With ``-p target aws`` and no way to reach AWS, a notebook fails in its first cell, clearly."""

from __future__ import annotations

import os
from pathlib import Path

import papermill
import pytest

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK = ROOT / "notebooks" / "03_creating_an_endpoint.ipynb"
CLEARED = ("AWS_ENDPOINT_URL", "AWS_DATA_PATH", "AWS_PROFILE", "AWS_DEFAULT_PROFILE",
           "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
           "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
           "AWS_WEB_IDENTITY_TOKEN_FILE")  # fmt: skip


def test_aws_target_without_aws_fails_in_the_first_cell(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    for name in CLEARED:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_METADATA_SERVICE_TIMEOUT", "1")
    monkeypatch.setenv("AWS_METADATA_SERVICE_NUM_ATTEMPTS", "1")
    monkeypatch.setenv("CDLAB_HOME", str(tmp_path / "home"))
    with pytest.raises(papermill.PapermillExecutionError) as failure:
        papermill.execute_notebook(
            str(NOTEBOOK),
            str(tmp_path / "out.ipynb"),
            parameters={"target": "aws"},
            kernel_name="python3",
            cwd=str(NOTEBOOK.parent),
            progress_bar=False,
        )
    error = failure.value
    executed = papermill.iorw.load_notebook_node(str(tmp_path / "out.ipynb"))
    failed = [
        c for c in executed.cells if any(o.output_type == "error" for o in c.get("outputs", []))
    ]
    assert error.ename == "TargetNotReady"
    assert "target 'aws' is not reachable" in error.evalue and "target='local'" in error.evalue
    assert len(failed) == 1 and "cdlab.target.ready(target)" in failed[0].source
    assert not os.path.exists(tmp_path / "home" / "cloud.json")  # no local cloud was started
