"""Where the kit keeps its state and how a client finds the local cloud.

Everything is chosen by the environment: ``CDLAB_HOME`` (state dir, default ``~/.cdlab``),
``CDLAB_PORT`` (the local cloud's loopback port), ``CDLAB_TIME_SCALE`` (how much faster than
real time CloudWatch periods, cooldowns and waits pass in the local cloud),
``CDLAB_INVOCATION_TIMEOUT`` (seconds an instance may take to answer, 60 as on SageMaker).
Where the kit's own commands are: :func:`scripts`.
"""

from __future__ import annotations

import math
import os
import shlex
import sys
import sysconfig
from collections.abc import Iterable
from pathlib import Path

DEFAULT_PORT = 4599
DEFAULT_REGION = "us-east-1"
ACCOUNT_ID = "123456789012"
LOOPBACK = "127.0.0.1"


class ConfigError(ValueError):
    """A ``CDLAB_*`` variable holds a value the kit cannot use; the message names it."""


def home() -> Path:
    return Path(os.environ.get("CDLAB_HOME") or Path.home() / ".cdlab").expanduser()


def port_number(text: str) -> int:
    """``text`` as a TCP port, or a ConfigError: "must be a port number (1 to 65535), not ..."."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 0 < value < 65536:
        raise ConfigError(f"must be a port number (1 to 65535), not {text!r}")
    return value


def asked_port() -> int | None:
    """The port ``CDLAB_PORT`` names, or None when it names none."""
    text = os.environ.get("CDLAB_PORT")
    if not text:
        return None
    try:
        return port_number(text)
    except ConfigError as e:
        raise ConfigError(f"CDLAB_PORT {e}") from None


def port() -> int:
    return asked_port() or DEFAULT_PORT


def region() -> str:
    """The local cloud's region, from the environment alone. A client's region, on either target,
    is the session's: :func:`cdlab.target.region`."""
    return os.environ.get("AWS_DEFAULT_REGION") or os.environ.get("AWS_REGION") or DEFAULT_REGION


def time_scale() -> float:
    """Seconds of simulated time per real second (1 behaves like AWS)."""
    return _positive("CDLAB_TIME_SCALE", 1)


def invocation_timeout() -> float:
    """Seconds an instance may take to answer an invocation (SageMaker allows 60)."""
    return _positive("CDLAB_INVOCATION_TIMEOUT", 60)


def _positive(variable: str, default: float) -> float:
    """The positive number ``variable`` holds (``default`` when unset), or a ConfigError."""
    text = os.environ.get(variable)
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0 < value < math.inf:
        raise ConfigError(f"{variable} must be a positive number, not {text!r}")
    return value


def scripts(where: Iterable[Path] | None = None) -> Path | None:
    """Where the ``cdlab`` and ``aws`` installed with the kit are (``.venv/bin`` in a checkout
    that ``make`` set up): the first directory of ``where`` (default: where pip puts this
    interpreter's scripts) that holds a ``cdlab``; None if none does (the kit run from a checkout
    that pip did not install). Not ``sys.executable``'s directory: for an install outside a venv
    (``pip install --user``) that is ``/usr/bin``, and the scripts are in ``~/.local/bin``. Not
    resolved: a venv's ``bin`` may be reached through a link, and names the venv."""
    directories = _script_directories() if where is None else where
    return next((d.absolute() for d in directories if (d / "cdlab").is_file()), None)


def _script_directories() -> list[Path]:
    """Where pip may have put this interpreter's scripts: beside the ``cdlab`` running, the
    install scheme's directory (a venv's ``bin``, the system's), the user scheme's."""
    running = Path(sys.argv[0]) if sys.argv and sys.argv[0] else None
    found = [running.parent] if running and running.name == "cdlab" else []
    found.append(Path(sysconfig.get_path("scripts")))
    found.append(Path(sysconfig.get_path("scripts", sysconfig.get_preferred_scheme("user"))))
    return found


def cdlab_command(where: Iterable[Path] | None = None) -> str:
    """The kit's ``cdlab`` (:func:`scripts`), as the working directory reaches it
    (``.venv/bin/cdlab`` in a checkout that ``make`` set up), quoted for a shell; plain
    ``cdlab``, as PATH finds it, when there is none."""
    directory = scripts(where)
    if directory is None:
        return "cdlab"
    script, cwd = directory / "cdlab", Path.cwd()
    return shlex.quote(str(script.relative_to(cwd)) if script.is_relative_to(cwd) else str(script))


def path_with_scripts(path: str, where: Iterable[Path] | None = None) -> str:
    """``path`` (a ``PATH``) with the kit's scripts (:func:`scripts`) first, once, so that
    ``aws`` and ``cdlab`` are the kit's whatever else the shell has on its PATH; ``path`` as it
    is when they are not found (no directory without them goes first)."""
    directory = scripts(where)
    if directory is None:
        return path
    first = str(directory)
    return os.pathsep.join([first, *(p for p in path.split(os.pathsep) if p and p != first)])
