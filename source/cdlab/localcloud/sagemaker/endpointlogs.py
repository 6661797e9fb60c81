"""Instance log lines shipped to CloudWatch Logs, as SageMaker does for endpoints.

Each instance writes its stdout and stderr to a file (the supervisor keeps it for the
FailureReason of an instance that dies); the lines appended since the last call go to moto's
Logs backend in-process, through :mod:`logarchive`, which keeps them across restarts: group
``/aws/sagemaker/Endpoints/<endpoint>``, stream ``<variant>/<instance-id>``.
"""

from __future__ import annotations

import time
from typing import Any

from cdlab.localcloud.sagemaker.instances import Instance
from cdlab.localcloud.state.logarchive import LogArchive

MAX_READ_BYTES = 1 << 20  # per instance per call; the rest waits for the next call


def log_group(endpoint: str) -> str:
    return f"/aws/sagemaker/Endpoints/{endpoint}"


class LogShipper:
    def __init__(self, logs: LogArchive) -> None:
        self.logs = logs
        self.offsets: dict[str, int] = {}  # instance id -> bytes of its log file already shipped
        self.partial: dict[str, bytes] = {}  # an unfinished last line, by instance id
        self.known: dict[str, Instance] = {}  # shipped last time: a stopped one's last lines

    def ship(self, instances: list[Instance]) -> None:
        """Ship new lines of every instance's log (blocking file I/O: run in a thread)."""
        current = {i.instance_id: i for i in instances}
        for instance in {**self.known, **current}.values():
            events = self._new_events(instance)
            if events:
                self.logs.put(log_group(instance.endpoint), self._stream(instance), events)
        for gone in set(self.known) - set(current):
            self.offsets.pop(gone, None)
            self.partial.pop(gone, None)
        self.known = current

    @staticmethod
    def _stream(instance: Instance) -> str:
        return f"{instance.variant}/{instance.instance_id}"

    def _new_events(self, instance: Instance) -> list[dict[str, Any]]:
        key = instance.instance_id
        try:
            with open(instance.log_path, "rb") as f:
                f.seek(self.offsets.get(key, 0))
                chunk = f.read(MAX_READ_BYTES)
        except OSError:
            return []
        self.offsets[key] = self.offsets.get(key, 0) + len(chunk)
        *lines, self.partial[key] = (self.partial.get(key, b"") + chunk).split(b"\n")
        stamp = int(time.time() * 1000)
        messages = (raw.decode("utf-8", "replace").rstrip("\r") for raw in lines)
        return [{"timestamp": stamp, "message": m} for m in messages if m.strip()]
