"""``aws logs tail`` for the CLI v1: ``--since`` as v2 reads it, the request it starts with, each
format as v2 prints it, and the plugin found through the local target's config file."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import botocore.session
import pytest
from awscli.plugin import load_plugins

from cdlab.awscli_logs_tail import (
    TailCommand,
    awscli_initialize,
    filter_arguments,
    format_event,
    to_epoch_millis,
)
from cdlab.localcloud import control

NOW = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)
NOW_MS = 1714564800000
EVENT = {"timestamp": 1514766583079, "logStreamName": "stream_name", "message": "my message"}
GREEN, CYAN, RESET = "\x1b[32m", "\x1b[36m", "\x1b[0m"


@pytest.mark.parametrize(
    ("since", "seconds"),
    [("30s", 30), ("10m", 600), ("1h", 3600), ("2d", 2 * 86400), ("1w", 7 * 86400), ("0m", 0)],
)
def test_a_relative_since_is_that_long_before_now(since: str, seconds: int) -> None:
    assert to_epoch_millis(since, NOW) == NOW_MS - seconds * 1000


@pytest.mark.parametrize(
    ("since", "millis"),
    [
        ("2024-05-01T12:00:00Z", NOW_MS),
        ("2024-05-01T12:00:00", NOW_MS),  # no zone: UTC
        ("2024-05-01T14:00:00+02:00", NOW_MS),
        ("2024-05-01T12:00:00.250Z", NOW_MS + 250),
        ("2024-05-01", NOW_MS - 12 * 3600 * 1000),
    ],
)
def test_a_timestamp_since_is_that_moment(since: str, millis: int) -> None:
    assert to_epoch_millis(since, NOW) == millis


def test_a_since_neither_relative_nor_a_timestamp_is_an_error() -> None:
    with pytest.raises(ValueError, match="Invalid timestamp"):
        to_epoch_millis("ten minutes", NOW)
    with pytest.raises(ValueError, match="Invalid timestamp"):
        to_epoch_millis("10y", NOW)


def test_the_request_is_interleaved_from_since_with_only_the_filters_given() -> None:
    assert filter_arguments("/g", "1h", now=NOW) == {
        "logGroupName": "/g",
        "interleaved": True,
        "startTime": NOW_MS - 3600 * 1000,
    }
    assert filter_arguments("/g", None, "ERROR", ["a", "b"], None, NOW) == {
        "logGroupName": "/g",
        "interleaved": True,
        "filterPattern": "ERROR",
        "logStreamNames": ["a", "b"],
    }
    assert filter_arguments("/g", None, stream_prefix="app-")["logStreamNamePrefix"] == "app-"


def test_detailed_is_microsecond_timestamp_stream_and_message() -> None:
    assert format_event(EVENT) == "2018-01-01T00:29:43.079000+00:00 stream_name my message\n"
    assert format_event(EVENT, "detailed", colorize=True) == (
        f"{GREEN}2018-01-01T00:29:43.079000+00:00{RESET} {CYAN}stream_name{RESET} my message\n"
    )


def test_short_is_second_timestamp_and_message() -> None:
    assert format_event(EVENT, "short") == "2018-01-01T00:29:43 my message\n"
    assert format_event(EVENT, "short", True) == f"{GREEN}2018-01-01T00:29:43{RESET} my message\n"


def test_json_indents_a_json_message_and_leaves_others() -> None:
    event = {**EVENT, "message": '{"foo": {"bar": "baz"}}'}
    assert format_event(event, "json") == (
        '2018-01-01T00:29:43.079000+00:00 stream_name \n{\n    "foo": {\n        "bar": "baz"\n'
        "    }\n}\n"
    )
    on_the_second = {**EVENT, "timestamp": 1514766583000}
    assert (
        format_event(on_the_second, "json") == "2018-01-01T00:29:43+00:00 stream_name my message\n"
    )


def test_a_message_ends_in_exactly_one_newline_and_keeps_its_characters() -> None:
    event = {**EVENT, "message": "my message\u00e9\n\n"}
    assert format_event(event, "short") == "2018-01-01T00:29:43 my message\u00e9\n"


def test_the_plugin_adds_tail_to_the_logs_commands_and_keeps_a_tail_of_the_cli() -> None:
    session = botocore.session.Session()
    emitter = session.get_component("event_emitter")
    awscli_initialize(emitter)
    table: dict[str, object] = {}
    emitter.emit("building-command-table.logs", command_table=table, session=session)
    assert isinstance(table["tail"], TailCommand)
    own = {"tail": "the CLI's own"}
    emitter.emit("building-command-table.logs", command_table=own, session=session)
    assert own == {"tail": "the CLI's own"}
    emitter.emit("building-command-table.s3", command_table=(other := {}), session=session)
    assert other == {}


def test_the_local_targets_config_file_loads_the_plugin(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As the CLI v1 starts: the session's config file, then ``load_plugins`` of its
    ``[plugins]``, whatever profile the shell named before the local target's variables."""
    monkeypatch.setenv("AWS_PROFILE", "work")
    monkeypatch.setenv("AWS_DEFAULT_PROFILE", "work")
    env = control.client_environment(tmp_path, 4599)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    session = botocore.session.Session()
    assert session.get_scoped_config()["region"] == env["AWS_DEFAULT_REGION"]
    emitter = load_plugins(session.full_config.get("plugins", {}), include_builtins=False)
    table: dict[str, object] = {}
    emitter.emit("building-command-table.logs", command_table=table, session=session)
    assert isinstance(table["tail"], TailCommand)
    assert Path(env["AWS_CONFIG_FILE"]).parent == tmp_path
