"""``cdlab local logs -f``: follow the local cloud's log as ``tail -F`` follows a file."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

INTERVAL_SECONDS = 0.2  # how often to look for new lines


def open_log(path: Path) -> BinaryIO | None:
    """``path`` open for reading, or None when there is no such file (yet)."""
    try:
        return open(path, "rb")  # closed by its caller, or by new_lines when handed to it
    except FileNotFoundError:
        return None


def last_lines(log: BinaryIO, count: int) -> str:
    """The last ``count`` lines of ``log``, with their line ends; it is read to its end, so that
    following it from there shows every line written since, and none twice."""
    text = log.read().decode(errors="replace")
    return "".join(text.splitlines(keepends=True)[-count:]) if count else ""


def follow(path: Path, log: BinaryIO | None = None) -> None:
    """Print the lines written to ``path`` until Ctrl-C (:func:`new_lines`)."""
    lines = new_lines(path, log)
    try:
        for line in lines:
            if line is None:
                time.sleep(INTERVAL_SECONDS)
            else:
                print(line, end="", flush=True)
    finally:
        lines.close()


def new_lines(path: Path, log: BinaryIO | None = None) -> Iterator[str | None]:
    """The lines written to ``path`` as they come (None: nothing new for now), as ``tail -F``
    follows a file: wait for it to appear, and read it again from its start when it is replaced
    (``local reset``, then ``up``) or cut short, saying so on stderr. ``log``: ``path`` open
    already, followed from where it was read to; None: wait for ``path``, then show it all."""
    try:
        while True:
            if log is None:
                log = open_log(path)
                if log is None:
                    yield None
                    continue
                print(f"cdlab: {path} is there now; following it", file=sys.stderr)
            line = log.readline()
            if line:
                yield line.decode(errors="replace")
            elif replaced(path, log):
                log.close()
                log = None
                print(
                    f"cdlab: {path} was removed or replaced; waiting for the new one "
                    "(`cdlab local up` starts it)",
                    file=sys.stderr,
                )
            else:
                yield None
    finally:
        if log is not None:
            log.close()


def replaced(path: Path, log: BinaryIO) -> bool:
    """Whether ``path`` is gone or another file now (``log`` read to its end); rewinds ``log``
    when the file was cut short."""
    try:
        now = path.stat()
    except FileNotFoundError:
        return True
    opened = os.fstat(log.fileno())
    if (now.st_dev, now.st_ino) != (opened.st_dev, opened.st_ino):
        return True
    if now.st_size < log.tell():
        log.seek(0)
    return False
