"""GetLogEvents' pages as AWS may give them: at most 1 MB or 10,000 events, and an empty page
where a stream's events pause for long, so that the kit's readers (and the tests) meet the pages
a reader of a real stream meets.

The CloudWatch Logs API Reference
(https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_GetLogEvents.html):
"Each page returned can contain up to 1 MB of log events or up to 10,000 log events. A returned
page might only be partially full, or even empty"; "Partially full or empty pages don't
necessarily mean that pagination is finished": a reader goes on while the token returned differs
from the one it passed; at the end of the stream the same token comes back. ``limit`` (1 to
10,000) caps the events of a page; ``startTime`` is inclusive and ``endTime`` exclusive ("Events
with a timestamp equal to or later than this time are not included").

Moto answers up to ``limit`` events a page (10,000 when none is given), however large, never an
empty page before the end, and keeps events at ``endTime``. :func:`install` wraps its
``LogStream.get_log_events`` (:mod:`wrapping`), so every way into moto answers these pages:

- A page holds at most ``limit`` events (10,000 when none is given, as the reference says of
  its default) and at most 1,048,576 bytes of events, each counted as PutLogEvents counts a
  batch: its message's UTF-8 bytes plus 26 bytes
  (https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_PutLogEvents.html).
  How AWS counts its page's megabyte is not documented; this is the kit's reading. A page holds
  at least one event, so a reader always moves on.
- Pages are split by time: a page never spans a pause of more than ``GAP_MS`` between two events
  of the stream, and the pause itself is the next page, empty, whose token differs from the one
  passed. AWS does not say where it splits its pages; an answer on
  https://github.com/boto/boto3/issues/3718 explains its empty pages as "periods of time where no
  events happened" (as https://github.com/dstackai/dstack/pull/2501 quotes it; who wrote it is
  not confirmed here), and readers report them (https://github.com/aws/aws-sdk-net/issues/3218,
  https://github.com/boto/boto3/issues/4472). An hour is the kit's choice: a build, a training
  job or a notebook's endpoint seldom pauses that long, a stream kept across hours or days does.
  The first page of a read (no ``nextToken``) starts at its first event, never empty.
- No smaller default page: the reference gives the default as "as many log events as can fit in
  a response size of 1 MB (up to 10,000 log events)". AWS does answer fewer (285 events, 0.08 MB
  in boto/boto3#4472), but the kit keeps to the documented default; a reader that pages meets
  partial pages in any stream over 1 MB or 10,000 events, and empty ones at pauses.

A token is a cursor, ``f/`` or ``b/``, the time and the order of arrival of the event it stands
before, then ``/s`` (AWS's tokens look so, as boto/boto3#3718 shows one), so events put between
two pages neither repeat nor skip others; a token of another form is refused as moto refuses one
(InvalidParameterException, "The specified nextToken is invalid.").
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from moto.logs.exceptions import InvalidParameterException

from cdlab.localcloud.moto.wrapping import wrap_once

if TYPE_CHECKING:
    from moto.logs.models import LogEvent, LogStream

MAX_EVENTS = 10_000
MAX_BYTES = 1_048_576
EVENT_OVERHEAD = 26  # bytes, as PutLogEvents counts a batch
GAP_MS = 3_600_000  # a pause longer than this is a page of its own, empty
TOKEN = re.compile(r"([fb])/(\d{20})(\d{36})/s")

Key = tuple[int, int]  # an event's timestamp and its order of arrival in the stream
Page = tuple[list[dict[str, Any]], str, str]  # events, nextBackwardToken, nextForwardToken


def install() -> None:
    from moto.logs.models import LogStream

    wrap_once(LogStream, "get_log_events", _paged)


def _paged(_moto: Callable[..., Page]) -> Callable[..., Page]:
    def get_log_events(
        stream: LogStream,
        start_time: int | None,
        end_time: int | None,
        limit: int | None,
        next_token: str | None,
        start_from_head: bool,
    ) -> Page:
        events = Events.of(stream.events, start_time, end_time)
        if next_token is None:
            return events.first(limit or MAX_EVENTS, bool(start_from_head))
        direction, cursor = parse(next_token)
        if direction == "f":
            return events.forward(cursor, next_token, limit or MAX_EVENTS)
        return events.backward(cursor, next_token, limit or MAX_EVENTS)

    return get_log_events


def parse(token: str) -> tuple[str, Key]:
    """A token's direction and cursor; InvalidParameterException if the kit did not make it."""
    found = TOKEN.fullmatch(token) if isinstance(token, str) else None
    if found is None:
        raise InvalidParameterException("The specified nextToken is invalid.")
    return found[1], (int(found[2]), int(found[3]))


def token(direction: str, cursor: Key) -> str:
    return f"{direction}/{cursor[0]:020d}{cursor[1]:036d}/s"


def size(event: LogEvent) -> int:
    return len(str(event.message).encode("utf-8", "surrogatepass")) + EVENT_OVERHEAD


@dataclass(frozen=True)
class Events:
    """A stream's events in the request's time range, oldest first, with their keys."""

    events: list[LogEvent]
    keys: list[Key]

    @classmethod
    def of(cls, stored: list[LogEvent], start: int | None, end: int | None) -> Events:
        kept = sorted(
            (
                ((event.timestamp, arrival), event)
                for arrival, event in enumerate(stored)
                if (start is None or event.timestamp >= start)
                and (end is None or event.timestamp < end)
            ),
            key=lambda pair: pair[0],
        )
        return cls([event for _, event in kept], [key for key, _ in kept])

    def after(self, index: int) -> Key:
        """The cursor just after the event at ``index`` (before any later one)."""
        timestamp, arrival = self.keys[index]
        return timestamp, arrival + 1

    def gap(self, earlier: int, later: int) -> bool:
        return self.keys[later][0] - self.keys[earlier][0] > GAP_MS

    def answer(self, start: int, stop: int) -> list[dict[str, Any]]:
        return [event.to_response_dict() for event in self.events[start:stop]]

    def first(self, limit: int, from_head: bool) -> Page:
        """A read's first page: from the first event on, or back from the last."""
        if not self.events:
            return [], token("b", (0, 0)), token("f", (0, 0))
        if from_head:
            stop = self.stop(0, limit)
            return self.answer(0, stop), token("b", self.keys[0]), token("f", self.after(stop - 1))
        start = self.start(len(self.events), limit)
        end = token("f", self.after(len(self.events) - 1))
        return self.answer(start, len(self.events)), token("b", self.keys[start]), end

    def forward(self, cursor: Key, passed: str, limit: int) -> Page:
        """The page from ``cursor`` on: the same token at the end, an empty page for a pause."""
        at = bisect.bisect_left(self.keys, cursor)
        if at == len(self.events):
            return [], token("b", cursor), passed
        if self.keys[at][0] - cursor[0] > GAP_MS:
            return [], token("b", cursor), token("f", self.keys[at])
        stop = self.stop(at, limit)
        return self.answer(at, stop), token("b", self.keys[at]), token("f", self.after(stop - 1))

    def backward(self, cursor: Key, passed: str, limit: int) -> Page:
        """The page before ``cursor``: the same token at the head, an empty page for a pause."""
        end = bisect.bisect_left(self.keys, cursor)
        if end == 0:
            return [], passed, token("f", cursor)
        if cursor[0] - self.keys[end - 1][0] > GAP_MS:
            return [], token("b", self.after(end - 1)), token("f", cursor)
        start = self.start(end, limit)
        return self.answer(start, end), token("b", self.keys[start]), token("f", cursor)

    def stop(self, start: int, limit: int) -> int:
        """Where a page from ``start`` ends: within the limits, before a pause."""
        stop, used = start, 0
        while stop < len(self.events) and stop - start < limit:
            used += size(self.events[stop])
            if stop > start and (used > MAX_BYTES or self.gap(stop - 1, stop)):
                break
            stop += 1
        return stop

    def start(self, end: int, limit: int) -> int:
        """Where a page back from ``end`` starts: within the limits, after a pause."""
        start, used = end, 0
        while start > 0 and end - start < limit:
            used += size(self.events[start - 1])
            if start < end and (used > MAX_BYTES or self.gap(start - 1, start)):
                break
            start -= 1
        return start
