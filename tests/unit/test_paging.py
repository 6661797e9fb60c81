"""The local services' pages (:mod:`cdlab.localcloud.protocols.paging`): a cursor token that
neither repeats nor skips an item added or removed between pages, the page size, and the
refusal, with the caller's error, of a token the listing did not give."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from cdlab.localcloud.protocols import paging
from cdlab.localcloud.protocols.errors import ValidationError


def refuse(token: str) -> Exception:
    return ValidationError(f"{token} is not a valid NextToken")


def key(item: dict[str, Any]) -> list[Any]:
    return [item["n"], item["name"]]


def items(*numbers: int) -> list[dict[str, Any]]:
    return [{"n": n, "name": f"item-{n}"} for n in numbers]


def walk(found: list[dict[str, Any]], size: int, descending: bool = False) -> list[list[int]]:
    """Every page's numbers, following the tokens to the end."""
    pages, token = [], None
    while True:
        shown, token = paging.page(
            found, key, token, listing="l", size=size, refuse=refuse, descending=descending
        )
        pages.append([i["n"] for i in shown])
        if token is None:
            return pages


def test_pages_of_the_given_size_in_order():
    assert walk(items(4, 1, 3, 2, 5), size=2) == [[1, 2], [3, 4], [5]]
    assert walk(items(4, 1, 3, 2, 5), size=2, descending=True) == [[5, 4], [3, 2], [1]]
    assert walk(items(1, 2), size=2) == [[1, 2]]


def test_an_empty_listing_is_one_empty_page_without_a_token():
    assert paging.page([], key, None, listing="l", size=3, refuse=refuse) == ([], None)


def test_the_token_is_a_cursor_not_an_offset():
    found = items(10, 20, 30, 40)
    first, token = paging.page(found, key, None, listing="l", size=2, refuse=refuse)
    assert [i["n"] for i in first] == [10, 20]
    # one added before the cursor, the page's last one removed: the next page is 30, 40 still
    changed = [i for i in found if i["n"] != 20] + items(15)
    rest, token = paging.page(changed, key, token, listing="l", size=2, refuse=refuse)
    assert [i["n"] for i in rest] == [30, 40] and token is None


def test_an_item_added_after_the_cursor_comes_once():
    found = items(1, 2, 3)
    _, token = paging.page(found, key, None, listing="l", size=2, refuse=refuse)
    rest, _ = paging.page(found + items(4), key, token, listing="l", size=2, refuse=refuse)
    assert [i["n"] for i in rest] == [3, 4]


def test_the_page_size_may_change_between_pages():
    found = items(1, 2, 3, 4, 5)
    _, token = paging.page(found, key, None, listing="l", size=1, refuse=refuse)
    rest, token = paging.page(found, key, token, listing="l", size=3, refuse=refuse)
    assert [i["n"] for i in rest] == [2, 3, 4] and token is not None


def test_the_token_tells_its_order():
    found = items(1, 2, 3)
    _, token = paging.page(found, key, None, listing="l", size=1, refuse=refuse, descending=True)
    assert token is not None and paging.is_descending(token, refuse)


FORGED = base64.urlsafe_b64encode(
    b'cdlab-page {"listing": "l", "descending": false, "after": ["a", "b"]}'
).decode()
UNMARKED = base64.urlsafe_b64encode(b'{"listing": "l", "descending": false, "after": []}').decode()


@pytest.mark.parametrize("token", ["100", "not-a-token", "é", "W10=", UNMARKED, FORGED])
def test_a_token_the_listing_did_not_give_is_refused_with_the_callers_error(token: str):
    with pytest.raises(ValidationError) as info:
        paging.page(items(1, 2, 3), key, token, listing="l", size=1, refuse=refuse)
    assert info.value.message == f"{token} is not a valid NextToken"


def test_a_token_of_another_listing_or_order_is_refused():
    found = items(1, 2, 3)
    _, token = paging.page(found, key, None, listing="l", size=1, refuse=refuse)
    assert token is not None
    with pytest.raises(ValidationError):
        paging.page(found, key, token, listing="other", size=1, refuse=refuse)
    with pytest.raises(ValidationError):
        paging.page(found, key, token, listing="l", size=1, refuse=refuse, descending=True)
    with pytest.raises(ValidationError):
        paging.is_descending("not-a-token", refuse)
