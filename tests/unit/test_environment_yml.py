"""environment.yml (conda) and pyproject.toml (pip) install the same distributions at the same
version ranges, so the conda path the README gives installs what ``make`` does."""

from __future__ import annotations

import tomllib
from collections.abc import Iterable
from itertools import chain
from pathlib import Path

import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]
NOT_DISTRIBUTIONS = {"python", "pip"}  # conda installs them; pyproject.toml does not list them

Pins = dict[str, tuple[frozenset[str], SpecifierSet]]  # normalised name -> (extras, range)


def pins(specs: Iterable[str]) -> Pins:
    requirements = [Requirement(spec) for spec in specs]
    return {canonicalize_name(r.name): (frozenset(r.extras), r.specifier) for r in requirements}


def project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def pyproject_pins() -> Pins:
    listed = project()
    return pins(chain(listed["dependencies"], *listed["optional-dependencies"].values()))


def environment() -> tuple[list[str], list[str]]:
    """environment.yml's conda packages and its pip section."""
    dependencies = yaml.safe_load((ROOT / "environment.yml").read_text())["dependencies"]
    [pip] = [d["pip"] for d in dependencies if isinstance(d, dict)]
    return [d for d in dependencies if isinstance(d, str)], pip


def environment_pins() -> Pins:
    conda, pip = environment()
    conda = [spec for spec in conda if spec.split("=")[0] not in NOT_DISTRIBUTIONS]
    return pins(chain(conda, (spec for spec in pip if not spec.startswith("-e "))))


def shown(pin: tuple[frozenset[str], SpecifierSet]) -> str:
    extras, specifier = pin
    return (f"[{','.join(sorted(extras))}]" if extras else "") + (str(specifier) or "any version")


def differences(pyproject: Pins, environment_yml: Pins) -> list[str]:
    """Every distribution listed in one file only, or with other extras or another range."""
    found = []
    for name in sorted(pyproject.keys() | environment_yml.keys()):
        if name not in environment_yml:
            found.append(f"{name} is only in pyproject.toml")
        elif name not in pyproject:
            found.append(f"{name} is only in environment.yml")
        elif pyproject[name] != environment_yml[name]:
            found.append(
                f"{name}: {shown(pyproject[name])} in pyproject.toml, "
                f"{shown(environment_yml[name])} in environment.yml"
            )
    return found


def test_environment_yml_lists_every_dependency_of_pyproject_at_the_same_range() -> None:
    assert differences(pyproject_pins(), environment_pins()) == []


def test_the_conda_environment_has_the_python_the_kit_needs_and_installs_the_kit() -> None:
    conda, pip = environment()
    [python] = [spec for spec in conda if spec.startswith("python=")]
    assert Version(python.removeprefix("python=")) in SpecifierSet(project()["requires-python"])
    assert "pip" in conda and "-e ." in pip  # run from environment.yml's folder: the checkout
    assert all("[" not in spec for spec in conda)  # conda has no extras: those go in pip's list


def test_a_dependency_in_one_file_only_or_at_another_range_is_found() -> None:
    listed = pyproject_pins()
    missing = dict(listed)
    del missing["papermill"]
    assert differences(listed, missing) == ["papermill is only in pyproject.toml"]
    added = {**listed, **pins(["requests>=2.32,<3"])}
    assert differences(listed, added) == ["requests is only in environment.yml"]
    moved = {**listed, **pins(["numpy>=2.2,<3"])}
    assert differences(listed, moved) == [
        "numpy: <3,>=2.1 in pyproject.toml, <3,>=2.2 in environment.yml"
    ]
    no_extra = {**listed, **pins(["moto>=5.2.5,<6"])}
    assert differences(listed, no_extra) == [
        "moto: [server]<6,>=5.2.5 in pyproject.toml, <6,>=5.2.5 in environment.yml"
    ]
