"""A buildspec run as CodeBuild runs it: the phases as ``bash -c`` processes, command by command.

As CodeBuild does it: the phases run in the order install, pre_build, build, post_build; a
failing command ends its phase; a failure in install or pre_build skips the rest, a failure in
build still runs post_build (with ``CODEBUILD_BUILD_SUCCEEDING=0``), and either fails the build
(https://docs.aws.amazon.com/codebuild/latest/userguide/build-spec-ref.html#build-spec.phases).
The log reads like CodeBuild's (``[Container] ... Running command ...``). Each command is a
``bash -c`` of its own, in a process group of its own (so StopBuild and the timeout end all of
it): CodeBuild 0.2 keeps one shell, so there a variable one command exports reaches the next;
the lab's buildspecs do not rely on that.

The environment is CodeBuild's variables, the project's EnvironmentVariables and the local
cloud's client variables on top (so the local target wins over the project's
``CDLAB_TARGET=aws``, as an environment-variable override of the build would). A bin directory
first on PATH makes ``python3``/``python`` the kit's interpreter and ``pip3``/``pip`` the
``pipshim``; the source's packages come first on PYTHONPATH.
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from cdlab import config
from cdlab.localcloud.codebuild import pipshim, specfile
from cdlab.localcloud.codebuild.pipshim import package_dirs

PHASES = ("install", "pre_build", "build", "post_build")


class BuildspecError(RuntimeError):
    """The buildspec cannot run here; the message says why."""


class Project(Protocol):
    """What a buildspec run needs of its project."""

    name: str
    buildspec: dict[str, Any]
    environment: dict[str, str]


class Log(Protocol):
    def write(self, text: str, /) -> int: ...

    def flush(self) -> None: ...


@dataclass(frozen=True)
class Failure:
    phase: str
    command: str
    exit_code: int

    def message(self) -> str:
        """The phase context CodeBuild reports."""
        return (
            f"Error while executing command: {self.command}. Reason: exit status {self.exit_code}"
        )


class Guard:
    """The build's running command, so that another thread can stop its process group."""

    def __init__(self) -> None:
        self.process: subprocess.Popen[bytes] | None = None
        self.stopped: str | None = None  # the status it ends in: STOPPED, TIMED_OUT or FAULT
        self.why = ""
        self._lock = threading.Lock()

    def reason(self) -> str:
        return self.why or f"Build {(self.stopped or '').lower().replace('_', ' ')}"

    def started(self, process: subprocess.Popen[bytes]) -> None:
        with self._lock:
            self.process = process
            if self.stopped is not None:
                _kill(process)

    def stop(self, status: str, why: str = "") -> None:
        with self._lock:
            if self.stopped is None:
                self.stopped, self.why = status, why
            if self.process is not None:
                _kill(self.process)


def _kill(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)


# a phase begins (name) or ends (name, its failure or None)
PhaseHook = Callable[[str, Failure | None, bool], None]


def write_shims(bin_dir: Path) -> Path:
    """``python3``, ``python``, ``pip3`` and ``pip`` for the builds, in ``bin_dir``."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    python = shlex.quote(sys.executable)
    shim = shlex.quote(str(Path(pipshim.__file__)))  # by path: the kit's own, whatever is installed
    scripts = {
        "python3": f'exec {python} "$@"',
        "python": f'exec {python} "$@"',
        "pip3": f'exec {python} -I {shim} "$@"',
        "pip": f'exec {python} -I {shim} "$@"',
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


def build_arn(build: str, region: str | None = None) -> str:
    return f"arn:aws:codebuild:{region or config.region()}:{config.ACCOUNT_ID}:build/{build}"


def environment(
    project: Project,
    build: str,
    src: Path,
    bin_dir: Path,
    commit: str,
    source_version: str,
    build_number: int,
    cloud: dict[str, str],
    initiator: str = "codepipeline/local",
) -> dict[str, str]:
    """The build's variables; ``cloud`` (the local cloud's, the role session's) on top."""
    region = config.region()
    return {
        **os.environ,
        "CODEBUILD_BUILD_ID": build,
        "CODEBUILD_BUILD_ARN": build_arn(build, region),
        "CODEBUILD_BUILD_NUMBER": str(build_number),
        "CODEBUILD_BUILD_SUCCEEDING": "1",
        "CODEBUILD_INITIATOR": initiator,
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


def _line(log: Log, text: str) -> None:
    stamp = time.strftime("%Y/%m/%d %H:%M:%S", time.gmtime())
    log.write(f"[Container] {stamp} {text}\n")
    log.flush()


def _runtime(log: Log, versions: dict[str, object]) -> None:
    """The install phase's runtimes, as the local image has them (:func:`specfile.select`:
    the kit's Python, by its version, ``3.x`` or ``latest``)."""
    for runtime, version in versions.items():
        try:
            selected = specfile.select(runtime, str(version))
        except specfile.YamlFileError as e:
            raise BuildspecError(str(e)) from None
        _line(log, f"Runtime version selected: {runtime} {selected} ({sys.executable})")


def _command(command: str, src: Path, env: dict[str, str], log: Log, guard: Guard) -> int:
    """Run one command in its own process group, its output into ``log`` line by line."""
    process = subprocess.Popen(
        ["bash", "-c", command], cwd=src, env=env, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    guard.started(process)
    assert process.stdout is not None
    for raw in process.stdout:
        log.write(raw.decode("utf-8", "replace"))
    log.flush()
    return process.wait()


def _phase(
    log: Log, name: str, phase: dict[str, Any], src: Path, env: dict[str, str], guard: Guard
) -> Failure | None:
    _line(log, f"Entering phase {name.upper()}")
    _runtime(log, phase.get("runtime-versions", {}))
    for command in phase.get("commands", []) or []:
        _line(log, f"Running command {command}")
        code = _command(command, src, env, log, guard)
        if guard.stopped is not None:
            _line(log, f"Phase complete: {name.upper()} State: {guard.stopped}")
            return Failure(name, command, code)
        if code != 0:
            failure = Failure(name, command, code)
            _line(log, f"Command did not exit successfully {command} exit status {code}")
            _line(log, f"Phase complete: {name.upper()} State: FAILED")
            _line(
                log,
                f"Phase context status code: COMMAND_EXECUTION_ERROR Message: {failure.message()}",
            )
            return failure
    _line(log, f"Phase complete: {name.upper()} State: SUCCEEDED")
    return None


def run(
    project: Project,
    src: Path,
    env: dict[str, str],
    log: Log,
    guard: Guard | None = None,
    hook: PhaseHook | None = None,
) -> Failure | None:
    """Run the project's buildspec in ``src``; the first failure, or None when it succeeded.
    ``hook`` hears each phase begin and end, ``guard`` may stop the build from another thread."""
    guard = guard or Guard()
    phases = project.buildspec.get("phases", {}) or {}
    unknown = sorted(set(phases) - set(PHASES))
    if unknown:
        raise BuildspecError(f"project {project.name}: unknown buildspec phases {unknown}")
    failure = None
    for name in PHASES:
        if failure is not None and (failure.phase != "build" or name != "post_build"):
            break
        if guard.stopped is not None:
            break
        if failure is not None:
            env = {**env, "CODEBUILD_BUILD_SUCCEEDING": "0"}
        if hook is not None:
            hook(name, None, False)
        result = (
            _phase(log, name, phases.get(name) or {}, src, env, guard) if name in phases else None
        )
        if hook is not None:
            hook(name, result, True)
        failure = failure or result
    return failure


def artifact_files(project: Project, src: Path) -> list[tuple[Path, str]]:
    """The buildspec's ``artifacts.files`` in ``src``: (path, name in the artifact), with
    ``base-directory`` and ``discard-paths`` applied
    (https://docs.aws.amazon.com/codebuild/latest/userguide/build-spec-ref.html#build-spec.artifacts)."""
    artifacts = project.buildspec.get("artifacts", {}) or {}
    extra = sorted(set(artifacts) - {"files", "base-directory", "discard-paths", "name"})
    if extra:
        raise BuildspecError(f"project {project.name}: artifacts {extra} do not run locally")
    base = src / str(artifacts.get("base-directory", "."))
    discard = str(artifacts.get("discard-paths", "no")).lower() in ("yes", "true")
    found: dict[str, Path] = {}
    for pattern in artifacts.get("files", []) or []:
        for path in sorted(base.glob(str(pattern))):
            if path.is_file():
                found[path.name if discard else str(path.relative_to(base))] = path
    return [(path, name) for name, path in found.items()]


def export_artifact(project: Project, src: Path, destination: Path) -> int:
    """Copy the buildspec's ``artifacts.files`` from ``src``; the number of files."""
    files = artifact_files(project, src)
    for path, name in files:
        target = destination / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)
    return len(files)
