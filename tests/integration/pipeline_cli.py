"""Lab 3's steps with the AWS CLI against a test's local cloud, as a participant types them:
deploy the pipeline stack, upload ``git archive`` of a clone, find the execution the upload
started, watch ``get-pipeline-state`` until the execution waits at its approval or ends, answer
the approval. Each call is a subprocess of the CLI with the cloud's environment."""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.integration.scaled import ScaledCloud
from tests.polling import poll

TEMPLATE = Path("cloudformation") / "pipeline.yml"
RUN_SECONDS = 300


def deploy_args(clone: Path, stack: str) -> list[str]:
    return [
        "cloudformation", "deploy", "--template-file", str(clone / TEMPLATE),
        "--stack-name", stack, "--capabilities", "CAPABILITY_IAM",
        "--parameter-overrides", f"PipelineName={stack}", "--no-fail-on-empty-changeset",
    ]  # fmt: skip


@dataclass
class Watched:
    """An execution as get-pipeline-state showed it: every (stage, status) seen, in order."""

    execution: str
    seen: list[tuple[str, str]] = field(default_factory=list)
    token: str = ""  # the approval's, when the execution waits at it
    status: str = "InProgress"
    answered: set[str] = field(default_factory=set)  # tokens answered already


@dataclass
class CliPipeline:
    cloud: ScaledCloud
    clone: Path
    stack: str

    def json(self, *args: str) -> Any:
        return json.loads(self.cloud.aws(*args, "--output", "json").stdout or "null")

    def deploy(self) -> dict[str, str]:
        """Deploy the stack, then wait for the pipeline's automatic first run (trigger
        CreatePipeline) to end: it fails at Source, unless an upload comes first."""
        self.cloud.aws(*deploy_args(self.clone, self.stack))

        def first_runs() -> list[str]:
            summaries = self.json(
                "codepipeline", "list-pipeline-executions", "--pipeline-name", self.stack
            )["pipelineExecutionSummaries"]
            return [
                s["status"]
                for s in summaries
                if s.get("trigger", {}).get("triggerType") == "CreatePipeline"
            ]

        poll(first_runs, until=lambda runs: "InProgress" not in runs, timeout=60, interval=0.5)
        return self.outputs()

    def outputs(self) -> dict[str, str]:
        [described] = self.json("cloudformation", "describe-stacks", "--stack-name", self.stack)[
            "Stacks"
        ]
        return {o["OutputKey"]: o["OutputValue"] for o in described["Outputs"]}

    def upload(self) -> str:
        """``git archive`` of the clone's HEAD, ``aws s3 cp`` to the source bucket; the version
        the upload made."""
        archive = self.clone.parent / f"{self.clone.name}-{self.stack}.zip"
        subprocess.run(
            ["git", "archive", "--format=zip", "-o", str(archive), "HEAD"],
            cwd=self.clone, check=True, capture_output=True,
        )  # fmt: skip
        outputs = self.outputs()
        bucket, key = outputs["SourceBucket"], outputs["SourceObjectKey"]
        self.cloud.aws("s3", "cp", str(archive), f"s3://{bucket}/{key}")
        head = self.json("s3api", "head-object", "--bucket", bucket, "--key", key)
        return str(head["VersionId"])

    def execution_of(self, version: str) -> str:
        """The execution whose source revision is ``version`` (EventBridge started it)."""

        def started() -> list[str]:
            summaries = self.json(
                "codepipeline", "list-pipeline-executions", "--pipeline-name", self.stack
            )["pipelineExecutionSummaries"]
            return [
                s["pipelineExecutionId"]
                for s in summaries
                if version in [r.get("revisionId") for r in s.get("sourceRevisions", [])]
            ]

        return poll(started, timeout=60, interval=0.5, what=f"an execution of {version}")[0]

    def state(self) -> dict[str, Any]:
        return self.json("codepipeline", "get-pipeline-state", "--name", self.stack)

    def watch(self, watched: Watched) -> Watched:
        """Follow get-pipeline-state (one CLI call a second) until the execution ends or waits
        at its approval; then get-pipeline-execution says how it ended."""

        def observe() -> Watched:
            stages = self.state()["stageStates"]
            for stage in stages:
                latest = stage.get("latestExecution", {})
                if latest.get("pipelineExecutionId") != watched.execution:
                    continue
                if (stage["stageName"], latest["status"]) not in watched.seen:
                    watched.seen.append((stage["stageName"], latest["status"]))
                if latest["status"] in ("Failed", "Stopped", "Cancelled"):
                    watched.status = "ended"
                for action in stage["actionStates"]:
                    token = action.get("latestExecution", {}).get("token")
                    if token and token not in watched.answered:
                        watched.token = token
            last = stages[-1].get("latestExecution", {})
            if last == {"pipelineExecutionId": watched.execution, "status": "Succeeded"}:
                watched.status = "ended"
            return watched

        poll(
            observe,
            until=lambda w: w.status == "ended" or w.token,
            timeout=RUN_SECONDS,
            interval=1.0,
            what=f"execution {watched.execution} to end or wait for approval",
        )
        watched.status = self.json(
            "codepipeline", "get-pipeline-execution", "--pipeline-name", self.stack,
            "--pipeline-execution-id", watched.execution,
        )["pipelineExecution"]["status"]  # fmt: skip
        return watched

    def approve(self, watched: Watched, status: str = "Approved") -> Watched:
        self.cloud.aws(
            "codepipeline", "put-approval-result", "--pipeline-name", self.stack,
            "--stage-name", "Approval", "--action-name", "ApproveProd",
            "--result", json.dumps({"summary": "approved by the test", "status": status}),
            "--token", watched.token,
        )  # fmt: skip
        watched.answered.add(watched.token)
        watched.token = ""
        return self.watch(watched)

    def run(self, approve: bool = True) -> Watched:
        """Upload HEAD and follow the execution it starts, approving it when asked to."""
        watched = self.watch(Watched(self.execution_of(self.upload())))
        return self.approve(watched) if approve and watched.token else watched

    def action(self, execution: str, stage: str) -> dict[str, Any]:
        """The stage's action record in ``execution`` (list-action-executions)."""
        details = self.json(
            "codepipeline", "list-action-executions", "--pipeline-name", self.stack,
            "--filter", json.dumps({"pipelineExecutionId": execution}),
        )["actionExecutionDetails"]  # fmt: skip
        [found] = [d for d in details if d["stageName"] == stage]
        return dict(found)
