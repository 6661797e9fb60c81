"""The local console's cost to the hot path: InvokeEndpoint throughput, through the gateway and
straight to one instance of the same container, with the console closed and with it open and
polling (its page asks for ``api/state`` once a second; here a client does the same), from the
same run: the four loads alternate in slices, so all see the same machine.

Prints each throughput, the gateway / direct ratio with the console closed and open, and open /
closed of that ratio (target: within 5%, >= 0.95). The cloud runs at ``CDLAB_TIME_SCALE=60``, so
the console's charts are worked out afresh every second, its dearest case.
Run: ``.venv/bin/python benchmarks/bench_console.py [--seconds 10] [--concurrency 16]
[--slices 5]``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import threading
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path

import boto3
from bench_local_cloud import direct_instance, discard, load, model, signed_headers, summary

from cdlab import target
from cdlab.fm.model import artifact_bytes
from cdlab.localcloud import control
from cdlab.localcloud.console import web
from cdlab.localcloud.sagemaker.images import fm_image_uri

POLL_SECONDS = 1.0  # as the page polls


@contextmanager
def console_polling(address: str, statuses: list[int]) -> Iterator[None]:
    """A client asking for the console's state once a second, as the open page does; each
    answer's status is added to ``statuses``."""
    stop = threading.Event()

    def poll() -> None:
        while not stop.is_set():
            with urllib.request.urlopen(address, timeout=30) as answer:
                answer.read()
                statuses.append(answer.status)
            stop.wait(POLL_SECONDS)

    poller = threading.Thread(target=poll)
    poller.start()
    try:
        yield
    finally:
        stop.set()
        poller.join()


def deploy(env: dict[str, str]) -> None:
    sm, s3 = boto3.client("sagemaker"), boto3.client("s3")
    s3.create_bucket(Bucket="bench")
    s3.put_object(Bucket="bench", Key="m.tar.gz", Body=artifact_bytes(model()))
    image = fm_image_uri(env["AWS_DEFAULT_REGION"])
    sm.create_model(
        ModelName="bench", PrimaryContainer={"Image": image, "ModelDataUrl": "s3://bench/m.tar.gz"}
    )
    sm.create_endpoint_config(
        EndpointConfigName="bench-1",
        ProductionVariants=[{"VariantName": "AllTraffic", "ModelName": "bench",
                             "InitialInstanceCount": 1, "InstanceType": "ml.m5.large"}],
    )  # fmt: skip
    sm.create_endpoint(EndpointName="bench-1", EndpointConfigName="bench-1")
    sm.get_waiter("endpoint_in_service").wait(EndpointName="bench-1")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="per load and console state")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--slices", type=int, default=5, help="alternations of the loads")
    args = parser.parse_args()

    os.environ["CDLAB_TIME_SCALE"] = "60"
    home = Path(tempfile.mkdtemp(prefix="cdlab-bench-console-"))
    env = target.ready("local", home=home, port=control.free_port())
    latencies: dict[tuple[str, str], list[float]] = {}
    polls: list[int] = []
    try:
        deploy(env)
        cloud = control.running(home)
        assert cloud is not None
        state = web.url(cloud.port, web.token_file(home).read_text().strip())
        state = state.replace("?token=", "api/state?token=")
        model_dir = home / "direct-model"
        model().save(model_dir)
        process, direct_port = direct_instance(model_dir)
        try:
            gateway = f"{env['AWS_ENDPOINT_URL']}/endpoints/bench-1/invocations"
            urls = {
                "direct": (f"http://127.0.0.1:{direct_port}/invocations",
                           {"Content-Type": "application/json"}),
                "gateway": (gateway, signed_headers(gateway, env)),
            }  # fmt: skip
            for _ in range(args.slices):
                for console in ("closed", "open"):
                    polling = console_polling(state, polls) if console == "open" else nullcontext()
                    with polling:
                        for name, (url, headers) in urls.items():
                            answered = asyncio.run(
                                load(url, args.seconds / args.slices, args.concurrency, headers)
                            )
                            latencies.setdefault((console, name), []).extend(answered)
        finally:
            process.terminate()
            process.wait()
    finally:
        discard(home)

    rps = {key: summary(values, args.seconds)[0] for key, values in latencies.items()}
    print(f"load: {args.concurrency} concurrent clients, {args.seconds:.0f} s per load and console "
          f"state, in {args.slices} alternating slices, {os.cpu_count()} cores")  # fmt: skip
    print(f"console polls answered: {len(polls)}, all 200: {set(polls) == {200}}")
    for (console, name), value in sorted(rps.items()):
        print(f"console {console:<7}{name:<9}{value:>10.0f} req/s")
    closed = rps[("closed", "gateway")] / rps[("closed", "direct")]
    opened = rps[("open", "gateway")] / rps[("open", "direct")]
    print(f"gateway / direct, console closed: {closed:.3f}")
    print(f"gateway / direct, console open and polling: {opened:.3f}")
    print(f"open / closed: {opened / closed:.3f} (target >= 0.95)")


if __name__ == "__main__":
    main()
