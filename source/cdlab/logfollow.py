"""``cdlab local logs -f``: follow the local cloud's log as ``tail -F`` follows a file."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import BinaryIO

INTERVAL_SECONDS = 0.2  # how often to look for new lines


def follow(path: Path, from_end: bool) -> None:
    """Print the lines written to ``path`` until Ctrl-C, as ``tail -F`` follows a file: wait
    for it to appear, and read it again from its start when it is replaced (``local reset``,
    then ``up``) or cut short, saying so on stderr. ``from_end``: the lines there now were
    shown already."""
    log = None
    try:
        while True:
            if log is None:
                log = _open(path)
                if log is None:
                    time.sleep(INTERVAL_SECONDS)
                    continue
                if from_end:
                    log.seek(0, os.SEEK_END)
                else:
                    print(f"cdlab: {path} is there now; following it", file=sys.stderr)
                from_end = False
            line = log.readline()
            if line:
                print(line.decode(errors="replace"), end="", flush=True)
            elif replaced(path, log):
                log.close()
                log = None
                print(f"cdlab: {path} was removed or replaced; waiting for the new one "
                      "(`cdlab local up` starts it)", file=sys.stderr)  # fmt: skip
            else:
                time.sleep(INTERVAL_SECONDS)
    finally:
        if log is not None:
            log.close()


def _open(path: Path) -> BinaryIO | None:
    try:
        return open(path, "rb")  # kept open across follow's rounds, closed by it
    except FileNotFoundError:
        return None


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
