"""The deck's steps are run, not only described: each is in a code cell of the notebook that
teaches it (nbval runs those cells and their assertions), and the "why" of continuous delivery is
taught where the lab starts (issue 16)."""

from __future__ import annotations

from pathlib import Path

import nbformat

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"


def code(name: str) -> str:
    """A notebook's code cells, white space collapsed."""
    cells = nbformat.read(NOTEBOOKS / name, as_version=4).cells
    return " ".join(" ".join(c.source for c in cells if c.cell_type == "code").split())


def markdown(name: str) -> str:
    cells = nbformat.read(NOTEBOOKS / name, as_version=4).cells
    return " ".join(" ".join(c.source for c in cells if c.cell_type == "markdown").split())


def test_05_updates_the_running_endpoint_to_both_models_then_swaps() -> None:
    cells = code("05_variants_and_weights.ipynb")
    create = cells.index("!aws sagemaker create-endpoint --endpoint-name {endpoint}")
    update = cells.index("!aws sagemaker update-endpoint --endpoint-name {endpoint}")
    swap = cells.index("!aws sagemaker update-endpoint-weights-and-capacities")
    assert "--endpoint-config-name {both}" in cells[update : update + 120]
    assert create < update < swap


def test_06_puts_the_decks_cpu_policy_beside_the_invocations_policy() -> None:
    cells = code("06_automatic_scaling.ipynb")
    for fragment in (
        '"CustomizedMetricSpecification"',
        '"MetricName": "CPUUtilization"',
        '"Namespace": "/aws/sagemaker/Endpoints"',
        '"PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"',
        "--target-tracking-scaling-policy-configuration '{cpu_policy}'",
    ):
        assert fragment in cells, fragment


def test_06_shows_the_service_linked_role_and_the_update_trap() -> None:
    cells = code("06_automatic_scaling.ipynb")
    assert "AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint" in cells
    assert "RetainAllVariantProperties=True" in cells
    assert "retained == before > min_capacity and reset == min_capacity" in cells


def test_06_discusses_the_decks_numbers() -> None:
    text = markdown("06_automatic_scaling.ipynb")
    assert all(number in text for number in ("**2**", "**5**", "**800**"))


def test_00_says_why_continuous_delivery_and_where_delivery_stops() -> None:
    text = markdown("00_devops_and_infrastructure_as_code.ipynb")
    assert "## Why continuous delivery?" in text
    for idea in ("reproducible environments", "Immutable containers and models", "Fast feedback"):
        assert idea in text, idea
    assert "**Approval**" in text and "continuous deployment" in text
