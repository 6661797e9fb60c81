"""A pipeline declaration checked as CodePipeline checks it, for what the local cloud runs.

The structure rules are AWS's
(https://docs.aws.amazon.com/codepipeline/latest/userguide/reference-pipeline-structure.html):
at least two stages; source actions in the first stage only, and only source actions there;
unique stage, action and output artifact names; every input artifact the output of an action
that runs before it. The local cloud runs five action types (:data:`RUNS`), and of the
CloudFormation action's modes those :mod:`cdlab.pipeline.deploy` runs; any other is refused here
rather than failing at run time. So is what the local cloud would store and not run:
variables (https://docs.aws.amazon.com/codepipeline/latest/userguide/reference-variables.html),
a pipeline's own, an action's namespace, a ``#{...}`` reference in a configuration (an action
would be handed the reference's text); a stage's conditions, its automatic rollback or retry
(https://docs.aws.amazon.com/codepipeline/latest/userguide/stage-conditions.html); triggers
(which filter a connection source's git events); cross-region artifact stores.
"""

from __future__ import annotations

import re
from typing import Any

from cdlab.localcloud.codepipeline.errors import InvalidStructureException, ValidationException
from cdlab.pipeline import deploy

NAME = re.compile(r"^[A-Za-z0-9.@\-_]{1,100}$")
# (category, provider) -> the configuration keys the action requires
RUNS: dict[tuple[str, str], tuple[str, ...]] = {
    ("Source", "S3"): ("S3Bucket", "S3ObjectKey"),
    ("Build", "CodeBuild"): ("ProjectName",),
    ("Test", "CodeBuild"): ("ProjectName",),
    ("Deploy", "CloudFormation"): ("ActionMode", "StackName"),
    ("Approval", "Manual"): (),
}
RUNS_TEXT = "Source/S3, Build/CodeBuild, Test/CodeBuild, Deploy/CloudFormation, Approval/Manual"
VARIABLE = re.compile(r"#\{[^}]*\}")  # a variable's reference, #{Namespace.Name}
EXECUTION_MODE = "SUPERSEDED"  # the one mode the local cloud runs (engine.py's Gates)


def check(pipeline: dict[str, Any]) -> None:
    """Raise InvalidStructureException (or ValidationException) for what AWS would refuse."""
    name = pipeline["name"]
    if not NAME.match(name):
        raise ValidationException(
            f"1 validation error detected: Value '{name}' at 'pipeline.name' failed to satisfy "
            "constraint: Member must satisfy regular expression pattern: [A-Za-z0-9.@\\-_]+"
        )
    mode = pipeline.get("executionMode", EXECUTION_MODE)
    if mode != EXECUTION_MODE:
        raise ValidationException(
            f"Execution mode {mode} is not supported by the local cloud, which runs pipelines "
            f"in {EXECUTION_MODE} mode (the default)."
        )
    if pipeline.get("variables"):
        names = ", ".join(v["name"] for v in pipeline["variables"])
        raise InvalidStructureException(
            f"Pipeline variables ({names}) are not resolved by the local cloud, which runs "
            "pipelines without variables."
        )
    _check_unrun(pipeline)
    if pipeline.get("artifactStore", {}).get("type", "S3") != "S3":
        raise InvalidStructureException("The artifact store type must be S3.")
    stages = pipeline["stages"]
    if len(stages) < 2:
        raise InvalidStructureException(
            f"Pipeline has only {len(stages)} stage(s). There should be a minimum of 2 stages "
            "in a pipeline"
        )
    _unique([s["name"] for s in stages], "stage names")
    produced: set[str] = set()
    for index, stage in enumerate(stages):
        _check_stage(stage, index == 0, produced)


def _check_unrun(pipeline: dict[str, Any]) -> None:
    """Refuse the declarations the local cloud would keep without running them."""
    stores = [key for key in ("artifactStore", "artifactStores") if key in pipeline]
    if stores != ["artifactStore"]:
        raise InvalidStructureException(
            "The local cloud runs a pipeline in one region, with one artifact store: declare "
            f"artifactStore (the pipeline declares {' and '.join(stores) or 'neither'})."
        )
    if pipeline.get("triggers"):
        raise InvalidStructureException(
            "Pipeline triggers filter the git events of CodeStarSourceConnection sources, which "
            "the local cloud does not run."
        )
    for stage in pipeline["stages"]:
        conditions = [key for key in ("beforeEntry", "onSuccess", "onFailure") if key in stage]
        if conditions:
            raise InvalidStructureException(
                f"Stage {stage['name']}: {', '.join(conditions)} (conditions, automatic "
                "rollback or retry) are not run by the local cloud."
            )


def _unique(names: list[str], what: str) -> None:
    doubled = sorted({n for n in names if names.count(n) > 1})
    if doubled:
        raise InvalidStructureException(f"Duplicate {what}: {', '.join(doubled)}")


def _check_stage(stage: dict[str, Any], first: bool, produced: set[str]) -> None:
    actions = stage["actions"]
    _unique([a["name"] for a in actions], f"action names in stage {stage['name']}")
    for run_order in sorted({a.get("runOrder", 1) for a in actions}):
        batch = [a for a in actions if a.get("runOrder", 1) == run_order]
        made: list[str] = []
        for action in batch:
            _check_action(stage["name"], action, first, produced)
            made += [o["name"] for o in action.get("outputArtifacts", [])]
        _unique(sorted(produced) + made, "output artifact names")
        produced.update(made)


def _check_action(stage: str, action: dict[str, Any], first: bool, produced: set[str]) -> None:
    kind = action["actionTypeId"]
    category, provider = kind["category"], kind["provider"]
    where = f"action {action['name']} in stage {stage}"
    if (category == "Source") != first:
        raise InvalidStructureException(
            "Pipeline must have source actions in its first stage only, and only source "
            f"actions there: {where} is a {category} action."
        )
    required = RUNS.get((category, provider))
    if required is None or kind["owner"] != "AWS" or kind["version"] != "1":
        raise InvalidStructureException(
            f"{where}: action type {kind['owner']}/{category}/{provider}/{kind['version']} is "
            f"not one the local cloud runs; it runs AWS-owned version 1 actions: {RUNS_TEXT}."
        )
    configuration = action.get("configuration", {})
    referring = sorted(k for k, v in configuration.items() if VARIABLE.search(str(v)))
    if action.get("namespace") or referring:
        what = (
            f"its configuration ({', '.join(referring)}) refers to variables"
            if referring
            else f"its namespace {action['namespace']} declares variables"
        )
        raise InvalidStructureException(
            f"{where}: {what}, which the local cloud does not resolve: it runs pipelines "
            "without variables."
        )
    missing = [key for key in required if key not in configuration]
    if missing:
        raise InvalidStructureException(
            f"{where}: missing required configuration key(s) {', '.join(missing)}"
        )
    if (category, provider) == ("Deploy", "CloudFormation"):
        refusal = deploy.mode_refusal(configuration["ActionMode"])
        if refusal is not None:
            raise InvalidStructureException(f"{where}: {refusal}")
    inputs = [i["name"] for i in action.get("inputArtifacts", [])]
    outputs = action.get("outputArtifacts", [])
    if category == "Source" and (inputs or len(outputs) != 1):
        raise InvalidStructureException(f"{where}: a source action has one output artifact")
    if category == "Approval" and (inputs or outputs):
        raise InvalidStructureException(f"{where}: an approval action has no artifacts")
    if category in ("Build", "Test") and (len(inputs) != 1 or len(outputs) > 1):
        raise InvalidStructureException(
            f"{where}: the local cloud runs a CodeBuild action with one input artifact and at "
            "most one output artifact (more are a build's secondary sources and artifacts)"
        )
    for name in inputs:
        if name not in produced:
            raise InvalidStructureException(
                f"{where}: input artifact {name} is not the output of an action that runs before it"
            )
