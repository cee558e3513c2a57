"""Ports of the vendor adapter seam: a vendor's webhook in, canonical events out.

A vendor adapter knows one product's delivery format: how it signs (its own
scheme, not Standard Webhooks), whether it has a handshake, and how its payload
becomes canonical events (`docs/spec/events.md`). A "thin" vendor sends only ids;
its adapter fetches the objects through the vendor's API before mapping. A
polling source has no webhook at all: it is read page by page from a durable
cursor. Once translated, the events take the canonical path unchanged (claim,
dedup by `(source, id)`, bus), so a vendor's format touches one module.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol


class VendorSignatureError(Exception):
    """The delivery is not authentic under the vendor's scheme (HTTP 401)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class VendorPayloadError(Exception):
    """The vendor's payload (or an object fetched for it) cannot be mapped: a 4xx naming the field."""

    def __init__(self, message: str, field_path: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field_path = field_path


class VendorUnavailableError(Exception):
    """The vendor's API could not be read now (down, throttled past our budget, refused our token).

    Not the sender's fault: the delivery is answered 503 so that the vendor retries it,
    and a poll stops where it is without moving its cursor."""


@dataclass(frozen=True, slots=True)
class Skipped:
    """A vendor object the delivery named that maps to no canonical event, and why (reported, never silent)."""

    reference: str
    reason: str

    def as_json(self) -> dict[str, str]:
        return {"reference": self.reference, "reason": self.reason}


@dataclass(frozen=True, slots=True)
class Translation:
    """What a vendor delivery means for the hub."""

    events: tuple[dict[str, Any], ...] = ()
    """Canonical CloudEvents (JSON objects), each with an id derived from the vendor object's identity."""
    skipped: tuple[Skipped, ...] = ()
    handshake: bool = False
    """The delivery was the vendor's handshake (it carries nothing to ingest)."""
    delivery_id: str | None = None
    """The vendor's own delivery identity, when it sends one (else a digest of the body is used)."""


@dataclass(frozen=True, slots=True)
class VendorDelivery:
    source: str
    vendor: str
    headers: Mapping[str, str]
    body: bytes


class VendorWebhookAdapter(Protocol):
    """One vendor's webhook: signature, handshake, payload -> canonical events."""

    source: str
    vendor: str
    success_status: int
    """What the vendor expects on success (Xero: 200 and no body)."""
    empty_success_body: bool

    def verify(self, delivery: VendorDelivery, secrets: Sequence[str]) -> None:
        """Raise VendorSignatureError unless one active secret signed the raw body."""

    def translate(self, delivery: VendorDelivery) -> Translation:
        """Raise VendorPayloadError (bad input) or VendorUnavailableError (the vendor's API failed)."""


@dataclass(frozen=True, slots=True)
class PollCursor:
    """Where a polling source was read up to: the last object's modification time and id.

    Objects are read in (modified, id) order, so the next page starts strictly after
    this pair; an object modified again later comes back with its new time."""

    modified: str
    record_id: str
    caught_up: bool = True
    """The poll that saved it read the source to its end. Only then does the next poll start
    with the source's overlap window; a poll cut short by its page budget resumes strictly after."""

    def as_json(self) -> dict[str, str | bool]:
        return {"modified": self.modified, "record_id": self.record_id, "caught_up": self.caught_up}


@dataclass(frozen=True, slots=True)
class PolledPage:
    events: tuple[dict[str, Any], ...]
    skipped: tuple[Skipped, ...]
    next_cursor: PollCursor | None
    """The cursor after this page's last object (None when the page was empty)."""
    has_more: bool
    requests: int = 1
    """Calls made to the vendor's API for this page."""
    refused: tuple[str, ...] = ()
    """Vendor objects of the page that cannot be mapped, each named with its field: the cursor
    moves past them (they are not read again forever) and the poll fails naming them."""


class PollingSource(Protocol):
    """A vendor without webhooks, read from a cursor one page at a time."""

    source: str
    vendor: str

    def read_page(self, after: PollCursor | None, page_size: int, *, first_page: bool = False) -> PolledPage:
        """The next page after `after`; `first_page` may widen the start by the source's overlap window."""


class PollCursorStore(Protocol):
    def load(self, poller: str) -> PollCursor | None: ...

    def save(self, poller: str, cursor: PollCursor, *, polled_at: datetime) -> None: ...


@dataclass(frozen=True, slots=True)
class PollReport:
    poller: str
    pages: int
    requests: int
    events: int
    accepted: int
    duplicates: int
    rejected: int
    skipped: tuple[Skipped, ...] = field(default_factory=tuple)
    cursor: PollCursor | None = None
    stopped_early: str | None = None
    """Why the poll stopped before the source was exhausted (page budget, vendor unavailable)."""
    rejections: tuple[str, ...] = ()
    """Each polled event the canonical path refused, with its reason (the poll fails with them)."""

    def as_json(self) -> dict[str, Any]:
        return {
            "poller": self.poller,
            "pages": self.pages,
            "requests": self.requests,
            "events": self.events,
            "accepted": self.accepted,
            "duplicates": self.duplicates,
            "rejected": self.rejected,
            "skipped": [s.as_json() for s in self.skipped],
            "cursor": self.cursor.as_json() if self.cursor else None,
            "stopped_early": self.stopped_early,
            "rejections": list(self.rejections),
        }
