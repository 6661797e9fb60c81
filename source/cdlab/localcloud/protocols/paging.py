"""The pages of the local services' List and Describe operations: at most ``size`` items an
answer, and a token for the next page while more remain.

The token is a cursor, not an offset: it carries the listing it belongs to, its order and the
sort key of the page's last item, and the next page starts after that key, so an item added (or
removed) between two pages neither repeats nor skips an item of the others. Each listing's key
must be unique among its items and JSON-serializable (strings, numbers, lists of them). A token
that is not one of these, or one given with another listing or order, is refused with the error
the caller passes in: each service keeps its own type and message.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

# before the cursor's JSON, so that botocore's paginator does not take the token for one of its
# own (base64 of a JSON object) when it is given as a StartingToken
MARK = "cdlab-page "

Item = TypeVar("Item")
Key = Callable[[Item], list[Any]]
Refusal = Callable[[str], Exception]


def page(
    items: Iterable[Item],
    key: Key[Item],
    token: str | None,
    *,
    listing: str,
    size: int,
    refuse: Refusal,
    descending: bool = False,
) -> tuple[list[Item], str | None]:
    """The page of ``items`` ordered by ``key`` (``descending`` or ascending) that ``token``
    asks for (the first without one), and the token of the next page if any remain. A token
    this listing did not give in this order is refused with ``refuse(token)``."""
    ordered = sorted(items, key=key, reverse=descending)
    if token:
        after = _cursor(token, listing, descending, refuse)
        try:
            ordered = [i for i in ordered if (key(i) < after if descending else key(i) > after)]
        except TypeError:
            raise refuse(token) from None
    shown = ordered[:size]
    if len(ordered) <= size:
        return shown, None
    cursor = {"listing": listing, "descending": descending, "after": key(shown[-1])}
    return shown, base64.urlsafe_b64encode((MARK + json.dumps(cursor)).encode()).decode()


def is_descending(token: str, refuse: Refusal) -> bool:
    """The order a token's listing goes in (for an operation that takes it from the token)."""
    return bool(_read(token, refuse)["descending"])


def _cursor(token: str, listing: str, descending: bool, refuse: Refusal) -> list[Any]:
    cursor = _read(token, refuse)
    if cursor["listing"] != listing or cursor["descending"] != descending:
        raise refuse(token)
    return list(cursor["after"])


def _read(token: str, refuse: Refusal) -> dict[str, Any]:
    try:
        text = base64.urlsafe_b64decode(token.encode()).decode()
        cursor = json.loads(text.removeprefix(MARK)) if text.startswith(MARK) else None
    except ValueError:
        raise refuse(token) from None
    if not (
        isinstance(cursor, dict)
        and isinstance(cursor.get("listing"), str)
        and isinstance(cursor.get("descending"), bool)
        and isinstance(cursor.get("after"), list)
    ):
        raise refuse(token)
    return cursor
