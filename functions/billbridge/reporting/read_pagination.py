"""Opaque cursors for the read API's listings.

A listing is ordered by a key (a tuple of strings, e.g. contract id then
proposal id) and a page holds the items after the cursor's key. The cursor is
the URL-safe base64 of a small JSON document: the cursor format's version,
the listing it belongs to, a digest of the filters it was issued under and
the last key served. Callers treat it as opaque; the hub checks every part
when it comes back, so a cursor that was altered, truncated, issued by
another listing or reused with other filters is refused (`InvalidCursorError`,
which the API answers 400 naming `cursor`) rather than silently serving the
wrong page.

Keyset pagination over the ledger's own keys means a page is stable while
the hub keeps writing: an item added before the cursor's key is not served
on a later page, one added after it is; nothing is served twice.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Generic, TypeVar

CURSOR_FORMAT = 1
MAX_CURSOR_CHARACTERS = 2048
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 200

Item = TypeVar("Item")
SortKey = tuple[str, ...]


class InvalidCursorError(ValueError):
    """The `cursor` query parameter is not one this listing issued (with these filters)."""

    field = "cursor"


@dataclass(frozen=True, slots=True)
class Page(Generic[Item]):
    items: list[Item]
    next_cursor: str | None


def filter_digest(filters: Mapping[str, object]) -> str:
    """A short digest of the filters a cursor was issued under (None-valued filters omitted)."""
    canonical = json.dumps(
        {name: str(value) for name, value in sorted(filters.items()) if value is not None}, separators=(",", ":")
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]


def encode_cursor(listing: str, filters: Mapping[str, object], key: SortKey) -> str:
    document = {"v": CURSOR_FORMAT, "l": listing, "f": filter_digest(filters), "k": list(key)}
    raw = json.dumps(document, separators=(",", ":"), ensure_ascii=True).encode("ascii")
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode_cursor(text: str, listing: str, filters: Mapping[str, object], *, key_length: int) -> SortKey:
    """The last key served, from a cursor this listing issued under the same filters."""
    if not text or len(text) > MAX_CURSOR_CHARACTERS:
        raise InvalidCursorError("cursor is empty or too long; pass the next_cursor of the previous page")
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        document = json.loads(raw.decode("ascii"))
    except (binascii.Error, ValueError, UnicodeDecodeError) as error:
        raise InvalidCursorError("cursor is not a cursor this API issued") from error
    if not isinstance(document, dict) or document.get("v") != CURSOR_FORMAT:
        raise InvalidCursorError("cursor is not a cursor this API issued")
    if document.get("l") != listing:
        raise InvalidCursorError(f"cursor was issued by another listing, not {listing}")
    if document.get("f") != filter_digest(filters):
        raise InvalidCursorError("cursor was issued with other filters; repeat the filters of the first page")
    key = document.get("k")
    if not isinstance(key, list) or len(key) != key_length or not all(isinstance(part, str) for part in key):
        raise InvalidCursorError("cursor is not a cursor this API issued")
    return tuple(key)


def paginate(
    items: Iterable[Item],
    *,
    listing: str,
    filters: Mapping[str, object],
    key_of: Callable[[Item], SortKey],
    key_length: int,
    limit: int,
    cursor: str | None,
) -> Page[Item]:
    """One page of `items`, which must come in ascending `key_of` order.

    `items` is consumed lazily: at most `limit + 1` items after the cursor are read,
    so a listing that loads contract books one by one loads only what the page needs."""
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise ValueError(f"limit must be between 1 and {MAX_PAGE_SIZE}")
    after = None if cursor is None else decode_cursor(cursor, listing, filters, key_length=key_length)
    page: list[Item] = []
    for item in items:
        if after is not None and key_of(item) <= after:
            continue
        if len(page) == limit:
            return Page(page, encode_cursor(listing, filters, key_of(page[-1])))
        page.append(item)
    return Page(page, None)


def after_contract(cursor: str | None, listing: str, filters: Mapping[str, object], *, key_length: int) -> str | None:
    """The contract id a cursor's key starts with (listings keyed by contract first), so a
    listing can skip the contracts before it without loading them."""
    if cursor is None:
        return None
    return decode_cursor(cursor, listing, filters, key_length=key_length)[0]
