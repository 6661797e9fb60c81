"""Moto's backend methods wrapped where moto differs from AWS, once per process.

Moto's backends are module-level objects every request reaches, so where moto answers
differently from AWS (:mod:`corrections` lists where) the kit wraps the backend class's method,
or the module's function, rather than every caller: each way into moto (its server app, a
journal's replay, the kit's own calls) gets the same behaviour. ``MotoState`` installs the
wrappers when made; making another one wraps nothing twice. Two corrections may wrap the same
method (PutMetricAlarm's checks and the state it leaves an alarm in): the one installed later
runs first, around the other.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from types import ModuleType
from typing import Any

MARK = "cdlab_wrapped"  # on a method this module put in place: the wrappers in it, by name


def wrap_once(
    owner: type | ModuleType, name: str, wrapper: Callable[[Callable[..., Any]], Callable[..., Any]]
) -> None:
    """Replace ``owner.name`` with ``wrapper(original)``, unless ``wrapper`` (the function of
    that module and name) already wraps it."""
    original = getattr(owner, name)
    applied: tuple[str, ...] = getattr(original, MARK, ())
    key = f"{wrapper.__module__}.{wrapper.__qualname__}"
    if key in applied:
        return
    replacement = functools.wraps(original)(wrapper(original))
    setattr(replacement, MARK, (*applied, key))
    setattr(owner, name, replacement)
