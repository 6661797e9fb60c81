"""Fixtures for integration tests that need a local cloud of their own."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from cdlab.localcloud import control
from tests.conftest import free_port
from tests.integration.private_cloud import PrivateCloud


@pytest.fixture
def private(tmp_path: Path) -> Iterator[PrivateCloud]:
    """A local cloud of this test's own (its environment set here), always stopped after."""
    with pytest.MonkeyPatch.context() as patch:
        cloud = PrivateCloud(tmp_path / "home", free_port(), patch)
        try:
            yield cloud
        finally:
            control.down(cloud.home)
