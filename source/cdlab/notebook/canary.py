"""A quality signal for a canary: a probe that sends held-out ratings to an endpoint, checks each
answer against the real ratings, and puts the match rate to CloudWatch, where an alarm watches it.

A model can be bad without failing: it answers every request with HTTP 200, so
``Invocation5XXErrors`` stays at zero while its answers are wrong. Only a metric about the answers
moves then. SageMaker has none for that, so the probe publishes one (PutMetricData, namespace
``CDLab/Notebooks``, metric ``MatchRate``, dimension ``EndpointName``), on both clouds alike.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from typing import Any

import boto3
import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.figure import Figure

from cdlab.notebook import clock
from cdlab.notebook.traffic import held_out_request

PROBE_NAMESPACE = "CDLab/Notebooks"
PROBE_METRIC = "MatchRate"
PROBE_ROWS = 200
PROBE_EVERY = 5.0  # CloudWatch seconds between probes: about 12 datapoints a minute
PROBE_LIMIT_MINUTES = 120.0  # CloudWatch minutes after which a forgotten probe stops by itself


@dataclass(frozen=True)
class Probe:
    time: float
    match_rate: float | None
    score: float | None
    error: str | None


class MatchRateProbe:
    """Every ``every`` CloudWatch seconds (scaled on the local cloud), from a background thread:
    invoke ``endpoint`` with ``rows`` held-out ratings, compare the predicted labels with the
    ratings' labels, put the share that match to CloudWatch, and record it. Use it as a context
    manager or ``start()`` / ``stop()``; ``frame()`` gives the records as a DataFrame."""

    def __init__(
        self,
        endpoint: str,
        rows: int = PROBE_ROWS,
        every: float = PROBE_EVERY,
        limit_minutes: float = PROBE_LIMIT_MINUTES,
    ) -> None:
        self.endpoint = endpoint
        self.body, self.labels = held_out_request(rows)
        scale = clock.scale()
        self.interval, self.limit = every / scale, limit_minutes * 60 / scale
        self.probes: list[Probe] = []
        self.started = 0.0
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def dimensions(self) -> list[dict[str, str]]:
        return [{"Name": "EndpointName", "Value": self.endpoint}]

    def _probe(self, runtime: Any, cloudwatch: Any) -> Probe:
        sent = self.now()
        try:
            answer = runtime.invoke_endpoint(
                EndpointName=self.endpoint, ContentType="application/json", Body=self.body
            )
            predictions = json.loads(answer["Body"].read())["predictions"]
            labels = zip(predictions, self.labels, strict=True)
            rate = sum(int(p["predicted_label"]) == y for p, y in labels) / len(self.labels)
            cloudwatch.put_metric_data(
                Namespace=PROBE_NAMESPACE,
                MetricData=[
                    {"MetricName": PROBE_METRIC, "Dimensions": self.dimensions(), "Value": rate}
                ],
            )
        except Exception as e:  # a failed request is data here, not a crash
            return Probe(sent, None, None, f"{type(e).__name__}: {e}")
        return Probe(sent, rate, predictions[0]["score"], None)

    def _run(self) -> None:
        runtime, cloudwatch = boto3.client("sagemaker-runtime"), boto3.client("cloudwatch")
        while not self._stop.is_set() and self.now() < self.limit:
            probe = self._probe(runtime, cloudwatch)
            with self._lock:
                self.probes.append(probe)
            self._stop.wait(max(0.0, probe.time + self.interval - self.now()))

    def start(self) -> MatchRateProbe:
        self.started = time.monotonic()
        self._thread.start()
        return self

    def now(self) -> float:
        """Seconds since the probe started: mark events with it."""
        return time.monotonic() - self.started

    def stop(self) -> pd.DataFrame:
        self._stop.set()
        self._thread.join()
        return self.frame()

    def __enter__(self) -> MatchRateProbe:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def frame(self) -> pd.DataFrame:
        with self._lock:
            rows = list(self.probes)
        return pd.DataFrame(rows, columns=["time", "match_rate", "score", "error"])


def plot_match_rate(
    probes: pd.DataFrame,
    threshold: float,
    title: str,
    events: dict[str, float] | None = None,
    minute: float = 60.0,
) -> Figure:
    """Each probe's match rate over time in CloudWatch minutes (``minute``: real seconds in one;
    red under ``threshold``), the alarm's threshold, and vertical lines at ``events`` (name ->
    seconds since the probe started)."""
    fig, ax = plt.subplots(figsize=(9, 3.5))
    at, low = probes["time"] / minute, probes["match_rate"] < threshold
    ax.scatter(at[~low], probes["match_rate"][~low], s=10, label="probe")
    ax.scatter(at[low], probes["match_rate"][low], s=10, color="tab:red",
               label="probe under the threshold")  # fmt: skip
    ax.axhline(threshold, color="tab:red", linestyle=":", label=f"alarm threshold {threshold:g}")
    for name, seconds in (events or {}).items():
        ax.axvline(seconds / minute, color="black", linestyle="--", linewidth=1)
        ax.annotate(name, (seconds / minute, 0.02), xycoords=("data", "axes fraction"),
                    rotation=90, va="bottom", ha="right", fontsize=8)  # fmt: skip
    ax.set(xlabel="CloudWatch minutes", ylabel="match rate of a probe", ylim=(0, 1), title=title)
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0))
    fig.tight_layout()
    return fig
