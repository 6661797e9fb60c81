"""Child processes of the local cloud (instances, training jobs) die with it: never orphans."""

from __future__ import annotations

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
