"""A CodeBuild action, locally: the buildspec's phases as ``bash -c`` processes, command by command.

As CodeBuild does it: the phases run in the order install, pre_build, build, post_build; a
failing command ends its phase; a failure in install or pre_build skips the rest, a failure in
build still runs post_build (with ``CODEBUILD_BUILD_SUCCEEDING=0``), and either fails the build.
The log reads like CodeBuild's (``[Container] ... Running command ...``). Each command is a
``bash -c`` of its own: CodeBuild 0.2 keeps one shell, so there a variable one command exports
reaches the next; the lab's buildspecs do not rely on that.

The environment is CodeBuild's variables, the project's EnvironmentVariables and the local
cloud's client variables on top (so the runner's target wins over the project's
``CDLAB_TARGET=aws``, as an environment-variable override of the build would). A bin directory
first on PATH makes ``python3``/``python`` the kit's interpreter and ``pip3``/``pip`` the
``pipshim``; the commit's packages come first on PYTHONPATH.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from cdlab import config
from cdlab.pipeline.definition import PipelineError, Project
from cdlab.pipeline.pipshim import package_dirs

PHASES = ("install", "pre_build", "build", "post_build")


@dataclass(frozen=True)
class Failure:
    phase: str
    command: str
    exit_code: int


def write_shims(bin_dir: Path) -> Path:
    """``python3``, ``python``, ``pip3`` and ``pip`` for the builds, in ``bin_dir``."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    python = shlex.quote(sys.executable)
    scripts = {
        "python3": f'exec {python} "$@"',
        "python": f'exec {python} "$@"',
        "pip3": f'exec {python} -I -m cdlab.pipeline.pipshim "$@"',
        "pip": f'exec {python} -I -m cdlab.pipeline.pipshim "$@"',
    }
    for name, line in scripts.items():
        path = bin_dir / name
        path.write_text(f"#!/bin/sh\n{line}\n")
        path.chmod(0o755)
    return bin_dir


def next_build_number(state_dir: Path, project: str) -> int:
    """CodeBuild's per-project build counter, kept in ``state_dir/build-numbers.json``."""
    path = state_dir / "build-numbers.json"
    numbers = json.loads(path.read_text()) if path.exists() else {}
    numbers[project] = numbers.get(project, 0) + 1
    path.write_text(json.dumps(numbers, indent=2))
    return numbers[project]


def build_id(project: Project) -> str:
    """A new build's id, ``<project>:<uuid>`` as CodeBuild makes it."""
    return f"{project.name}:{uuid.uuid4()}"


def build_arn(build: str) -> str:
    return f"arn:aws:codebuild:{config.region()}:{config.ACCOUNT_ID}:build/{build}"


def environment(
    project: Project,
    build: str,
    src: Path,
    bin_dir: Path,
    commit: str,
    source_version: str,
    build_number: int,
    cloud: dict[str, str],
) -> dict[str, str]:
    """The build's variables; ``cloud`` (the local cloud's, the role session's) on top."""
    region = config.region()
    return {
        **os.environ,
        "CODEBUILD_BUILD_ID": build,
        "CODEBUILD_BUILD_ARN": build_arn(build),
        "CODEBUILD_BUILD_NUMBER": str(build_number),
        "CODEBUILD_BUILD_SUCCEEDING": "1",
        "CODEBUILD_INITIATOR": "codepipeline/local",
        "CODEBUILD_RESOLVED_SOURCE_VERSION": commit,
        "CODEBUILD_SOURCE_VERSION": source_version,
        "CODEBUILD_SRC_DIR": str(src),
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        **project.environment,
        **cloud,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
        "PYTHONPATH": os.pathsep.join(str(p) for p in package_dirs(src)),
    }


def _line(log: TextIO, text: str) -> None:
    stamp = time.strftime("%Y/%m/%d %H:%M:%S", time.gmtime())
    log.write(f"[Container] {stamp} {text}\n")
    log.flush()


def _runtime(log: TextIO, versions: dict[str, object]) -> None:
    here = f"{sys.version_info.major}.{sys.version_info.minor}"
    for runtime, version in versions.items():
        if runtime == "python" and str(version) != here:
            raise PipelineError(f"the buildspec asks for python {version}; the kit runs {here}")
        _line(log, f"Runtime version selected: {runtime} {version} ({sys.executable})")


def _phase(
    log: TextIO, name: str, phase: dict[str, Any], src: Path, env: dict[str, str]
) -> Failure | None:
    _line(log, f"Entering phase {name.upper()}")
    _runtime(log, phase.get("runtime-versions", {}))
    commands = phase.get("commands", [])
    for command in commands:
        _line(log, f"Running command {command}")
        code = subprocess.run(
            ["bash", "-c", command], cwd=src, env=env, stdout=log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        ).returncode  # fmt: skip
        if code != 0:
            _line(log, f"Command did not exit successfully {command} exit status {code}")
            _line(log, f"Phase complete: {name.upper()} State: FAILED")
            _line(
                log,
                "Phase context status code: COMMAND_EXECUTION_ERROR Message: Error while "
                f"executing command: {command}. Reason: exit status {code}",
            )
            return Failure(name, command, code)
    _line(log, f"Phase complete: {name.upper()} State: SUCCEEDED")
    return None


def run(project: Project, src: Path, env: dict[str, str], log: TextIO) -> Failure | None:
    """Run the project's buildspec in ``src``; the first failure, or None when it succeeded."""
    phases = project.buildspec.get("phases", {})
    unknown = sorted(set(phases) - set(PHASES))
    if unknown:
        raise PipelineError(f"project {project.name}: unknown buildspec phases {unknown}")
    failure = None
    for name in PHASES:
        if name not in phases:
            continue
        if failure is not None and (failure.phase != "build" or name != "post_build"):
            break
        if failure is not None:
            env = {**env, "CODEBUILD_BUILD_SUCCEEDING": "0"}
        result = _phase(log, name, phases[name], src, env)
        failure = failure or result
    return failure


def export_artifact(project: Project, src: Path, destination: Path) -> int:
    """Copy the buildspec's ``artifacts.files`` from ``src``; the number of files."""
    artifacts = project.buildspec.get("artifacts", {})
    extra = sorted(set(artifacts) - {"files"})
    if extra:
        raise PipelineError(f"project {project.name}: artifacts {extra} do not run locally")
    count = 0
    for pattern in artifacts.get("files", []):
        for path in src.glob(pattern):
            if path.is_file():
                target = destination / path.relative_to(src)
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, target)
                count += 1
    return count
