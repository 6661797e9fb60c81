"""The one way tests wait for something: poll it until it holds or a deadline passes.

A fixed sleep before an exact assertion fails on a busy machine and wastes time on an idle one;
a poll returns as soon as the condition holds and fails with what it last saw."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def poll(
    observe: Callable[[], T],
    *,
    until: Callable[[T], object] = bool,
    timeout: float = 30.0,
    interval: float = 0.05,
    what: str = "the condition",
) -> T:
    """Call ``observe`` every ``interval`` seconds until ``until`` holds for its value (by
    default: until the value is truthy), and return that value.

    Fails the test with an AssertionError naming ``what`` and the last value seen once
    ``timeout`` seconds have passed. Exceptions from ``observe`` are not caught."""
    deadline = time.monotonic() + timeout
    while True:
        value = observe()
        if until(value):
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(
                f"timed out after {timeout:g} s waiting for {what}: last saw {value!r}"
            )
        time.sleep(interval)
