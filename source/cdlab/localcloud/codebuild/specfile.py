"""A buildspec read and checked as CodeBuild reads it in DOWNLOAD_SOURCE, before any command runs.

CodeBuild parses the whole buildspec before the INSTALL phase: a buildspec it cannot use fails
DOWNLOAD_SOURCE with ``YAML_FILE_ERROR`` and no command runs. :func:`check` does the same and
gives the buildspec as the runner (:mod:`buildspec`) reads it: every scalar as the text written
(so ``- 42`` is the command ``42`` and ``python: 3.10`` the version ``3.10``), a null optional
member left out, a list where a list belongs.

The messages, and where they come from:

- YAML that does not parse: the parser's problem ``at line N``, as CodeBuild words it ("found
  character that cannot start any token at line 3",
  https://github.com/awsdocs/aws-codebuild-user-guide/pull/25; "did not find expected ',' or ']'
  at line 19", https://github.com/aws-samples/bedrock-chat/issues/441). The problem itself is
  PyYAML's wording, not Go's.
- A command that YAML reads as a mapping or a list, CodeBuild's words: "Expected Commands[0] to
  be of string type: found subkeys instead at line 6, value of the key tag on line 5 might be
  empty" (https://www.bioerrorlog.work/entry/codebuild-colon-error,
  https://github.com/aws/sagemaker-chainer-container/pull/83) and "Expected Commands[0] to be of
  string type: found list instead at line 12"
  (https://github.com/aws/aws-toolkit-jetbrains/pull/5422). ``finally`` gets the same words
  with ``Finally`` (the kit's choice).
- A runtime the image lacks, CodeBuild's words: "Unknown runtime version named '3.8' of python.
  This build image has the following versions: 3.11"
  (https://github.com/aws-samples/aws-healthcare-lifescience-ai-ml-sample-notebooks/issues/89,
  https://github.com/awslabs/aws-simple-cicd/issues/58) and "Unknown runtime named 'docker'.
  This build image has the following runtimes: dotnet, golang, java, nodejs, php, python, ruby"
  (a CodeBuild log kept in a public GitHub repository). The local image has one runtime, the
  kit's own Python: ``python`` takes its version, ``3.x`` (the latest minor of that major) or
  ``latest``, as the reference describes them
  (https://docs.aws.amazon.com/codebuild/latest/userguide/runtime-versions.html); a ``$NAME``
  in a version is the build's variable. The INSTALL phase alone has ``runtime-versions``
  (https://docs.aws.amazon.com/codebuild/latest/userguide/build-spec-ref.html#build-spec.phases.install.runtime-versions).
- A shell or an ``on-failure`` CodeBuild takes and the local one does not run (Windows' shells,
  the RETRY forms) is refused, in the kit's words, rather than run otherwise; so are the members
  the local CodeBuild would leave out (``run-as``, ``env``'s ``parameter-store``,
  ``secrets-manager``, ``exported-variables``, ``git-credential-helper: yes``, the artifacts'
  ``exclude-paths``, ``enable-symlinks``, ``s3-prefix`` and ``secondary-artifacts``).
- Everything else is the kit's wording, in the shape of CodeBuild's: a missing or unknown
  ``version`` ("Required mapping", 0.1 or 0.2), a missing ``phases`` ("Required sequence"), a
  member of the wrong kind ("Expected phases/build to be of map type: found string instead at
  line 4"), ``commands`` that is not a list (the reference: "Contains a sequence of scalars";
  https://docs.aws.amazon.com/codebuild/latest/userguide/build-spec-ref.html).

A key CodeBuild does not know is not an error: CodeBuild logs "Found possible syntax errors in
buildspec:", then for each section "The following keys cannot be identified:" and the keys, and
goes on without them (https://github.com/aws/aws-toolkit-vscode/pull/4008,
https://github.com/aws-amplify/amplify-cli/pull/13110). The kit logs the same and leaves those
keys out of the buildspec it runs: an unknown phase name (section ``phases``, the kit's label)
and ``runtime-versions`` outside INSTALL are such keys. A phase without commands is logged as
"No commands found for phase name: install" (https://github.com/aws/copilot-cli/issues/4721).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from cdlab.localcloud.codebuild.shell import DEFAULT_SHELL, SHELLS

VERSIONS = ("0.1", "0.2")
ON_FAILURE = ("ABORT", "CONTINUE")  # the values that run locally
PHASES = ("install", "pre_build", "build", "post_build")
NULL = "tag:yaml.org,2002:null"

STRING = "string"  # a scalar
LIST = "list"  # a sequence of scalars
STRINGS = "strings"  # a sequence of scalars, or one scalar (a list of one)
MAP = "map"  # a mapping of free names to scalars
ANY = "any"  # not checked (batch builds are not run locally)
COMMANDS = "commands"  # a sequence of scalars, with CodeBuild's words for a wrong item
PHASE_MAP = "phases"  # the phases section (_Reader.phases)


@dataclass(frozen=True)
class Each:
    """A mapping of free names (report groups, artifact identifiers), each value a ``schema``."""

    schema: Any


ARTIFACT = {
    "files": STRINGS, "name": STRING, "discard-paths": STRING, "base-directory": STRING,
    "exclude-paths": STRINGS, "enable-symlinks": STRING, "s3-prefix": STRING,
}  # fmt: skip
ARTIFACT_RUN = ("files", "name", "discard-paths", "base-directory")  # the members applied
PHASE = {"run-as": STRING, "on-failure": STRING, "commands": COMMANDS, "finally": COMMANDS}
TOP = {
    "version": STRING,
    "run-as": STRING,
    "env": {
        "shell": STRING, "variables": MAP, "parameter-store": MAP, "secrets-manager": MAP,
        "exported-variables": LIST, "git-credential-helper": STRING,
    },
    "proxy": {"upload-artifacts": STRING, "logs": STRING},
    "batch": ANY,
    "phases": PHASE_MAP,
    "reports": Each(
        {"files": STRINGS, "base-directory": STRING, "discard-paths": STRING, "file-format": STRING}
    ),
    "artifacts": {**ARTIFACT, "secondary-artifacts": Each(ARTIFACT)},
    "cache": {"paths": STRINGS, "key": STRING, "fallback-keys": STRINGS, "action": STRING},
}  # fmt: skip


class YamlFileError(ValueError):
    """The buildspec cannot be used; the message is the ``YAML_FILE_ERROR`` context's."""


def runtimes() -> dict[str, str]:
    """The local build image's runtimes and their version: the kit's own Python."""
    return {"python": f"{sys.version_info.major}.{sys.version_info.minor}"}


def select(runtime: str, asked: str) -> str:
    """The version of ``runtime`` that ``asked`` (a version, ``MAJOR.x`` or ``latest``) selects
    on the local image; CodeBuild's ``YAML_FILE_ERROR`` words when there is none."""
    have = runtimes()
    if runtime not in have:
        raise YamlFileError(
            f"Unknown runtime named '{runtime}'. This build image has the following runtimes: "
            + ", ".join(sorted(have))
        )
    version = have[runtime]
    if asked in (version, version.split(".")[0] + ".x", "latest"):
        return version
    raise YamlFileError(
        f"Unknown runtime version named '{asked}' of {runtime}. "
        f"This build image has the following versions: {version}"
    )


def expand(text: str, variables: Mapping[str, str]) -> str:
    """``$NAME`` and ``${NAME}`` in ``text`` replaced by the variable ("" if it is unset)."""
    return re.sub(
        r"\$(?:\{(\w+)\}|(\w+))", lambda m: variables.get(m.group(1) or m.group(2), ""), text
    )


def check(text: str, variables: Mapping[str, str], notes: list[str]) -> dict[str, Any]:
    """The buildspec ``text`` as the runner reads it, or :class:`YamlFileError`. ``variables``
    are the build's (for ``$NAME`` in runtime versions); the lines CodeBuild logs in
    DOWNLOAD_SOURCE (unknown keys, phases without commands, runtimes selected) go to ``notes``,
    those before a failure too."""
    loader = yaml.SafeLoader(text)
    try:
        root = loader.get_single_node()
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise YamlFileError(f"{e.problem or e.context}{where}") from None
    except yaml.YAMLError as e:
        raise YamlFileError(str(e)) from None
    finally:
        loader.dispose()
    if root is None or _kind(root) == "null":
        raise YamlFileError("the buildspec is empty: it needs a version and phases")
    reader = _Reader(loader)
    spec = reader.section(root, TOP, "the buildspec", "buildspec")
    _version(spec, root)
    if "phases" not in spec:
        raise YamlFileError("phases is missing: a buildspec needs a phases section")
    notes.extend(reader.warnings())
    for name, phase in spec["phases"].items():
        if not phase.get("commands"):
            notes.append(f"No commands found for phase name: {name}")
    _select_runtimes(spec, variables, notes)
    _runnable(spec)
    return spec


def _runnable(spec: dict[str, Any]) -> None:
    """Refuse what CodeBuild takes and the local CodeBuild does not run, rather than run it
    otherwise or leave it out: a shell other than Linux's two (Windows' ``powershell.exe``,
    ``cmd.exe``), ``on-failure``'s RETRY forms, ``run-as``, ``env``'s ``parameter-store``,
    ``secrets-manager`` and ``exported-variables``, ``git-credential-helper: yes`` (the kit's
    words), and the artifact members :func:`buildspec.artifact_files` does not apply (its
    words)."""
    env = spec.get("env", {})
    if "run-as" in spec:
        raise YamlFileError(_not_here("run-as", "runs the commands as the kit's own user"))
    for key in ("parameter-store", "secrets-manager", "exported-variables"):
        if key in env:
            raise YamlFileError(_not_here(f"env/{key}", "has no such variables"))
    if env.get("git-credential-helper", "no") != "no":
        raise YamlFileError(_not_here("env/git-credential-helper", "has no Git credentials"))
    for name, phase in spec["phases"].items():
        if "run-as" in phase:
            raise YamlFileError(
                _not_here(f"run-as of phase {name}", "runs the commands as the kit's own user")
            )
    artifacts = spec.get("artifacts", {})
    extra = sorted(set(artifacts) - set(ARTIFACT_RUN))
    if extra:
        raise YamlFileError(f"artifacts {extra} do not run locally")
    shell = env.get("shell", DEFAULT_SHELL)
    if shell not in SHELLS:
        raise YamlFileError(
            f"env/shell {shell} does not run in the local CodeBuild, which runs "
            f"{' and '.join(SHELLS)}"
        )
    for name, phase in spec["phases"].items():
        given = phase.get("on-failure")
        if given is not None and given not in ON_FAILURE:
            raise YamlFileError(
                f"on-failure {given} of phase {name} does not run in the local CodeBuild, "
                f"which runs {' and '.join(ON_FAILURE)} (not RETRY)"
            )


def _not_here(what: str, why: str) -> str:
    return f"{what} does not run in the local CodeBuild, which {why}"


def _version(spec: dict[str, Any], root: Node) -> None:
    if "version" not in spec:
        raise YamlFileError(f"version is missing: a buildspec needs version {VERSIONS[-1]}")
    if spec["version"] not in VERSIONS:
        line = _line(_member(root, "version"))
        raise YamlFileError(
            f"Unknown buildspec version '{spec['version']}' at line {line}: "
            f"the versions are {', '.join(VERSIONS)}"
        )


def _select_runtimes(spec: dict[str, Any], variables: Mapping[str, str], notes: list[str]) -> None:
    """CodeBuild's runtime selection: each runtime logged, then checked against the image."""
    install = spec["phases"].get("install", {})
    asked = install.get("runtime-versions", {})
    if not asked:
        notes.append("No runtime version selected in buildspec.")
        return
    known = {**spec.get("env", {}).get("variables", {}), **variables}
    for runtime, version in asked.items():
        version = expand(version, known)
        asked[runtime] = version
        notes.append(
            f"Selecting '{runtime}' runtime version '{version}' based on manual selections..."
        )
        select(runtime, version)


def _member(mapping: Node, key: str) -> Node:
    assert isinstance(mapping, MappingNode)
    return next(v for k, v in reversed(mapping.value) if _text(k) == key)


def _kind(node: Node) -> str:
    if isinstance(node, MappingNode):
        return "map"
    if isinstance(node, SequenceNode):
        return "list"
    return "null" if node.tag == NULL else "string"


def _text(node: Node) -> str:
    return "" if node.tag == NULL else str(node.value)


def _line(node: Node) -> int:
    return node.start_mark.line + 1


def _expected(where: str, kind: str, node: Node) -> YamlFileError:
    return YamlFileError(
        f"Expected {where} to be of {kind} type: found {_kind(node)} instead at line {_line(node)}"
    )


class _Reader:
    """Walks the buildspec's nodes, keeping the keys CodeBuild would not identify."""

    def __init__(self, loader: yaml.SafeLoader) -> None:
        self.loader = loader
        self.unknown: dict[str, list[str]] = {}

    def warnings(self) -> list[str]:
        """CodeBuild's warning for the keys it cannot identify (none if all are known)."""
        if not self.unknown:
            return []
        lines = ["Found possible syntax errors in buildspec: "]
        for section, keys in self.unknown.items():
            lines += [f"In the section {section}", "    The following keys cannot be identified:"]
            lines += [f"        {key}" for key in keys]
        return ["\n".join(lines)]

    def pairs(self, node: Node, where: str, nulls: bool = False) -> list[tuple[str, Node]]:
        """A mapping's keys and value nodes (``<<`` merges applied, a null value left out
        unless ``nulls``)."""
        if not isinstance(node, MappingNode):
            raise _expected(where, "map", node)
        self.loader.flatten_mapping(node)
        return [(_text(k), v) for k, v in node.value if nulls or _kind(v) != "null"]

    def section(self, node: Node, schema: dict[str, Any], where: str, label: str) -> dict[str, Any]:
        """A mapping of the keys ``schema`` names; others are noted under ``label``."""
        out: dict[str, Any] = {}
        for key, value in self.pairs(node, where):
            if key not in schema:
                self.unknown.setdefault(label, []).append(key)
                continue
            path = key if where == "the buildspec" else f"{where}/{key}"
            out[key] = self.value(value, schema[key], path, key)
        return out

    def value(self, node: Node, kind: Any, where: str, label: str) -> Any:
        """``node`` read as ``kind`` (``where`` names it in a message, ``label`` its section)."""
        if kind == ANY:
            return self.loader.construct_document(node)
        if kind == PHASE_MAP:
            return self.phases(node)
        if isinstance(kind, dict):
            return self.section(node, kind, where, label)
        if isinstance(kind, Each):
            return {
                name: self.section(value, kind.schema, f"{where}/{name}", f"{label}/{name}")
                for name, value in self.pairs(node, where)
            }
        if kind == STRING:
            if not isinstance(node, ScalarNode):
                raise _expected(where, "string", node)
            return _text(node)
        if kind == MAP:  # a name written without a value is "" (a variable set empty)
            return {
                key: self.value(v, STRING, f"{where}/{key}", key)
                for key, v in self.pairs(node, where, nulls=True)
            }
        if kind == STRINGS and isinstance(node, ScalarNode):
            return [_text(node)]
        if kind == COMMANDS:
            return self.commands(node, where)
        if not isinstance(node, SequenceNode):
            raise _expected(where, "list", node)
        return [
            self.value(item, STRING, f"{where}[{i}]", label) for i, item in enumerate(node.value)
        ]

    def commands(self, node: Node, where: str) -> list[str]:
        """``commands`` or ``finally``: a list of scalars, a wrong item in CodeBuild's words."""
        name = where.rsplit("/", 1)[-1].capitalize()
        if not isinstance(node, SequenceNode):
            raise _expected(name, "list", node)
        out = []
        for i, item in enumerate(node.value):
            if isinstance(item, MappingNode):
                line = _line(item)
                raise YamlFileError(
                    f"Expected {name}[{i}] to be of string type: found subkeys instead at line "
                    f"{line}, value of the key tag on line {line - 1} might be empty"
                )
            if isinstance(item, SequenceNode):
                raise YamlFileError(
                    f"Expected {name}[{i}] to be of string type: found list instead at line "
                    f"{_line(item)}"
                )
            out.append(_text(item))
        return out

    def phases(self, node: Node) -> dict[str, dict[str, Any]]:
        """The phases CodeBuild runs (one written with nothing runs nothing); an unknown name,
        and ``runtime-versions`` outside INSTALL, are keys it cannot identify."""
        out: dict[str, dict[str, Any]] = {}
        for name, value in self.pairs(node, "phases", nulls=True):
            if name not in PHASES:
                self.unknown.setdefault("phases", []).append(name)
            elif _kind(value) == "null":
                out[name] = {}
            else:
                schema = {**PHASE, "runtime-versions": MAP} if name == "install" else PHASE
                out[name] = self.section(value, schema, f"phases/{name}", name.upper())
        return out
