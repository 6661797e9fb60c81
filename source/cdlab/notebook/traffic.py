"""Requests to an endpoint: a body of held-out ratings, one invocation, and steady traffic from
background threads that records every answer."""

from __future__ import annotations

import json
import math
import threading
import time
from dataclasses import dataclass
from typing import Any

import boto3
import pandas as pd
from botocore.config import Config

from cdlab import data
from cdlab.notebook import clock
from cdlab.notebook.workspace import workdir


def held_out_request(rows: int, offset: int = 0) -> tuple[bytes, list[int]]:
    """A JSON request of ``rows`` held-out ratings (sparse one-hot) and their labels."""
    generated = data.prepare(None, workdir())
    ratings = data.load_ratings(generated, "ua.test")
    X = data.one_hot(ratings, data.N_USERS, data.N_ITEMS)[offset : offset + rows]
    instances = [
        {"data": {"features": {"keys": r.indices.tolist(), "shape": [X.shape[1]],
                               "values": r.data.tolist()}}}
        for r in X
    ]  # fmt: skip
    labels = ratings.labels()[offset : offset + rows].astype(int).tolist()
    return json.dumps({"instances": instances}).encode(), labels


def dense_request(rows: int) -> bytes:
    """The same held-out ratings as ``held_out_request(rows)``, each row a dense vector of every
    feature: the same answers for hundreds of times the bytes, so the model's CPU does the work."""
    sparse = json.loads(held_out_request(rows)[0])["instances"]
    dense = []
    for instance in sparse:
        features = instance["data"]["features"]
        row = [0.0] * features["shape"][0]
        for key, value in zip(features["keys"], features["values"], strict=True):
            row[key] = value
        dense.append({"features": row})
    return json.dumps({"instances": dense}).encode()


def predict(endpoint: str, body: bytes, **extra: str) -> tuple[str, list[dict[str, float]]]:
    """Invoke ``endpoint``; returns the variant that answered and its predictions."""
    answer = boto3.client("sagemaker-runtime").invoke_endpoint(
        EndpointName=endpoint, ContentType="application/json", Body=body, **extra
    )
    return answer["InvokedProductionVariant"], json.loads(answer["Body"].read())["predictions"]


@dataclass(frozen=True)
class Answer:
    time: float
    variant: str
    score: float | None
    error: str | None


ROUND_TRIP = 0.2
"""Seconds one request may take while a paced Traffic still keeps its rate: an invocation from a
laptop to an AWS Region (TLS, SageMaker's overhead, the model) rather than the local cloud's few
milliseconds."""
MOST_THREADS = 32
CATCH_UP = ROUND_TRIP
"""Seconds a paced Traffic may fall behind its schedule and still send the requests it owes."""


def threads_for(rate: float | None) -> int:
    """Threads enough to send ``rate`` requests a second when each blocks for ``ROUND_TRIP``.

    A thread waits for its answer before it sends again, so it sends at most ``1 / ROUND_TRIP``
    a second: 60 a second needs 12 threads, where 2 would need answers within 33 ms. Capped at
    ``MOST_THREADS`` (300 a second then allows 106 ms); waiting threads cost little, so the local
    cloud's fast answers leave most of them idle. Unpaced traffic (``rate`` None) uses 2.
    """
    if not rate:
        return 2
    return min(MOST_THREADS, max(2, math.ceil(rate * ROUND_TRIP)))


class Traffic:
    """Invokes an endpoint from background threads and records every answer.

    Each record is (seconds since start, variant, score of the first prediction, error). Use it as
    a context manager around what should happen under live traffic; ``frame()`` gives the records
    as a DataFrame, ``summary()`` the rate it achieved. It stops by itself after ``limit`` seconds
    of the target's time (an hour: ``clock.TRAFFIC_LIMIT``), so a forgotten one ends on AWS and
    locally at any time scale.
    """

    def __init__(
        self,
        endpoint: str,
        body: bytes,
        threads: int | None = None,
        rate: float | None = None,
        limit: float = clock.TRAFFIC_LIMIT,
    ) -> None:
        """``rate``: requests per second in all (paced, each thread its share); None: as fast
        as the endpoint answers. ``threads``: ``threads_for(rate)`` unless given.
        ``self.limit``: ``limit`` in real seconds."""
        self.endpoint, self.body, self.limit = endpoint, body, clock.real(limit)
        self.rate = rate
        self.step = 1 / rate if rate else 0.0
        self._due = 0.0  # when the next request is to be sent, shared by the threads
        self.answers: list[Answer] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [
            threading.Thread(target=self._run, daemon=True)
            for _ in range(threads or threads_for(rate))
        ]
        self._runtime: Any = None  # made by start(), in the caller's thread
        self.started = 0.0
        self.stopped: float | None = None

    def _claim(self) -> float | None:
        """The time to send the next request at, or None once the traffic ends.

        One schedule for all the threads: whichever thread is free takes the next slot, so an
        answer that comes late delays no request as long as another thread is idle. A slot more
        than ``CATCH_UP`` seconds past (every thread was waiting) is skipped rather than sent in
        a burst."""
        with self._lock:
            now = self.now()
            if self._stop.is_set() or now >= self.limit:
                return None
            due = max(self._due, now - CATCH_UP)
            self._due = due + self.step
            return due

    def _run(self) -> None:
        while (due := self._claim()) is not None:
            if self._stop.wait(max(0.0, due - self.now())):
                return
            sent = self.now()
            try:
                answer = self._runtime.invoke_endpoint(
                    EndpointName=self.endpoint, ContentType="application/json", Body=self.body
                )
                score = json.loads(answer["Body"].read())["predictions"][0]["score"]
                record = Answer(sent, answer["InvokedProductionVariant"], score, None)
            except Exception as e:  # a failed request is data here, not a crash
                record = Answer(sent, "", None, f"{type(e).__name__}: {e}")
            with self._lock:
                self.answers.append(record)

    def start(self) -> Traffic:
        """Start the threads, sharing one client: a boto3 client is thread-safe, its creation
        from the default session is not
        (https://boto3.amazonaws.com/v1/documentation/api/latest/guide/clients.html#multithreading-or-multiprocessing-with-clients);
        a connection for each thread, so none waits for another's."""
        self._runtime = boto3.client(
            "sagemaker-runtime", config=Config(max_pool_connections=len(self._threads))
        )
        self.started = time.monotonic()
        for thread in self._threads:
            thread.start()
        return self

    def now(self) -> float:
        """Seconds since the traffic started: mark events with it."""
        return time.monotonic() - self.started

    def stop(self) -> pd.DataFrame:
        """Stop sending, and wait for the requests under way (which count as sent before)."""
        if self.stopped is None:
            self.stopped = self.now()
        self._stop.set()
        for thread in self._threads:
            thread.join()
        return self.frame()

    def __enter__(self) -> Traffic:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def frame(self) -> pd.DataFrame:
        with self._lock:
            rows = list(self.answers)
        return pd.DataFrame(rows, columns=["time", "variant", "score", "error"])

    def duration(self) -> float:
        """Seconds the traffic ran: until it stopped, or now, and at most ``limit``."""
        return min(self.stopped if self.stopped is not None else self.now(), self.limit)

    def achieved(self) -> float:
        """Requests sent per second, on average since the start."""
        with self._lock:
            sent = len(self.answers)
        return sent / self.duration() if self.duration() > 0 else 0.0

    def share(self) -> float:
        """The achieved rate as a share of the ``rate`` asked (1.0 for unpaced traffic)."""
        return self.achieved() / self.rate if self.rate else 1.0

    def summary(self) -> str:
        """The requests sent, in how long, and how near the rate asked: the endpoint's answers
        pace the threads, so a slow one (AWS from afar) sends less than asked."""
        with self._lock:
            sent = len(self.answers)
        line = f"{sent} requests in {self.duration():.1f} s: {self.achieved():.1f} a second"
        if not self.rate:
            return line
        return f"{line}, {self.share():.0%} of the {self.rate:g} asked"
