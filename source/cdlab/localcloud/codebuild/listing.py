"""The pages of CodeBuild's List operations: at most 100 items an answer, and a ``nextToken``
when more remain (https://docs.aws.amazon.com/codebuild/latest/APIReference/API_ListBuilds.html,
https://docs.aws.amazon.com/codebuild/latest/APIReference/API_ListBuildsForProject.html,
https://docs.aws.amazon.com/codebuild/latest/APIReference/API_ListProjects.html).

The token is :mod:`paging`'s cursor: a build started (or a project deleted) between two pages
neither repeats nor skips an item of the others. A token that is not one of these, or one given
with another listing or order, is refused with InvalidInputException, the error these
operations answer for an input that is not valid (the wording is the kit's).
"""

from __future__ import annotations

from cdlab.localcloud.protocols import paging
from cdlab.localcloud.protocols.errors import InvalidInputException

PAGE_SIZE = 100


def descending(token: str) -> bool:
    """The order a token's listing goes in (ListBuildsForProject takes it from the token)."""
    return paging.is_descending(token, _invalid)


def page(
    items: list[paging.Item], key: paging.Key[paging.Item], listing: str, reverse: bool,
    token: str | None,
) -> tuple[list[paging.Item], str | None]:  # fmt: skip
    """The page of ``items`` ordered by ``key`` (``reverse``: descending) that ``token`` asks
    for (the first without one), and the token of the next page if any remain."""
    return paging.page(
        items, key, token, listing=listing, size=PAGE_SIZE, refuse=_invalid, descending=reverse
    )


def _invalid(token: str) -> Exception:
    return InvalidInputException("Invalid input: nextToken is not a token this listing gave")
