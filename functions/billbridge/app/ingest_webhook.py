"""Use case: receive a signed webhook delivery of canonical events and put them on the bus.

The order of checks is the contract's: route, size, content type, signature
(over the raw bytes, before any parsing), then the raw body is stored
(claim-check) before anything is acknowledged, then each event is validated,
de-duplicated by `(source, id)` and published. A delivery of one event of at
most `inline_raw_payload_max_bytes` keeps its raw body in its delivery claim
(the write that de-duplicates it) rather than in an S3 object of its own; a
body that is refused, conflicts or is a batch is stored in S3 as before
(docs/decisions/0005-cost-per-entry.md). Each event is validated once, by the
canonical models, and what goes on the bus is the validated event's normalised
dump (docs/decisions/0016-one-event-model.md).

The use case answers with an outcome, not a transport: the delivery refused as a
whole (`DeliveryRefused`, naming why and the field), deferred because one of the
hub's own dependencies failed (`DeliveryDeferred`; then no event of the delivery
stays claimed unpublished), or its events judged one by one (`DeliveryJudged`).
The API entrypoint (`entrypoints/api/webhook_http.py`) maps these to HTTP: bad
input is always a 4xx, only a deferral is a 5xx (503 with Retry-After).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from billbridge import topology
from billbridge.app.canonical_events import InvalidEventError, ValidatedEvent, validate_cloud_event
from billbridge.app.personal_data_in_transit import PersonalDataVault, seal_contract_event
from billbridge.app.ports import (
    ClaimOutcome,
    Clock,
    DeliveryRegistry,
    EventPublisher,
    IdGenerator,
    OutboundEvent,
    PublishError,
    RawPayloadStore,
    RefusalLog,
    WebhookSecrets,
    inline_raw_key,
)
from billbridge.app.rollout import Rollout
from billbridge.app.system_of_record import SystemsOfRecord
from billbridge.app.webhook_signature import (
    DEFAULT_TOLERANCE_SECONDS,
    SignatureError,
    VerifiedDelivery,
    verify_signature,
)

_log = logging.getLogger(__name__)

DETAIL_SCHEMA_VERSION = 1
SINGLE_EVENT_CONTENT_TYPE = "application/cloudevents+json"
BATCH_CONTENT_TYPE = "application/cloudevents-batch+json"
PLAIN_JSON_CONTENT_TYPE = "application/json"
ACCEPTED_CONTENT_TYPES = (SINGLE_EVENT_CONTENT_TYPE, BATCH_CONTENT_TYPE, PLAIN_JSON_CONTENT_TYPE)
MAX_EVENT_BYTES = 240 * 1024
"""One event must fit in an EventBridge entry (256 KiB) with its delivery metadata."""
MAX_JSON_DEPTH = 32
MAX_INT64 = 2**63 - 1
"""EventBridge refuses integers outside int64 in an event's detail."""
DYNAMODB_SMALLEST_NUMBER = Decimal("1e-130")
DYNAMODB_LARGEST_NUMBER = Decimal("1e126")
DYNAMODB_NUMBER_DIGITS = 38
DEFAULT_RETRY_AFTER_SECONDS = 30


class Outcome(StrEnum):
    # What became of one event of a delivery (a comment: the OpenAPI document shows docstrings).
    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"
    REJECTED = "rejected"
    CONFLICT = "conflict"


class Refusal(StrEnum):
    """Why a delivery was refused as a whole, before its events were read."""

    UNKNOWN_ROUTE = "unknown_route"
    """No such source (or no adapter for the vendor)."""
    TOO_LARGE = "too_large"
    UNSUPPORTED_CONTENT_TYPE = "unsupported_content_type"
    UNAUTHENTIC = "unauthentic"
    """The signature is missing, wrong or stale."""
    MALFORMED = "malformed"
    """The body is not acceptable JSON, or not an event or a batch of them."""


class _CaseInsensitiveHeaders(dict[str, str]):
    """Header names lower-cased once; lookups by any case."""

    def __init__(self, headers: Mapping[str, str] | None = None) -> None:
        super().__init__({str(k).lower(): str(v) for k, v in (headers or {}).items()})

    def __getitem__(self, key: str) -> str:
        return super().__getitem__(key.lower())

    def get(self, key: str, default: Any = None) -> Any:
        return super().get(key.lower(), default)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and super().__contains__(key.lower())


@dataclass(frozen=True, slots=True)
class WebhookRequest:
    source: str
    """From the path: `POST /webhooks/{source}`."""
    headers: Mapping[str, str]
    body: bytes

    def __post_init__(self) -> None:
        object.__setattr__(self, "headers", _CaseInsensitiveHeaders(self.headers))


@dataclass(frozen=True, slots=True)
class EventOutcome:
    index: int
    event_id: str | None
    outcome: Outcome
    correlation_id: str | None = None
    error: str | None = None
    field: str | None = None


@dataclass(frozen=True, slots=True)
class DeliveryRefused:
    """The delivery was refused as a whole (route, size, content type, signature, JSON)."""

    refusal: Refusal
    message: str
    field: str | None = None


@dataclass(frozen=True, slots=True)
class DeliveryDeferred:
    """One of the hub's own dependencies failed: nothing of the delivery stays claimed unpublished,
    and the sender should deliver it again after `retry_after_seconds`."""

    reason: str
    retry_after_seconds: int

    @property
    def message(self) -> str:
        return f"temporarily unable to accept the delivery ({self.reason}); retry later"


@dataclass(frozen=True, slots=True)
class DeliveryJudged:
    """The delivery's events were read: one outcome per event, in the delivery's order."""

    outcomes: tuple[EventOutcome, ...]
    is_batch: bool

    @property
    def verdict(self) -> Outcome:
        """The delivery's outcome as a whole: accepted when any event was; duplicate when every
        event was one; else rejected when any event was refused; else a conflict."""
        kinds = {o.outcome for o in self.outcomes}
        if Outcome.ACCEPTED in kinds:
            return Outcome.ACCEPTED
        if kinds == {Outcome.DUPLICATE}:
            return Outcome.DUPLICATE
        if Outcome.REJECTED in kinds:
            return Outcome.REJECTED
        return Outcome.CONFLICT

    @property
    def correlation_ids(self) -> tuple[str, ...]:
        return tuple(o.correlation_id for o in self.outcomes if o.correlation_id)

    def count(self, outcome: Outcome) -> int:
        return sum(1 for o in self.outcomes if o.outcome is outcome)


DeliveryResult = DeliveryRefused | DeliveryDeferred | DeliveryJudged
"""What `IngestWebhook.handle` answers."""


def _refused(refusal: Refusal, message: str, *, field_path: str | None = None) -> DeliveryRefused:
    return DeliveryRefused(refusal=refusal, message=message, field=field_path)


class _DependencyFailedError(Exception):
    """A port of the hub failed (not the vendor's input): answer 503 so the vendor retries."""


def canonical_digest(event: Mapping[str, Any]) -> str:
    """sha256 of the event's canonical JSON (sorted keys, no spaces): equal bodies, equal digests."""
    text = json.dumps(event, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


class _UncarriableNumber(str):
    """A JSON number the bus or the ledger cannot carry (kept as its text until the element is judged)."""

    __slots__ = ()


def _read_json_int(text: str) -> int | _UncarriableNumber:
    value = int(text)
    return value if -MAX_INT64 - 1 <= value <= MAX_INT64 else _UncarriableNumber(text)


def _read_json_float(text: str) -> float | _UncarriableNumber:
    try:
        exact = Decimal(text)
    except InvalidOperation:  # pragma: no cover - the JSON grammar only hands over valid numbers
        return _UncarriableNumber(text)
    value = float(text)
    magnitude = abs(exact)
    significant = len("".join(map(str, exact.as_tuple().digits)).strip("0"))
    carried = value != float("inf") and value != float("-inf") and significant <= DYNAMODB_NUMBER_DIGITS
    in_range = magnitude == 0 or DYNAMODB_SMALLEST_NUMBER <= magnitude < DYNAMODB_LARGEST_NUMBER
    return value if carried and in_range and (magnitude == 0 or value != 0.0) else _UncarriableNumber(text)


def _uncarriable_number_path(value: Any, prefix: str = "") -> tuple[str, str] | None:
    """The path and text of the first JSON number of `value` that EventBridge or DynamoDB would refuse."""
    stack: list[tuple[Any, str]] = [(value, prefix)]
    while stack:
        current, path = stack.pop()
        if isinstance(current, _UncarriableNumber):
            return path, str(current)
        if isinstance(current, dict):
            stack.extend((child, f"{path}.{key}" if path else str(key)) for key, child in reversed(current.items()))
        elif isinstance(current, list):
            stack.extend((child, f"{path}[{index}]") for index, child in reversed(list(enumerate(current))))
    return None


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _reject_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj: dict[str, Any] = {}
    for key, value in pairs:
        if key in obj:
            raise ValueError(f"duplicate key {key[:64]!r} in a JSON object")
        obj[key] = value
    return obj


def _json_depth_exceeds(value: Any, limit: int) -> bool:
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        current, depth = stack.pop()
        if isinstance(current, dict | list):
            if depth > limit:
                return True
            children = current.values() if isinstance(current, dict) else current
            stack.extend((child, depth + 1) for child in children)
    return False


class _MalformedBodyError(Exception):
    def __init__(self, message: str, field_path: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field_path = field_path


def _parse_json(body: bytes) -> Any:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise _MalformedBodyError(f"body is not UTF-8 (byte {error.start})") from None
    if text.startswith("\ufeff"):
        text = text[1:]
    try:
        document = json.loads(
            text,
            parse_constant=_reject_constant,
            parse_int=_read_json_int,
            parse_float=_read_json_float,
            object_pairs_hook=_reject_duplicate_keys,
        )
    except json.JSONDecodeError as error:
        raise _MalformedBodyError(
            f"body is not valid JSON: {error.msg} at line {error.lineno} column {error.colno}"
        ) from None
    except RecursionError:
        raise _MalformedBodyError("body is not acceptable JSON: nested too deeply") from None
    except ValueError as error:
        raise _MalformedBodyError(f"body is not acceptable JSON: {error}") from None
    try:
        json.dumps(document, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise _MalformedBodyError("body is not acceptable JSON: a \\u escape is an unpaired surrogate") from None
    if _json_depth_exceeds(document, MAX_JSON_DEPTH):
        raise _MalformedBodyError(f"body is not acceptable JSON: nested deeper than {MAX_JSON_DEPTH} levels")
    return document


def read_json_document(body: bytes) -> Any:
    """`body` read as JSON exactly as a webhook body is (UTF-8, no duplicate keys, no NaN, numbers
    the bus and the ledger can carry, bounded depth); raises InvalidEventError naming the problem.
    Bulk intake reads each JSON line with it."""
    try:
        return _parse_json(body)
    except _MalformedBodyError as malformed:
        raise InvalidEventError(
            malformed.message.replace("body is", "the line is"), field=malformed.field_path
        ) from None


@dataclass(slots=True)
class _RawBody:
    """The delivery's raw body and, once it is saved to the raw payload store, its key."""

    body: bytes
    source: str
    delivery_id: str
    received_at: datetime
    key: str | None = None


@dataclass(slots=True)
class _Candidate:
    """An event of the delivery on its way through validation, claim and publication."""

    index: int
    raw: Any
    event_id: str | None = None
    outcome: EventOutcome | None = None
    outbound: OutboundEvent | None = None


class IngestWebhook:
    """`handle(request) -> response`: the whole webhook contract, independent of the transport."""

    def __init__(
        self,
        *,
        secrets: WebhookSecrets,
        raw_payloads: RawPayloadStore,
        deliveries: DeliveryRegistry,
        publisher: EventPublisher,
        clock: Clock,
        ids: IdGenerator,
        timestamp_tolerance_seconds: int = DEFAULT_TOLERANCE_SECONDS,
        max_body_bytes: int = topology.MAX_WEBHOOK_BODY_BYTES,
        retry_after_seconds: int = DEFAULT_RETRY_AFTER_SECONDS,
        personal_data: PersonalDataVault | None = None,
        systems_of_record: SystemsOfRecord | None = None,
        refusals: RefusalLog | None = None,
        rollout: Rollout | None = None,
        inline_raw_payload_max_bytes: int = 0,
    ) -> None:
        self._rollout = rollout if rollout is not None else Rollout()
        self._personal_data = personal_data
        self._systems_of_record = systems_of_record if systems_of_record is not None else SystemsOfRecord.default()
        self._refusals = refusals
        self._inline_max = inline_raw_payload_max_bytes
        self._secrets = secrets
        self._raw_payloads = raw_payloads
        self._deliveries = deliveries
        self._publisher = publisher
        self._clock = clock
        self._ids = ids
        self._tolerance = timestamp_tolerance_seconds
        self._max_body_bytes = max_body_bytes
        self._retry_after = retry_after_seconds

    def handle(self, request: WebhookRequest) -> DeliveryResult:
        claimed: list[_Candidate] = []
        try:
            return self._handle(request, claimed)
        except _DependencyFailedError as failure:
            self._release(request.source, claimed)
            return DeliveryDeferred(reason=str(failure), retry_after_seconds=self._retry_after)

    def accept_translated(
        self,
        *,
        source: str,
        events: Sequence[dict[str, Any]],
        delivery_id: str,
        raw_key: str,
        received_at: datetime,
    ) -> DeliveryJudged | DeliveryDeferred:
        """The canonical path for events a vendor adapter or a poller produced from an authentic delivery.

        The delivery was verified (by the vendor's scheme) and its raw body stored by the
        caller; from here each event is validated, claimed by `(source, id)` and published
        exactly as a canonical delivery's events are. The events are judged as a batch's."""
        claimed: list[_Candidate] = []
        try:
            delivery = VerifiedDelivery(webhook_id=delivery_id, timestamp=received_at)
            # Stored by the caller already: the claims point at it, nothing is kept inline.
            stored = _RawBody(b"", source, delivery_id, received_at, key=raw_key)
            candidates = [_Candidate(index=i, raw=element) for i, element in enumerate(events)]
            for candidate in candidates:
                self._validate_and_claim(candidate, source, delivery, stored, received_at, claimed)
            self._publish(source, candidates, claimed)
        except _DependencyFailedError as failure:
            self._release(source, claimed)
            return DeliveryDeferred(reason=str(failure), retry_after_seconds=self._retry_after)
        return DeliveryJudged(tuple(c.outcome for c in candidates if c.outcome is not None), is_batch=True)

    # --- the steps, in the contract's order ------------------------------------------------------

    def _handle(self, request: WebhookRequest, claimed: list[_Candidate]) -> DeliveryRefused | DeliveryJudged:
        source = request.source
        if source not in topology.WEBHOOK_SOURCES:
            return _refused(
                Refusal.UNKNOWN_ROUTE,
                f"unknown source {source[:64]!r}; known sources: {', '.join(topology.WEBHOOK_SOURCES)}",
                field_path="source",
            )
        if len(request.body) > self._max_body_bytes:
            return _refused(
                Refusal.TOO_LARGE, f"body is {len(request.body)} bytes; at most {self._max_body_bytes} are accepted"
            )
        media_type = _media_type(request.headers.get("content-type"))
        if media_type not in ACCEPTED_CONTENT_TYPES:
            shown = media_type[:80] or "none"
            return _refused(
                Refusal.UNSUPPORTED_CONTENT_TYPE,
                f"content type {shown!r} is not accepted; use one of {', '.join(ACCEPTED_CONTENT_TYPES)}",
                field_path="content-type",
            )
        try:
            delivery = self._verify(request)
        except SignatureError as failure:
            return _refused(Refusal.UNAUTHENTIC, f"signature rejected: {failure.reason}")

        received_at = self._clock.now()
        stored = _RawBody(request.body, source, delivery.webhook_id, received_at)
        may_inline = media_type != BATCH_CONTENT_TYPE and 0 < len(request.body) <= self._inline_max
        if not may_inline:
            self._store_raw(stored)

        try:
            document = _parse_json(request.body)
            elements, is_batch = self._elements(document, media_type)
        except _MalformedBodyError as malformed:
            self._store_raw(stored)
            return _refused(Refusal.MALFORMED, malformed.message, field_path=malformed.field_path)
        if is_batch:
            self._store_raw(stored)

        candidates = [_Candidate(index=i, raw=element) for i, element in enumerate(elements)]
        for candidate in candidates:
            self._validate_and_claim(candidate, source, delivery, stored, received_at, claimed)
        self._publish(source, candidates, claimed)
        return DeliveryJudged(tuple(c.outcome for c in candidates if c.outcome is not None), is_batch=is_batch)

    def _store_raw(self, stored: _RawBody) -> str:
        """The raw body's S3 key, saving it first if it is not saved yet."""
        if stored.key is None:
            try:
                stored.key = self._raw_payloads.save(
                    source=stored.source,
                    delivery_id=stored.delivery_id,
                    received_at=stored.received_at,
                    body=stored.body,
                )
            except Exception as failure:
                _log.exception("raw payload store failed")
                raise _DependencyFailedError("raw payload store unavailable") from failure
        return stored.key

    def _verify(self, request: WebhookRequest) -> VerifiedDelivery:
        try:
            secrets = self._secrets.active_secrets(request.source)
        except Exception as failure:
            _log.exception("webhook secrets unavailable")
            raise _DependencyFailedError("webhook secrets unavailable") from failure
        return verify_signature(
            body=request.body,
            headers=request.headers,
            secrets=secrets,
            now=self._clock.now(),
            tolerance_seconds=self._tolerance,
        )

    @staticmethod
    def _elements(document: Any, media_type: str) -> tuple[list[Any], bool]:
        if isinstance(document, list):
            if media_type == SINGLE_EVENT_CONTENT_TYPE:
                raise _MalformedBodyError(
                    f"a JSON array is a batch: send it as {BATCH_CONTENT_TYPE}", field_path="content-type"
                )
            if not document:
                raise _MalformedBodyError("the batch is empty")
            return document, True
        if isinstance(document, dict):
            if media_type == BATCH_CONTENT_TYPE:
                raise _MalformedBodyError(
                    f"{BATCH_CONTENT_TYPE} needs a JSON array of events", field_path="content-type"
                )
            return [document], False
        raise _MalformedBodyError("body must be a JSON object (an event) or a JSON array (a batch)")

    def _validate_and_claim(
        self,
        candidate: _Candidate,
        source: str,
        delivery: VerifiedDelivery,
        stored: _RawBody,
        received_at: datetime,
        claimed: list[_Candidate],
    ) -> None:
        raw = candidate.raw
        if isinstance(raw, dict) and isinstance(raw.get("id"), str):
            candidate.event_id = raw["id"][:256]
        try:
            self._check_numbers(raw)
            event = validate_cloud_event(raw, expected_source=source)
            self._check_size(raw)
        except InvalidEventError as invalid:
            self._store_raw(stored)  # a refused body is kept for the vendor's investigation
            candidate.outcome = EventOutcome(
                index=candidate.index,
                event_id=candidate.event_id,
                outcome=Outcome.REJECTED,
                error=str(invalid),
                field=invalid.field,
            )
            return
        candidate.event_id = event.id
        correlation_id = event.envelope.correlationid or self._ids.new_id()
        refused = self._configured_refusal(source, event.type)
        if refused is not None:
            rule, reason, error, field_path = refused
            self._audit_refusal(source, event, rule, reason, correlation_id, self._store_raw(stored))
            candidate.outcome = EventOutcome(
                index=candidate.index,
                event_id=event.id,
                outcome=Outcome.REJECTED,
                correlation_id=correlation_id,
                error=error,
                field=field_path,
            )
            return
        digest = canonical_digest(raw)
        inline = stored.key is None
        raw_key = inline_raw_key(source, event.id) if inline else stored.key or ""
        try:
            claim = self._deliveries.claim(
                source=source,
                event_id=event.id,
                body_digest=digest,
                correlation_id=correlation_id,
                raw_key=raw_key,
                raw_body=stored.body if inline else None,
            )
        except Exception as failure:
            _log.exception("delivery registry claim failed")
            raise _DependencyFailedError("delivery registry unavailable") from failure

        if claim.outcome is ClaimOutcome.DUPLICATE:
            candidate.outcome = EventOutcome(
                index=candidate.index,
                event_id=event.id,
                outcome=Outcome.DUPLICATE,
                correlation_id=claim.correlation_id,
            )
        elif claim.outcome is ClaimOutcome.CONFLICT:
            raw_key = self._store_raw(stored)  # the claim holds the first body, not this one
            try:
                self._deliveries.record_conflict(
                    source=source,
                    event_id=event.id,
                    body_digest=digest,
                    correlation_id=correlation_id,
                    raw_key=raw_key,
                )
            except Exception as failure:
                _log.exception("delivery registry could not record a conflict")
                raise _DependencyFailedError("delivery registry unavailable") from failure
            candidate.outcome = EventOutcome(
                index=candidate.index,
                event_id=event.id,
                outcome=Outcome.CONFLICT,
                correlation_id=correlation_id,
                error=f"event {event.id[:64]!r} of source {source!r} was already delivered with another body",
                field="id",
            )
        else:
            claimed.append(candidate)
            candidate.outbound = self._outbound(
                event,
                seal_contract_event(event.bus_form(), self._personal_data),
                correlation_id,
                delivery,
                raw_key,
                received_at,
            )
            candidate.outcome = EventOutcome(
                index=candidate.index,
                event_id=event.id,
                outcome=Outcome.ACCEPTED,
                correlation_id=correlation_id,
            )

    def _configured_refusal(self, source: str, event_type: str) -> tuple[str, str, str, str] | None:
        """(rule, reason, error, field) when a system-of-record rule or a rollout switch refuses
        the event, else None."""
        refusal = self._systems_of_record.refusal(source, event_type)
        if refusal is not None:
            rule = self._systems_of_record.rule_name(event_type)
            return rule, refusal, f"refused by the rule {rule} ({refusal})", "source"
        switched_off = self._rollout.refusal(event_type, source)
        if switched_off is not None:
            error = f"refused: {switched_off} (phased rollout; nothing of it was recorded)"
            return switched_off, switched_off, error, "type"
        return None

    def _audit_refusal(
        self, source: str, event: ValidatedEvent, rule: str, refusal: str, correlation_id: str, raw_key: str
    ) -> None:
        _log.warning("refused %s/%s (%s): %s", source, event.id, event.type, refusal)
        if self._refusals is None:
            return
        try:
            self._refusals.record_refusal(
                source=source,
                event_id=event.id,
                event_type=event.type,
                rule=rule,
                correlation_id=correlation_id,
                raw_key=raw_key,
            )
        except Exception as failure:
            _log.exception("refusal log unavailable")
            raise _DependencyFailedError("refusal log unavailable") from failure

    @staticmethod
    def _check_numbers(raw: Any) -> None:
        found = _uncarriable_number_path(raw)
        if found is not None:
            path, text = found
            shown = text if len(text) <= 24 else f"{text[:20]}... ({len(text)} characters)"
            raise InvalidEventError(
                f"the JSON number {shown} cannot be carried: integers must fit in 64 bits, other numbers "
                f"must be finite with at most {DYNAMODB_NUMBER_DIGITS} significant digits and a magnitude "
                "between 1e-130 and 1e126 (send exact values as strings)",
                field=path or None,
            )

    @staticmethod
    def _check_size(raw: Any) -> None:
        size = len(json.dumps(raw, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))
        if size > MAX_EVENT_BYTES:
            raise InvalidEventError(f"the event is {size} bytes; at most {MAX_EVENT_BYTES} are accepted per event")

    @staticmethod
    def _outbound(
        event: ValidatedEvent,
        published: dict[str, Any],
        correlation_id: str,
        delivery: VerifiedDelivery,
        raw_key: str,
        received_at: datetime,
    ) -> OutboundEvent:
        return OutboundEvent(
            source=topology.INGEST_EVENT_SOURCE,
            detail_type=event.type,
            detail={
                "schema_version": DETAIL_SCHEMA_VERSION,
                "correlationid": correlation_id,
                "delivery": {
                    "source": event.envelope.source,
                    "id": event.id,
                    "webhook_id": delivery.webhook_id,
                    "raw_key": raw_key,
                    "received_at": received_at.isoformat(),
                },
                "event": published,
            },
            correlation_id=correlation_id,
        )

    def _publish(self, source: str, candidates: Sequence[_Candidate], claimed: list[_Candidate]) -> None:
        pending = [c for c in candidates if c.outbound is not None]
        if not pending:
            return
        try:
            self._publisher.publish([c.outbound for c in pending if c.outbound is not None])
        except PublishError as failure:
            failed_ids = {event.detail["delivery"]["id"] for event, _ in failure.failed}
            published = [c for c in pending if c.event_id not in failed_ids]
            # Published events stay claimed: the vendor's retry sees them as duplicates.
            for candidate in published:
                claimed.remove(candidate)
            _log.error("publication failed for %d event(s): %s", len(failure.failed), failure)
            raise _DependencyFailedError("event bus rejected some events") from failure
        except Exception as failure:
            _log.exception("event bus unavailable")
            raise _DependencyFailedError("event bus unavailable") from failure
        claimed.clear()

    def _release(self, source: str, claimed: Sequence[_Candidate]) -> None:
        for candidate in claimed:
            if candidate.event_id is None:
                continue
            try:
                self._deliveries.release(source=source, event_id=candidate.event_id)
            except Exception:
                # The claim stays: a retry would be taken for a duplicate. Logged for the operator.
                _log.exception("could not release the claim of %s/%s", source, candidate.event_id)
