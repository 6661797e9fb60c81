"""Every endpoint a notebook, the lab or the README creates has its configuration read back first.

CreateEndpoint looks the endpoint configuration up with an eventually consistent read, so one
created a moment before may not be found yet ("this causes a validation error"), and AWS
recommends calling DescribeEndpointConfig before CreateEndpoint
(https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_CreateEndpoint.html). The local
cloud's read is always consistent, so only this test sees a notebook that skips the read.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted([*ROOT.glob("notebooks/*.ipynb"), *ROOT.glob("labs/*.ipynb")])
DOCS = [ROOT / "README.md", *sorted(ROOT.glob("labs/*.md")), *sorted(ROOT.glob("docs/*.md"))]
FENCED = re.compile(r"^```[a-z]*\n(.*?)^```", re.M | re.S)
CREATING = {f"0{n}" for n in range(3, 9)}  # the notebooks that create an endpoint (03 to 08)
REFERENCE = "https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_CreateEndpoint.html"
# a call, boto3's or the AWS CLI's, with its arguments (up to its parenthesis, or its line's end)
CREATE = re.compile(r"\bcreate_endpoint\(([^)]*)\)|aws sagemaker create-endpoint\s(.*)")
DESCRIBE = re.compile(
    r"\bdescribe_endpoint_config\(([^)]*)\)|aws sagemaker describe-endpoint-config\s(.*)"
)
# the configuration's name as a Python expression; the CLI's `{name}` is the expression `name`
NAME = re.compile(r"EndpointConfigName=([^,)\s]+)|--endpoint-config-name\s+\{?([^\s}]+)\}?")


def code(path: Path) -> str:
    """The notebook's code cells, or the Markdown file's fenced blocks, in order."""
    if path.suffix == ".md":
        return "\n".join(FENCED.findall(path.read_text()))
    cells = nbformat.read(path, as_version=4).cells
    return "\n".join(c.source for c in cells if c.cell_type == "code")


def calls(path: Path, call: re.Pattern[str]) -> list[tuple[int, str]]:
    """Where, in the file's code read in order, ``call`` is made, and the expression it names
    the endpoint configuration with."""
    found = []
    for match in call.finditer(code(path)):
        name = NAME.search(match.group(1) or match.group(2) or "")
        found.append((match.start(), (name.group(1) or name.group(2)) if name else ""))
    return found


def test_the_notebooks_that_create_endpoints_are_found() -> None:
    found = {path.name[:2] for path in NOTEBOOKS if calls(path, CREATE)}
    assert found >= CREATING
    assert all(name for path in NOTEBOOKS for _, name in calls(path, CREATE))


def test_the_readme_creates_an_endpoint() -> None:
    assert calls(ROOT / "README.md", CREATE)


@pytest.mark.parametrize(
    "path", NOTEBOOKS + DOCS, ids=[str(p.relative_to(ROOT)) for p in NOTEBOOKS + DOCS]
)
def test_each_create_endpoint_reads_its_configuration_first(path: Path) -> None:
    described = calls(path, DESCRIBE)
    unread = [
        name
        for at, name in calls(path, CREATE)
        if not any(before < at and read == name for before, read in described)
    ]
    assert unread == [], f"{path.name}: create-endpoint without describe-endpoint-config first"


def test_notebook_03_says_why_and_cites_the_reference() -> None:
    cells = nbformat.read(ROOT / "notebooks" / "03_creating_an_endpoint.ipynb", 4).cells
    text = " ".join(" ".join(c.source for c in cells if c.cell_type == "markdown").split())
    assert REFERENCE in text and "eventually consistent" in text
