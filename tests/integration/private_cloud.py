"""A local cloud of a test's own, for faults that would disturb the shared one (SIGKILL, SIGSTOP,
a full disk), with the helpers those tests share: processes by pid, traffic, a deployed model."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import threading
from dataclasses import dataclass, field
from pathlib import Path

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from cdlab.fm.model import artifact_bytes
from cdlab.localcloud import control
from cdlab.localcloud.sagemaker.images import fm_image_uri
from tests.conftest import instance_pids, small_model
from tests.integration.test_endpoints import BODY

NO_RETRIES = Config(retries={"total_max_attempts": 1}, read_timeout=120)


@dataclass
class PrivateCloud:
    home: Path
    port: int
    patch: pytest.MonkeyPatch
    pid: int = 0

    def up(self) -> None:
        self.pid = control.up(self.home, self.port, with_parent=True).pid
        for key, value in control.client_environment(self.home, self.port).items():
            self.patch.setenv(key, value)

    def client(self, service: str, config: Config | None = None):
        return boto3.Session().client(service, config=config)

    def kill(self) -> None:
        """SIGKILL the cloud by its pid, as a crash would, and reap it."""
        os.kill(self.pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(self.pid, 0)

    def instance_pids(self, endpoint: str) -> list[int]:
        """Pids of the endpoint's instance processes: children of this cloud only."""
        return instance_pids(self.pid, endpoint)

    def deploy(
        self,
        name: str,
        seed: int = 1,
        count: int = 2,
        bucket: str = "models",
        role: str | None = None,
        variant_params: dict[str, object] | None = None,
        wait: bool = True,
        **config_params: object,
    ) -> None:
        """Model (acting as ``role``, if given), config (with ``config_params``, and
        ``variant_params`` in its variant) and endpoint ``name`` serving ``small_model(seed)``;
        waits InService unless not to ``wait``."""
        s3, sm = self.client("s3"), self.client("sagemaker")
        with contextlib.suppress(ClientError):
            s3.create_bucket(Bucket=bucket)
        key = f"{name}/model.tar.gz"
        s3.put_object(Bucket=bucket, Key=key, Body=artifact_bytes(small_model(seed)))
        self.config(name, f"s3://{bucket}/{key}", count, role, variant_params, **config_params)
        sm.create_endpoint(EndpointName=name, EndpointConfigName=name)
        if wait:
            sm.get_waiter("endpoint_in_service").wait(EndpointName=name)

    def config(
        self,
        name: str,
        model_url: str,
        count: int,
        role: str | None = None,
        variant_params: dict[str, object] | None = None,
        **config_params: object,
    ) -> None:
        sm = self.client("sagemaker")
        sm.create_model(
            ModelName=name,
            PrimaryContainer={"Image": fm_image_uri("us-east-1"), "ModelDataUrl": model_url},
            **({"ExecutionRoleArn": role} if role else {}),
        )
        sm.create_endpoint_config(
            EndpointConfigName=name,
            ProductionVariants=[{"VariantName": "AllTraffic", "ModelName": name,
                                 "InitialInstanceCount": count, "InstanceType": "ml.m5.large",
                                 **(variant_params or {})}],
            **config_params,
        )  # fmt: skip

    def score(self, endpoint: str) -> float:
        answer = self.client("sagemaker-runtime").invoke_endpoint(
            EndpointName=endpoint, ContentType="application/json", Body=BODY
        )
        return json.loads(answer["Body"].read())["predictions"][0]["score"]


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


@dataclass
class Traffic:
    """Threads invoking an endpoint without client retries, counting answers and failures."""

    cloud: PrivateCloud
    endpoint: str
    threads: int = 4
    sent: int = 0
    answered: int = 0
    failures: list[str] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    workers: list[threading.Thread] = field(default_factory=list)

    def __enter__(self) -> Traffic:
        for _ in range(self.threads):
            runtime = self.cloud.client("sagemaker-runtime", NO_RETRIES)
            worker = threading.Thread(target=self._run, args=(runtime,), daemon=True)
            worker.start()
            self.workers.append(worker)
        return self

    def _run(self, runtime) -> None:
        while not self.stop.is_set():
            with self.lock:
                self.sent += 1
            try:
                runtime.invoke_endpoint(
                    EndpointName=self.endpoint, ContentType="application/json", Body=BODY
                )["Body"].read()
            except (ClientError, BotoCoreError) as e:
                with self.lock:
                    self.failures.append(str(e))
            else:
                with self.lock:
                    self.answered += 1

    def __exit__(self, *exc_info: object) -> None:
        self.stop.set()
        for worker in self.workers:
            worker.join(timeout=130)
