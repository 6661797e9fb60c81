"""CPU and memory use of instance processes, read from ``/proc`` as SageMaker reports them.

CPUUtilization is in percent summed over cores (two busy cores read 200), MemoryUtilization is
the resident set as a percent of the machine's memory. Off Linux there is no ``/proc``: no sample.
"""

from __future__ import annotations

import os
import time

TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")
PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")


def _cpu_seconds(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS_PER_SECOND  # utime + stime


def _memory_percent(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/statm") as f:
            resident_pages = int(f.read().split()[1])
    except (OSError, IndexError, ValueError):
        return None
    total = os.sysconf("SC_PHYS_PAGES")
    return 100.0 * resident_pages / total if total > 0 else None


class UsageSampler:
    """CPU percent since the previous sample of the same pid, and memory percent now."""

    def __init__(self) -> None:
        self.previous: dict[int, tuple[float, float]] = {}

    def sample(self, pids: list[int]) -> dict[int, tuple[float, float]]:
        now = time.monotonic()
        samples: dict[int, tuple[float, float]] = {}
        seen: dict[int, tuple[float, float]] = {}
        for pid in pids:
            cpu, memory = _cpu_seconds(pid), _memory_percent(pid)
            if cpu is None or memory is None:
                continue
            seen[pid] = (now, cpu)
            before = self.previous.get(pid)
            if before is not None and now > before[0]:
                samples[pid] = (100.0 * (cpu - before[1]) / (now - before[0]), memory)
        self.previous = seen
        return samples
