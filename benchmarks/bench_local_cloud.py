"""Local cloud figures: endpoint start-up time, and the gateway's cost on the hot path.

Prints create-endpoint -> InService seconds for 2 instances (SageMaker takes several minutes),
then invocations per second and p50/p99 latency through the gateway and straight to one
instance of the same container, from the same run (the two loads alternate in slices), with
their ratio (target: >= 0.70).

Then the cost of IAM enforcement on that hot path: an IAM user allowed sagemaker:InvokeEndpoint
sends the same load through this cloud (enforcement on, the default) and through a second cloud
started with ``CDLAB_IAM=off``, in the same alternating slices; the ratio of their throughputs
(goal: >= 0.90, evaluation costing under 10%). An IAM user's request is not served by the
runtime's fast path (that is for the kit's own key), so both go through aiohttp and differ by the
evaluation alone. That throughput ratio comes out lower with short slices (0.72 to 0.74 with 1 s
slices, 0.81 with 10 s ones, in either order) than the CPU each request costs says, so the
report also gives the IAM user's CPU per invocation in each cloud at the fixed rate below.

Then the CPU each process spends per proxied invocation at a fixed open-loop rate (400/s for
10 s by default), from the utime + stime ticks in ``/proc/PID/stat`` of the gateway and of its
instance before and after the load. It moves far less than throughput with what else the
machine's cores are doing, though a busy machine makes each request cheaper (wake-ups find
work queued) and a quiet one dearer; their ratio moves least. The load client
(:mod:`cdlab.load`) runs in a process of its own, so its CPU counts for neither. Beside the
gateway's figure, the same load's through ``bare_proxy.py`` to the direct instance: the floor
any proxy on uvloop pays on this machine, for two loopback connections per request. The CPU
figures depend on the interpreter's build: on Debian's own python3 3.11.2 (built with
profile-guided and link-time optimisation) the gateway spent 258 and 292 µs per invocation, on
this workplace's pyenv 3.11.7 (built without) 315 and 332 µs, in alternation; so the report names
the Python it ran on.
Run: ``.venv/bin/python benchmarks/bench_local_cloud.py [--seconds 5] [--concurrency 16]
[--slices 5] [--rate 400] [--rate-seconds 10]``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any, NamedTuple

import aiohttp
import boto3
import numpy as np
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from cdlab import config, target
from cdlab import load as fixed_load
from cdlab.fm.model import FMModel, artifact_bytes
from cdlab.localcloud import control
from cdlab.localcloud.sagemaker.images import fm_image_uri

FEATURES = 2625
INVOKER = "bench-invoker"
Figures = dict[str, tuple[float, float, float]]  # load -> (req/s, p50 ms, p99 ms)


def model() -> FMModel:
    rng = np.random.default_rng(0)
    return FMModel(
        0.1,
        rng.normal(size=FEATURES).astype(np.float32),
        rng.normal(scale=0.1, size=(FEATURES, 64)).astype(np.float32),
        "binary_classifier",
    )


def body() -> bytes:
    sparse = {"keys": [10, 1000], "shape": [FEATURES], "values": [1.0, 1.0]}
    return json.dumps({"instances": [{"data": {"features": sparse}}]}).encode()


async def load(url: str, seconds: float, concurrency: int, headers: dict[str, str]) -> list[float]:
    """Closed-loop load: ``concurrency`` clients each sending the next request on an answer."""
    latencies: list[float] = []
    payload = body()
    deadline = time.perf_counter() + seconds
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def client() -> None:
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                async with session.post(url, data=payload, headers=headers) as r:
                    await r.read()
                    if r.status != 200:
                        raise RuntimeError(f"{url} answered {r.status}")
                latencies.append(time.perf_counter() - started)

        await asyncio.gather(*(client() for _ in range(concurrency)))
    return latencies


def signed_headers(url: str, env: dict[str, str]) -> dict[str, str]:
    """SigV4 headers for POSTing ``body()`` to ``url``, as boto3 signs InvokeEndpoint (the local
    cloud checks signatures; one signature serves the whole run, as the request never changes)."""
    credentials = Credentials(env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"])
    request = AWSRequest("POST", url, data=body(), headers={"Content-Type": "application/json"})
    SigV4Auth(credentials, "sagemaker", env["AWS_DEFAULT_REGION"]).add_auth(request)
    return dict(request.headers.items())


def summary(latencies: list[float], seconds: float) -> tuple[float, float, float]:
    ms = np.array(latencies) * 1000
    return len(latencies) / seconds, float(np.percentile(ms, 50)), float(np.percentile(ms, 99))


def cpu_ticks(pid: int) -> int:
    """utime + stime of ``pid``, in clock ticks."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def fixed_rate(
    endpoint: str,
    rate: float,
    seconds: float,
    pids: list[int],
    endpoint_url: str | None,
    key: tuple[str, str] | None = None,
) -> dict[str, object]:
    """Open-loop load at ``rate``/s for ``seconds`` (run in a process of its own, signing with
    ``key`` if given, else this environment's): the answers and the CPU ticks each of ``pids``
    spent meanwhile."""
    if key is not None:
        os.environ["AWS_ACCESS_KEY_ID"], os.environ["AWS_SECRET_ACCESS_KEY"] = key
    before = [cpu_ticks(pid) for pid in pids]
    report = fixed_load.run(
        endpoint,
        rate=rate,
        duration=seconds,
        bodies=fixed_load.sample_bodies(FEATURES),
        endpoint_url=endpoint_url,
    )
    ticks = [cpu_ticks(pid) - b for pid, b in zip(pids, before, strict=True)]
    return {"ok": report.ok, "failed": report.failed, "summary": report.summary(), "ticks": ticks}


class CpuPerRequest(NamedTuple):
    front: float  # µs of CPU per answered invocation, of the gateway or the bare proxy
    instance: float
    summary: str  # the load's own report


def gateway_instance(endpoint: str, gateway_pid: int) -> int:
    """The pid of the endpoint's one instance, a child of the gateway."""
    (instance_pid,) = [
        pid
        for pid, cmdline in control.children(gateway_pid)
        if b"cdlab.fm.serve_container" in cmdline and endpoint.encode() in cmdline
    ]
    return instance_pid


def cpu_per_request(
    endpoint: str,
    pids: tuple[int, int],
    args: argparse.Namespace,
    endpoint_url: str | None = None,
    key: tuple[str, str] | None = None,
) -> CpuPerRequest:
    """µs of CPU per answered invocation of the front (gateway or bare proxy) and of the
    instance behind it, ``pids`` in that order, at the fixed rate of ``args``, signed with
    ``key`` (an access key id and secret) if given."""
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(1, mp_context=spawn) as client:
        result = client.submit(
            fixed_rate, endpoint, args.rate, args.rate_seconds, list(pids), endpoint_url, key
        ).result()
    if result["failed"] or not result["ok"]:
        raise RuntimeError(f"the fixed-rate load failed: {result['summary']}")
    per_tick = 1e6 / os.sysconf("SC_CLK_TCK")
    front, instance = (t * per_tick / result["ok"] for t in result["ticks"])
    return CpuPerRequest(front, instance, str(result["summary"]))


@contextlib.contextmanager
def bare_proxy(instance_port: int) -> Iterator[tuple[int, int]]:
    """benchmarks/bare_proxy.py in front of the instance on ``instance_port``: its pid and
    port, until the block ends."""
    script = Path(__file__).with_name("bare_proxy.py")
    process = subprocess.Popen(
        [sys.executable, str(script), str(instance_port)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        yield process.pid, int(process.stdout.readline().rsplit(" ", 1)[1])
    finally:
        process.terminate()
        process.wait()


def direct_instance(model_dir: Path) -> tuple[subprocess.Popen[str], int]:
    process = subprocess.Popen(
        [sys.executable, "-m", "cdlab.fm.serve_container", "--endpoint", "bench",
         "--variant", "direct", "--instance", "i-direct", "--model-dir", str(model_dir),
         "--port", "0"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert process.stdout is not None
    line = process.stdout.readline()
    return process, int(line.rsplit(":", 1)[1])


def client(env: dict[str, str], service: str) -> Any:
    """A client of the cloud ``env`` points at, signing with ``env``'s key."""
    return boto3.Session(
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        region_name=env["AWS_DEFAULT_REGION"],
    ).client(service, endpoint_url=env["AWS_ENDPOINT_URL"])


def deploy(env: dict[str, str], counts: tuple[int, ...] = (1,)) -> None:
    """The bench model, and an endpoint config ``bench-N`` of N instances for each of
    ``counts``; endpoint ``bench-1`` InService."""
    sm, s3 = client(env, "sagemaker"), client(env, "s3")
    s3.create_bucket(Bucket="bench")
    s3.put_object(Bucket="bench", Key="m.tar.gz", Body=artifact_bytes(model()))
    image = fm_image_uri(env["AWS_DEFAULT_REGION"])
    sm.create_model(
        ModelName="bench", PrimaryContainer={"Image": image, "ModelDataUrl": "s3://bench/m.tar.gz"}
    )
    for count in counts:
        sm.create_endpoint_config(
            EndpointConfigName=f"bench-{count}",
            ProductionVariants=[{"VariantName": "AllTraffic", "ModelName": "bench",
                                 "InitialInstanceCount": count, "InstanceType": "ml.m5.large"}],
        )  # fmt: skip
    sm.create_endpoint(EndpointName="bench-1", EndpointConfigName="bench-1")
    sm.get_waiter("endpoint_in_service").wait(EndpointName="bench-1")


def endpoint_start_seconds(env: dict[str, str]) -> float:
    """create-endpoint -> InService of ``bench-2`` (2 instances), which is then deleted."""
    sm = client(env, "sagemaker")
    started = time.perf_counter()
    sm.create_endpoint(EndpointName="bench-2", EndpointConfigName="bench-2")
    described = sm.describe_endpoint(EndpointName="bench-2")
    while described["EndpointStatus"] == "Creating":
        time.sleep(0.02)
        described = sm.describe_endpoint(EndpointName="bench-2")
    if described["EndpointStatus"] != "InService":
        raise SystemExit(f"endpoint bench-2 failed: {described.get('FailureReason')}")
    seconds = time.perf_counter() - started
    sm.delete_endpoint(EndpointName="bench-2")
    return seconds


def invoker_key(env: dict[str, str]) -> tuple[str, str]:
    """The access key of an IAM user whose one policy allows InvokeEndpoint on ``bench-1``:
    its requests are evaluated, unless the cloud runs with ``CDLAB_IAM=off``."""
    iam = client(env, "iam")
    iam.create_user(UserName=INVOKER)
    arn = f"arn:aws:sagemaker:{env['AWS_DEFAULT_REGION']}:{config.ACCOUNT_ID}:endpoint/bench-1"
    statement = {"Effect": "Allow", "Action": "sagemaker:InvokeEndpoint", "Resource": arn}
    iam.put_user_policy(
        UserName=INVOKER,
        PolicyName="invoke",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [statement]}),
    )
    key = iam.create_access_key(UserName=INVOKER)["AccessKey"]
    return key["AccessKeyId"], key["SecretAccessKey"]


def signed_by(url: str, env: dict[str, str], key: tuple[str, str]) -> dict[str, str]:
    """``signed_headers`` for ``url``, signed with ``key`` instead of ``env``'s."""
    return signed_headers(
        url, {**env, "AWS_ACCESS_KEY_ID": key[0], "AWS_SECRET_ACCESS_KEY": key[1]}
    )


def discard(home: Path) -> None:
    """Stop the benchmark's local cloud and delete its temporary home."""
    control.down(home)
    shutil.rmtree(home, ignore_errors=True)


@contextlib.contextmanager
def unenforced_cloud() -> Iterator[tuple[dict[str, str], int]]:
    """A second local cloud, started with ``CDLAB_IAM=off``, with ``bench-1`` InService; the
    environment that points at it, and its pid."""
    home = Path(tempfile.mkdtemp(prefix="cdlab-bench-noiam-"))
    before = os.environ.get("CDLAB_IAM")
    os.environ["CDLAB_IAM"] = "off"  # the cloud reads it once, at its start
    try:
        running = control.up(home, control.free_port())
    finally:
        if before is None:
            del os.environ["CDLAB_IAM"]
        else:
            os.environ["CDLAB_IAM"] = before
    try:
        env = {**os.environ, **control.client_environment(home, running.port)}
        deploy(env)
        yield env, running.pid
    finally:
        discard(home)


def alternating(urls: dict[str, tuple[str, dict[str, str]]], args: argparse.Namespace) -> Figures:
    """(req/s, p50 ms, p99 ms) of each load, in alternating slices, so that all see the same
    machine (others' jobs come and go)."""
    latencies: dict[str, list[float]] = {name: [] for name in urls}
    for _ in range(args.slices):
        for name, (url, headers) in urls.items():
            slice_seconds = args.seconds / args.slices
            latencies[name] += asyncio.run(load(url, slice_seconds, args.concurrency, headers))
    return {name: summary(values, args.seconds) for name, values in latencies.items()}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--slices", type=int, default=5, help="alternations of the loads")
    parser.add_argument("--rate", type=float, default=400.0, help="fixed rate for the CPU figure")
    parser.add_argument("--rate-seconds", type=float, default=10.0)
    return parser.parse_args()


def throughputs(clouds: dict[str, Cloud], direct_port: int, args: argparse.Namespace) -> Figures:
    """The four loads: straight to an instance, through the gateway with the kit's key, and as
    an IAM user through this cloud (IAM on) and through one with IAM off."""
    gateway = invocations(clouds["on"].env)
    unenforced = invocations(clouds["off"].env)
    direct = f"http://127.0.0.1:{direct_port}/invocations"
    loads = {
        "direct to 1 instance": (direct, {"Content-Type": "application/json"}),
        "through the gateway": (gateway, signed_headers(gateway, clouds["on"].env)),
        "IAM user, IAM on": (gateway, signed_by(gateway, clouds["on"].env, clouds["on"].key)),
        "IAM user, IAM off": (
            unenforced,
            signed_by(unenforced, clouds["off"].env, clouds["off"].key),
        ),
    }
    return alternating(loads, args)


class Cloud(NamedTuple):
    """A benchmark cloud: its clients' environment, its gateway's pid, the IAM user's key."""

    env: dict[str, str]
    pid: int
    key: tuple[str, str]


def invocations(env: dict[str, str]) -> str:
    return f"{env['AWS_ENDPOINT_URL']}/endpoints/bench-1/invocations"


def iam_cpu(clouds: dict[str, Cloud], args: argparse.Namespace) -> dict[str, CpuPerRequest]:
    """CPU per invocation of the IAM user's load through each cloud (aiohttp's path, as the
    runtime's fast path is for the kit's key alone): the cost of the evaluation itself, which
    moves less with the machine than the throughput of short alternating slices does."""
    return {
        name: cpu_per_request(
            "bench-1",
            (cloud.pid, gateway_instance("bench-1", cloud.pid)),
            args,
            cloud.env["AWS_ENDPOINT_URL"],
            cloud.key,
        )
        for name, cloud in clouds.items()
    }


def main() -> None:
    args = parse_args()
    home = Path(tempfile.mkdtemp(prefix="cdlab-bench-"))
    env = {**os.environ, **target.ready("local", home=home, port=control.free_port())}
    try:
        deploy(env, counts=(2, 1))
        create_seconds = endpoint_start_seconds(env)
        running = control.running(home)
        assert running is not None
        model_dir = home / "direct-model"
        model().save(model_dir)
        process, direct_port = direct_instance(model_dir)
        with unenforced_cloud() as (off, off_pid):
            clouds = {
                "on": Cloud(env, running.pid, invoker_key(env)),
                "off": Cloud(off, off_pid, invoker_key(off)),
            }
            try:
                figures = throughputs(clouds, direct_port, args)
                with bare_proxy(direct_port) as (proxy_pid, proxy_port):
                    floor = cpu_per_request(
                        "bench", (proxy_pid, process.pid), args, f"http://127.0.0.1:{proxy_port}"
                    )
            finally:
                process.terminate()
                process.wait()
            pids = (running.pid, gateway_instance("bench-1", running.pid))
            cpu = cpu_per_request("bench-1", pids, args)
            iam = iam_cpu(clouds, args)
    finally:
        discard(home)
    report(args, create_seconds, figures, cpu, floor, iam)


def report(
    args: argparse.Namespace,
    create_seconds: float,
    figures: Figures,
    cpu: CpuPerRequest,
    floor: CpuPerRequest,
    iam: dict[str, CpuPerRequest],
) -> None:
    print(f"create-endpoint -> InService, 2 instances: {create_seconds:.2f} s (target < 2 s)")
    clients = (
        f"{args.concurrency} concurrent clients for {args.seconds:.0f} s each, "
        f"in {args.slices} alternating slices"
    )
    print(f"load: {clients}, {os.cpu_count()} cores")
    print(f"Python {platform.python_version()} ({sys.executable}): every process's interpreter")
    print(f"{'':<22}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}")
    for name, (rps, p50, p99) in figures.items():
        print(f"{name:<22}{rps:>10.0f}{p50:>10.2f}{p99:>10.2f}")
    ratio = figures["through the gateway"][0] / figures["direct to 1 instance"][0]
    print(f"gateway / direct throughput: {ratio:.2f} (target >= 0.70)")
    enforced = figures["IAM user, IAM on"][0] / figures["IAM user, IAM off"][0]
    print(f"IAM user, enforcement on / off throughput: {enforced:.2f} (goal >= 0.90)")
    print(f"fixed rate {args.rate:.0f}/s for {args.rate_seconds:.0f} s: {cpu.summary}")
    print(
        f"CPU per invocation: gateway {cpu.front:.0f} µs (target < 200), instance "
        f"{cpu.instance:.0f} µs, gateway / instance {cpu.front / cpu.instance:.2f}"
    )
    print(
        f"the floor, a bare proxy that only moves the bytes (benchmarks/bare_proxy.py): "
        f"{floor.front:.0f} µs; gateway / bare proxy {cpu.front / floor.front:.2f}"
    )
    on, off = iam["on"].front, iam["off"].front
    print(
        f"IAM user, CPU per invocation at the same rate: enforcement on {on:.0f} µs, off "
        f"{off:.0f} µs; off / on {off / on:.2f} (goal >= 0.90: the evaluation under 10%)"
    )


if __name__ == "__main__":
    main()
