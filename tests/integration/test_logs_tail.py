"""``aws logs tail`` through the kit's AWS CLI v1 against the local cloud, as a participant types
it: the lines of a group's streams in each format, filtered by pattern, by stream names and by
stream name prefix (not both), from ``--since``; an unknown group's error; ``--follow`` printing
an event put while it runs, until Ctrl-C; and a shell that named another profile before
``eval "$(cdlab local env)"``."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from cdlab.localcloud import control
from tests.conftest import AWS_CLI
from tests.polling import poll
from tests.streamed import WITH_CTRL_C

EVENTS = {  # stream: (milliseconds before now, message)
    "app-1": [(120_000, "starting build"), (119_000, "Running train.py")],
    "app-2": [(119_500, "Match Rate: 0.91")],
    "other": [(118_500, '{"status": "ok"}')],
    "old": [(2 * 3600_000, "two hours ago")],
}


@dataclass(frozen=True)
class Group:
    name: str
    now: int  # milliseconds: a whole second and 123 ms, so that no event falls on a second

    def moment(self, ago: int) -> datetime:
        return datetime.fromtimestamp((self.now - ago) / 1000, UTC)

    def stamp(self, ago: int) -> str:
        """The detailed format's timestamp of the event ``ago`` ms before now."""
        return self.moment(ago).isoformat(timespec="microseconds")

    def short(self, ago: int) -> str:
        return self.moment(ago).strftime("%Y-%m-%dT%H:%M:%S")


@pytest.fixture(scope="module")
def group(client) -> Iterator[Group]:
    logs, made = client("logs"), Group("/cdlab/test/logs-tail", int(time.time()) * 1000 + 123)
    logs.create_log_group(logGroupName=made.name)
    for stream, events in EVENTS.items():
        logs.create_log_stream(logGroupName=made.name, logStreamName=stream)
        logs.put_log_events(
            logGroupName=made.name,
            logStreamName=stream,
            logEvents=[{"timestamp": made.now - ago, "message": m} for ago, m in events],
        )
    yield made
    logs.delete_log_group(logGroupName=made.name)


def test_detailed_lines_are_timestamp_stream_message_in_time_order(aws, group: Group) -> None:
    shown = aws("logs", "tail", group.name).stdout
    assert shown.splitlines() == [
        f"{group.stamp(120_000)} app-1 starting build",
        f"{group.stamp(119_500)} app-2 Match Rate: 0.91",
        f"{group.stamp(119_000)} app-1 Running train.py",
        f'{group.stamp(118_500)} other {{"status": "ok"}}',
    ]  # the default --since 10m leaves the line of two hours ago out


def test_since_reaches_back_as_far_as_asked(aws, group: Group) -> None:
    assert "two hours ago" in aws("logs", "tail", group.name, "--since", "3h").stdout
    assert "two hours ago" not in aws("logs", "tail", group.name, "--since", "1h").stdout
    since = group.moment(119_000).isoformat()
    assert aws("logs", "tail", group.name, "--since", since).stdout.splitlines() == [
        f"{group.stamp(119_000)} app-1 Running train.py",
        f'{group.stamp(118_500)} other {{"status": "ok"}}',
    ]


def test_short_and_json_formats(aws, group: Group) -> None:
    short = aws("logs", "tail", group.name, "--format", "short").stdout.splitlines()
    assert short[0] == f"{group.short(120_000)} starting build"
    assert len(short) == 4
    pretty = aws("logs", "tail", group.name, "--format", "json").stdout
    assert pretty.endswith(f'{group.stamp(118_500)} other \n{{\n    "status": "ok"\n}}\n')


def test_filter_pattern_and_stream_names_narrow_the_lines(aws, group: Group) -> None:
    matched = aws("logs", "tail", group.name, "--filter-pattern", "Running").stdout
    assert matched == f"{group.stamp(119_000)} app-1 Running train.py\n"
    streams = aws("logs", "tail", group.name, "--log-stream-names", "app-2", "other").stdout
    assert [line.split(" ")[1] for line in streams.splitlines()] == ["app-2", "other"]


def test_filter_pattern_operators_any_of_and_none_of(aws, group: Group) -> None:
    either = aws("logs", "tail", group.name, "--filter-pattern", "?Running ?Match").stdout
    assert either.splitlines() == [
        f"{group.stamp(119_500)} app-2 Match Rate: 0.91",
        f"{group.stamp(119_000)} app-1 Running train.py",
    ]
    without = aws("logs", "tail", group.name, "--filter-pattern", '-Running -"Rate:"').stdout
    assert [line.split(" ", 2)[2] for line in without.splitlines()] == [
        "starting build",
        '{"status": "ok"}',
    ]


def test_a_filter_pattern_not_evaluated_locally_is_refused(aws, group: Group) -> None:
    failed = aws("logs", "tail", group.name, "--filter-pattern", '{ $.status = "ok" }', check=False)
    assert failed.returncode == 255 and failed.stdout == ""
    assert failed.stderr.strip().startswith(
        "An error occurred (InvalidParameterException) when calling the FilterLogEvents "
        "operation: The local cloud does not evaluate JSON patterns ({ ... }) in a filter pattern"
    )
    malformed = aws("logs", "tail", group.name, "--filter-pattern", "{ $.status = ", check=False)
    assert malformed.stderr.strip().endswith(
        "operation: If a filter pattern starts with '{' it must end with '}'"
    )


def test_stream_name_prefix_narrows_the_lines(aws, group: Group) -> None:
    shown = aws("logs", "tail", group.name, "--log-stream-name-prefix", "app-").stdout
    assert shown.splitlines() == [
        f"{group.stamp(120_000)} app-1 starting build",
        f"{group.stamp(119_500)} app-2 Match Rate: 0.91",
        f"{group.stamp(119_000)} app-1 Running train.py",
    ]
    both = ("--log-stream-name-prefix", "app-", "--log-stream-names", "other")
    failed = aws("logs", "tail", group.name, *both, check=False)
    assert failed.returncode == 255 and failed.stdout == ""
    assert "(InvalidParameterException) when calling the FilterLogEvents" in failed.stderr


def test_an_unknown_group_is_the_services_error(aws) -> None:
    failed = aws("logs", "tail", "/cdlab/test/no-such-group", check=False)
    assert failed.returncode == 255 and failed.stdout == ""
    assert failed.stderr.strip() == (
        "An error occurred (ResourceNotFoundException) when calling the FilterLogEvents "
        "operation: The specified log group does not exist."
    )


def test_help_documents_the_command(aws) -> None:
    shown = aws("logs", "tail", "help").stdout
    assert "Tails the logs for a CloudWatch Logs group." in shown
    assert "[--log-stream-name-prefix <value>]" in shown and "[--follow]" in shown


@pytest.mark.slow  # waits out the CLI's 5-second polls
def test_follow_prints_new_events_until_ctrl_c(client, aws_env: dict[str, str]) -> None:
    logs, group = client("logs"), "/cdlab/test/logs-tail-follow"
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName="live")

    def put(message: str) -> None:
        event = {"timestamp": int(time.time() * 1000), "message": message}
        logs.put_log_events(logGroupName=group, logStreamName="live", logEvents=[event])

    put("before the tail")
    command = [AWS_CLI, "logs", "tail", group, "--follow", "--format", "short"]
    process = subprocess.Popen(
        [sys.executable, "-c", WITH_CTRL_C, *command], env={**os.environ, **aws_env},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(process.stdout.readline, "")))
    reader.start()
    try:
        poll(lambda: list(lines), until=lambda seen: len(seen) == 1, what="the first event")
        put("put while it follows")
        poll(lambda: list(lines), until=lambda seen: len(seen) == 2, what="the new event")
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 0 and process.stderr.read() == ""
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        reader.join()
        logs.delete_log_group(logGroupName=group)
    assert [line.split(" ", 1)[1] for line in lines] == [
        "before the tail\n",
        "put while it follows\n",
    ]  # once each: the poll after the first starts at its timestamp, and leaves it out


def test_a_shell_naming_another_profile_still_tails(cloud: control.Cloud, group: Group) -> None:
    bin_dir = Path(AWS_CLI).parent
    script = (
        "export AWS_PROFILE=work AWS_DEFAULT_PROFILE=work\n"
        f'eval "$({bin_dir / "cdlab"} local env --home {cloud.home} --port {cloud.port})"\n'
        f"{AWS_CLI} logs tail {group.name} --log-stream-names other --format short\n"
    )
    ran = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=120)
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout == f'{group.short(118_500)} {{"status": "ok"}}\n'
