"""Every event of a CloudWatch Logs stream, read page after page as GetLogEvents must be read.

The CloudWatch Logs API Reference
(https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_GetLogEvents.html):
"A returned page might only be partially full, or even empty", and "Partially full or empty
pages don't necessarily mean that pagination is finished. As long as the nextBackwardToken or
nextForwardToken returned is NOT equal to the nextToken that you passed into the API call, there
might be more log events available." So a reader follows ``nextForwardToken`` from the head
until it comes back unchanged, empty pages included; one that stops at the first page, or at
the first empty one, misses events on AWS (https://github.com/aws/aws-sdk-net/issues/3218,
https://github.com/boto/boto3/issues/3718). botocore has no paginator for GetLogEvents
(``botocore/data/logs/2014-03-28/paginators-1.json`` lists none), hence this one.

The same page warns that a read from the head without ``endTime`` may never end while events
arrive faster than it reads: the kit reads streams whose writer has finished or slowed (a build,
a training job, an endpoint after its traffic); pass ``endTime`` otherwise.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any


def stream_events(logs: Any, group: str, stream: str, **params: Any) -> Iterator[dict[str, Any]]:
    """The events of ``group``'s ``stream``, oldest first, every page of them (``params``:
    GetLogEvents' other members, ``startTime``, ``endTime``, ``limit``). Raises what
    GetLogEvents raises (ResourceNotFoundException for a group or stream that does not exist)."""
    token = None
    while True:
        page = logs.get_log_events(
            logGroupName=group,
            logStreamName=stream,
            startFromHead=True,
            **params,
            **({"nextToken": token} if token else {}),
        )
        yield from page["events"]
        if page["nextForwardToken"] == token:
            return
        token = page["nextForwardToken"]
