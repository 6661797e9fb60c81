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

The cloud starts with the SageMaker instance quotas docs/aws-costs.md declares, read from its
"Quotas" table (``CDLAB_SAGEMAKER_QUOTAS``, :func:`documented_quotas`): the table is the one
source of the figures, and a notebook that needs more instances than it says (a blue/green update
counts its new fleet beside the old one) is refused, as on AWS, and fails here.

Under pytest-xdist (``make test`` runs the notebooks two at a time, ``--dist loadfile``) each
worker does this for itself, so each notebook runs whole in one kernel against its worker's own
cloud (09's cleanup then sees only what its own cloud holds); the controller runs no kernel and
starts no cloud.
"""

from __future__ import annotations

import os
import re
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
COSTS = Path(__file__).parents[2] / "docs" / "aws-costs.md"
QUOTA_ROW = re.compile(r"^\| `(ml\.\S+ for [a-z ]+ usage)` \| (\d+) \|", re.MULTILINE)
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


def documented_quotas(text: str | None = None) -> dict[str, int]:
    """The quotas docs/aws-costs.md says the notebooks need (its "Quotas" table: a row per
    quota, its name in backticks, then the number of instances), by Service Quotas' name."""
    found = {
        name: int(n) for name, n in QUOTA_ROW.findall(COSTS.read_text() if text is None else text)
    }
    if not found:
        raise pytest.UsageError(f"{COSTS} has no quota table rows ('| `QUOTA` | N |')")
    return found


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
    os.environ["CDLAB_SAGEMAKER_QUOTAS"] = ",".join(
        f"{name}={limit}" for name, limit in documented_quotas().items()
    )
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
