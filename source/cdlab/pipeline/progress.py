"""One line per action: a spinner with elapsed seconds on a terminal, plain lines otherwise."""

from __future__ import annotations

import sys
import threading
import time
from typing import TextIO

FRAMES = "|/-\\"


class Line:
    """An action's line from its start to ``done``."""

    def __init__(self, label: str, stream: TextIO, spin: bool) -> None:
        self.label, self.stream = label, stream
        self.started = time.monotonic()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        if stream.isatty() and spin:
            self._thread = threading.Thread(target=self._spin, daemon=True)
            self._thread.start()
        else:
            stream.write(f"  ..    {label}\n")
            stream.flush()

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def _spin(self) -> None:
        frame = 0
        while not self._stop.wait(0.1):
            self.stream.write(f"\r  {FRAMES[frame % 4]}     {self.label:<36} {self.elapsed:6.1f} s")
            self.stream.flush()
            frame += 1

    def done(self, mark: str, detail: str = "") -> float:
        """End the line with ``mark`` (ok, FAIL, WAIT), the elapsed time and ``detail``; the
        elapsed seconds."""
        elapsed = self.elapsed
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
            self.stream.write("\r")
        self.stream.write(f"  {mark:<6}{self.label:<36} {elapsed:6.1f} s  {detail}".rstrip() + "\n")
        self.stream.flush()
        return elapsed


def start(label: str, stream: TextIO = sys.stdout, spin: bool = True) -> Line:
    return Line(label, stream, spin)
