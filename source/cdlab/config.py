"""Where the kit keeps its state and how a client finds the local cloud.

Everything is chosen by the environment: ``CDLAB_HOME`` (state dir, default ``~/.cdlab``),
``CDLAB_PORT`` (the local cloud's loopback port), ``CDLAB_TIME_SCALE`` (how much faster than
real time CloudWatch periods, cooldowns and waits pass in the local cloud),
``CDLAB_INVOCATION_TIMEOUT`` (seconds an instance may take to answer, 60 as on SageMaker).
"""

from __future__ import annotations

import os
from pathlib import Path

DEFAULT_PORT = 4599
DEFAULT_REGION = "us-east-1"
ACCOUNT_ID = "123456789012"
LOOPBACK = "127.0.0.1"


class ConfigError(ValueError):
    """A ``CDLAB_*`` variable holds a value the kit cannot use; the message names it."""


def home() -> Path:
    return Path(os.environ.get("CDLAB_HOME") or Path.home() / ".cdlab").expanduser()


def port() -> int:
    text = os.environ.get("CDLAB_PORT")
    if not text:
        return DEFAULT_PORT
    try:
        return port_number(text)
    except ConfigError as e:
        raise ConfigError(f"CDLAB_PORT {e}") from None


def port_number(text: str) -> int:
    """``text`` as a TCP port, or a ConfigError: "must be a port number (1 to 65535), not ..."."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 0 < value < 65536:
        raise ConfigError(f"must be a port number (1 to 65535), not {text!r}")
    return value


def region() -> str:
    """The local cloud's region, from the environment alone. A client's region, on either target,
    is the session's: :func:`cdlab.target.region`."""
    return os.environ.get("AWS_DEFAULT_REGION") or os.environ.get("AWS_REGION") or DEFAULT_REGION


def time_scale() -> float:
    """Seconds of simulated time per real second (1 behaves like AWS)."""
    value = float(os.environ.get("CDLAB_TIME_SCALE") or 1)
    if value <= 0:
        raise ValueError(f"CDLAB_TIME_SCALE must be positive, got {value}")
    return value


def invocation_timeout() -> float:
    """Seconds an instance may take to answer an invocation (SageMaker allows 60)."""
    value = float(os.environ.get("CDLAB_INVOCATION_TIMEOUT") or 60)
    if value <= 0:
        raise ValueError(f"CDLAB_INVOCATION_TIMEOUT must be positive, got {value}")
    return value
