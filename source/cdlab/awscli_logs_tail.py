"""``aws logs tail`` for the AWS CLI v1: a port of the AWS CLI v2 command.

The CLI v1 has no ``logs tail``; v2 has it as a customization
(``awscli/customizations/logs/tail.py`` in https://github.com/aws/aws-cli, branch ``v2``, Apache
License 2.0), documented at https://docs.aws.amazon.com/cli/latest/reference/logs/tail.html.
This module is that command for v1, with the same arguments, calls and output: FilterLogEvents
(``interleaved``) from ``--since`` on, page by page; with ``--follow``, polled every 5 seconds
until Ctrl-C, which ends it quietly with status 0; each event printed as v2 prints it.

It is a CLI v1 plugin: a ``[plugins]`` entry of the CLI's config file names this module, and the
CLI calls :func:`awscli_initialize` at start, which adds ``tail`` to the ``logs`` commands::

    aws configure set plugins.cdlab_logs_tail cdlab.awscli_logs_tail

The local target's config file names it already (``control.write_cli_config``). The CLI v2 has
the command itself, and loads no ``[plugins]`` entry unless ``cli_legacy_plugin_path`` is set;
if it ever loads this one, its own ``tail`` stays.
"""

from __future__ import annotations

import json
import re
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import colorama
from awscli.compat import get_stdout_text_writer
from awscli.customizations.commands import BasicCommand
from awscli.utils import is_a_tty
from botocore.utils import datetime2timestamp, parse_timestamp

Event = dict[str, Any]

FOLLOW_SECONDS = 5
RELATIVE = re.compile(r"(?P<amount>\d+)(?P<unit>s|m|h|d|w)$")
UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 24 * 3600, "w": 7 * 24 * 3600}
FORMATS = ("detailed", "short", "json")

SINCE_HELP = (
    "From what time to begin displaying logs. By default, logs will be displayed starting from "
    "ten minutes in the past. The value provided can be an ISO 8601 timestamp or a relative "
    "time. For relative times, provide a number and a single unit. Supported units include:"
    "\n\n<ul><li> ``s`` - seconds </li><li> ``m`` - minutes </li><li> ``h`` - hours </li>"
    "<li> ``d`` - days </li><li> ``w`` - weeks </li></ul>For example, a value of ``5m`` would "
    "indicate to display logs starting five minutes in the past. Note that multiple units are "
    "**not** supported (i.e. ``5h30m``)"
)
FORMAT_HELP = (
    "The format to display the logs. The following formats are supported:\n\n<ul>"
    "<li> detailed - This the default format. It prints out the timestamp with millisecond "
    "precision and timezones, the log stream name, and the log message.</li>"
    "<li> short - A shortened format. It prints out the a shortened timestamp and the log "
    "message.</li><li> json - Pretty print any messages that are entirely JSON.</li></ul>"
)


def to_epoch_millis(since: str, now: datetime | None = None) -> int:
    """``--since``: a number and one unit (``10m``: ten minutes before ``now``) or a timestamp
    (ISO 8601; one without a zone is UTC), as milliseconds since the epoch."""
    relative = RELATIVE.match(since)
    if relative:
        seconds = int(relative["amount"]) * UNIT_SECONDS[relative["unit"]]
        moment = (now or datetime.now(UTC)) - timedelta(seconds=seconds)
    else:
        moment = parse_timestamp(since)
    return int(datetime2timestamp(moment) * 1000)


def filter_arguments(
    group: str,
    since: str | None,
    filter_pattern: str | None = None,
    stream_names: list[str] | None = None,
    stream_prefix: str | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The FilterLogEvents request the command starts with."""
    arguments: dict[str, Any] = {"logGroupName": group, "interleaved": True}
    if since is not None:
        arguments["startTime"] = to_epoch_millis(since, now)
    if filter_pattern is not None:
        arguments["filterPattern"] = filter_pattern
    if stream_names is not None:
        arguments["logStreamNames"] = stream_names
    if stream_prefix is not None:
        arguments["logStreamNamePrefix"] = stream_prefix
    return arguments


def _colored(text: str, color: str, colorize: bool) -> str:
    return color + text + colorama.Style.RESET_ALL if colorize else text


def _pretty_json(message: str) -> str:
    try:
        return "\n" + json.dumps(json.loads(message), indent=4)
    except json.JSONDecodeError:
        return message


def format_event(event: Event, style: str = "detailed", colorize: bool = False) -> str:
    """One event as v2 prints it in ``style``, ending in exactly one newline: ``detailed`` is
    the timestamp (microseconds, UTC offset), the stream and the message; ``short`` a timestamp
    to the second and the message; ``json`` is ``detailed`` with JSON messages indented."""
    moment = datetime.fromtimestamp(event["timestamp"] / 1000.0, UTC)
    if style == "short":
        stamp = _colored(moment.strftime("%Y-%m-%dT%H:%M:%S"), colorama.Fore.GREEN, colorize)
        return f"{stamp} {event['message']}".rstrip() + "\n"
    iso = moment.isoformat(timespec="microseconds") if style == "detailed" else moment.isoformat()
    stream = _colored(event["logStreamName"], colorama.Fore.CYAN, colorize)
    message = _pretty_json(event["message"]) if style == "json" else event["message"]
    return f"{_colored(iso, colorama.Fore.GREEN, colorize)} {stream} {message}".rstrip() + "\n"


def all_events(client: Any, arguments: dict[str, Any]) -> Iterator[Event]:
    """Every event the request matches, page after page."""
    for page in client.get_paginator("filter_log_events").paginate(**arguments):
        yield from page["events"]


def followed_events(
    client: Any, arguments: dict[str, Any], sleep: Callable[[float], None] = time.sleep
) -> Iterator[Event]:
    """The matching events and then each new one, polling every 5 s, until Ctrl-C ends it.

    After the last page the next poll starts at the newest event's timestamp, so events of that
    millisecond come again: the ids seen at it are kept, and those events are not repeated."""
    seen: defaultdict[int, set[str]] = defaultdict(set)
    try:
        while True:
            response = client.filter_log_events(**arguments)
            for event in response["events"]:
                if event["eventId"] not in seen[event["timestamp"]]:
                    seen[event["timestamp"]].add(event["eventId"])
                    yield event
            if seen:
                newest = max(seen)
                seen = defaultdict(set, {newest: seen[newest]})
            if "nextToken" in response:
                arguments["nextToken"] = response["nextToken"]
                continue
            arguments.pop("nextToken", None)
            if seen:
                arguments["startTime"] = max(seen)
            sleep(FOLLOW_SECONDS)
    except KeyboardInterrupt:
        return  # Ctrl-C is the only way out of --follow: the command ends normally


class TailCommand(BasicCommand):
    NAME = "tail"
    DESCRIPTION = (
        "Tails the logs for a CloudWatch Logs group. By default, the command returns logs from "
        "all associated CloudWatch Logs streams during the past ten minutes. Note that there is "
        "no guarantee for exact timestamp ordering of logs."
    )
    ARG_TABLE: ClassVar[list[dict[str, Any]]] = [
        {
            "name": "group_name",
            "positional_arg": True,
            "help_text": "The name of the CloudWatch Logs group.",
        },
        {"name": "since", "default": "10m", "help_text": SINCE_HELP},
        {
            "name": "follow",
            "action": "store_true",
            "default": False,
            "help_text": (
                "Whether to continuously poll for new logs. By default, the command will exit "
                "once there are no more logs to display. To exit from this mode, use Control-C."
            ),
        },
        {
            "name": "format",
            "default": "detailed",
            "choices": list(FORMATS),
            "help_text": FORMAT_HELP,
        },
        {
            "name": "filter-pattern",
            "help_text": (
                'The filter pattern to use. See <a href="http://docs.aws.amazon.com/'
                'AmazonCloudWatch/latest/logs/FilterAndPatternSyntax.html">Filter and Pattern '
                "Syntax</a> for details. If not provided, all the events are matched"
            ),
        },
        {
            "name": "log-stream-names",
            "nargs": "+",
            "help_text": (
                "The list of stream names to filter logs by. This parameter cannot be specified "
                "when ``--log-stream-name-prefix`` is also specified."
            ),
        },
        {
            "name": "log-stream-name-prefix",
            "help_text": (
                "The prefix to filter logs by. Only events from log streams with names beginning "
                "with this prefix will be returned. This parameter cannot be specified when "
                "``log-stream-names`` is also specified."
            ),
        },
    ]

    def _run_main(self, parsed_args: Any, parsed_globals: Any) -> int:
        client = self._session.create_client(
            "logs",
            region_name=parsed_globals.region,
            endpoint_url=parsed_globals.endpoint_url,
            verify=parsed_globals.verify_ssl,
        )
        arguments = filter_arguments(
            parsed_args.group_name,
            parsed_args.since,
            parsed_args.filter_pattern,
            parsed_args.log_stream_names,
            parsed_args.log_stream_name_prefix,
        )
        events = (followed_events if parsed_args.follow else all_events)(client, arguments)
        colorize = {"on": True, "off": False}.get(parsed_globals.color, is_a_tty())
        output = get_stdout_text_writer()
        for event in events:
            output.write(format_event(event, parsed_args.format, colorize))
            output.flush()
        return 0


def _add_tail(command_table: dict[str, Any], session: Any, **kwargs: Any) -> None:
    command_table.setdefault("tail", TailCommand(session))


def awscli_initialize(cli: Any) -> None:
    """The CLI v1's plugin hook: ``aws logs`` gets ``tail``."""
    cli.register("building-command-table.logs", _add_tail)
