"""Lab 3's pipeline runs print an action's own log between its start and end lines, and leave
the terminal hints of the summary out of the notebook."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from cdlab.notebook import lab_pipeline

# A stand-in for `cdlab pipeline run`: its stdout lines, and a log written while the action runs.
RUN = """
import sys, time
from pathlib import Path
log = Path(sys.argv[1]) / "pipeline" / "runs" / "R1" / "Build-B.log"
log.parent.mkdir(parents=True)
print("CD Lab pipeline lab: run R1 on http://127.0.0.1:1", flush=True)
print("  ..    Build/B", flush=True)
for n in range(3):
    with log.open("a") as out:
        out.write(f"epoch {n}\\n")
    time.sleep(0.6)
print("  ok    Build/B        1.8 s", flush=True)
print("  match rate  0.8800 (gate 0.80)", flush=True)
print("The local cloud is still up at http://127.0.0.1:1, with 1 endpoint(s):", flush=True)
print("  eval ...", flush=True)
"""


def test_an_actions_log_streams_between_its_start_and_end(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CDLAB_HOME", str(tmp_path))
    status, output = lab_pipeline._follow([sys.executable, "-c", RUN, str(tmp_path)], None)
    assert status == 0
    assert output.splitlines() == [
        "CD Lab pipeline lab: run R1 on http://127.0.0.1:1",
        "  ..    Build/B",
        "      | epoch 0",
        "      | epoch 1",
        "      | epoch 2",
        "  ok    Build/B        1.8 s",
        "  match rate  0.8800 (gate 0.80)",
    ]
    assert capsys.readouterr().out.splitlines() == output.splitlines()
    assert lab_pipeline._result("lab", "abc", status, output).match_rate == 0.88
