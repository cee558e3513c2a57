"""Opaque cursors: every page once, in order, under any page size; anything altered is refused."""

from __future__ import annotations

import base64
import json

import pytest
from billbridge.reporting.read_pagination import (
    InvalidCursorError,
    decode_cursor,
    encode_cursor,
    paginate,
)
from hypothesis import given
from hypothesis import strategies as st

KEYS = st.lists(st.text(min_size=1, max_size=8), unique=True, max_size=40).map(sorted)


def pages_of(keys: list[str], limit: int, filters: dict[str, object]) -> list[list[str]]:
    pages, cursor = [], None
    while True:
        page = paginate(
            keys, listing="things", filters=filters, key_of=lambda k: (k,), key_length=1, limit=limit, cursor=cursor
        )
        pages.append(page.items)
        cursor = page.next_cursor
        if cursor is None:
            return pages


@given(keys=KEYS, limit=st.integers(min_value=1, max_value=12))
def test_paging_serves_every_item_once_in_order(keys: list[str], limit: int) -> None:
    pages = pages_of(keys, limit, {"state": "open"})
    assert [k for page in pages for k in page] == keys
    assert all(len(page) == limit for page in pages[:-1])


def test_an_item_added_before_the_cursor_is_not_served_and_one_after_it_is() -> None:
    first = paginate(
        ["a", "c", "e"], listing="things", filters={}, key_of=lambda k: (k,), key_length=1, limit=2, cursor=None
    )
    assert first.items == ["a", "c"]
    rest = paginate(
        ["a", "b", "c", "d", "e"],
        listing="things",
        filters={},
        key_of=lambda k: (k,),
        key_length=1,
        limit=2,
        cursor=first.next_cursor,
    )
    assert rest.items == ["d", "e"]


def _tampered(cursor: str, **changes: object) -> str:
    document = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    document.update(changes)
    return base64.urlsafe_b64encode(json.dumps(document).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "changes",
    [{"v": 2}, {"l": "other"}, {"f": "0" * 16}, {"k": ["a", "b"]}, {"k": [1]}, {"k": "a"}],
)
def test_an_altered_cursor_is_refused_naming_cursor(changes: dict[str, object]) -> None:
    cursor = encode_cursor("things", {"state": "open"}, ("a",))
    assert decode_cursor(cursor, "things", {"state": "open"}, key_length=1) == ("a",)
    with pytest.raises(InvalidCursorError) as refused:
        decode_cursor(_tampered(cursor, **changes), "things", {"state": "open"}, key_length=1)
    assert refused.value.field == "cursor"


@pytest.mark.parametrize("text", ["", "%%%", "bm90IGpzb24", "W10", "A" * 3000])
def test_text_that_is_not_a_cursor_is_refused(text: str) -> None:
    with pytest.raises(InvalidCursorError):
        decode_cursor(text, "things", {}, key_length=1)


def test_filters_left_unset_do_not_change_the_cursor() -> None:
    assert encode_cursor("things", {"state": None}, ("a",)) == encode_cursor("things", {}, ("a",))
