"""What a training job's output lines become: CloudWatch Logs events and final metrics.

The lines go to group ``/aws/sagemaker/TrainingJobs``, stream ``<job>/algo-1-<epoch seconds>``
(moto's, through :mod:`logarchive`, which keeps the lines across restarts). The algorithm's
metric definitions (shown in ``AlgorithmSpecification.MetricDefinitions``, as SageMaker shows them
for a built-in) turn the lines into ``FinalMetricDataList``.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import re
import time
from typing import Any

from cdlab.localcloud.state.logarchive import LogArchive

LOG_GROUP = "/aws/sagemaker/TrainingJobs"

_QUALITY = r"#quality_metric: host=\S+, test {} <{}>=(\S+)"
BUILTIN_METRICS: dict[str, list[dict[str, str]]] = {
    "factorization-machines": [
        {
            "Name": "test:binary_classification_accuracy",
            "Regex": _QUALITY.format("binary_classification_accuracy", "score"),
        },
        {
            "Name": "test:binary_classification_cross_entropy",
            "Regex": _QUALITY.format("binary_classification_cross_entropy", "loss"),
        },
        {"Name": "test:binary_f_beta", "Regex": _QUALITY.format(r"binary_f_\S+", "score")},
        {"Name": "test:rmse", "Regex": _QUALITY.format("rmse", "loss")},
        {
            "Name": "train:throughput",
            "Regex": r"#throughput_metric: host=\S+, train throughput=(\S+) records/second",
        },
    ]
}


class LogStream:
    """A job's (or a build's, in its ``group``) CloudWatch Logs stream, written in batches.

    The puts are queued on moto's thread (see :mod:`logarchive`), in order, and the event loop
    does not wait for them.
    """

    def __init__(self, name: str, logs: LogArchive, group: str = LOG_GROUP) -> None:
        self.name = name
        self.logs = logs
        self.group = group
        self.pending: list[dict[str, Any]] = []
        self.last_line = ""
        logs.put(group, name, [])  # the stream exists from the start, as in SageMaker

    def add(self, line: str) -> None:
        if line.strip():  # CloudWatch refuses empty messages
            self.pending.append({"timestamp": int(time.time() * 1000), "message": line})
            self.last_line = line

    def flush(self) -> None:
        if self.pending:
            batch, self.pending = self.pending, []
            self.logs.put(self.group, self.name, batch)

    async def flush_every(self, seconds: float) -> None:
        while True:
            await asyncio.sleep(seconds)
            self.flush()


class FinalMetrics:
    """The last value of each metric definition's regex in the log lines, as SageMaker reports."""

    def __init__(self, definitions: list[dict[str, str]]) -> None:
        self.patterns = []
        for d in definitions:
            with contextlib.suppress(re.error):  # a Java-only construct: that metric is not seen
                self.patterns.append((d["Name"], re.compile(d["Regex"])))
        self.final: dict[str, dict[str, Any]] = {}

    def feed(self, line: str) -> None:
        for name, pattern in self.patterns:
            match = pattern.search(line)
            if match and match.groups():
                with contextlib.suppress(ValueError):
                    value = float(match.group(1))
                    if math.isfinite(value):
                        self.final[name] = {
                            "MetricName": name,
                            "Value": value,
                            "Timestamp": time.time(),
                        }

    def final_list(self) -> list[dict[str, Any]]:
        return list(self.final.values())
