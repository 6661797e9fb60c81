"""The instance launcher's watcher, on a real instance process killed by its own pid."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from pathlib import Path

import aiohttp
import pytest

from cdlab.fm.model import artifact_bytes
from cdlab.localcloud.sagemaker.artifacts import ArtifactStore
from cdlab.localcloud.sagemaker.images import fm_image_uri
from cdlab.localcloud.sagemaker.instances import Instance, InstanceLauncher
from tests.conftest import small_model


def test_a_failing_exit_handler_is_logged_and_does_not_end_the_watcher_with_it(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async def fail(instance: Instance) -> None:
        raise KeyError(instance.variant)

    async def scenario() -> None:
        store = ArtifactStore(tmp_path / "artifacts")
        async with store.kept(artifact_bytes(small_model(1))) as digest:
            pass
        async with aiohttp.ClientSession() as session:
            launcher = InstanceLauncher(tmp_path, store, session, on_unexpected_exit=fail)
            try:
                [instance] = await launcher.start("ep", "v", fm_image_uri("us-east-1"), digest, 1)
                assert instance.watcher is not None
                os.kill(instance.process.pid, signal.SIGKILL)
                await instance.watcher  # raises if the handler's error escaped the watcher
            finally:
                await launcher.stop_all()

    with caplog.at_level(logging.ERROR, logger="cdlab.sagemaker"):
        asyncio.run(scenario())
    [record] = [r for r in caplog.records if r.name == "cdlab.sagemaker"]
    assert record.getMessage().startswith("could not replace instance i-")
    assert record.getMessage().endswith(" of ep/v; the endpoint serves on without it")
    assert record.exc_info is not None and record.exc_info[0] is KeyError
