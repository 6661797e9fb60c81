"""The kit's own changes to moto's backends that the journal keeps, and replays at each start in
their place among the clients' requests (see :mod:`cdlab.localcloud.state.journal`).

A replayable change is a function of the :class:`MotoState` and JSON-able arguments, run on
moto's thread; it is registered here under its module and qualified name, the name the journal
keeps, so renaming one (or changing its parameters) changes the format of a state dir. Each runs
with moto's random identifiers drawn from a seed (:func:`seeded`), the seed it first ran with at
every replay, so a role's id or a policy's ARN comes back the same.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from moto.moto_api._internal import mock_random

F = TypeVar("F", bound=Callable[..., Any])

REPLAYABLE: dict[str, Callable[..., Any]] = {}


def name_of(fn: Callable[..., Any]) -> str:
    return f"{fn.__module__}.{fn.__qualname__}"


def replayable(fn: F) -> F:
    """Register ``fn`` (its first parameter the MotoState) as a change the journal can keep."""
    REPLAYABLE[name_of(fn)] = fn
    return fn


@contextlib.contextmanager
def seeded(seed: int | None) -> Iterator[None]:
    """On moto's thread: the identifiers moto draws inside come from ``seed`` (None: no
    change); unpredictable again after."""
    if seed is None:
        yield
        return
    mock_random.seed(seed)
    try:
        yield
    finally:
        mock_random.seed()
