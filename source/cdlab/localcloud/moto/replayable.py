"""The kit's own changes to moto's backends that the journal keeps, and replays at each start in
their place among the clients' requests (see :mod:`cdlab.localcloud.state.journal`).

A replayable change is a function of the :class:`MotoState` and JSON-able arguments, run on
moto's thread; it is registered here under its module and qualified name, the name the journal
keeps, so renaming one (or changing its parameters) changes the format of a state dir. Each runs
with moto's random identifiers drawn from a seed (:func:`seeded`), the seed it first ran with at
every replay, so a role's id or a policy's ARN comes back the same. A client's request is made,
and replayed, with its seed and the time it was journaled (:func:`journaled_at`), from which a
role session's expiration is counted (:mod:`sessioncredentials`).
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any, TypeVar

from moto.moto_api._internal import mock_random

F = TypeVar("F", bound=Callable[..., Any])

REPLAYABLE: dict[str, Callable[..., Any]] = {}
_JOURNALED_AT: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "journaled_at", default=None
)  # the time of the change being made, on moto's thread


def name_of(fn: Callable[..., Any]) -> str:
    return f"{fn.__module__}.{fn.__qualname__}"


def replayable(fn: F) -> F:
    """Register ``fn`` (its first parameter the MotoState) as a change the journal can keep."""
    REPLAYABLE[name_of(fn)] = fn
    return fn


@contextlib.contextmanager
def seeded(seed: int | None, at: float | None = None) -> Iterator[None]:
    """On moto's thread: the identifiers moto draws inside come from ``seed`` (None: no
    change), unpredictable again after; and :func:`journaled_at` is ``at`` (seconds since the
    epoch) inside."""
    token = _JOURNALED_AT.set(at)
    if seed is not None:
        mock_random.seed(seed)
    try:
        yield
    finally:
        if seed is not None:
            mock_random.seed()
        _JOURNALED_AT.reset(token)


def journaled_at() -> datetime | None:
    """On moto's thread: when the journaled change being made (or replayed) was journaled, in
    naive UTC as moto keeps times; None outside one, or for one journaled without its time (by
    an older kit)."""
    at = _JOURNALED_AT.get()
    return None if at is None else datetime.fromtimestamp(at, UTC).replace(tzinfo=None)
