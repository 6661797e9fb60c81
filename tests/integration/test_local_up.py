"""``cdlab local up`` and ``local env`` as a participant meets them: the hint ``up`` prints works
in a shell that has neither ``cdlab`` nor ``aws`` on its PATH; a running cloud is handed out only
if it runs as asked; a port that is taken or out of range, or a cloud that dies while starting,
is said plainly and leaves no state file; a load to an endpoint or a cloud that is not there is
refused before it starts; and the commands that start a cloud on their own say so. Each runs the
installed ``cdlab`` in an environment of its own (no variable of the test session's cloud)."""

from __future__ import annotations

import os
import shlex
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import free_port

pytestmark = pytest.mark.slow  # a cloud and a dozen cdlab processes: out of test-fast

CDLAB = str(Path(sys.executable).parent / "cdlab")
HINT = "point a shell at it with:  "


def environment(home: Path, **extra: str) -> dict[str, str]:
    """This process's environment without the kit's and AWS's variables (the test session's
    cloud may have set some), with ``CDLAB_HOME`` and ``extra``."""
    kept = {k: v for k, v in os.environ.items() if not k.startswith(("CDLAB_", "AWS_"))}
    return {**kept, "CDLAB_HOME": str(home), **extra}


def cdlab(*args: str, env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([CDLAB, *args], env=env, capture_output=True, text=True, timeout=timeout)


def exports(home: Path) -> dict[str, str]:
    """What ``eval "$(cdlab local env)"`` sets (each line ``export NAME=quoted value``)."""
    printed = cdlab("local", "env", env=environment(home)).stdout.splitlines()
    pairs = (line.removeprefix("export ").split("=", 1) for line in printed)
    return {name: shlex.split(value)[0] for name, value in pairs}


@dataclass(frozen=True)
class Started:
    home: Path
    port: int
    up: subprocess.CompletedProcess


@pytest.fixture(scope="module")
def started(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Started]:
    """A cloud started by ``cdlab local up`` at time scale 1 (asked for), latency fast."""
    home, port = tmp_path_factory.mktemp("local-up") / "home", free_port()
    env = environment(home, CDLAB_PORT=str(port), CDLAB_TIME_SCALE="1")
    try:
        up = cdlab("local", "up", env=env)
        assert up.returncode == 0, up.stderr
        yield Started(home, port, up)
    finally:
        cdlab("local", "down", env=environment(home))


def test_the_printed_hint_points_a_shell_without_cdlab_or_aws_on_its_path(
    started: Started,
) -> None:
    [hint] = [line for line in started.up.stdout.splitlines() if line.startswith(HINT)]
    bare = {**environment(started.home), "PATH": "/usr/bin:/bin"}
    listed = subprocess.run(
        ["bash", "-c", f"{hint.removeprefix(HINT)} && aws sagemaker list-endpoints"],
        env=bare, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert listed.returncode == 0, listed.stderr
    assert '"Endpoints": []' in listed.stdout


def test_up_status_and_the_log_say_the_time_scale_and_latency_profile(started: Started) -> None:
    url = f"http://127.0.0.1:{started.port}"
    assert started.up.stdout.startswith(f"local cloud up at {url} (pid ")
    assert "; time scale 1, latency fast) in " in started.up.stdout
    again = cdlab("local", "up", env=environment(started.home, CDLAB_TIME_SCALE="1"))
    assert again.returncode == 0, again.stderr
    assert again.stdout.startswith(f"local cloud already running at {url} (pid ")
    assert "time scale 1, latency fast" in again.stdout
    status = cdlab("local", "status", env=environment(started.home))
    assert status.returncode == 0 and "time scale 1, latency fast" in status.stdout
    log = cdlab("local", "logs", env=environment(started.home)).stdout
    assert "time scale 1, latency profile fast" in log


@pytest.mark.parametrize(
    ("asked", "running", "named"),
    [
        ({"CDLAB_TIME_SCALE": "60"}, "time scale 1", "time scale 60 asked for (CDLAB_TIME_SCALE)"),
        ({"CDLAB_LATENCY": "aws"}, "latency profile fast", "latency profile aws asked for"),
        ({"CDLAB_PORT": "other"}, "port {port}", "port {other} asked for (--port or CDLAB_PORT)"),
    ],
    ids=["time scale", "latency", "port"],
)
def test_up_refuses_a_running_cloud_with_other_settings(
    started: Started, asked: dict[str, str], running: str, named: str
) -> None:
    other = str(free_port())
    asked = {k: other if v == "other" else v for k, v in asked.items()}
    refused = cdlab("local", "up", env=environment(started.home, **asked))
    assert refused.returncode == 1
    assert running.format(port=started.port) in refused.stderr
    assert named.format(other=other) in refused.stderr
    assert "local down` (its endpoints come back at the next up)" in refused.stderr
    status = cdlab("local", "status", env=environment(started.home))
    assert f"up at http://127.0.0.1:{started.port} " in status.stdout  # still the one it was


def test_load_refuses_an_endpoint_that_does_not_exist_with_sagemakers_message(
    started: Started,
) -> None:
    env = {**environment(started.home), **exports(started.home)}
    refused = cdlab("load", "nosuch-endpoint", "--duration", "1", env=env)
    assert refused.returncode == 2 and refused.stdout == ""
    assert "cdlab load: ValidationException: Could not find endpoint" in refused.stderr


def test_load_says_when_no_cloud_answers(tmp_path: Path, started: Started) -> None:
    down = {**exports(started.home), "AWS_ENDPOINT_URL": f"http://127.0.0.1:{free_port()}"}
    refused = cdlab("load", "an-endpoint", "--duration", "1", env={**os.environ, **down})
    assert refused.returncode == 2 and refused.stdout == ""
    assert "No local cloud answers at http://127.0.0.1:" in refused.stderr
    assert "cdlab local up" in refused.stderr


def test_env_without_a_cloud_warns_on_stderr_and_prints_the_exports_alone(
    tmp_path: Path,
) -> None:
    printed = cdlab("local", "env", env=environment(tmp_path / "home"))
    assert printed.returncode == 0
    lines = printed.stdout.splitlines()
    assert all(line.startswith("export ") for line in lines)
    assert "export AWS_ENDPOINT_URL=http://127.0.0.1:4599" in lines
    assert "no local cloud is running" in printed.stderr
    assert "local up`" in printed.stderr


def test_env_puts_the_kits_scripts_first_on_the_path_once(tmp_path: Path) -> None:
    scripts = str(Path(sys.executable).parent)
    env = environment(tmp_path / "home", PATH=f"/usr/bin:{scripts}:/bin")
    printed = cdlab("local", "env", env=env).stdout.splitlines()
    assert [line for line in printed if line.startswith("export PATH=")] == [
        f"export PATH={scripts}:/usr/bin:/bin"
    ]


def test_a_port_another_program_holds_is_named_with_how_to_find_it(tmp_path: Path) -> None:
    home = tmp_path / "home"
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        refused = cdlab("local", "up", "--port", str(port), env=environment(home))
    assert refused.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}: Address already in use" in refused.stderr
    assert f"ss -ltnp 'sport = :{port}'" in refused.stderr and "CDLAB_PORT" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert not (home / "cloud.json").exists()


def test_a_port_out_of_range_is_refused_at_once(tmp_path: Path) -> None:
    home = tmp_path / "home"
    option = cdlab("local", "up", "--port", "99999", env=environment(home), timeout=20)
    assert option.returncode == 2
    assert "argument --port: must be a port number (1 to 65535), not '99999'" in option.stderr
    variable = cdlab("local", "up", env=environment(home, CDLAB_PORT="0"), timeout=20)
    assert variable.returncode == 1
    assert "CDLAB_PORT must be a port number (1 to 65535), not '0'" in variable.stderr
    assert not (home / "cloud.json").exists()


def test_a_bad_latency_profile_is_refused_before_starting(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = environment(home, CDLAB_PORT=str(free_port()), CDLAB_LATENCY="slow")
    refused = cdlab("local", "up", env=env, timeout=20)
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert "CDLAB_LATENCY must be one of fast, aws, got 'slow'" in refused.stderr
    assert not (home / "cloud.json").exists()


def test_a_cloud_that_exits_while_starting_leaves_no_state_file(tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / "state.db").mkdir(parents=True)  # the state store cannot open it
    refused = cdlab("local", "up", env=environment(home, CDLAB_PORT=str(free_port())))
    assert refused.returncode == 1
    assert "The local cloud exited with code 1 while starting" in refused.stderr
    assert not (home / "cloud.json").exists()


def test_approve_on_a_fresh_home_says_it_started_a_cloud_and_what_to_run(
    tmp_path: Path,
) -> None:
    home = tmp_path / "home"
    env = environment(home, CDLAB_PORT=str(free_port()))
    try:
        approve = cdlab("pipeline", "approve", env=env)
    finally:
        cdlab("local", "down", env=environment(home))
    assert approve.returncode == 1
    assert approve.stdout.startswith("started the local cloud at http://127.0.0.1:")
    assert "it keeps running after this command: stop it with `" in approve.stdout
    assert " local down`" in approve.stdout
    assert "no pipeline stack cdlab (Stack with id cdlab does not exist)" in approve.stderr
    assert " pipeline run`, or name the stack that runs it with --stack-name" in approve.stderr
