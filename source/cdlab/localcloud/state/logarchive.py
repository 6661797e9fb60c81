"""The log events the kit writes to CloudWatch Logs (training jobs', instances'), kept on disk.

Moto keeps log events in memory only, and the journal does not keep them (see :mod:`journal`).
:meth:`LogArchive.put` is the only way the kit writes log events into moto's Logs backend: on
moto's thread (through its owner, :mod:`moto.state`) it creates the group and stream if they are
missing, puts the events and appends them to the archive under the state dir,
``<home>/logs-archive/<sha256 of group>/<sha256 of stream>.jsonl``: a first line
``{"group": ..., "stream": ...}``, then one ``{"timestamp": ..., "message": ...}`` line per event,
appended (and flushed to the OS) before moto's thread does anything else, so a SIGKILL loses none
that a reader has seen. A disk error is logged and the events stay in moto: logging never fails
training or serving. Puts and drops all run on moto's thread, in the order they are called, each
whole: a drop never falls between a put's moto half and its disk half.

At start, after the journal replay (which may have created a group already: a user's
CreateLogGroup), :meth:`LogArchive.restore` puts every archived stream back, events in order with
their original timestamps (the ingestion time is the restart's). A torn last line, left by a
SIGKILL in the middle of a write, is skipped and cut off the file.

A user's DeleteLogGroup or DeleteLogStream that moto carried out drops that group's or stream's
archive (:meth:`LogArchive.deleted`, called by the gateway), so a deleted group does not come back
at the next start; if the kit writes to it again, it comes back holding only the new events, as
it does in moto. Events a user puts through the API (PutLogEvents) are not archived.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import shutil
from collections.abc import Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from cdlab.localcloud.moto.state import MotoState

log = logging.getLogger("cdlab.logarchive")

Event = dict[str, Any]  # {"timestamp": epoch milliseconds, "message": str}
DELETES = frozenset({"DeleteLogGroup", "DeleteLogStream"})  # what LogArchive.deleted follows


def _digest(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()


class LogArchive:
    def __init__(self, root: Path, moto: MotoState) -> None:
        self.root = root
        self.moto = moto
        self.failing: set[Path] = set()  # the last write to these failed: log once, then resync

    def _path(self, group: str, stream: str | None = None) -> Path:
        directory = self.root / _digest(group)
        return directory if stream is None else directory / f"{_digest(stream)}.jsonl"

    def put(self, group: str, stream: str, events: Sequence[Event]) -> Future[None]:
        """Put ``events`` (in order) into moto's log stream, creating the group and stream if
        they are missing (so no events just creates them), and archive them.

        Queued on moto's thread, after every put before it, and returns at once (the event loop
        may call it); the future is done when the events are in moto and on disk. A failure is
        logged.
        """
        done = self.moto.submit(self._put, group, stream, list(events))
        done.add_done_callback(functools.partial(_log_failure, group, stream))
        return done

    def _put(self, group: str, stream: str, events: list[Event]) -> None:
        self.moto.put_log_events(group, stream, events)
        self._append(group, stream, events)

    def _append(self, group: str, stream: str, events: Sequence[Event]) -> None:
        path = self._path(group, stream)
        text = "".join(
            json.dumps({"timestamp": e["timestamp"], "message": e["message"]}) + "\n"
            for e in events
        )
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(path, "a", encoding="utf-8") as f:
                if f.tell() == 0:
                    text = json.dumps({"group": group, "stream": stream}) + "\n" + text
                elif path in self.failing:
                    text = "\n" + text  # after a partial write: start on a line of its own
                f.write(text)
        except OSError as e:
            if path not in self.failing:
                log.error(
                    "log events of %s %s not archived (they are in CloudWatch Logs until the "
                    "local cloud stops): %s",
                    group,
                    stream,
                    e,
                )
            self.failing.add(path)
        else:
            self.failing.discard(path)

    def drop(self, group: str, stream: str | None = None) -> None:
        """Forget a deleted group's (or stream's) archive (blocking, on moto's thread)."""
        self.moto.call(self._drop, group, stream)

    def _drop(self, group: str, stream: str | None) -> None:
        path = self._path(group, stream)
        try:
            if stream is None:
                shutil.rmtree(path)
            else:
                path.unlink()
        except FileNotFoundError:
            pass
        except OSError as e:
            log.error("deleted log %s %s will come back at restart: %s", group, stream or "", e)

    def deleted(self, operation: str, body: bytes) -> None:
        """Follow a DeleteLogGroup or DeleteLogStream request that moto carried out."""
        if operation not in DELETES:
            return
        try:
            params = json.loads(body)
            group = str(params["logGroupName"])
            stream = str(params["logStreamName"]) if operation == "DeleteLogStream" else None
        except (ValueError, KeyError, TypeError):
            return  # moto carried it out, so it was well formed; nothing to follow otherwise
        self.drop(group, stream)

    def restore(self) -> int:
        """Put every archived stream back into moto; returns how many events.

        A stream that cannot come back is logged and skipped, so the rest (and the start) go on.
        """
        if not self.root.is_dir():
            return 0
        restored = 0
        for path in sorted(self.root.glob("*/*.jsonl")):
            archived = _read(path)
            if archived is None:
                continue
            group, stream, events = archived
            try:
                self.moto.put_log_events(group, stream, events)
            except Exception:
                log.exception("log stream %s %s not restored from %s", group, stream, path)
                continue
            restored += len(events)
        return restored


def _log_failure(group: str, stream: str, done: Future[None]) -> None:
    error = None if done.cancelled() else done.exception()
    if error is not None:
        log.error("log events of %s %s not put: %s", group, stream, error, exc_info=error)


def _read(path: Path) -> tuple[str, str, list[Event]] | None:
    """An archive file's group, stream and events; None (logged) if it cannot be read.

    A torn last line is cut off the file, so that later appends start on a line of their own.
    """
    try:
        data = path.read_bytes()
        complete, newline, torn = data.rpartition(b"\n")
        if torn:
            log.warning("%s: skipped a torn last line (the cloud was killed mid-write)", path)
            os.truncate(path, len(complete) + len(newline))
    except OSError as e:
        log.error("log archive %s not restored: %s", path, e)
        return None
    lines = complete.split(b"\n") if newline else []
    if not lines:
        return None
    try:
        header = json.loads(lines[0])
        group, stream = str(header["group"]), str(header["stream"])
    except (ValueError, KeyError, TypeError) as e:
        log.error(
            "log archive %s not restored: no group and stream in its first line (%s)", path, e
        )
        return None
    events: list[Event] = []
    for line in lines[1:]:
        try:
            event = json.loads(line)
            events.append({"timestamp": int(event["timestamp"]), "message": str(event["message"])})
        except (ValueError, KeyError, TypeError):
            if line.strip():
                log.warning("%s: skipped an unreadable line", path)
    return group, stream, events
