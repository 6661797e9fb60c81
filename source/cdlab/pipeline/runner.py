"""``cdlab pipeline run``: the stages of pipeline.yml in order, against the local cloud.

A run lives in ``$CDLAB_HOME/pipeline/runs/<run-id>/``: ``source/`` (the commit's export, which
the Source action uploads), ``artifacts/<name>/`` (each build's output artifact as it was
stored), ``artifacts.json`` (each artifact's key in the pipeline's artifact bucket),
``work/<action>/`` (each action's own download of its inputs from that bucket), and one log per
action, ``<stage>-<action>.log``. Each action acts as its role (:mod:`.roles`). Actions run one
after the other. A failing action stops the run, so nothing after it (the prod deploy) happens.
Each run is about 10 MB; the newest ``Options.keep_runs`` are kept and older ones deleted when a
run starts.
"""

from __future__ import annotations

import json
import re
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from cdlab import config, target
from cdlab.localcloud.codebuild import buildlogs
from cdlab.localcloud.codebuild import buildspec as codebuild
from cdlab.pipeline import (
    approval,
    artifacts,
    definition,
    deploy,
    progress,
    provision,
    roles,
    source,
)
from cdlab.pipeline.definition import Action, Definition, PipelineError
from cdlab.steps.training import HYPERPARAMETERS_ENV

PIPELINE_FILE = Path("cloudformation") / "pipeline.yml"
BAD_MODEL = {"linear_lr": "1000000", "epochs": "1"}  # diverges: the match-rate gate stops it
TAIL_LINES = 15
MATCH_RATE = re.compile(r"Match Rate: ([0-9.]+) \(threshold ([0-9.]+)\)")
EXIT_FAILED, EXIT_APPROVAL_PENDING = 1, 3
# user 4 and movie 58, as the one-hot columns 3 and 1000 (943 users first) that FM reads
INVOKE_BODY = '{"instances": [{"data": {"features": {"keys": [3, 1000], "values": [1, 1]}}}]}'


@dataclass
class Options:
    directory: Path
    stack: str = definition.DEFAULT_STACK
    approve: bool = False
    hyperparameters: dict[str, str] = field(default_factory=dict)
    keep_runs: int = 10


@dataclass
class Run:
    """What a run did so far, for the actions that follow and for the summary."""

    directory: Path
    repo: Path
    options: Options
    cloud: dict[str, str]
    revision: source.Revision | None = None
    definition: Definition | None = None
    artifacts: dict[str, str] = field(default_factory=dict)  # name -> key in the store
    stage_seconds: dict[str, float] = field(default_factory=dict)
    deployed: dict[str, deploy.Deployed] = field(default_factory=dict)
    logs: list[Path] = field(default_factory=list)

    def keep(self, name: str, key: str) -> None:
        """Record an artifact's key in the store, also in ``artifacts.json`` of the run."""
        self.artifacts[name] = key
        (self.directory / "artifacts.json").write_text(json.dumps(self.artifacts, indent=2))

    def log_file(self, action: Action) -> Path:
        path = self.directory / f"{action.key}.log"
        self.logs.append(path)
        return path


def _build(run: Run, action: Action, log: TextIO) -> str:
    assert run.definition is not None and run.revision is not None
    project = run.definition.projects[action.configuration["ProjectName"]]
    [input_name] = action.inputs
    store = run.definition.artifact_store
    build = codebuild.build_id(project)
    role = roles.assume(project.service_role, roles.CODEBUILD, f"AWSCodeBuild-{build[-36:]}")
    session = role.session()
    s3 = session.client("s3")
    artifacts.check_region(s3, store)
    work = artifacts.get(s3, store, run.artifacts[input_name], run.directory / "work" / action.key)
    build_log = buildlogs.BuildLog(
        session.client("logs"),
        project.log_group,
        build[-36:],
        project.service_role,
        codebuild.build_arn(build),
    )
    build_log.open()
    log.write(f"running as {project.service_role}, logging to {project.log_group}\n")
    extra = role.environment()
    if run.options.hyperparameters:
        extra[HYPERPARAMETERS_ENV] = json.dumps(run.options.hyperparameters)
    env = codebuild.environment(
        project,
        build,
        work,
        run.directory / "bin",
        run.revision.commit,
        f"arn:aws:s3:::{store}/{run.artifacts[input_name]}",
        codebuild.next_build_number(run.directory.parent.parent, project.name),
        {**run.cloud, **extra},
    )
    failure = codebuild.run(project, work, env, log)
    log.flush()
    build_log.ship(run.directory / f"{action.key}.log")
    if failure is not None:
        raise PipelineError(
            f"`{failure.command}` exited with status {failure.exit_code} "
            f"in the {failure.phase} phase of {project.name}"
        )
    for name in action.outputs:
        exported = run.directory / "artifacts" / name
        count = codebuild.export_artifact(project, work, exported)
        run.keep(name, artifacts.new_key(run.definition.stack, name))
        artifacts.put(s3, store, run.artifacts[name], exported)
        log.write(f"artifact {name}: {count} files, s3://{store}/{run.artifacts[name]}\n")
    return project.name


def _deploy(run: Run, action: Action, log: TextIO) -> str:
    assert run.definition is not None
    store = run.definition.artifact_store
    session = roles.assume(run.definition.pipeline_role, roles.CODEPIPELINE).session()
    log.write(f"acting as {run.definition.pipeline_role}\n")
    s3 = session.client("s3")
    artifacts.check_region(s3, store)
    inputs = {
        name: artifacts.get(
            s3, store, run.artifacts[name], run.directory / "work" / action.key / name
        )
        for name in action.inputs
    }
    deployed = deploy.run(action, inputs, log, session.client("cloudformation"))
    run.deployed[action.stage] = deployed
    endpoint = deployed.outputs.get("EndpointName", "")
    return f"{deployed.stack} {deployed.operation}: {endpoint}"


def _approve(run: Run, action: Action, log: TextIO) -> str:
    decision = approval.decide(action, run.options.approve, run.options.stack)
    log.write(f"{decision}\n")
    return decision


def _hand_over(run: Run, action: Action, log: TextIO) -> str:
    """The S3 source action: the export uploaded to the source bucket, as Lab 3 does, then that
    version copied into the artifact store as the pipeline's role."""
    assert run.definition is not None
    bucket, key = action.configuration["S3Bucket"], action.configuration["S3ObjectKey"]
    version = source.upload(run.directory / "source", bucket, key)
    log.write(f"uploaded s3://{bucket}/{key} (version {version})\n")
    store = run.definition.artifact_store
    s3 = roles.assume(run.definition.pipeline_role, roles.CODEPIPELINE).session().client("s3")
    artifacts.check_region(s3, store)
    [name] = action.outputs
    stored = artifacts.new_key(run.definition.stack, name)
    source.copy_version(s3, bucket, key, version, store, stored)
    run.keep(name, stored)
    log.write(f"artifact {name}: s3://{store}/{stored}, as {run.definition.pipeline_role}\n")
    return stored


HANDLERS = {
    ("Source", "S3"): _hand_over,
    ("Build", "CodeBuild"): _build,
    ("Test", "CodeBuild"): _build,
    ("Deploy", "CloudFormation"): _deploy,
    ("Approval", "Manual"): _approve,
}


def _source(run: Run, out: TextIO) -> None:
    """The Source stage: export the commit, then read its pipeline.yml."""
    line = progress.start("Source/Source", out)
    try:
        run.revision = source.export(run.repo, run.directory / "source")
        run.definition = definition.load(
            run.directory / "source" / PIPELINE_FILE, run.options.stack
        )
        stage, [action] = run.definition.stages[0]
        if (action.category, action.provider) != ("Source", "S3") or len(action.outputs) != 1:
            raise PipelineError(f"the first stage of {PIPELINE_FILE} must be its S3 source action")
        with run.log_file(action).open("w") as log:
            log.write(
                f"git archive {run.revision.commit} ({run.revision.subject})\n"
                + "".join(f"not included: {change}\n" for change in run.revision.uncommitted)
            )
            made = provision.ensure(run.definition)
            _hand_over(run, action, log)
    except (BotoCoreError, ClientError) as e:
        line.done("FAIL")
        raise PipelineError(f"Source-Source: {e}") from e
    except PipelineError:
        line.done("FAIL")
        raise
    run.stage_seconds[stage] = line.done(
        "ok", f"{run.revision.commit[:7]} {run.revision.subject[:40]}"
    )
    out.write(f"      stack resources (local): {', '.join(made)}\n")
    if run.revision.uncommitted:
        out.write(
            f"      note: {len(run.revision.uncommitted)} uncommitted change(s) are not in this "
            "run (commit them to build them); see git status\n"
        )


def _stages(run: Run, out: TextIO, after: str | None = None) -> None:
    """Run the stages after Source (or only those after the stage ``after``)."""
    assert run.definition is not None
    stages = run.definition.stages[1:]
    if after is not None:
        stages = stages[[name for name, _ in stages].index(after) + 1 :]
    for stage, actions in stages:
        started = time.monotonic()
        for action in actions:
            handler = HANDLERS.get((action.category, action.provider))
            if handler is None:
                raise PipelineError(f"{action.key}: {action.provider} actions do not run locally")
            is_prompt = action.category == "Approval" and not run.options.approve
            line = progress.start(f"{stage}/{action.name}", out, spin=not is_prompt)
            path = run.log_file(action)
            with path.open("w") as log:
                try:
                    try:
                        detail = handler(run, action, log)
                    except (BotoCoreError, ClientError, OSError) as e:
                        raise PipelineError(f"{action.key}: {e}") from e
                except PipelineError as e:
                    log.write(f"FAILED: {e}\n")
                    line.done("WAIT" if isinstance(e, approval.ApprovalPending) else "FAIL")
                    run.stage_seconds[stage] = time.monotonic() - started
                    raise
            line.done("ok", detail)
        run.stage_seconds[stage] = time.monotonic() - started


def _tail(path: Path) -> str:
    lines = path.read_text(errors="replace").splitlines()[-TAIL_LINES:]
    return "\n".join(f"      | {line}" for line in lines)


def _serving(stack: str) -> dict[str, Any] | None:
    """What the endpoint of ``stack`` serves now, from SageMaker itself."""
    cfn, sm = boto3.client("cloudformation"), boto3.client("sagemaker")
    try:
        [described] = cfn.describe_stacks(StackName=stack)["Stacks"]
    except ClientError:
        return None
    outputs = {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}
    parameters = {p["ParameterKey"]: p["ParameterValue"] for p in described["Parameters"]}
    if "EndpointName" not in outputs:
        return None
    endpoint = sm.describe_endpoint(EndpointName=outputs["EndpointName"])
    config_name = endpoint["EndpointConfigName"]
    [variant] = sm.describe_endpoint_config(EndpointConfigName=config_name)["ProductionVariants"]
    model = sm.describe_model(ModelName=variant["ModelName"])
    return {
        "endpoint": outputs["EndpointName"],
        "status": endpoint["EndpointStatus"],
        "config": config_name,
        "model_data": model["PrimaryContainer"]["ModelDataUrl"],
        "commit": parameters.get("CommitID", "?"),
        "built": parameters.get("Timestamp", "?"),
    }


def _last_deploy(definition: Definition) -> Action | None:
    """The pipeline's last CloudFormation action: the one that deploys prod."""
    deploys = [
        a for _, actions in definition.stages for a in actions if a.provider == "CloudFormation"
    ]
    return deploys[-1] if deploys else None


def _prod_note(run: Run) -> str:
    """What a failure did to prod: nothing, unless the prod deploy itself failed."""
    last = _last_deploy(run.definition) if run.definition is not None else None
    if last is not None and run.logs and run.logs[-1].stem == last.key:
        return f"{last.key} failed: CloudFormation rolled the prod stack back (events in its log)"
    return "the prod deploy did not run: prod is unchanged"


def _summary(run: Run, outcome: str, total: float, out: TextIO) -> None:
    out.write(f"\nCD Lab pipeline {run.options.stack}: {outcome} in {total:.1f} s\n")
    times = ", ".join(f"{stage} {seconds:.1f} s" for stage, seconds in run.stage_seconds.items())
    out.write(f"  stages      {times}\n")
    if run.revision is not None:
        out.write(f"  commit      {run.revision.commit[:12]} {run.revision.subject}\n")
    if run.options.hyperparameters:
        given = ", ".join(f"{k}={v}" for k, v in run.options.hyperparameters.items())
        out.write(f"  override    hyperparameters {given} (not from the commit)\n")
    for stage, deployed in run.deployed.items():
        out.write(f"  {stage:<11} {deployed.outputs.get('EndpointName')} ({deployed.stack})\n")
    rates = [MATCH_RATE.search(p.read_text(errors="replace")) for p in run.logs if p.exists()]
    for found in filter(None, rates):
        out.write(f"  match rate  {float(found[1]):.4f} (gate {float(found[2]):.2f})\n")
    serving = None
    if run.definition is not None:
        last = _last_deploy(run.definition)
        serving = _serving(last.configuration["StackName"]) if last else None
        if serving is None:
            out.write("  prod        not deployed yet\n")
        else:
            out.write(
                f"  prod        {serving['endpoint']} {serving['status']}, config "
                f"{serving['config']}\n              serves {serving['model_data']} "
                f"(commit {serving['commit']}, built {serving['built']})\n"
            )
    out.write(f"  logs        {run.directory}/\n")
    _still_up(run.cloud["AWS_ENDPOINT_URL"], serving, out)


def _cdlab_command() -> str:
    """This interpreter's ``cdlab``, as the working directory reaches it (``.venv/bin/cdlab``
    in a checkout that ``make`` set up)."""
    script = Path(sys.executable).parent / "cdlab"
    return str(script.relative_to(Path.cwd())) if script.is_relative_to(Path.cwd()) else str(script)


def _still_up(url: str, serving: dict[str, Any] | None, out: TextIO) -> None:
    """The local cloud outlives the run, endpoints and all: say so, and what to try with it."""
    endpoints = boto3.client("sagemaker").list_endpoints(MaxResults=100)["Endpoints"]
    out.write(f"\nThe local cloud is still up at {url}, with {len(endpoints)} endpoint(s):\n")
    for endpoint in endpoints:
        out.write(f"  {endpoint['EndpointName']:<40} {endpoint['EndpointStatus']}\n")
    cdlab = _cdlab_command()
    out.write(f'Try next:\n  eval "$({cdlab} local env)"   # point this shell\'s aws CLI at it\n')
    if serving is not None and serving["status"] == "InService":
        out.write(
            f"  aws sagemaker-runtime invoke-endpoint --endpoint-name {serving['endpoint']} "
            f"--content-type application/json --body '{INVOKE_BODY}' /dev/stdout\n"
        )
    out.write(
        "  make lab   # the notebooks in JupyterLab, on this cloud\n"
        f"  {cdlab} local down   # stop it (its endpoints come back at the next up)\n"
    )


def prune_runs(runs: Path, keep: int) -> list[Path]:
    """Delete all but the newest ``keep`` (at least 1) run directories; their names start
    with a UTC stamp, so they sort by age."""
    old = sorted(p for p in runs.iterdir() if p.is_dir())[:-keep]
    for directory in old:
        shutil.rmtree(directory, ignore_errors=True)
    return old


def _is_local() -> bool:
    if target.current() == "local":
        return True
    print(
        "cdlab pipeline drives the local cloud. On AWS, deploy cloudformation/pipeline.yml, "
        "push a source archive and approve with aws codepipeline put-approval-result "
        "(cloudformation/README.md).",
        file=sys.stderr,
    )
    return False


def run(options: Options, out: TextIO = sys.stdout) -> int:
    """Run the pipeline: 0 when prod was deployed, 1 when a stage failed, 3 at an approval."""
    started = time.monotonic()
    if not _is_local():
        return EXIT_FAILED
    try:
        repo = source.toplevel(options.directory)
    except PipelineError as e:
        print(f"cdlab pipeline: {e}", file=sys.stderr)
        return EXIT_FAILED
    cloud = {**target.ready(), "CDLAB_TARGET": "local"}
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    head = source.head(repo)[:7]
    directory = config.home() / "pipeline" / "runs" / f"{stamp}-{head}"
    while directory.exists():
        directory = directory.with_name(directory.name + "x")
    directory.mkdir(parents=True)
    prune_runs(directory.parent, options.keep_runs)
    codebuild.write_shims(directory / "bin")
    current = Run(directory, repo, options, cloud)
    out.write(
        f"CD Lab pipeline {options.stack}: run {directory.name} on {cloud['AWS_ENDPOINT_URL']}\n"
    )

    def steps() -> None:
        _source(current, out)
        _stages(current, out)

    return _conclude(current, steps, started, out)


def _hold(run: Run) -> None:
    """Leave the run waiting at its approval, for ``cdlab pipeline approve``."""
    assert run.definition is not None and run.revision is not None
    [action] = [a for _, acts in run.definition.stages for a in acts if a.key == run.logs[-1].stem]
    pending = approval.Pending(
        run.options.stack,
        action.stage,
        action.name,
        run.revision.commit,
        run.revision.subject,
        run.options.hyperparameters,
    )
    approval.hold(run.directory, pending)


def _conclude(current: Run, steps: Callable[[], None], started: float, out: TextIO) -> int:
    """Run ``steps``; say how they ended and summarise: 0 deployed, 1 failed, 3 at an approval."""
    try:
        steps()
    except (approval.ApprovalPending, approval.Rejected) as e:
        out.write(f"\n  stopped: {e}\n")
        pending = isinstance(e, approval.ApprovalPending)
        if pending:
            _hold(current)
        outcome = "waiting for approval" if pending else "rejected"
        _summary(current, outcome, time.monotonic() - started, out)
        return EXIT_APPROVAL_PENDING if pending else EXIT_FAILED
    except PipelineError as e:
        out.write(f"\n  stopped: {e}\n")
        out.write(f"      {_prod_note(current)}\n")
        if current.logs and current.logs[-1].exists():
            out.write(f"      {current.logs[-1]} ends with:\n{_tail(current.logs[-1])}\n")
        _summary(current, "FAILED", time.monotonic() - started, out)
        return EXIT_FAILED
    _summary(current, "succeeded", time.monotonic() - started, out)
    return 0
