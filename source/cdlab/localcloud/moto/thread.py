"""Moto's own thread: the one thread that ever touches moto's in-process state.

Moto is not written for concurrent use, so its requests (:mod:`bridge`) and the kit's own reads
and writes of its backends (:mod:`state`) all run here, one at a time, in the order they come.
The event loop awaits :meth:`MotoThread.run`; code already in a worker thread blocks on
:meth:`MotoThread.call`, which refuses the event loop's thread (it would stall every request) and
runs inline on moto's thread itself (waiting there for itself would never end).
"""

from __future__ import annotations

import asyncio
import functools
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Concatenate, ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")
Owner = TypeVar("Owner", bound="MotoThread")


class MotoThread:
    def __init__(self) -> None:
        self._ident: int | None = None
        self._executor = ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="moto", initializer=self._claim
        )

    def _claim(self) -> None:
        self._ident = threading.get_ident()

    def on_thread(self) -> bool:
        """Whether the caller runs on moto's thread."""
        return threading.get_ident() == self._ident

    def submit(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        """Queue ``fn`` on moto's thread, after everything queued before, and return at once."""
        return self._executor.submit(fn, *args, **kwargs)

    async def run(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """``fn``'s result, run on moto's thread while the event loop serves on."""
        return await asyncio.wrap_future(self.submit(fn, *args, **kwargs))

    def call(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """``fn``'s result, run on moto's thread; blocks a worker thread until it has run."""
        if self.on_thread():
            return fn(*args, **kwargs)
        if _on_event_loop():
            raise RuntimeError(
                f"{getattr(fn, '__qualname__', fn)} would block the event loop waiting for "
                "moto's thread; await MotoThread.run instead"
            )
        return self.submit(fn, *args, **kwargs).result()

    def shutdown(self) -> None:
        """Run what is queued, then end the thread."""
        self._executor.shutdown(wait=True)


def on_moto_thread(
    method: Callable[Concatenate[Owner, P], T],
) -> Callable[Concatenate[Owner, P], T]:
    """A method that always runs on its owner's moto thread, through :meth:`MotoThread.call`."""

    @functools.wraps(method)
    def called(self: Owner, *args: P.args, **kwargs: P.kwargs) -> T:
        return self.call(method, self, *args, **kwargs)

    return called


def _on_event_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True
