"""Child processes of the local cloud (instances, training jobs) die with it, and a cloud started
for one process (a test session) stops when that process exits: never orphans."""

from __future__ import annotations

import asyncio
import ctypes
import logging
import os
import signal
import sys

EXIT_PARENT_GONE = 4
PR_SET_PDEATHSIG = 1

log = logging.getLogger("cdlab.parent")


def die_with_parent(parent_pid: int | None) -> None:
    """Ask Linux for SIGTERM when the parent dies; exit now if it is already gone.

    The kernel sends the signal when the *thread* that started this process exits, so a parent
    should start its children from a thread that lives as long as they should.
    """
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) != 0:
            log.warning("prctl(PR_SET_PDEATHSIG) failed: %s", os.strerror(ctypes.get_errno()))
    # Checked after prctl, so a parent dying in between is not missed.
    if parent_pid is not None and os.getppid() != parent_pid:
        print(f"parent process {parent_pid} is gone; exiting", file=sys.stderr, flush=True)
        sys.exit(EXIT_PARENT_GONE)


async def stop_when_parent_gone(
    parent_pid: int, stop: asyncio.Event, interval: float = 0.5
) -> None:
    """Set ``stop`` once ``parent_pid`` is no longer this process's parent (it exited, and this
    process was handed to init). Polled, not PR_SET_PDEATHSIG: the kernel signals when the
    parent's *thread* ends, and a cloud must outlive the thread that started it."""
    while os.getppid() == parent_pid:
        await asyncio.sleep(interval)
    log.info("parent process %d is gone; stopping", parent_pid)
    stop.set()
