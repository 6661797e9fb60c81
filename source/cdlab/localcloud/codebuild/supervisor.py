"""The builds' worker threads: started, stopped, timed out, and accounted for at shutdown.

Each build runs on a thread of its own (:class:`worker.BuildRun`), its commands as child
processes of the local cloud. StopBuild and ``timeoutInMinutes`` stop the running command's
process group and end the build STOPPED or TIMED_OUT. The timeout is in real minutes, as a
training job's MaxRuntimeInSeconds: ``CDLAB_TIME_SCALE`` compresses waiting, and a build is
work. A local cloud that stops ends its builds FAILED, saying so in the phase's context; one that
was killed ends them at the next start (:meth:`records.Builds.resume`).
"""

from __future__ import annotations

import asyncio
import threading

from cdlab.localcloud.codebuild.buildspec import Guard
from cdlab.localcloud.codebuild.worker import BuildRun

SHUTDOWN_SECONDS = 10.0
SHUTDOWN = (
    "The local cloud stopped during the build, which ended the build's processes; start the "
    "build again."
)


class Supervisor:
    def __init__(self, run: BuildRun) -> None:
        self.run = run
        self.guards: dict[str, Guard] = {}
        self.threads: dict[str, threading.Thread] = {}

    def start(self, build_id: str, timeout_minutes: float) -> None:
        guard = Guard()
        self.guards[build_id] = guard
        thread = threading.Thread(
            target=self._run, args=(build_id, guard, timeout_minutes), daemon=True,
            name=f"codebuild {build_id}",
        )  # fmt: skip
        self.threads[build_id] = thread
        thread.start()

    def _run(self, build_id: str, guard: Guard, timeout_minutes: float) -> None:
        why = f"Build has timed out after {timeout_minutes:g} minutes."
        timer = threading.Timer(timeout_minutes * 60, guard.stop, ("TIMED_OUT", why))
        timer.daemon = True
        timer.start()
        try:
            self.run(build_id, guard)
        finally:
            timer.cancel()
            self.guards.pop(build_id, None)
            self.threads.pop(build_id, None)

    def stop(self, build_id: str) -> None:
        guard = self.guards.get(build_id)
        if guard is not None:
            guard.stop("STOPPED")

    async def shutdown(self) -> None:
        """Stop every build and wait (a while) for their threads to end them."""
        for guard in list(self.guards.values()):
            guard.stop("FAILED", SHUTDOWN)
        threads = list(self.threads.values())

        def join() -> None:
            for thread in threads:
                thread.join(SHUTDOWN_SECONDS)

        await asyncio.get_running_loop().run_in_executor(None, join)
