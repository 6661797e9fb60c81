"""pytest plugin for running the notebooks with nbval against a private local cloud, as a
workshop participant.

Loaded with ``-p tests.notebooks.plugin`` (``make test`` does). Before any kernel starts it points
the environment, which the kernels inherit, at a local cloud of this run's own: ``CDLAB_HOME`` a
temporary directory, ``CDLAB_PORT`` a free port, ``CDLAB_TIME_SCALE`` the workshop's compressed
time, and the interpreter's bin directory first on ``PATH`` (for the notebooks' ``!aws``). It
starts that cloud and, as its administrator, creates the participant: an IAM user holding only
the policy of ``cloudformation/participant.yml``, whose key the kernels' clients sign with
(``CDLAB_ACCESS_KEY_ID``, read by ``control.client_environment``), so a notebook that needs more
than the policy allows fails here as it would on AWS. ``NOTEBOOKS_AS=admin`` runs them with the
kit's key instead. The end of the session stops the cloud.

Under pytest-xdist (``make test`` runs the notebooks two at a time, ``--dist loadfile``) each
worker does this for itself, so each notebook runs whole in one kernel against its worker's own
cloud (09's cleanup then sees only what its own cloud holds); the controller runs no kernel and
starts no cloud.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

import boto3
import pytest

from cdlab import config, notebook_runs
from cdlab.localcloud import control, participant
from tests.conftest import free_port

WORKSHOP_TIME_SCALE = "60"  # a CloudWatch minute passes in a second
PARTICIPANT_TEMPLATE = Path(__file__).parents[2] / "cloudformation" / "participant.yml"
_HOME = pytest.StashKey[Path]()


def participant_environment(cloud: control.Cloud) -> dict[str, str]:
    """Create the participant in ``cloud``, as its administrator; the variables that make
    ``control.client_environment`` sign as the participant."""
    key_id, secret = control.credentials(cloud.home)
    iam = boto3.client(
        "iam",
        endpoint_url=cloud.url,
        region_name=config.region(),
        aws_access_key_id=key_id,
        aws_secret_access_key=secret,
    )
    return participant.create(
        iam, PARTICIPANT_TEMPLATE, config.region(), config.ACCOUNT_ID
    ).environment()


def _xdist_controller(config: pytest.Config) -> bool:
    """Whether this process hands the notebooks to xdist's workers rather than running them."""
    return not hasattr(config, "workerinput") and bool(getattr(config.option, "numprocesses", 0))


def pytest_configure(config: pytest.Config) -> None:
    if _xdist_controller(config):
        return
    home = Path(tempfile.mkdtemp(prefix="cdlab-notebooks-"))
    config.stash[_HOME] = home
    port = free_port()
    os.environ["CDLAB_HOME"] = str(home)
    os.environ["CDLAB_PORT"] = str(port)
    os.environ["CDLAB_TIME_SCALE"] = WORKSHOP_TIME_SCALE
    os.environ["CDLAB_TARGET"] = "local"
    os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
    if os.environ.get("NOTEBOOKS_AS", "participant") != "admin":
        os.environ.update(participant_environment(control.up(home, port, with_parent=True)))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The workshop's order, as ``make notebooks`` runs it: 09_cleanup after Lab 3, so that on
    one cloud (``make test-aws-profile``) it deletes, and checks, what the lab left."""
    items.sort(key=lambda item: notebook_runs.cleanup_last(item.path))


def pytest_unconfigure(config: pytest.Config) -> None:
    home = config.stash.get(_HOME, None)
    if home is not None:
        control.down(home)
        shutil.rmtree(home, ignore_errors=True)
