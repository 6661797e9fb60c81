"""The parts of the local CodeBuild that need no cloud: who started a build, CloudFormation's
property names as the API's members, the buildspec's artifact files, the phases a build goes
through, a build's timeout and Python runtime, and a restart's end of a build cut short."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest

from cdlab.localcloud.cloudformation.resources.codebuild import api_members
from cdlab.localcloud.codebuild.buildspec import BuildspecError, Guard, artifact_files, run
from cdlab.localcloud.codebuild.provider import initiator
from cdlab.localcloud.codebuild.records import Builds
from cdlab.localcloud.codebuild.supervisor import Supervisor
from cdlab.localcloud.codebuild.worker import Spec
from cdlab.localcloud.context import Principal
from cdlab.localcloud.state.store import Store


def test_initiator_names_codepipeline_for_its_session_and_the_caller_otherwise():
    session = "arn:aws:sts::123456789012:assumed-role/Stack-CodePipelineRole-ABC/"
    pipeline = Principal(session + "codepipeline-mystack", "k", "assumed-role", "role")
    assert initiator(pipeline) == "codepipeline/mystack"
    other = Principal(session + "someone", "k", "assumed-role", "role")
    assert initiator(other) == "Stack-CodePipelineRole-ABC/someone"
    user = Principal("arn:aws:iam::123456789012:user/alice", "k", "user", "user", "alice")
    assert initiator(user) == "alice"
    assert initiator(Principal.administrator("123456789012", "k")) == "root"


def test_cloudformation_properties_become_the_api_members():
    props = {
        "Name": "p",
        "Source": {"Type": "S3", "BuildSpec": "version: 0.2"},
        "Environment": {"EnvironmentVariables": [{"Name": "A", "Value": "1"}]},
        "LogsConfig": {"CloudWatchLogs": {"Status": "ENABLED", "GroupName": "g"}},
    }
    assert api_members(props) == {
        "name": "p",
        "source": {"type": "S3", "buildspec": "version: 0.2"},
        "environment": {"environmentVariables": [{"name": "A", "value": "1"}]},
        "logsConfig": {"cloudWatchLogs": {"status": "ENABLED", "groupName": "g"}},
    }


def _tree(root: Path) -> None:
    for name in ("dist/a.txt", "dist/sub/b.txt", "other.txt"):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(name)


def test_artifact_files_honour_base_directory_and_discard_paths(tmp_path: Path):
    _tree(tmp_path)
    spec = Spec("p", {"artifacts": {"files": ["**/*"], "base-directory": "dist"}}, {})
    assert sorted(name for _, name in artifact_files(spec, tmp_path)) == ["a.txt", "sub/b.txt"]
    flat = Spec("p", {"artifacts": {"files": ["dist/**/*"], "discard-paths": "yes"}}, {})
    assert sorted(name for _, name in artifact_files(flat, tmp_path)) == ["a.txt", "b.txt"]


def test_a_stopped_guard_runs_no_further_phase(tmp_path: Path):
    seen: list[tuple[str, bool]] = []
    guard = Guard()
    guard.stop("STOPPED")
    spec = Spec("p", {"phases": {"build": {"commands": ["echo never"]}}}, {})
    log = io.StringIO()
    failure = run(spec, tmp_path, {}, log, guard, lambda n, f, ended: seen.append((n, ended)))
    assert failure is None and seen == [] and "never" not in log.getvalue()


def test_a_build_past_its_timeout_is_stopped_and_timed_out(tmp_path: Path):
    """timeoutInMinutes ends the running command's process group and the build TIMED_OUT (a
    fraction of a minute here; AWS's least is 5)."""
    ended: dict[str, object] = {}
    spec = Spec("p", {"phases": {"build": {"commands": ["sleep 30", "echo never"]}}}, {})

    def build(build_id: str, guard: Guard) -> None:
        log = io.StringIO()
        ended["failure"] = run(spec, tmp_path, {"PATH": "/usr/bin:/bin"}, log, guard)
        ended["status"], ended["why"], ended["log"] = guard.stopped, guard.reason(), log.getvalue()

    supervisor = Supervisor(build)  # type: ignore[arg-type]
    supervisor.start("p:1", 0.005)
    thread = supervisor.threads["p:1"]
    thread.join(20)
    supervisor.stop("p:1")  # ends the sleep if the timeout did not
    assert not thread.is_alive()
    assert ended["status"] == "TIMED_OUT"
    assert ended["why"] == "Build has timed out after 0.005 minutes."
    assert ended["failure"] is not None and "never" not in str(ended["log"])
    assert supervisor.threads == {} and supervisor.guards == {}


def test_a_python_runtime_other_than_the_kits_is_refused(tmp_path: Path):
    """Local builds run on the kit's own Python, so runtime-versions must name its version."""
    here = f"{sys.version_info.major}.{sys.version_info.minor}"
    for version, refused in ((here, False), ("2.7", True)):
        install = {"runtime-versions": {"python": version}, "commands": ["echo installed"]}
        spec = Spec("p", {"phases": {"install": install}}, {})
        log = io.StringIO()
        if refused:
            with pytest.raises(BuildspecError, match=rf"named '2\.7' of python.*versions: {here}$"):
                run(spec, tmp_path, {"PATH": "/usr/bin:/bin"}, log)
            assert "installed" not in log.getvalue()
        else:
            assert run(spec, tmp_path, {"PATH": "/usr/bin:/bin"}, log) is None
            assert "installed" in log.getvalue()


def _new_build(builds: Builds, build_id: str) -> None:
    builds.put(
        {
            "id": build_id,
            "projectName": "p",
            "phases": [{"phaseType": "QUEUED", "startTime": 0.0}],
            "currentPhase": "QUEUED",
            "buildStatus": "IN_PROGRESS",
            "buildComplete": False,
            "startTime": 0.0,
        }
    )


def test_phases_end_in_order_and_a_restart_ends_a_build_in_progress(tmp_path: Path):
    builds = Builds(Store(tmp_path / "state.db"))
    _new_build(builds, "p:1")
    builds.enter("p:1", "PROVISIONING")
    builds.finish("p:1", "SUCCEEDED")
    done = builds.find("p:1")
    assert done is not None
    assert [p["phaseType"] for p in done["phases"]] == [
        "QUEUED", "PROVISIONING", "FINALIZING", "COMPLETED",
    ]  # fmt: skip
    assert "phaseStatus" not in done["phases"][-1] and done["currentPhase"] == "COMPLETED"
    _new_build(builds, "p:2")
    builds.enter("p:2", "BUILD")
    builds.update("p:2", _stopping=True)
    _new_build(builds, "p:3")
    builds.enter("p:3", "BUILD")
    assert builds.resume() == ["p:2", "p:3"]
    stopped, failed = builds.find("p:2"), builds.find("p:3")
    assert stopped is not None and failed is not None
    assert stopped["buildStatus"] == "STOPPED" and failed["buildStatus"] == "FAILED"
    build_phase = next(p for p in failed["phases"] if p["phaseType"] == "BUILD")
    assert build_phase["phaseStatus"] == "FAULT"
    assert "restarted during the build" in build_phase["contexts"][0]["message"]
    assert builds.next_number("p") == 1 and builds.next_number("p") == 2
