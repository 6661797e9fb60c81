"""A load generator for a local endpoint: steady or stepped request rates, open loop.

Open loop: request *i* of a step is sent at ``start + i / rate`` whether or not earlier ones were
answered, as independent users would send them, so a slow endpoint shows up as latency and
errors rather than as a lower rate. Requests are InvokeEndpoint calls signed with SigV4
(botocore's signer, from the environment's credentials) and sent with aiohttp; a signature is
reused for up to a minute, so signing costs nothing per request.

Bounded: at most ``MAX_RATE`` requests per second, ``MAX_SECONDS`` seconds and ``MAX_REQUESTS``
requests, and only to a loopback endpoint (the local cloud), never to a real AWS account.

    from cdlab import load
    report = load.run("my-endpoint", rate=50, duration=30)          # or steps=[10, 50, 100]
    print(report.summary())
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from urllib.parse import quote, urlsplit

import aiohttp
import boto3
import botocore.session
import numpy as np
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    ReadTimeoutError,
)

from cdlab import config

MAX_RATE = 2000.0
MAX_SECONDS = 3600.0
MAX_REQUESTS = 1_000_000
MAX_IN_FLIGHT = 512
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
SIGNATURE_REUSE_SECONDS = 60.0
PROGRESS_SECONDS = 0.5
DEFAULT_FEATURE_DIM = 2625  # MovieLens 100k one-hot: 943 users + 1682 items
REQUEST_TIMEOUT_SECONDS = 65.0
# DescribeEndpoint before a load: once, soon (a stalled cloud is said, not waited for)
CHECK_CONFIG = Config(connect_timeout=5, read_timeout=30, retries={"total_max_attempts": 1})


class LoadError(ValueError):
    """The load asked for is out of bounds or has no local endpoint to go to."""


def sample_bodies(
    feature_dim: int = DEFAULT_FEATURE_DIM, count: int = 64, seed: int = 0
) -> list[bytes]:
    """JSON requests of one sparse row each, two features set (a user and an item, say)."""
    rng = np.random.default_rng(seed)
    bodies = []
    for _ in range(count):
        keys = sorted(int(k) for k in rng.choice(feature_dim, size=2, replace=False))
        row = {"keys": keys, "shape": [feature_dim], "values": [1.0, 1.0]}
        bodies.append(json.dumps({"instances": [{"data": {"features": row}}]}).encode())
    return bodies


@dataclass
class Report:
    """What happened: counts, error codes, latencies and a per-second timeline."""

    sent: int = 0
    ok: int = 0
    errors: Counter[str] = field(default_factory=Counter)  # AWS error code -> count
    lost: int = 0  # no HTTP answer at all (connection refused or reset, timeout)
    latencies_ms: list[float] = field(default_factory=list)
    timeline: list[tuple[float, int, int, int]] = field(default_factory=list)  # t, sent, ok, failed
    variants: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0

    @property
    def failed(self) -> int:
        return sum(self.errors.values()) + self.lost

    def percentile(self, q: float) -> float:
        return float(np.percentile(self.latencies_ms, q)) if self.latencies_ms else float("nan")

    def summary(self) -> str:
        rate = self.sent / self.seconds if self.seconds else 0.0
        errors = ", ".join(f"{code} {n}" for code, n in self.errors.most_common()) or "none"
        latency = (
            f"latency p50 {self.percentile(50):.1f} ms, p99 {self.percentile(99):.1f} ms"
            if self.latencies_ms
            else "no answer to time"
        )
        return (
            f"{self.sent} requests in {self.seconds:.1f} s ({rate:.1f}/s): {self.ok} ok, "
            f"{self.failed} failed (errors: {errors}; lost: {self.lost}); {latency}"
        )


Progress = Callable[[Report, float], None]  # the report so far, requests sent in the last second


def progress_line(report: Report, rate: float) -> str:
    return (
        f"sent {report.sent}  ok {report.ok}  failed {report.failed}  "
        f"rate {rate:.0f}/s  p50 {report.percentile(50):.1f} ms"
    )


def tty_progress(stream: object = sys.stderr) -> Progress | None:
    """A live progress line on a terminal (None when ``stream`` is not one)."""
    if not getattr(stream, "isatty", lambda: False)():
        return None

    def show(report: Report, rate: float) -> None:
        print("\r" + progress_line(report, rate).ljust(79), end="", file=stream, flush=True)

    return show


class _Signer:
    def __init__(self, url: str, region: str) -> None:
        session = botocore.session.get_session()
        credentials = session.get_credentials()
        if credentials is None:
            raise LoadError('No AWS credentials: run `eval "$(cdlab local env)"` first.')
        self.auth = SigV4Auth(credentials.get_frozen_credentials(), "sagemaker", region)
        self.url = url
        self.cache: dict[bytes, tuple[float, dict[str, str]]] = {}

    def headers(self, body: bytes, content_type: str) -> dict[str, str]:
        cached = self.cache.get(body)
        now = time.monotonic()
        if cached is not None and now - cached[0] < SIGNATURE_REUSE_SECONDS:
            return cached[1]
        request = AWSRequest(method="POST", url=self.url, data=body)
        request.headers["Content-Type"] = content_type
        self.auth.add_auth(request)
        headers = dict(request.headers.items())
        self.cache[body] = (now, headers)
        return headers


def _base_url(endpoint_url: str | None = None) -> str:
    """The local cloud's URL the load goes to: ``endpoint_url``, else the environment's."""
    base = (
        endpoint_url
        or os.environ.get("AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME")
        or os.environ.get("AWS_ENDPOINT_URL")
    )
    if not base:
        raise LoadError(
            "No local endpoint URL: the load generator only targets the local cloud "
            '(run `eval "$(cdlab local env)"` or cdlab.target.ready("local")).'
        )
    host = urlsplit(base).hostname
    if host not in LOOPBACK_HOSTS:
        raise LoadError(f"The load generator only sends to loopback endpoints, not to {host}.")
    return base.rstrip("/")


def invocation_url(endpoint: str, endpoint_url: str | None = None) -> str:
    return f"{_base_url(endpoint_url)}/endpoints/{quote(endpoint, safe='')}/invocations"


def check_endpoint(
    endpoint: str, endpoint_url: str | None = None, client_config: Config = CHECK_CONFIG
) -> None:
    """Refuse, before any request, a load to an endpoint the local cloud does not have (with
    SageMaker's message, from DescribeEndpoint) or to a cloud that does not answer (within
    ``client_config``'s timeouts). A principal that may not call DescribeEndpoint is let
    through: the requests will tell."""
    base = _base_url(endpoint_url)
    sm = boto3.session.Session().client(
        "sagemaker", endpoint_url=base, region_name=config.region(), config=client_config
    )
    try:
        sm.describe_endpoint(EndpointName=endpoint)
    except (EndpointConnectionError, ConnectTimeoutError):
        raise LoadError(
            f"No local cloud answers at {base}: start it with `cdlab local up` (and point this "
            'shell at it with `eval "$(cdlab local env)"`).'
        ) from None
    except (ReadTimeoutError, ConnectionClosedError):
        raise LoadError(
            f"Something listens at {base} but did not answer DescribeEndpoint: if it is the "
            "local cloud, see `cdlab local logs`, or restart it (`cdlab local down`, then "
            "`cdlab local up`)."
        ) from None
    except NoCredentialsError:
        raise LoadError('No AWS credentials: run `eval "$(cdlab local env)"` first.') from None
    except ClientError as e:
        error = e.response["Error"]
        if error.get("Code") in ("ValidationException", "ValidationError"):
            raise LoadError(f"{error['Code']}: {error.get('Message', '')}") from None


def preflight(
    endpoint: str,
    rates: Sequence[float],
    duration: float,
    endpoint_url: str | None = None,
    *,
    ask_cloud: bool = True,
) -> str:
    """The invocation URL of a load :func:`run` may send, or a LoadError saying why it may
    not: no local endpoint URL, out of bounds, and (``ask_cloud``) :func:`check_endpoint`."""
    url = invocation_url(endpoint, endpoint_url)
    check(rates, duration)
    if ask_cloud:
        check_endpoint(endpoint, endpoint_url)
    return url


def check(rates: Sequence[float], duration: float) -> None:
    """Refuse (LoadError) rates or a duration out of bounds; :func:`run` checks the same."""
    if not rates or any(not 0 < r <= MAX_RATE for r in rates):
        raise LoadError(f"Each rate must be above 0 and at most {MAX_RATE:g} requests/s: {rates}")
    if not 0 < duration <= MAX_SECONDS:
        raise LoadError(f"The duration must be above 0 and at most {MAX_SECONDS:g} s.")
    total = sum(r * duration / len(rates) for r in rates)
    if total > MAX_REQUESTS:
        raise LoadError(f"That is {total:.0f} requests; the limit is {MAX_REQUESTS}.")


class _Run:
    """One run's state, shared by the schedule and the requests in flight: the report, the
    counts per second (sent, ok, failed) and the tasks not yet answered."""

    def __init__(self, url: str, content_type: str, progress: Progress | None) -> None:
        self.url, self.content_type, self.progress = url, content_type, progress
        self.report = Report()
        self.signer = _Signer(url, config.region())
        self.started = time.monotonic()
        self.next_progress = self.started
        self.in_flight: set[asyncio.Task[None]] = set()
        self.per_second: Counter[tuple[int, str]] = Counter()

    async def one(self, session: aiohttp.ClientSession, body: bytes) -> None:
        """Send one request and count its answer (or its loss) and latency."""
        report, per_second = self.report, self.per_second
        sent_at = time.monotonic()
        second = int(sent_at - self.started)
        try:
            headers = self.signer.headers(body, self.content_type)
            async with session.post(self.url, data=body, headers=headers) as response:
                answer = await response.read()
                if response.status == 200:
                    report.ok += 1
                    per_second[(second, "ok")] += 1
                    report.variants[
                        response.headers.get("x-Amzn-Invoked-Production-Variant", "")
                    ] += 1
                else:
                    report.errors[_error_code(response, answer)] += 1
                    per_second[(second, "failed")] += 1
        except (aiohttp.ClientError, TimeoutError):
            report.lost += 1
            per_second[(second, "failed")] += 1
            return
        report.latencies_ms.append((time.monotonic() - sent_at) * 1000)

    async def step(
        self,
        session: aiohttp.ClientSession,
        step_start: float,
        rate: float,
        seconds: float,
        bodies: Sequence[bytes],
        stop: threading.Event | None,
    ) -> None:
        """Send ``rate`` requests per second from ``step_start`` for ``seconds``, on schedule
        (without waiting for answers), showing progress on the way."""
        report, per_second = self.report, self.per_second
        for i in range(int(rate * seconds)):
            if stop is not None and stop.is_set():
                break
            due = step_start + i / rate
            now = time.monotonic()
            if due > now:
                await asyncio.sleep(due - now)
            if self.progress is not None and time.monotonic() >= self.next_progress:
                last_second = int(time.monotonic() - self.started) - 1
                measured = per_second[(last_second, "sent")] if last_second >= 0 else rate
                self.progress(report, measured)
                self.next_progress += PROGRESS_SECONDS
            report.sent += 1
            if len(self.in_flight) >= MAX_IN_FLIGHT:
                report.errors["ClientSaturated"] += 1  # the client, not the endpoint, is full
                continue
            per_second[(int(time.monotonic() - self.started), "sent")] += 1
            task = asyncio.create_task(self.one(session, bodies[report.sent % len(bodies)]))
            self.in_flight.add(task)
            task.add_done_callback(self.in_flight.discard)

    def finish(self) -> Report:
        """The report, with its duration and timeline, once every request is answered."""
        report, per_second = self.report, self.per_second
        report.seconds = time.monotonic() - self.started
        if self.progress is not None:
            self.progress(report, report.sent / report.seconds)
        seconds = range(int(report.seconds) + 1)
        report.timeline = [
            (float(s), per_second[(s, "sent")], per_second[(s, "ok")], per_second[(s, "failed")])
            for s in seconds
        ]
        return report


async def _load(
    url: str,
    rates: Sequence[float],
    step_seconds: float,
    bodies: Sequence[bytes],
    content_type: str,
    progress: Progress | None,
    stop: threading.Event | None,
) -> Report:
    run = _Run(url, content_type, progress)
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_SECONDS)
    connector = aiohttp.TCPConnector(limit=MAX_IN_FLIGHT)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        for step, rate in enumerate(rates):
            await run.step(
                session, run.started + step * step_seconds, rate, step_seconds, bodies, stop
            )
        if run.in_flight:
            await asyncio.wait(run.in_flight)
    return run.finish()


def _error_code(response: aiohttp.ClientResponse, answer: bytes) -> str:
    code = response.headers.get("x-amzn-ErrorType", "").split(":")[0]
    if not code:
        try:
            code = json.loads(answer).get("__type", "")
        except (ValueError, AttributeError):
            code = ""
    return code.rsplit("#", 1)[-1] or f"HTTP{response.status}"


def run(
    endpoint: str,
    rate: float = 10.0,
    duration: float = 10.0,
    steps: Sequence[float] | None = None,
    bodies: Sequence[bytes] | None = None,
    content_type: str = "application/json",
    progress: Progress | None = None,
    stop: threading.Event | None = None,
    endpoint_url: str | None = None,
    checked: bool = False,
) -> Report:
    """Send ``rate`` requests per second for ``duration`` seconds (or each of ``steps`` for an
    equal share of ``duration``) and report; ``stop`` ends it early. ``checked``: the caller's
    :func:`preflight` asked the cloud already (it is not asked again). Safe in a notebook: with
    an event loop already running it runs in a thread of its own."""
    rates = list(steps) if steps else [rate]
    url = preflight(endpoint, rates, duration, endpoint_url, ask_cloud=not checked)
    load = _load(
        url,
        rates,
        duration / len(rates),
        list(bodies or sample_bodies()),
        content_type,
        progress,
        stop,
    )
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(load)
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, load).result()
