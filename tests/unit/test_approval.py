"""A run waiting at its approval: recorded, superseded by a newer run, answered once."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from cdlab.pipeline import approval
from cdlab.pipeline.definition import Action, PipelineError


def waiting_run(runs: Path, name: str, stack: str) -> Path:
    directory = runs / name
    directory.mkdir(parents=True)
    pending = approval.Pending(stack, "Approval", "ApproveProd", "c0ffee" * 6 + "ab", "x", {})
    approval.hold(directory, pending)
    return directory


def test_the_newest_waiting_run_of_a_stack_supersedes_the_older_ones(tmp_path: Path) -> None:
    older = waiting_run(tmp_path, "20261205T070000Z-aaaaaaa", "lab")
    other = waiting_run(tmp_path, "20261205T070500Z-bbbbbbb", "other-lab")
    newer = waiting_run(tmp_path, "20261205T071000Z-ccccccc", "lab")
    assert approval.read(older) is None
    assert approval.waiting(tmp_path, "lab") == newer
    assert approval.waiting(tmp_path, "other-lab") == other


def test_an_approval_is_answered_once_and_logged(tmp_path: Path) -> None:
    run = waiting_run(tmp_path, "20261205T070000Z-aaaaaaa", "lab")
    assert approval.answer(run, approved=True).stage == "Approval"
    assert (run / "Approval-ApproveProd.log").read_text() == (
        "approved with cdlab pipeline approve\n"
    )
    with pytest.raises(PipelineError, match="no run of pipeline lab waits for approval"):
        approval.waiting(tmp_path, "lab")


def test_a_rejection_leaves_nothing_waiting(tmp_path: Path) -> None:
    run = waiting_run(tmp_path, "20261205T070000Z-aaaaaaa", "lab")
    with pytest.raises(approval.Rejected, match="prod was not touched"):
        approval.answer(run, approved=False)
    assert approval.read(run) is None
    assert "rejected" in (run / "Approval-ApproveProd.log").read_text()


def test_without_a_terminal_the_approval_says_how_to_approve_this_stack() -> None:
    action = Action("Approval", "ApproveProd", "Approval", "Manual", {}, [], [])
    assert approval.decide(action, True, "lab") == "approved (--approve)"
    with pytest.raises(approval.ApprovalPending) as waiting:
        approval.decide(action, False, "lab", stdin=io.StringIO())
    assert "`cdlab pipeline approve --stack-name lab`" in str(waiting.value)
