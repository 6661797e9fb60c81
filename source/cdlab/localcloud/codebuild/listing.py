"""The pages of CodeBuild's List operations: at most 100 items an answer, and a ``nextToken``
when more remain (https://docs.aws.amazon.com/codebuild/latest/APIReference/API_ListBuilds.html,
https://docs.aws.amazon.com/codebuild/latest/APIReference/API_ListBuildsForProject.html,
https://docs.aws.amazon.com/codebuild/latest/APIReference/API_ListProjects.html).

The token is a cursor, not an offset: it carries the listing it belongs to, its order and the
sort key of the page's last item, and the next page starts after that key, so a build started
(or a project deleted) between two pages neither repeats nor skips an item of the others. A token
that is not one of these, or one given with another listing or order, is refused with
InvalidInputException, the error these operations answer for an input that is not valid (the
wording is the kit's).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any, TypeVar

from cdlab.localcloud.protocols.errors import InvalidInputException

PAGE_SIZE = 100
# before the cursor's JSON, so that botocore's paginator does not take the token for one of its
# own (base64 of a JSON object) when it is given as a StartingToken
MARK = "codebuild-page "

Item = TypeVar("Item")
Key = Callable[[Item], list[Any]]


def descending(token: str) -> bool:
    """The order a token's listing goes in (ListBuildsForProject takes it from the token)."""
    return bool(_read(token)["descending"])


def page(
    items: list[Item], key: Key[Item], listing: str, reverse: bool, token: str | None
) -> tuple[list[Item], str | None]:
    """The page of ``items`` ordered by ``key`` (``reverse``: descending) that ``token`` asks
    for (the first without one), and the token of the next page if any remain."""
    ordered = sorted(items, key=key, reverse=reverse)
    if token:
        after = _cursor(token, listing, reverse)
        try:
            ordered = [i for i in ordered if (key(i) < after if reverse else key(i) > after)]
        except TypeError:
            raise _invalid() from None
    shown = ordered[:PAGE_SIZE]
    if len(ordered) <= PAGE_SIZE:
        return shown, None
    cursor = {"listing": listing, "descending": reverse, "after": key(shown[-1])}
    return shown, base64.urlsafe_b64encode((MARK + json.dumps(cursor)).encode()).decode()


def _cursor(token: str, listing: str, reverse: bool) -> list[Any]:
    cursor = _read(token)
    if cursor["listing"] != listing or cursor["descending"] != reverse:
        raise _invalid()
    return list(cursor["after"])


def _read(token: str) -> dict[str, Any]:
    try:
        text = base64.urlsafe_b64decode(token.encode()).decode()
        cursor = json.loads(text.removeprefix(MARK)) if text.startswith(MARK) else None
    except ValueError:
        raise _invalid() from None
    if not (
        isinstance(cursor, dict)
        and isinstance(cursor.get("listing"), str)
        and isinstance(cursor.get("descending"), bool)
        and isinstance(cursor.get("after"), list)
    ):
        raise _invalid()
    return cursor


def _invalid() -> Exception:
    return InvalidInputException("Invalid input: nextToken is not a token this listing gave")
