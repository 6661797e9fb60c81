"""What ``cdlab pipeline run`` and Lab 3 make of CodePipeline's records: stage times from the
actions' own times, the failed action, the match rate from the test's log, the record written into
an action's log, the commands it prints, and the run directories it keeps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from cdlab.pipeline import actionlogs, approval, runner, stack
from cdlab.pipeline.execution import Approval, Followed

START = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)


def record(stage: str, action: str, status: str, seconds: float, **result: object) -> dict:
    """An ActionExecutionDetail as ListActionExecutions returns it (botocore's shape)."""
    return {
        "pipelineExecutionId": "e1",
        "actionExecutionId": f"{stage}-a",
        "stageName": stage,
        "actionName": action,
        "startTime": START,
        "lastUpdateTime": START + timedelta(seconds=seconds),
        "status": status,
        "input": {"actionTypeId": {"provider": "CodeBuild"}, "roleArn": "arn:aws:iam::1:role/r"},
        "output": {"executionResult": result},
    }


def test_stage_times_come_from_the_actions_own_times_and_the_failed_action_is_found(
    tmp_path: Path,
) -> None:
    error = {"code": "JobFailed", "message": "Build terminated with state: FAILED"}
    followed = Followed("p", "e1")
    followed.details = {
        "Source/Source": record("Source", "Source", "Succeeded", 0.5),
        "Build/Train": record("Build", "Train", "Succeeded", 6.25),
        "TestQA/Gate": record("TestQA", "Gate", "Failed", 2.0, errorDetails=error),
    }
    assert followed.stage_seconds() == {"Source": 0.5, "Build": 6.25, "TestQA": 2.0}
    assert followed.failed_action() == followed.details["TestQA/Gate"]
    log = tmp_path / "TestQA-Gate.log"
    log.write_text("Match Rate: 0.91 (threshold 0.80)\nthen\nMatch Rate: 0.4123 (threshold 0.80)\n")
    followed.logs = {"TestQA/Gate": log}
    assert followed.match_rate() == (0.4123, 0.80)


def test_an_actions_log_starts_with_what_codepipeline_records_of_it() -> None:
    error = {"code": "JobFailed", "message": "Build terminated with state: FAILED"}
    text = actionlogs.described(
        record("TestQA", "Gate", "Failed", 2.0, externalExecutionId="p-test:1", errorDetails=error)
    )
    assert text.splitlines() == [
        "action: TestQA/Gate",
        "status: Failed",
        "execution: TestQA-a",
        "role: arn:aws:iam::1:role/r",
        "external id: p-test:1",
        "error: JobFailed: Build terminated with state: FAILED",
    ]


def test_without_a_match_rate_line_there_is_no_rate() -> None:
    assert actionlogs.match_rate("Running test.py\n") is None
    assert Followed("p", "e1").match_rate() is None


def test_the_printed_commands_are_the_aws_cli_commands_a_participant_types() -> None:
    assert stack.deploy_command("cdlab-lab3") == (
        "aws cloudformation deploy --template-file cloudformation/pipeline.yml "
        "--stack-name cdlab-lab3 --capabilities CAPABILITY_IAM "
        "--parameter-overrides PipelineName=cdlab-lab3"
    )
    waiting = Approval("cdlab-lab3", "e1", "Approval", "ApproveProd", "tok-1")
    assert approval.command(waiting, approved=False) == (
        "aws codepipeline put-approval-result --pipeline-name cdlab-lab3 --stage-name Approval "
        '--action-name ApproveProd --result "summary=Rejected from the command line,'
        'status=Rejected" --token tok-1'
    )


def test_only_the_newest_run_directories_are_kept(tmp_path: Path) -> None:
    names = ["20261205T070000Z-aaaaaaa", "20261205T071000Z-bbbbbbb", "20261205T072000Z-ccccccc"]
    for name in names:
        (tmp_path / name).mkdir()
    assert runner.prune_runs(tmp_path, 2) == [tmp_path / names[0]]
    assert sorted(p.name for p in tmp_path.iterdir()) == names[1:]
