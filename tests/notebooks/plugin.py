"""pytest plugin for running the notebooks with nbval against a private local cloud.

Loaded with ``-p tests.notebooks.plugin`` (``make test`` does). Before any kernel starts it points
the environment, which the kernels inherit, at a local cloud of this run's own: ``CDLAB_HOME`` a
temporary directory, ``CDLAB_PORT`` a free port, ``CDLAB_TIME_SCALE`` the workshop's compressed
time, and the interpreter's bin directory first on ``PATH`` (for the notebooks' ``!aws``). The first
notebook's ``cdlab.target.ready`` starts that cloud; the end of the session stops it.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

from cdlab.localcloud import control
from tests.conftest import free_port

WORKSHOP_TIME_SCALE = "60"  # a CloudWatch minute passes in a second
_HOME = pytest.StashKey[Path]()


def pytest_configure(config: pytest.Config) -> None:
    home = Path(tempfile.mkdtemp(prefix="cdlab-notebooks-"))
    config.stash[_HOME] = home
    os.environ["CDLAB_HOME"] = str(home)
    os.environ["CDLAB_PORT"] = str(free_port())
    os.environ["CDLAB_TIME_SCALE"] = WORKSHOP_TIME_SCALE
    os.environ["CDLAB_TARGET"] = "local"
    os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"


def pytest_unconfigure(config: pytest.Config) -> None:
    home = config.stash.get(_HOME, None)
    if home is not None:
        control.down(home)
        shutil.rmtree(home, ignore_errors=True)
