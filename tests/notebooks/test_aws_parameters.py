"""What the notebooks say and choose for AWS (issue 15): the session's region, a bucket unique per
account and region, and in each parameters cell what a run holds, costs and needs."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

from cdlab import config
from tests.notebooks.plugin import documented_quotas

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted(ROOT.glob("notebooks/*.ipynb"))
NAMES = [path.name for path in NOTEBOOKS]
WITH_LAB = [*NOTEBOOKS, ROOT / "labs" / "lab3_pipeline.ipynb"]
QUOTA_CLAIM = re.compile(r'"(ml\.[^"]+)" >= ([\w.]+)')


def _code(path: Path) -> list[str]:
    cells = nbformat.read(path, as_version=4).cells
    return [cell.source for cell in cells if cell.cell_type == "code"]


@pytest.mark.parametrize("path", WITH_LAB, ids=[path.name for path in WITH_LAB])
def test_the_region_is_the_sessions_not_forced(path: Path) -> None:
    code = "\n".join(_code(path))
    assert not re.search(r"^\s*region\s*=\s*[\"']", code, re.MULTILINE), "a region is forced"
    assert 'AWS_DEFAULT_REGION"] =' not in code
    assert "region = notebook.region()" in _code(path)[1]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=NAMES)
def test_the_default_bucket_is_named_after_account_and_region(path: Path) -> None:
    parameters, ready = _code(path)[:2]
    assert re.search(r'^bucket = ""', parameters, re.MULTILINE)
    assert "bucket = bucket or notebook.default_bucket()" in ready


@pytest.mark.parametrize("path", NOTEBOOKS, ids=NAMES)
def test_the_parameters_cell_says_peak_cost_and_quotas_on_aws(path: Path) -> None:
    parameters = _code(path)[0]
    assert "# On AWS (on-demand prices in us-east-1, SageMaker pricing page" in parameters
    assert re.search(r"^#   peak: \S", parameters, re.MULTILINE)
    assert re.search(r"^#   one run: about USD \d+\.\d\d", parameters, re.MULTILINE)
    assert re.search(r"^#   quotas: \S", parameters, re.MULTILINE)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=NAMES)
def test_each_quota_a_notebook_declares_is_a_figure_the_tested_quotas_cover(path: Path) -> None:
    """The notebooks' tests run under docs/aws-costs.md's quotas (tests/notebooks/plugin.py):
    a notebook that declares more, or a quota the table does not name, would go untested."""
    documented = documented_quotas()
    for name, figure in QUOTA_CLAIM.findall(_code(path)[0]):
        assert figure.isdigit(), f'"{name}" >= {figure}: say how many instances'
        assert int(figure) <= documented.get(name, -1), f'"{name}" >= {figure}: {documented}'


@pytest.mark.parametrize("number", ["04", "06", "07"])
def test_blue_green_notebooks_need_four_ml_m5_large(number: str) -> None:
    parameters = _code(next(p for p in NOTEBOOKS if p.name.startswith(number)))[0]
    assert "peak: 4 x ml.m5.large" in parameters
    assert '"ml.m5.large for endpoint usage" >= 4' in parameters


WITH_ROLE = [path for path in NOTEBOOKS if re.search(r"^role = ", _code(path)[0], re.MULTILINE)]


def test_no_parameters_cell_names_the_local_clouds_account() -> None:
    """A default such as ``arn:aws:iam::123456789012:role/...`` is another account's on AWS:
    SageMaker refuses it there (CreateTrainingJob, CreateModel)."""
    named = [path.name for path in WITH_LAB if config.ACCOUNT_ID in _code(path)[0]]
    assert named == []


@pytest.mark.parametrize("path", WITH_ROLE, ids=[path.name for path in WITH_ROLE])
def test_the_default_role_is_the_callers_accounts(path: Path) -> None:
    parameters, ready = _code(path)[:2]
    assert re.search(r'^role = ""', parameters, re.MULTILINE)
    assert "role = role or notebook.default_role()" in ready


def test_every_notebook_that_trains_or_deploys_has_a_role() -> None:
    numbers = sorted(path.name[:2] for path in WITH_ROLE)
    assert numbers == ["00", "02", "03", "04", "05", "06", "07", "08"]
