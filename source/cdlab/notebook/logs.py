"""A log stream's lines for a notebook: every page of GetLogEvents, not only the first.

On AWS a page of GetLogEvents holds at most 1 MB or 10,000 events and "might only be partially
full, or even empty" before the stream's end; a reader goes on while the token it gets back
differs from the one it passed
(https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_GetLogEvents.html).
The local cloud pages the same way (docs/aws-compatibility.md, "CloudWatch Logs: GetLogEvents'
pages"); :mod:`cdlab.logevents` does the reading.
"""

from __future__ import annotations

import boto3

from cdlab.logevents import stream_events


def log_lines(group: str, stream: str) -> list[str]:
    """The messages of ``group``'s ``stream``, oldest first, all of them."""
    return [event["message"] for event in stream_events(boto3.client("logs"), group, stream)]
