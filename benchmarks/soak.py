"""Soak the local cloud: minutes of mixed traffic and control-plane churn, then the damage.

Several threads invoke a two-variant endpoint without client retries (a few requests are
deliberately malformed and must come back as ModelError), while one thread churns the control
plane: blue/green updates and weight shifts of that endpoint, and endpoints created and deleted.
Prints requests sent, answered and failed (target 0), control operations, and the local cloud's
RSS at start and end with the growth per 10,000 requests. Loopback only; cleans up after itself.
Run: ``.venv/bin/python benchmarks/soak.py [--minutes 2] [--threads 8]``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import boto3
import numpy as np
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from cdlab import target
from cdlab.fm.model import FMModel, artifact_bytes
from cdlab.localcloud import control
from cdlab.localcloud.sagemaker.images import fm_image_uri

FEATURES = 20
NO_RETRIES = Config(retries={"total_max_attempts": 1}, read_timeout=120)
GOOD = json.dumps({"instances": [{"features": [1.0] + [0.0] * (FEATURES - 1)}]})
FAULTY = json.dumps({"instances": [{"features": [1.0]}]})  # wrong width: a ModelError
FAULTY_EVERY = 50
STABLE = "soak-stable"


def model(seed: int) -> FMModel:
    rng = np.random.default_rng(seed)
    return FMModel(
        float(rng.normal()),
        rng.normal(size=FEATURES).astype(np.float32),
        rng.normal(scale=0.5, size=(FEATURES, 4)).astype(np.float32),
        "binary_classifier",
    )


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


@dataclass
class Counts:
    lock: threading.Lock = field(default_factory=threading.Lock)
    numbers: Counter[str] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)

    def add(self, key: str, failure: str | None = None) -> None:
        with self.lock:
            self.numbers[key] += 1
            if failure is not None and len(self.failures) < 20:
                self.failures.append(failure)


def invoke_loop(stop: threading.Event, counts: Counts) -> None:
    runtime = boto3.client("sagemaker-runtime", config=NO_RETRIES)
    n = 0
    while not stop.is_set():
        n += 1
        faulty = n % FAULTY_EVERY == 0
        counts.add("sent")
        try:
            runtime.invoke_endpoint(
                EndpointName=STABLE, ContentType="application/json", Body=FAULTY if faulty else GOOD
            )["Body"].read()
        except ClientError as e:
            code = e.response["Error"]["Code"]
            if faulty and code == "ModelError":
                counts.add("deliberate errors")
            else:
                counts.add("failed", f"{code}: {e}")
        except BotoCoreError as e:
            counts.add("failed", repr(e))
        else:
            if faulty:
                counts.add("failed", "a malformed request succeeded")
            else:
                counts.add("answered")


def wait_status(sm, name: str, wanted: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            status = sm.describe_endpoint(EndpointName=name)["EndpointStatus"]
        except ClientError:
            status = "Deleted"
        if status == wanted:
            return
        if status == "Failed":
            raise RuntimeError(f"endpoint {name} failed")
        time.sleep(0.05)
    raise TimeoutError(f"endpoint {name} never reached {wanted}")


def churn_loop(stop: threading.Event, counts: Counts) -> None:
    """Blue/green updates and weight shifts of the stable endpoint; others created and deleted."""
    sm = boto3.client("sagemaker")
    n = 0
    while not stop.is_set():
        n += 1
        weights = [
            {"VariantName": "blue", "DesiredWeight": float(n % 4)},
            {"VariantName": "green", "DesiredWeight": 1.0, "DesiredInstanceCount": 1 + n % 2},
        ]
        steps = [
            partial(sm.update_endpoint, EndpointName=STABLE, EndpointConfigName=f"soak-{n % 2}"),
            partial(
                sm.update_endpoint_weights_and_capacities,
                EndpointName=STABLE,
                DesiredWeightsAndCapacities=weights,
            ),
        ]
        for step in steps:
            try:
                step()
                wait_status(sm, STABLE, "InService")
                counts.add("control operations")
            except (ClientError, BotoCoreError, RuntimeError, TimeoutError) as e:
                counts.add("control failures", repr(e))
        name = f"soak-churn-{n}"
        try:
            sm.create_endpoint(EndpointName=name, EndpointConfigName="soak-small")
            wait_status(sm, name, "InService")
            sm.delete_endpoint(EndpointName=name)
            wait_status(sm, name, "Deleted")
            counts.add("endpoints created and deleted")
        except (ClientError, BotoCoreError, RuntimeError, TimeoutError) as e:
            counts.add("control failures", repr(e))


def setup(image: str) -> None:
    s3, sm = boto3.client("s3"), boto3.client("sagemaker")
    s3.create_bucket(Bucket="soak")
    for seed in (1, 2):
        s3.put_object(Bucket="soak", Key=f"m{seed}.tar.gz", Body=artifact_bytes(model(seed)))
        sm.create_model(
            ModelName=f"soak-m{seed}",
            PrimaryContainer={"Image": image, "ModelDataUrl": f"s3://soak/m{seed}.tar.gz"},
        )
    for n, (blue, green) in enumerate([("soak-m1", "soak-m2"), ("soak-m2", "soak-m1")]):
        sm.create_endpoint_config(
            EndpointConfigName=f"soak-{n}",
            ProductionVariants=[
                {"VariantName": "blue", "ModelName": blue, "InitialInstanceCount": 2,
                 "InstanceType": "ml.m5.large", "InitialVariantWeight": 3.0},
                {"VariantName": "green", "ModelName": green, "InitialInstanceCount": 1,
                 "InstanceType": "ml.m5.large", "InitialVariantWeight": 1.0},
            ],
        )  # fmt: skip
    sm.create_endpoint_config(
        EndpointConfigName="soak-small",
        ProductionVariants=[{"VariantName": "AllTraffic", "ModelName": "soak-m1",
                             "InitialInstanceCount": 1, "InstanceType": "ml.m5.large"}],
    )  # fmt: skip
    sm.create_endpoint(EndpointName=STABLE, EndpointConfigName="soak-0")
    wait_status(sm, STABLE, "InService")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=2.0)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="cdlab-soak-"))
    port = control.free_port()
    env = target.ready("local", home=home, port=port)
    try:
        cloud = control.running(home)
        assert cloud is not None
        setup(fm_image_uri(env["AWS_DEFAULT_REGION"]))
        counts, stop = Counts(), threading.Event()
        rss_start = rss_kib(cloud.pid)
        started = time.monotonic()
        workers = [
            threading.Thread(target=invoke_loop, args=(stop, counts)) for _ in range(args.threads)
        ]
        workers.append(threading.Thread(target=churn_loop, args=(stop, counts)))
        for worker in workers:
            worker.start()
        try:
            time.sleep(args.minutes * 60)
        finally:
            stop.set()
            for worker in workers:
                worker.join()
        elapsed = time.monotonic() - started
        rss_end = rss_kib(cloud.pid)
    finally:
        control.down(home)  # stops every endpoint's instances with it (the state is deleted)
        shutil.rmtree(home, ignore_errors=True)

    numbers = counts.numbers
    print(f"soak: {elapsed:.0f} s, {args.threads} invoking threads + 1 control-plane thread")
    for key in ("sent", "answered", "deliberate errors", "failed", "control operations",
                "endpoints created and deleted", "control failures"):  # fmt: skip
        print(f"  {key:<31}{numbers[key]:>10}")
    print(f"  {'requests per second':<31}{numbers['sent'] / elapsed:>10.0f}")
    growth = (rss_end - rss_start) / max(numbers["sent"] / 10_000, 1e-9)
    print(f"  local cloud RSS: {rss_start / 1024:.1f} MiB at start, {rss_end / 1024:.1f} MiB "
          f"at end, {growth / 1024:+.2f} MiB per 10,000 requests")  # fmt: skip
    for failure in counts.failures:
        print(f"  failure: {failure}")
    unexpected = numbers["failed"] + numbers["control failures"]
    print(f"unexpected failures: {unexpected} (target 0)")


if __name__ == "__main__":
    main()
