"""Endpoint instances as real processes, each serving the container contract on its own port.

The launcher binds each instance's loopback socket itself and hands the file descriptor to the
child, so there is no race for a port; it then waits for ``GET /ping`` before the instance may take
traffic, for as long as the variant's ContainerStartupHealthCheckTimeoutInSeconds allows. That
time is real seconds, not scaled by ``CDLAB_TIME_SCALE``: starting is work, which the time scale
does not compress (docs/aws-compatibility.md, "SageMaker control plane"). An instance that exits
before it passes the ping turns its last log line into a FailureReason; one that exits later is
reported to ``on_unexpected_exit`` (the endpoint's lifecycle replaces it). A stopped instance
first finishes its requests in flight, then gets SIGTERM, and SIGKILL if it lingers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import shutil
import signal
import socket
import sys
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

from cdlab import config
from cdlab.localcloud.sagemaker import artifacts, containerenv, images
from cdlab.localcloud.sagemaker.upstream import Upstream

log = logging.getLogger("cdlab.sagemaker")

PING_INTERVAL = 0.05
DEFAULT_STARTUP_TIMEOUT = 60.0  # the local cloud's own, for a variant that gives none
STOP_GRACE_SECONDS = 5.0


class InstanceFailed(RuntimeError):
    """An instance could not start or never became healthy; the message is the reason."""


def ping_failed(variant: str, detail: str) -> InstanceFailed:
    """An instance of ``variant`` that never passed the ping health check: SageMaker's
    FailureReason for it, as users report it (docs/aws-compatibility.md), then the local cloud's
    ``detail`` (which instance, and how it failed)."""
    return InstanceFailed(
        f"The primary container for production variant {variant} did not pass the ping health "
        f"check. Please check CloudWatch logs for this endpoint. {detail}"
    )


@dataclass(eq=False)
class Instance:
    instance_id: str
    endpoint: str
    variant: str
    port: int
    process: asyncio.subprocess.Process
    directory: Path
    log_path: Path
    inflight: int = 0
    stopping: bool = False
    exited: asyncio.Event = field(default_factory=asyncio.Event)
    watcher: asyncio.Task[None] | None = None
    upstream: Upstream = field(init=False)  # the gateway's kept-alive connections to it

    def __post_init__(self) -> None:
        self.upstream = Upstream(self.port)

    @property
    def url(self) -> str:
        return f"http://{config.LOOPBACK}:{self.port}"

    @property
    def alive(self) -> bool:
        return not self.stopping and self.process.returncode is None


ExitCallback = Callable[[Instance], Awaitable[None]]


class InstanceLauncher:
    """Starts, watches and stops instance processes under ``<home>/instances``; ``running`` holds
    every instance started and not yet exited, of every endpoint, and :meth:`take_ended` those
    that exited since it was last called (their logs' last lines are still to ship)."""

    def __init__(
        self,
        home: Path,
        artifact_store: artifacts.ArtifactStore,
        session: aiohttp.ClientSession,
        on_unexpected_exit: ExitCallback | None = None,
        startup_timeout: float = DEFAULT_STARTUP_TIMEOUT,
    ) -> None:
        self.root = home / "instances"
        self.logs = home / "logs" / "endpoints"
        self.artifacts = artifact_store
        self.session = session
        self.on_unexpected_exit = on_unexpected_exit
        self.startup_timeout = startup_timeout
        self.running: set[Instance] = set()
        self.ended: list[Instance] = []

    async def start(
        self,
        endpoint: str,
        variant: str,
        image: str,
        digest: str,
        count: int,
        environment: Mapping[str, str] | None = None,
        startup_timeout: float | None = None,
    ) -> list[Instance]:
        """Start ``count`` healthy instances, all or none, each with the model container's
        ``environment`` in its own (:mod:`.containerenv`), each given ``startup_timeout``
        seconds (the launcher's own without one) to pass the ping health check."""
        module = images.inference_module(image)
        if kept := containerenv.not_applied(environment):
            log.warning(
                "instances of %s/%s keep the local cloud's %s, not the model's",
                endpoint,
                variant,
                ", ".join(kept),
            )
        env = containerenv.process_environment(environment)
        timeout = self.startup_timeout if startup_timeout is None else startup_timeout
        tasks = [
            asyncio.create_task(self._start_one(endpoint, variant, module, digest, env, timeout))
            for _ in range(count)
        ]
        results = await asyncio.gather(*tasks, return_exceptions=True)
        started = [r for r in results if isinstance(r, Instance)]
        failures = [r for r in results if isinstance(r, BaseException)]
        if failures:
            await self.stop(started, drain_seconds=0)
            raise failures[0]
        return started

    async def _start_one(
        self,
        endpoint: str,
        variant: str,
        module: str,
        digest: str,
        env: dict[str, str],
        startup_timeout: float,
    ) -> Instance:
        instance_id = "i-" + secrets.token_hex(8)
        directory = self.root / endpoint / variant / instance_id
        log_path = self.logs / endpoint / variant / f"{instance_id}.log"
        try:
            process, port = await self._spawn(
                endpoint, variant, instance_id, module, digest, directory, log_path, env
            )
        except Exception as e:  # the step that started it fails, rolls back, or retries
            shutil.rmtree(directory, ignore_errors=True)
            if isinstance(e, artifacts.ArtifactError):
                raise  # the endpoint's lifecycle words it, with the model data's URL
            log.exception("instance %s of %s/%s could not start", instance_id, endpoint, variant)
            raise InstanceFailed(
                f"Instance {instance_id} of variant {variant} could not start: {e}. The local "
                "cloud's log (cdlab local logs) has the details."
            ) from e
        instance = Instance(instance_id, endpoint, variant, port, process, directory, log_path)
        self.running.add(instance)
        instance.watcher = asyncio.create_task(self._watch(instance))
        try:
            await self._wait_healthy(instance, startup_timeout)
        except BaseException:
            await self._stop_one(instance, drain_seconds=0)
            raise
        return instance

    async def _spawn(
        self,
        endpoint: str,
        variant: str,
        instance_id: str,
        module: str,
        digest: str,
        directory: Path,
        log_path: Path,
        env: dict[str, str],
    ) -> tuple[asyncio.subprocess.Process, int]:
        """The instance's model unpacked, its listening socket, and its process started with
        ``env`` as its environment."""
        log_path.parent.mkdir(parents=True, exist_ok=True)
        await asyncio.get_running_loop().run_in_executor(
            None, artifacts.unpack, self.artifacts.path(digest), directory / "model"
        )
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((config.LOOPBACK, 0))
        listener.listen(512)
        port = listener.getsockname()[1]
        with open(log_path, "ab") as log_file, listener:
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                module,
                "--endpoint",
                endpoint,
                "--variant",
                variant,
                "--instance",
                instance_id,
                "--model-dir",
                str(directory / "model"),
                "--fd",
                str(listener.fileno()),
                "--parent-pid",
                str(os.getpid()),
                pass_fds=(listener.fileno(),),
                env=env,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log_file,
                stderr=log_file,
            )
        return process, port

    async def _wait_healthy(self, instance: Instance, startup_timeout: float) -> None:
        deadline = time.monotonic() + startup_timeout
        timeout = aiohttp.ClientTimeout(total=2)
        while time.monotonic() < deadline:
            if instance.process.returncode is not None:
                raise ping_failed(
                    instance.variant,
                    f"Instance {instance.instance_id} exited with code "
                    f"{instance.process.returncode} before passing it: "
                    f"{self.last_log_line(instance)}",
                )
            with contextlib.suppress(aiohttp.ClientError, asyncio.TimeoutError):
                async with self.session.get(f"{instance.url}/ping", timeout=timeout) as r:
                    if r.status == 200:
                        return
            await asyncio.sleep(PING_INTERVAL)
        raise ping_failed(
            instance.variant,
            f"Instance {instance.instance_id} of variant {instance.variant} did not pass the ping "
            f"health check within {startup_timeout:.0f} seconds.",
        )

    def take_ended(self) -> list[Instance]:
        taken, self.ended = self.ended, []
        return taken

    async def _watch(self, instance: Instance) -> None:
        """Wait for the process to exit; an exit nobody asked for goes to ``on_unexpected_exit``,
        whose failure is logged here rather than lost with this task."""
        await instance.process.wait()
        instance.exited.set()
        self.running.discard(instance)
        self.ended.append(instance)
        if instance.stopping or self.on_unexpected_exit is None:
            return
        try:
            await self.on_unexpected_exit(instance)
        except Exception:
            log.exception(
                "could not replace instance %s of %s/%s; the endpoint serves on without it",
                instance.instance_id,
                instance.endpoint,
                instance.variant,
            )

    @staticmethod
    def last_log_line(instance: Instance) -> str:
        try:
            lines = instance.log_path.read_text(errors="replace").strip().splitlines()
        except OSError:
            return "(no log)"
        return lines[-1] if lines else "(no output)"

    async def stop(self, instances: list[Instance], drain_seconds: float = 60.0) -> None:
        await asyncio.gather(*(self._stop_one(i, drain_seconds) for i in instances))

    async def _stop_one(self, instance: Instance, drain_seconds: float) -> None:
        """Let in-flight requests finish (up to ``drain_seconds``), then stop the process."""
        instance.stopping = True
        deadline = time.monotonic() + drain_seconds
        while instance.inflight and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        if instance.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                instance.process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(instance.exited.wait(), STOP_GRACE_SECONDS)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    instance.process.kill()
                await instance.exited.wait()
        shutil.rmtree(instance.directory, ignore_errors=True)

    def instances_of(self, endpoint: str) -> list[Instance]:
        """The endpoint's running instances, whichever fleet (or none) they are in."""
        return [i for i in self.running if i.endpoint.lower() == endpoint.lower()]

    async def stop_all(self) -> None:
        await self.stop(list(self.running), drain_seconds=0)
