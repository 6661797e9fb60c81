"""What the handlers of moto-kept resources share: a call on moto's thread whose failure is the
handler's, a change to moto's state journaled as a client's request is, and the refusal of
properties the local cloud does not provide.

Moto keeps these resources in memory only. A handler's change is journaled in the same sequence
as the clients' requests (:mod:`cdlab.localcloud.state.journal`), so a restart replays both in
the order they happened: a policy put by hand on a stack's role comes back after the role, and
the stack's later update of that role after the policy.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from cdlab.localcloud.cloudformation.resources.base import (
    Context,
    ResourceFailed,
    handler_failure,
)


async def on_moto(ctx: Context, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """``fn``'s result, run on moto's thread; a failure is the handler's."""
    try:
        return await ctx.moto.run(fn, *args, **kwargs)
    except Exception as e:  # moto raises its own RESTError types, with .message
        raise handler_failure(e) from None


async def journaled(ctx: Context, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """``fn(ctx.moto, *args, **kwargs)``, a :func:`replayable` change, journaled then made on
    moto's thread; its result. A failure (the journal's too) is the handler's."""
    try:
        return await ctx.journal.change(ctx.moto, fn, *args, **kwargs)
    except Exception as e:
        raise handler_failure(e) from None


def refuse(ctx: Context, props: dict[str, Any], names: Iterable[str]) -> None:
    """Fail the resource if it sets one of ``names``."""
    for name in names:
        if name in props:
            raise ResourceFailed(
                f"Property {name} of resource {ctx.logical_id} is not provided by the local cloud."
            )


def refuse_others(ctx: Context, props: dict[str, Any], provided: Iterable[str]) -> None:
    """Fail the resource if it sets a property other than the ``provided`` ones."""
    refuse(ctx, props, sorted(set(props) - set(provided)))
