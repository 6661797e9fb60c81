"""A buildspec run as CodeBuild runs it: the phases' commands in the build's shell.

As CodeBuild does it: the phases run in the order install, pre_build, build, post_build; a
failing command ends its phase's ``commands``, then its ``finally`` commands run, and a failure
in either fails the phase. A failure in install or pre_build skips the rest, a failure in build
still runs post_build (with ``CODEBUILD_BUILD_SUCCEEDING=0``), and either fails the build
(https://docs.aws.amazon.com/codebuild/latest/userguide/build-spec-ref.html#build-spec.phases);
a phase's ``on-failure`` ABORT ends the build at its failure, CONTINUE goes on to the next
phase. The log reads like CodeBuild's (``[Container] ... Running command ...``). The commands
run in one shell for the whole build (buildspec 0.2) or one for each command (0.1), the
buildspec's ``env: shell`` (``/bin/sh`` by default): see :mod:`shell`.

The environment is CodeBuild's variables, the buildspec's ``env: variables`` over the machine's,
then the build's own (``CODEBUILD_...``, ``AWS_REGION``), the project's EnvironmentVariables
(StartBuild's overrides among them) and the local cloud's client variables on top (so the local
target wins over the project's ``CDLAB_TARGET=aws``, as an environment-variable override of the
build would). A bin directory first on PATH makes ``python3``/``python`` the kit's interpreter
and ``pip3``/``pip`` the ``pipshim``; the source's packages come first on PYTHONPATH.
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
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

from cdlab import config
from cdlab.localcloud.codebuild import pipshim, specfile
from cdlab.localcloud.codebuild.pipshim import package_dirs
from cdlab.localcloud.codebuild.shell import DEFAULT_SHELL, SHELLS, Shell
from cdlab.localcloud.codebuild.shell import Output as Log  # the build's log
from cdlab.localcloud.codebuild.specfile import PHASES


class BuildspecError(RuntimeError):
    """The buildspec cannot run here; the message says why."""


class Project(Protocol):
    """What a buildspec run needs of its project."""

    name: str
    buildspec: dict[str, Any]
    environment: dict[str, str]


@dataclass(frozen=True)
class Failure:
    phase: str
    command: str
    exit_code: int
    # the build went no further than this failure's phase (so no artifacts are uploaded)
    aborted: bool = field(default=False, compare=False)

    def message(self) -> str:
        """The phase context CodeBuild reports."""
        return (
            f"Error while executing command: {self.command}. Reason: exit status {self.exit_code}"
        )


class Guard:
    """The build's running shell, so that another thread can stop its process group."""

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
    """The build's variables; ``cloud`` (the local cloud's, the role session's) on top. A value
    set in several places is StartBuild's, else the project's, else the buildspec's
    (https://docs.aws.amazon.com/codebuild/latest/userguide/build-spec-ref.html, env/variables);
    the buildspec's replace the machine's, PATH too (the kit's bin directory stays first)."""
    region = config.region()
    merged = {
        **os.environ,
        **variables(project.buildspec),
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
    }
    return {
        **merged,
        "PATH": f"{bin_dir}{os.pathsep}{merged.get('PATH', '')}",
        "PYTHONPATH": os.pathsep.join(str(p) for p in package_dirs(src)),
    }


def variables(spec: dict[str, Any]) -> dict[str, str]:
    """The buildspec's ``env: variables``, "a mapping of key/value scalars", as strings (YAML's
    true and false as written, not Python's True and False)."""
    env = spec.get("env")
    found = env.get("variables") if isinstance(env, dict) else None
    if not isinstance(found, dict):
        return {}
    return {str(name): _scalar(value) for name, value in found.items()}


def _scalar(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def line(log: Log, text: str) -> None:
    """Write ``text`` to the build's log as CodeBuild's container writes its own lines."""
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
        line(log, f"Runtime version selected: {runtime} {selected} ({sys.executable})")


@dataclass(frozen=True)
class Settings:
    """How the buildspec's commands run: the shell program, one shell for all the commands
    (version 0.2) or one for each (0.1), and each phase's ``on-failure``."""

    shell: str
    shared: bool
    on_failure: dict[str, str]


def settings(project: Project) -> Settings:
    """The buildspec's ``version``, ``env: shell`` and phases' ``on-failure``
    (https://docs.aws.amazon.com/codebuild/latest/userguide/build-spec-ref.html), values
    :func:`specfile.check` has taken: ``shell`` ``bash`` or ``/bin/sh``, ``on-failure`` ABORT or
    CONTINUE."""
    spec = project.buildspec
    env = spec.get("env")
    shell = str(env.get("shell", DEFAULT_SHELL)) if isinstance(env, dict) else DEFAULT_SHELL
    phases = spec.get("phases") or {}
    on_failure = {
        name: str(phase["on-failure"])
        for name, phase in phases.items()
        if isinstance(phase, dict) and phase.get("on-failure") is not None
    }
    return Settings(SHELLS[shell], str(spec.get("version")) != "0.1", on_failure)


def _commands(log: Log, name: str, commands: Any, shell: Shell, guard: Guard) -> Failure | None:
    """Run ``commands`` one at a time until one fails; the failure, if one did."""
    for command in commands or []:
        command = str(command)
        line(log, f"Running command {command}")
        code = shell.run(command)
        if guard.stopped is not None:
            return Failure(name, command, code)
        if code != 0:
            line(log, f"Command did not exit successfully {command} exit status {code}")
            return Failure(name, command, code)
    return None


def _phase(
    log: Log, name: str, phase: dict[str, Any], shell: Shell, guard: Guard
) -> Failure | None:
    """The phase's ``commands``, then its ``finally`` commands even if one of those failed
    (https://docs.aws.amazon.com/codebuild/latest/userguide/build-spec-ref.html, finally);
    the first failure of either fails the phase."""
    line(log, f"Entering phase {name.upper()}")
    _runtime(log, phase.get("runtime-versions", {}))
    failure = _commands(log, name, phase.get("commands"), shell, guard)
    if guard.stopped is None and phase.get("finally"):
        late = _commands(log, name, phase.get("finally"), shell, guard)
        failure = failure or late
    if guard.stopped is not None:
        line(log, f"Phase complete: {name.upper()} State: {guard.stopped}")
        return failure
    if failure is not None:
        line(log, f"Phase complete: {name.upper()} State: FAILED")
        line(
            log, f"Phase context status code: COMMAND_EXECUTION_ERROR Message: {failure.message()}"
        )
        return failure
    line(log, f"Phase complete: {name.upper()} State: SUCCEEDED")
    return None


def run(
    project: Project,
    src: Path,
    env: dict[str, str],
    log: Log,
    guard: Guard | None = None,
    hook: PhaseHook | None = None,
) -> Failure | None:
    """Run the project's buildspec in ``src``; the first failure (``aborted`` if the build went
    no further), or None when it succeeded. ``hook`` hears each phase begin and end, ``guard``
    may stop the build from another thread."""
    guard = guard or Guard()
    phases = project.buildspec.get("phases", {}) or {}
    how = settings(project)
    shell = Shell(how.shell, src, env, log, guard, how.shared)
    try:
        return _run_phases(phases, how, shell, log, guard, hook)
    finally:
        shell.close()


def _run_phases(
    phases: dict[str, Any],
    how: Settings,
    shell: Shell,
    log: Log,
    guard: Guard,
    hook: PhaseHook | None,
) -> Failure | None:
    failure, aborted = None, False
    for name in PHASES:
        if aborted or guard.stopped is not None:
            break
        if hook is not None:
            hook(name, None, False)
        result = _phase(log, name, phases.get(name) or {}, shell, guard) if name in phases else None
        if hook is not None:
            hook(name, result, True)
        if result is not None:
            if failure is None:
                shell.export("CODEBUILD_BUILD_SUCCEEDING", "0")
            failure = failure or result
            aborted = _aborts(name, how.on_failure.get(name))
    return replace(failure, aborted=True) if failure is not None and aborted else failure


def _aborts(phase: str, on_failure: str | None) -> bool:
    """Whether a failure of ``phase`` ends the build: ABORT does, CONTINUE does not; by default
    a failed install or pre_build does, a failed build goes on to post_build."""
    if on_failure is not None:
        return on_failure == "ABORT"
    return phase in ("install", "pre_build")


def artifact_files(project: Project, src: Path) -> list[tuple[Path, str]]:
    """The buildspec's ``artifacts.files`` in ``src``: (path, name in the artifact), with
    ``base-directory`` and ``discard-paths`` applied
    (https://docs.aws.amazon.com/codebuild/latest/userguide/build-spec-ref.html#build-spec.artifacts)."""
    artifacts = project.buildspec.get("artifacts", {}) or {}  # its other members: see specfile
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
