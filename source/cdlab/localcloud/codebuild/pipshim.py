"""``pip3``/``pip`` inside a local CodeBuild action: ``pip3 install .`` without reinstalling.

On CodeBuild every build starts from a fresh image, so the buildspec installs the kit. Locally
the runner's interpreter already holds the kit's dependencies, and the project's own packages
are put first on ``PYTHONPATH`` from the exported commit (``package_dirs``), so the commit's code
is what runs. ``pip3 install .`` therefore only checks that every dependency the commit's
pyproject.toml declares is installed at a matching version, installs with the real pip just the
ones that are not, and says so. Every other pip command goes to the real pip.

Run as ``python -I .../pipshim.py ARGS``, by its path (isolated: the kit's own shim, not the
commit's, and it needs nothing of the kit installed).
"""

from __future__ import annotations

import importlib.metadata
import os
import sys
import tomllib
from pathlib import Path

from packaging.requirements import Requirement

PROJECT = "."


def package_dirs(project: Path) -> list[Path]:
    """Where the project's packages live (setuptools' ``packages.find.where``, else the root)."""
    if not (project / "pyproject.toml").is_file():
        return [project]
    pyproject = tomllib.loads((project / "pyproject.toml").read_text())
    find = pyproject.get("tool", {}).get("setuptools", {}).get("packages", {}).get("find", {})
    return [project / where for where in find.get("where", ["."])]


def unmet(project: Path) -> list[str]:
    """The project's dependencies that this interpreter does not satisfy."""
    pyproject = tomllib.loads((project / "pyproject.toml").read_text())
    missing = []
    for text in pyproject.get("project", {}).get("dependencies", []):
        requirement = Requirement(text)
        if requirement.marker is not None and not requirement.marker.evaluate():
            continue
        try:
            installed = importlib.metadata.version(requirement.name)
        except importlib.metadata.PackageNotFoundError:
            missing.append(text)
            continue
        if not requirement.specifier.contains(installed, prereleases=True):
            missing.append(text)
    return missing


def _real_pip(args: list[str]) -> None:
    os.execv(sys.executable, [sys.executable, "-m", "pip", *args])


def main(args: list[str]) -> int:
    if args != ["install", PROJECT]:
        _real_pip(args)
    project = Path.cwd()
    missing = unmet(project)
    where = ", ".join(str(p.relative_to(project)) for p in package_dirs(project))
    print(
        f"pip3 install . (local CodeBuild): the commit's packages run from {where}/ on "
        f"PYTHONPATH, with the dependencies installed in {sys.prefix}"
    )
    if missing:
        print(f"installing the dependencies not satisfied yet: {', '.join(missing)}", flush=True)
        _real_pip(["install", *missing])
    print("all dependencies of pyproject.toml are satisfied: nothing to install")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
