"""The tests' one polling helper: it returns what it saw once the condition holds, and fails
naming what it waited for and what it last saw."""

from __future__ import annotations

import itertools
import time

import pytest

from tests.polling import poll


def test_returns_the_first_truthy_value() -> None:
    values = iter([0, [], "ready", "later"])
    assert poll(lambda: next(values), interval=0) == "ready"


def test_until_judges_the_value_and_the_value_is_returned() -> None:
    counter = itertools.count()
    assert poll(lambda: next(counter), until=lambda n: n >= 3, interval=0) == 3


def test_a_value_that_holds_at_once_is_not_waited_for() -> None:
    started = time.monotonic()
    assert poll(lambda: "now", interval=10) == "now"
    assert time.monotonic() - started < 1


def test_the_deadline_fails_naming_what_and_the_last_value() -> None:
    counter = itertools.count()
    started = time.monotonic()
    with pytest.raises(AssertionError) as info:
        poll(lambda: next(counter), until=lambda n: n < 0, timeout=0.2, interval=0.05, what="x")
    assert 0.2 <= time.monotonic() - started < 2
    message = str(info.value)
    assert message.startswith("timed out after 0.2 s waiting for x: last saw ")
    assert int(message.rsplit(" ", 1)[1]) >= 2  # polled again and again, the last value shown


def test_errors_of_the_observation_are_not_swallowed() -> None:
    def broken() -> None:
        raise KeyError("gone")

    with pytest.raises(KeyError, match="gone"):
        poll(broken, timeout=5)
