"""Claims the notebooks and the lab once made wrongly stay corrected (issue 16, factual errors)."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[2]
TEXTS = sorted([*ROOT.glob("notebooks/*.ipynb"), *ROOT.glob("labs/*")])
WRONG = {
    "cannot be deleted": "DeleteTrainingJob deletes an ended training job",
    "can never be used twice": "a deleted training job's name is free again",
    "no call to delete": "DeleteTrainingJob deletes an ended training job",
    "named IAM roles": "pipeline.yml's roles have no RoleName: CAPABILITY_IAM is enough",
    "nothing behind": "an endpoint's log group outlives the stack that made the endpoint",
    "nothing left behind": "an endpoint's log group outlives the stack that made the endpoint",
    "changes only the weights": "UpdateEndpointWeightsAndCapacities sets instance counts too",
    "is instant": "the endpoint goes through Updating",
    "the deck's gate": "the deck gates on the QA endpoint's match rate, not a training metric",
    "10\N{EN DASH}15 min": "a pipeline run on AWS takes about 30 to 45 minutes",
}


def text(path: Path) -> str:
    """A notebook's cells (markdown and code), or a file's text, with every run of white space
    one space (so a phrase is found across a line break)."""
    if path.suffix == ".ipynb":
        whole = "\n".join(cell.source for cell in nbformat.read(path, as_version=4).cells)
    else:
        whole = path.read_text()
    return " ".join(whole.split())


@pytest.mark.parametrize("path", TEXTS, ids=[str(p.relative_to(ROOT)) for p in TEXTS])
def test_corrected_claims_stay_corrected(path: Path) -> None:
    found = {wrong: why for wrong, why in WRONG.items() if wrong in text(path)}
    assert found == {}, f"{path.name} says again what is wrong: {found}"


def test_the_lab_takes_the_same_time_everywhere() -> None:
    lab = [ROOT / "labs" / "README.md", ROOT / "labs" / "lab3_pipeline.ipynb"]
    assert all("About 45 minutes." in text(path) for path in lab)


def test_cpu_utilization_is_said_to_be_summed_over_vcpus() -> None:
    scaling = text(ROOT / "notebooks" / "06_automatic_scaling.ipynb")
    assert "`CPUUtilization` is summed over an instance's vCPUs" in scaling
