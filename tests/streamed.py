"""A command run as in a terminal, its output read line by line as it comes, for the tests that
wait for a line before they act: press Ctrl-C (SIGINT to the process, by its pid), make a file
appear. Always ended after (killed if still running)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import IO

from tests.polling import poll

# Ctrl-C's SIGINT with its default action, which a shell's background job would not have
WITH_CTRL_C = "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); " \
    "os.execv(sys.argv[1], sys.argv[1:])"  # fmt: skip


class Streamed:
    """``command`` (its program a path) running with ``env``; ``out`` and ``err``: the lines
    it wrote so far."""

    def __init__(
        self, command: Sequence[str], env: dict[str, str] | None = None, cwd: Path | None = None
    ) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", WITH_CTRL_C, *command],
            env=env if env is not None else dict(os.environ), cwd=cwd,
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        self.out: list[str] = []
        self.err: list[str] = []
        assert self.process.stdout is not None and self.process.stderr is not None
        self.readers = [
            threading.Thread(target=_read, args=(self.process.stdout, self.out)),
            threading.Thread(target=_read, args=(self.process.stderr, self.err)),
        ]
        for reader in self.readers:
            reader.start()

    def __enter__(self) -> Streamed:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        for reader in self.readers:
            reader.join()

    def wait_for(self, text: str, stream: str = "out", count: int = 1, timeout: float = 60) -> None:
        """Until ``count`` lines of ``stream`` (out or err) hold ``text``."""
        lines = self.out if stream == "out" else self.err
        poll(
            lambda: [line for line in list(lines) if text in line],
            until=lambda found: len(found) >= count,
            timeout=timeout,
            what=f"{count} line(s) with {text!r} on std{stream} (so far: {lines[-5:]!r})",
        )

    def interrupt(self, timeout: float = 60) -> int:
        """Press Ctrl-C: SIGINT to the process; its exit status once it and its output ended."""
        self.process.send_signal(signal.SIGINT)
        status = self.process.wait(timeout=timeout)
        for reader in self.readers:
            reader.join()
        return status


def _read(stream: IO[str], into: list[str]) -> None:
    for line in iter(stream.readline, ""):
        into.append(line)
