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


def scripts() -> Path:
    """Where this interpreter's scripts are: the ``cdlab`` and ``aws`` installed with the kit
    (``.venv/bin`` in a checkout that ``make`` set up). Not resolved: a venv's ``python`` is a
    link to the system's, whose directory has neither."""
    return Path(sys.executable).parent


def cdlab_command() -> str:
    """This interpreter's ``cdlab``, as the working directory reaches it (``.venv/bin/cdlab``
    in a checkout that ``make`` set up), quoted for a shell."""
    script = scripts() / "cdlab"
    cwd = Path.cwd()
    return shlex.quote(str(script.relative_to(cwd)) if script.is_relative_to(cwd) else str(script))


def path_with_scripts(path: str) -> str:
    """``path`` (a ``PATH``) with :func:`scripts` first, once, so that ``aws`` and ``cdlab``
    are the kit's whatever else the shell has on its PATH."""
    first = str(scripts())
    return os.pathsep.join([first, *(p for p in path.split(os.pathsep) if p and p != first)])
