"""Use case: read a polling source (a vendor without webhooks) from its durable cursor onto the canonical path.

Page by page from the saved cursor (last modification time + object id): each
page's canonical events are stored raw (claim-check) and go through exactly the
path of a webhook delivery (validation, claim by `(source, id)`, bus), with ids
derived from the vendor object's id and version, so an object read again by an
overlapping poll is a duplicate. The cursor moves only after its page was
accepted: if the hub or the vendor fails mid-poll, the next poll resumes where
the last accepted page ended. A poll reads at most `max_pages` pages and starts
no page after `max_seconds`, so one run stays within the function's time and the
vendor's rate limit.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, replace

from billbridge.app.ingest_webhook import DeliveryDeferred, IngestWebhook, Outcome
from billbridge.app.ports import Clock, RawPayloadStore
from billbridge.app.vendor_adapters import (
    PollCursor,
    PollCursorStore,
    PollingSource,
    PollReport,
    Skipped,
    VendorPayloadError,
    VendorUnavailableError,
)

_log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class PollLimits:
    page_size: int = 100
    max_pages: int = 20
    max_seconds: float = 240.0
    """No new page is started after this long: one poll ends well within the function's
    5-minute timeout whatever the vendor's pace (measured: about one API call per object)."""


class PollVendorSource:
    def __init__(
        self,
        *,
        name: str,
        source: PollingSource,
        cursors: PollCursorStore,
        raw_payloads: RawPayloadStore,
        canonical: IngestWebhook,
        clock: Clock,
        limits: PollLimits | None = None,
    ) -> None:
        self._name = name
        self._source = source
        self._cursors = cursors
        self._raw_payloads = raw_payloads
        self._canonical = canonical
        self._clock = clock
        self._limits = limits or PollLimits()

    def poll(self) -> PollReport:
        cursor = self._cursors.load(self._name)
        pages = requests = events = accepted = duplicates = rejected = 0
        skipped: list[Skipped] = []
        stopped: str | None = None
        rejections: list[str] = []
        started = self._clock.now()
        for page_number in range(self._limits.max_pages):
            if page_number and (self._clock.now() - started).total_seconds() > self._limits.max_seconds:
                stopped = f"time budget ({self._limits.max_seconds:g} s) spent; the next poll continues"
                break
            try:
                overlap = page_number == 0 and (cursor is None or cursor.caught_up)
                page = self._source.read_page(cursor, self._limits.page_size, first_page=overlap)
            except VendorUnavailableError as failure:
                stopped = f"vendor unavailable: {failure}"
                break
            except VendorPayloadError as bad:
                stopped = f"vendor answer not understood: {bad.message} (field {bad.field_path})"
                break
            pages += 1
            requests += page.requests
            skipped.extend(page.skipped)
            rejected += len(page.refused)
            rejections.extend(page.refused)
            if page.events:
                now = self._clock.now()
                body = json.dumps(list(page.events), sort_keys=True).encode("utf-8")
                first = page.events[0]["id"]
                try:
                    raw_key = self._raw_payloads.save(
                        source=self._source.source,
                        delivery_id=f"poll-{self._name.replace('/', '-')}-{first}",
                        received_at=now,
                        body=body,
                    )
                except Exception:
                    _log.exception("raw payload store failed")
                    stopped = "raw payload store unavailable"
                    break
                response = self._canonical.accept_translated(
                    source=self._source.source,
                    events=page.events,
                    delivery_id=f"poll-{self._name}-{first}",
                    raw_key=raw_key,
                    received_at=now,
                )
                if isinstance(response, DeliveryDeferred):
                    stopped = f"hub unavailable: {response.message}"
                    break
                events += len(page.events)
                accepted += response.count(Outcome.ACCEPTED)
                duplicates += response.count(Outcome.DUPLICATE)
                refused = [o for o in response.outcomes if o.outcome in (Outcome.REJECTED, Outcome.CONFLICT)]
                rejected += len(refused)
                rejections.extend(f"{o.event_id}: {o.error} (field {o.field})" for o in refused)
            if page.next_cursor is not None:
                cursor = replace(page.next_cursor, caught_up=not page.has_more)
                self._cursors.save(self._name, cursor, polled_at=self._clock.now())
            if not page.has_more:
                break
        else:
            stopped = f"page budget ({self._limits.max_pages} pages) spent; the next poll continues"
        for line in rejections:
            _log.error("polled event rejected: %s", line)
        return PollReport(
            poller=self._name,
            pages=pages,
            requests=requests,
            events=events,
            accepted=accepted,
            duplicates=duplicates,
            rejected=rejected,
            skipped=tuple(skipped),
            cursor=cursor,
            stopped_early=stopped,
            rejections=tuple(rejections),
        )


__all__ = ["PollCursor", "PollLimits", "PollVendorSource"]
