"""Start, stop and find the local cloud process (the ``cdlab local`` commands use this), and what
a client needs to talk to it.

The running cloud is described by ``<home>/cloud.json`` (pid, port). It is stopped by that pid,
after checking the pid still belongs to a local cloud of this home: never by name. :func:`up`
starts it after checking its port is free, or hands out the one running, unless that one runs
with another port, time scale or latency profile than asked for. The home also
keeps the cloud's access key (``credentials.json``, made at first use), the waiter models that
poll every second (``botocore-data``, found through ``AWS_DATA_PATH``), the AWS config file of the
clients (``aws-config``, found through ``AWS_CONFIG_FILE``) and the cloud's log;
:func:`client_environment` is the environment that points boto3, the AWS CLI and the SageMaker
SDK at it.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import botocore.loaders

from cdlab import config
from cdlab.localcloud import latency
from cdlab.localcloud.sagemaker import quotas

SERVER_MODULE = "cdlab.localcloud.server"
LOCAL_WAITER_DELAY_SECONDS = 1
# another principal's key for the clients to sign with, instead of the administrator's
ACCESS_KEY_VARIABLE, SECRET_KEY_VARIABLE = "CDLAB_ACCESS_KEY_ID", "CDLAB_SECRET_ACCESS_KEY"
CLI_CONFIG_NAME = "aws-config"  # the local target's AWS config file, in the cloud's home
CLI_PROFILE = "default"  # the profile of that file the clients use, whatever the shell named
PROFILE_VARIABLES = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE")  # botocore reads both


class CloudError(RuntimeError):
    pass


@dataclass(frozen=True)
class Cloud:
    home: Path
    port: int
    pid: int
    time_scale: float = 1.0  # as its /_cdlab/health reports them
    latency: str = "fast"
    sagemaker_quotas: str = "none"  # as CDLAB_SAGEMAKER_QUOTAS names them (quotas.setting)
    started: bool = False  # by the call that returned it (else it was running already)

    @property
    def url(self) -> str:
        return f"http://{config.LOOPBACK}:{self.port}"

    def described(self) -> str:
        return (
            f"at {self.url} (pid {self.pid}, state in {self.home}; "
            f"time scale {self.time_scale:g}, latency {self.latency})"
        )


def free_port() -> int:
    """A loopback port nothing listens on now (for a local cloud of its own: tests, benchmarks)."""
    with socket.socket() as s:
        s.bind((config.LOOPBACK, 0))
        return s.getsockname()[1]


def children(parent: int) -> list[tuple[int, list[bytes]]]:
    """(pid, command line) of each process whose parent is ``parent`` (for tests, benchmarks)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        with contextlib.suppress(OSError, IndexError, ValueError):
            stat = (proc / "stat").read_text()
            if int(stat.rsplit(")", 1)[1].split()[1]) == parent:
                found.append((int(proc.name), (proc / "cmdline").read_bytes().split(b"\0")))
    return found


def state_file(home: Path) -> Path:
    return home / "cloud.json"


LOCAL_KEY_PREFIX = "AKIACDLAB"  # every local cloud's access key id starts so
# What a local cloud keeps under its home, which `cdlab local reset` deletes: all but the access
# key (credentials.json), the waiter overrides (botocore-data) and the AWS config (aws-config),
# which a shell that ran `eval "$(cdlab local env)"` keeps using, across a reset too.
STATE = (
    "state.db", "state.db-wal", "state.db-shm", "cloud.json", "artifacts", "instances", "logs",
    "s3", "training", "logs-archive", "pipeline", "notebooks", "codebuild", "codepipeline",
    "console-token",
)  # fmt: skip


def log_file(home: Path) -> Path:
    return home / "logs" / "cloud.log"


def credentials(home: Path) -> tuple[str, str]:
    """The kit's local access key, made at first use and readable by the user only."""
    path = home / "credentials.json"
    if not path.exists():
        home.mkdir(parents=True, exist_ok=True)
        keys = {
            "aws_access_key_id": LOCAL_KEY_PREFIX + secrets.token_hex(6).upper(),
            "aws_secret_access_key": secrets.token_urlsafe(30),
        }
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(keys, f)
    keys = json.loads(path.read_text())
    return keys["aws_access_key_id"], keys["aws_secret_access_key"]


def write_waiters(home: Path) -> Path:
    """SageMaker and CloudFormation waiters that poll the local cloud every second, not every 30 s.

    botocore reads model files from ``AWS_DATA_PATH`` before its own; the same total wait (delay
    times attempts) is kept, only the polling is finer, since a local endpoint is ready in seconds.
    """
    data_path = home / "botocore-data"
    loader = botocore.loaders.Loader()
    for service in ("sagemaker", "cloudformation"):
        api_version = loader.determine_latest_version(service, "waiters-2")
        waiters = loader.load_service_model(service, "waiters-2", api_version)
        for waiter in waiters["waiters"].values():
            total = waiter["delay"] * waiter["maxAttempts"]
            waiter["delay"] = LOCAL_WAITER_DELAY_SECONDS
            waiter["maxAttempts"] = max(1, total // LOCAL_WAITER_DELAY_SECONDS)
        target = data_path / service / api_version / "waiters-2.json"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(waiters, indent=1))
    return data_path


def write_cli_config(home: Path) -> Path:
    """The local target's AWS config file: the region; ``cli_binary_format``, so that the CLI v2
    sends a blob given inline (``invoke-endpoint --body '{...}'``) as is, as v1 does, rather than
    decoding it as base64; and the AWS CLI v1 plugin that gives it ``aws logs tail``
    (:mod:`cdlab.awscli_logs_tail`; the CLI v2 has the command and ignores the entry). Written
    again only when it changed, and whole (a new file renamed over the old), as a client may be
    reading it."""
    path = home / CLI_CONFIG_NAME
    text = (
        f"[{CLI_PROFILE}]\nregion = {config.region()}\ncli_binary_format = raw-in-base64-out\n\n"
        "[plugins]\ncdlab_logs_tail = cdlab.awscli_logs_tail\n"
    )
    if not path.exists() or path.read_text() != text:
        partial = path.with_name(f".{CLI_CONFIG_NAME}.{os.getpid()}")
        partial.write_text(text)
        os.replace(partial, path)
    return path


def client_environment(home: Path, port: int) -> dict[str, str]:
    """The variables that point boto3, the AWS CLI and the SageMaker SDK at the local cloud.
    They sign with the kit's key, the account's administrator, unless ``CDLAB_ACCESS_KEY_ID``
    and ``CDLAB_SECRET_ACCESS_KEY`` name another principal's key (an IAM user of the local
    cloud, such as the participant of :mod:`cdlab.localcloud.participant`).

    The AWS config file is the kit's (:func:`write_cli_config`), not ``~/.aws/config``, and the
    profile is its ``default``: a profile the shell names (``AWS_PROFILE``) would be missing
    from that file and fail every call, and the key, region and endpoint come from here anyway."""
    key_id, secret = credentials(home)
    if os.environ.get(ACCESS_KEY_VARIABLE) and os.environ.get(SECRET_KEY_VARIABLE):
        key_id, secret = os.environ[ACCESS_KEY_VARIABLE], os.environ[SECRET_KEY_VARIABLE]
    return {
        "AWS_ENDPOINT_URL": f"http://{config.LOOPBACK}:{port}",
        "AWS_ACCESS_KEY_ID": key_id,
        "AWS_SECRET_ACCESS_KEY": secret,
        "AWS_DEFAULT_REGION": config.region(),
        "AWS_DATA_PATH": str(write_waiters(home)),
        "AWS_CONFIG_FILE": str(write_cli_config(home)),
        **dict.fromkeys(PROFILE_VARIABLES, CLI_PROFILE),
        "CDLAB_HOME": str(home),
        "CDLAB_PORT": str(port),
    }


def _health(port: int, timeout: float = 1.0) -> dict[str, Any] | None:
    """What the local cloud on ``port`` reports (pid, time scale, latency profile), or None if
    nothing healthy answers."""
    url = f"http://{config.LOOPBACK}:{port}/_cdlab/health"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            health = json.load(r)
            health["pid"] = int(health["pid"])
            return dict(health)
    except (OSError, ValueError, KeyError, TypeError, urllib.error.URLError):
        return None


def _cloud(home: Path, port: int, health: dict[str, Any], started: bool = False) -> Cloud:
    scale, profile = float(health.get("time_scale", 1)), str(health.get("latency", "fast"))
    limits = str(health.get("sagemaker_quotas", "none"))
    return Cloud(home, port, health["pid"], scale, profile, limits, started)


def _owns(pid: int, home: Path) -> bool:
    """Whether ``pid`` is a local cloud serving ``home`` (guards against a reused pid)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return SERVER_MODULE.encode() in cmdline and str(home).encode() in cmdline


def running(home: Path) -> Cloud | None:
    try:
        info = json.loads(state_file(home).read_text())
    except (OSError, ValueError):
        return None
    health = _health(info["port"]) if _owns(info["pid"], home) else None
    if health is None or health["pid"] != info["pid"]:
        return None
    return _cloud(home, info["port"], health)


def up(home: Path, port: int | None, timeout: float = 30.0, *, with_parent: bool = False) -> Cloud:
    """Start the local cloud in the background on ``port`` (None: the default one), or return
    the one of ``home`` already running if it runs as asked: on ``port`` if one is given, at the
    time scale and latency profile the environment names if it names them. It runs until
    stopped, or, ``with_parent``, until this process exits (a test session's cloud must not
    outlive a session that is killed before its fixtures can stop it)."""
    asked = _asked(port)
    current = running(home)
    if current is not None:
        _check_same(current, asked)
        return current
    port = port or config.DEFAULT_PORT
    _check_port(port)
    try:
        credentials(home)
        write_waiters(home)
        log_file(home).parent.mkdir(parents=True, exist_ok=True)
        with open(log_file(home), "ab") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", SERVER_MODULE, "--home", str(home), "--port", str(port)]
                + (["--parent-pid", str(os.getpid())] if with_parent else []),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,
            )
        state_file(home).write_text(json.dumps({"pid": process.pid, "port": port}))
    except OSError as e:
        raise CloudError(
            f"The local cloud cannot keep its state in {home}: {e.strerror or e}. "
            "Free some space there, or set CDLAB_HOME to a writable directory."
        ) from e
    return _started(home, port, process, timeout)


# what a cloud's settings are called, and where they are asked for
SETTINGS = {
    "port": ("port", "--port or CDLAB_PORT"),
    "time_scale": ("time scale", "CDLAB_TIME_SCALE"),
    "latency": ("latency profile", "CDLAB_LATENCY"),
    "sagemaker_quotas": ("SageMaker instance quotas", quotas.VARIABLE),
}


def _asked(port: int | None) -> dict[str, Any]:
    """The settings asked for: ``port`` if given, the time scale, latency profile and SageMaker
    instance quotas if the environment names them (each checked: a cloud would not start with a
    wrong one)."""
    try:
        if port is not None:
            config.port_number(str(port))
        scale, profile = config.time_scale(), latency.profile()
        config.invocation_timeout()  # the instances' (a wrong one fails them all)
        limits = quotas.setting(quotas.parse(os.environ.get(quotas.VARIABLE, "")))
    except ValueError as e:
        raise CloudError(f"The local cloud cannot start: {e}.") from None
    asked: dict[str, Any] = {} if port is None else {"port": port}
    if os.environ.get("CDLAB_TIME_SCALE"):
        asked["time_scale"] = scale
    if os.environ.get("CDLAB_LATENCY"):
        asked["latency"] = profile
    if os.environ.get(quotas.VARIABLE):
        asked["sagemaker_quotas"] = limits
    return asked


def _said(values: dict[str, Any], names: list[str]) -> str:
    """``time scale 60, port 4601``: the settings ``names`` as ``values`` has them."""
    shown = {n: format(v, "g") if isinstance(v, float) else v for n, v in values.items()}
    return ", ".join(f"{SETTINGS[n][0]} {shown[n]}" for n in names)


def _check_same(cloud: Cloud, asked: dict[str, Any]) -> None:
    """Refuse to hand out ``cloud`` as if it ran with the settings ``asked``, if it does not."""
    runs = {
        "port": cloud.port,
        "time_scale": cloud.time_scale,
        "latency": cloud.latency,
        "sagemaker_quotas": cloud.sagemaker_quotas,
    }
    differ = [name for name, value in asked.items() if runs[name] != value]
    if differ:
        raise CloudError(
            f"The local cloud of {cloud.home} already runs with {_said(runs, differ)}, not the "
            f"{_said(asked, differ)} asked for ({', '.join(SETTINGS[n][1] for n in differ)}). "
            f"Stop it first with `{config.cdlab_command()} local down` (its endpoints come "
            "back at the next up), then start it again."
        )


def _check_port(port: int) -> None:
    """Refuse to start on ``port`` if a local cloud of another home or another program holds
    it (the server binds as this does: with SO_REUSEADDR, so a closed one is no obstacle)."""
    if _health(port) is not None:
        raise CloudError(
            f"Another local cloud (of another CDLAB_HOME) already listens on port {port}: stop "
            "it, or choose another port for this one with --port or CDLAB_PORT."
        )
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((config.LOOPBACK, port))
        except OSError as e:
            raise CloudError(
                f"The local cloud cannot listen on {config.LOOPBACK}:{port}: {e.strerror}. See "
                f"which program holds the port with `ss -ltnp 'sport = :{port}'`, or choose "
                "another port with --port or CDLAB_PORT (the clients find it through "
                "`cdlab local env`)."
            ) from None


def _started(home: Path, port: int, process: subprocess.Popen[bytes], timeout: float) -> Cloud:
    """The cloud ``process`` once it answers on ``port``; if it exits first or does not answer
    within ``timeout`` seconds, no state file is left to say it runs (one another ``up`` of
    ``home`` wrote meanwhile, naming its own cloud, is kept)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            _forget(home, process.pid)
            raise CloudError(
                f"The local cloud exited with code {process.returncode} while starting:\n"
                + tail(home, 15)
            )
        health = _health(port, timeout=0.5)
        if health is not None and health["pid"] == process.pid:
            return _cloud(home, port, health, started=True)
        time.sleep(0.1)
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    _forget(home, process.pid)
    raise CloudError(f"The local cloud did not answer within {timeout:.0f} s:\n" + tail(home, 15))


def _forget(home: Path, pid: int) -> None:
    """Delete the state file if it names the process ``pid``: not one that names the cloud
    another ``up`` of ``home`` started meanwhile (which bound the port this one could not)."""
    try:
        named = json.loads(state_file(home).read_text()).get("pid")
    except (OSError, ValueError, AttributeError):
        return
    if named == pid:
        state_file(home).unlink(missing_ok=True)


def down(home: Path, timeout: float = 30.0) -> bool:
    """Stop the local cloud of ``home``; False if none was running."""
    try:
        info = json.loads(state_file(home).read_text())
    except (OSError, ValueError):
        return False
    pid = info["pid"]
    if not _owns(pid, home):
        state_file(home).unlink(missing_ok=True)
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and _owns(pid, home):
        time.sleep(0.05)
        _reap(pid)
    if _owns(pid, home):
        os.kill(pid, signal.SIGKILL)
        _reap(pid)
    state_file(home).unlink(missing_ok=True)
    return True


def _reap(pid: int) -> None:
    """Collect the exit status if the cloud is our own child (as in tests), so no zombie stays."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def tail(home: Path, lines: int = 50) -> str:
    try:
        return "\n".join(log_file(home).read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log yet)"
