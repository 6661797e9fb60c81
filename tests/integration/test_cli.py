"""The ``cdlab`` commands, run as a participant runs them: the local cloud's, their help, and
what a user's mistake, a missing log or Ctrl-C gives (one ``cdlab:`` line, never a traceback)."""

from __future__ import annotations

import importlib.metadata
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from cdlab import cli, load
from tests.conftest import free_port
from tests.streamed import Streamed

CDLAB = str(Path(sys.executable).parent / "cdlab")


def cdlab(*args: str, home: Path, **env: str | None) -> subprocess.CompletedProcess[str]:
    """``cdlab ARGS`` with CDLAB_HOME ``home`` and the variables ``env`` over this process's
    (None: unset)."""
    merged = {**os.environ, "CDLAB_HOME": str(home), **env}
    variables = {name: value for name, value in merged.items() if value is not None}
    return subprocess.run(
        [CDLAB, *args], env=variables, capture_output=True, text=True, timeout=120
    )


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    """The one ``cdlab:`` line a failed command printed (and nothing else), without the prefix."""
    assert result.returncode == 1, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr and result.stdout == ""
    [line] = result.stderr.splitlines()
    assert line.startswith("cdlab: "), line
    return line.removeprefix("cdlab: ")


@pytest.mark.slow
def test_local_up_status_env_logs_down_reset(tmp_path: Path) -> None:
    home, port = tmp_path / "home", str(free_port())
    try:
        up = cdlab("local", "up", "--port", port, home=home)
        assert up.returncode == 0, up.stderr
        assert f"http://127.0.0.1:{port}" in up.stdout
        again = cdlab("local", "up", "--port", port, home=home)
        assert again.stdout.startswith(f"local cloud already running at http://127.0.0.1:{port} ")

        status = cdlab("local", "status", home=home)
        assert (
            status.returncode == 0 and "up at" in status.stdout and "endpoints: 0" in status.stdout
        )
        # the kit's own config and profile, as `local env` sets them: the shell's profile is not
        # looked for (README, "The local cloud")
        named = cdlab("local", "status", home=home, AWS_PROFILE="nope", AWS_DEFAULT_PROFILE="no")
        assert named.returncode == 0 and named.stdout == status.stdout, named.stderr
        refused = cdlab("local", "status", home=home, CDLAB_ACCESS_KEY_ID="AKIANOTAKEYOFTHIS",
                        CDLAB_SECRET_ACCESS_KEY="nope")  # fmt: skip
        said = one_line_error(refused)
        assert "refused" in said and "AKIANOTAKEYOFTHIS" in said
        assert "unset CDLAB_ACCESS_KEY_ID and CDLAB_SECRET_ACCESS_KEY" in said

        env = cdlab("local", "env", home=home).stdout
        assert f"export AWS_ENDPOINT_URL=http://127.0.0.1:{port}" in env
        exports = dict(line.removeprefix("export ").split("=", 1) for line in env.splitlines())
        shell = {**os.environ, **exports}
        listed = subprocess.run(
            [str(Path(sys.executable).parent / "aws"), "sagemaker", "list-endpoints"],
            env=shell, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert listed.returncode == 0 and '"Endpoints": []' in listed.stdout
        aws = [str(Path(sys.executable).parent / "aws"), "s3api"]
        made = subprocess.run([*aws, "create-bucket", "--bucket", "until-reset"], env=shell,
                              capture_output=True, text=True, timeout=60)  # fmt: skip
        assert made.returncode == 0, made.stderr
        assert oct((home / "credentials.json").stat().st_mode & 0o777) == "0o600"

        assert "local cloud listening" in cdlab("local", "logs", home=home).stdout
    finally:
        down = cdlab("local", "down", home=home)
    assert down.stdout.strip() == "local cloud stopped"
    assert cdlab("local", "status", home=home).returncode == 3
    assert cdlab("local", "down", home=home).stdout.strip() == "no local cloud was running"
    key = (home / "credentials.json").read_text()
    reset = cdlab("local", "reset", home=home)
    assert reset.returncode == 0 and not (home / "state.db").exists()
    assert reset.stdout.startswith(f"no local cloud was running; its state in {home} deleted")
    assert not (home / "s3").exists() and (home / "credentials.json").read_text() == key
    assert not (home / "console-token").exists()  # the stopped cloud's
    kept = {"credentials.json", "aws-config", "botocore-data"}  # what a pointed shell uses
    assert {p.name for p in home.iterdir()} == kept
    try:
        assert cdlab("local", "up", "--port", port, home=home).returncode == 0
        buckets = subprocess.run([*aws, "list-buckets"], env=shell, capture_output=True,
                                 text=True, timeout=60)  # fmt: skip
        assert buckets.returncode == 0 and "until-reset" not in buckets.stdout  # S3 was reset too
        reset = cdlab("local", "reset", home=home)
        assert reset.stdout.startswith(f"local cloud stopped; its state in {home} deleted")
    finally:
        cdlab("local", "down", home=home)
    again = cdlab("local", "reset", home=home)
    assert again.stdout.startswith(f"no local cloud was running; no state in {home}")
    nowhere = cdlab("local", "reset", home=tmp_path / "nowhere")
    assert (
        nowhere.stdout
        == f"no local cloud state in {tmp_path / 'nowhere'}: nothing to stop or delete\n"
    )
    assert not (tmp_path / "nowhere").exists()


@pytest.mark.slow
def test_logs_follow_waits_for_the_first_up_and_follows_across_a_reset(tmp_path: Path) -> None:
    home, port = tmp_path / "home", str(free_port())
    before = cdlab("local", "logs", home=home)
    said = one_line_error(before)
    assert (
        said.startswith(f"no log yet in {home / 'logs' / 'cloud.log'}")
        and "`cdlab local up`" in said
    )
    env = {**os.environ, "CDLAB_HOME": str(home)}
    try:
        with Streamed([CDLAB, "local", "logs", "-f"], env) as follow:
            follow.wait_for("no log yet", stream="err")  # as tail -F: it waits for the file
            assert cdlab("local", "up", "--port", port, home=home).returncode == 0
            follow.wait_for("local cloud listening")
            cdlab("local", "reset", home=home)
            follow.wait_for("was removed or replaced", stream="err")
            assert cdlab("local", "up", "--port", port, home=home).returncode == 0
            follow.wait_for("local cloud listening", count=2)  # the new log, from its start
            assert follow.interrupt() == 0
        assert not any("Traceback" in line for line in follow.err)
    finally:
        cdlab("local", "down", home=home)


LOCAL_OPTIONS = {"-h", "--help", "--home"}
COMMANDS = {  # each command line's arguments, as cdlab/cli.py defines them
    (): {"-h", "--help", "--version", "{local,console,load,pipeline}"},
    ("local",): {"-h", "--help", "{up,down,status,logs,reset,env}"},
    **{("local", action): LOCAL_OPTIONS | {"--port"} for action in ("up", "env")},
    **{("local", action): LOCAL_OPTIONS for action in ("down", "status", "reset")},
    ("local", "logs"): LOCAL_OPTIONS | {"-n", "--lines", "-f", "--follow"},
    ("console",): {"-h", "--help", "--home", "--no-browser"},
    ("load",): {"-h", "--help", "endpoint", "--rate", "--duration", "--steps", "--feature-dim"},
    ("pipeline",): {"-h", "--help", "{run,approve}"},
    ("pipeline", "run"): {"-h", "--help", "--stack-name", "--approve", "--keep-runs"},
    ("pipeline", "approve"): {"-h", "--help", "--stack-name", "--reject"},
}  # fmt: skip


EXIT_STATUSES = {("local", "status"), ("local", "logs"), ("console",), ("load",),
                 ("pipeline", "run"), ("pipeline", "approve")}  # fmt: skip
FREE_TEXT = {"--home", "--stack-name"}  # options whose value may be any text
BAD_VALUES = {  # each option whose value argparse checks: a value it refuses
    ("local", "up"): {"--port": "x"},
    ("local", "env"): {"--port": "65536"},
    ("local", "logs"): {"--lines": "many"},
    ("load",): {"--rate": "fast", "--duration": "1m", "--steps": "1,a", "--feature-dim": "x"},
    ("pipeline", "run"): {"--keep-runs": "x"},
}


def entries(help_text: str) -> list[tuple[str, str]]:
    """Each argument ``--help`` lists under "positional arguments" and "options": its first
    column (``-n LINES, --lines LINES``) and its help text (on that line or the next ones)."""
    found: list[tuple[str, str]] = []
    section = None
    for line in help_text.splitlines():
        if line and not line.startswith(" "):
            section = line if line in ("positional arguments:", "options:") else None
        elif section and line.startswith("  ") and not line.startswith("   "):
            invocation, _, text = line.strip().partition("  ")
            found.append((invocation, text.strip()))
        elif section and found and line.startswith(" " * 8):  # the help text, continued
            found[-1] = (found[-1][0], f"{found[-1][1]} {line.strip()}".strip())
    return found


def arguments(help_text: str, valued: bool = False) -> set[str]:
    """The argument names of :func:`entries`, without metavars (``-n LINES, --lines LINES``:
    ``-n`` and ``--lines``); ``valued``: only the long options that take a value."""
    forms = [form for invocation, _ in entries(help_text) for form in invocation.split(", ")]
    if valued:
        return {form.split(" ")[0] for form in forms if form.startswith("--") and " " in form}
    return {form.split(" ")[0] for form in forms}


def shown_help(command: tuple[str, ...], capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit) as exit_status:
        cli.main([*command, "--help"])
    assert exit_status.value.code == 0
    return capsys.readouterr().out


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(("cdlab", *c)))
def test_help_lists_each_commands_real_arguments(
    command: tuple[str, ...], capsys: pytest.CaptureFixture[str]
) -> None:
    shown = shown_help(command, capsys)
    assert shown.startswith(f"usage: {' '.join(('cdlab', *command))} ")
    assert arguments(shown) == COMMANDS[command]
    undocumented = [name for name, text in entries(shown) if not text and name[0] != "{"]
    assert undocumented == []  # a subcommand's choices: each of its lines has its own help
    paragraphs = shown.split("\n\n")
    assert not paragraphs[1].startswith(("positional arguments:", "options:"))  # a description
    assert ("Exit status: " in shown) == (command in EXIT_STATUSES)
    assert arguments(shown, valued=True) - FREE_TEXT == set(BAD_VALUES.get(command, {}))


@pytest.mark.parametrize(
    ("command", "option", "value"),
    [(c, o, v) for c, values in BAD_VALUES.items() for o, v in values.items()],
    ids=lambda part: " ".join(part) if isinstance(part, tuple) else part,
)
def test_an_argument_error_says_what_is_wanted_in_plain_words(
    command: tuple[str, ...], option: str, value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    positional = ["my-endpoint"] if command == ("load",) else []
    with pytest.raises(SystemExit) as exit_status:
        cli.main([*command, *positional, option, value])
    assert exit_status.value.code == 2
    said = capsys.readouterr().err.splitlines()[-1]
    assert re.search(rf"argument (-\w/)?{option}: must be .*, not '?{re.escape(value)}'?$", said)
    assert "<lambda>" not in said and not re.search(r"invalid \S+ value", said)  # no type names


def test_version_is_the_installed_kits() -> None:
    shown = subprocess.run([CDLAB, "--version"], capture_output=True, text=True, timeout=60)
    assert shown.returncode == 0
    assert shown.stdout == f"cdlab {importlib.metadata.version('cdlab')}\n"


NO_AWS = {"AWS_ACCESS_KEY_ID": None, "AWS_SECRET_ACCESS_KEY": None, "AWS_SESSION_TOKEN": None,
          "AWS_PROFILE": None, "AWS_DEFAULT_PROFILE": None, "AWS_ENDPOINT_URL": None,
          "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": None,
          "AWS_CONTAINER_CREDENTIALS_FULL_URI": None, "AWS_WEB_IDENTITY_TOKEN_FILE": None,
          "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/credentials",
          "AWS_CONFIG_FILE": "/nonexistent/config", "AWS_EC2_METADATA_DISABLED": "true",
          "AWS_DEFAULT_REGION": "us-east-1"}  # fmt: skip
USER_ERRORS = {  # what a user did: (environment, command line, what the one line says)
    "an unknown target": ({"CDLAB_TARGET": "foo"}, ("pipeline", "approve"),
                          "target must be 'local' or 'aws', not 'foo': set CDLAB_TARGET"),
    "AWS without credentials": ({**NO_AWS, "CDLAB_TARGET": "aws"}, ("pipeline", "approve"),
                                "target 'aws' is not reachable: Unable to locate credentials. "
                                "Configure credentials"),
    "a port that is no number": ({"CDLAB_PORT": "abc"}, ("--help",),
                                 "CDLAB_PORT must be a port number (1 to 65535), not 'abc'"),
    "a time scale that is no number": ({"CDLAB_TIME_SCALE": "abc"}, ("local", "up"),
                                       "The local cloud cannot start: CDLAB_TIME_SCALE must be a "
                                       "positive number, not 'abc'."),
    "an invocation timeout of 0": ({"CDLAB_INVOCATION_TIMEOUT": "0"}, ("local", "up"),
                                   "The local cloud cannot start: CDLAB_INVOCATION_TIMEOUT must be "
                                   "a positive number, not '0'."),
}  # fmt: skip


@pytest.mark.parametrize("case", USER_ERRORS)
def test_a_users_error_is_one_line_that_names_the_fix(case: str, tmp_path: Path) -> None:
    env, command, says = USER_ERRORS[case]
    assert one_line_error(cdlab(*command, home=tmp_path, **env)).startswith(says)


@pytest.mark.slow  # an endpoint of its own, out of test-fast
def test_cdlab_load_asks_for_the_endpoint_once(deploy, aws_env, monkeypatch) -> None:
    """The command checks the endpoint (DescribeEndpoint) before its first line; the load it
    then runs does not ask again."""
    endpoint = deploy("loadonce", {"AllTraffic": (1, 1, 1)})
    for key, value in aws_env.items():
        monkeypatch.setenv(key, value)
    asked: list[str] = []
    check = load.check_endpoint

    def counted(name: str, *args: object, **kwargs: object) -> None:
        asked.append(name)
        check(name, *args, **kwargs)

    monkeypatch.setattr(load, "check_endpoint", counted)
    command = ["load", endpoint, "--rate", "4", "--duration", "0.5", "--feature-dim", "20"]
    assert cli.main(command) == 0
    assert asked == [endpoint]


@pytest.mark.slow  # an endpoint of its own, out of test-fast
def test_ctrl_c_stops_load_with_the_summary_so_far(deploy, aws_env: dict[str, str]) -> None:
    endpoint = deploy("ctrlc", {"AllTraffic": (1, 1, 1)})
    command = [CDLAB, "load", endpoint, "--rate", "20", "--duration", "600", "--feature-dim", "20"]
    with Streamed(command, {**os.environ, **aws_env}) as running:
        running.wait_for("Ctrl-C stops it", stream="err")
        assert running.interrupt() == 130
    [summary] = running.out
    assert re.match(r"\d+ requests in [\d.]+ s .*: \d+ ok, 0 failed", summary), summary
    assert "interrupted" in running.err[-1] and not any("Traceback" in line for line in running.err)
