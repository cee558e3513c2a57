"""An EventBridge `PutEvents` on the local stack builds a rule's message only for the rules that match.

moto delivers each event of a `PutEvents` by walking every rule of the bus and,
for each one, building the event's message afresh (a deep copy of its template
and the `Detail` parsed again from its JSON text), then matching the rule's
pattern against it, which first passes the whole message through `json.dumps`
and `json.loads`. The local bus has a rule per workflow and per archive, and
the hub's webhook publishes canonical events packed per type (up to 63 KB of
detail each): one event cost a dozen copies and a dozen round trips of 63 KB,
for the one or two rules it matches.

`put_events_matched_first` gives the same answer with less work:

- each event is checked the way moto checks it (`Source`, `DetailType`,
  `Detail` present, `Detail` valid JSON; more than 10 entries refused), and its
  id drawn from moto's random source, one per accepted event, in order;
- a message is built once per event, as moto builds it, to test the rules'
  patterns (`matches_once_per_value`: a pattern reads only the fields it names,
  so only those are passed through JSON, where moto passes the whole message;
  for a message built from JSON text the two are the same);
- for every rule that matches, a fresh message is built exactly as moto builds
  it and handed to the rule's own `send_to_targets`, which matches it again
  and delivers it to the targets as moto does.

The message tested and the one delivered differ only in the clock readings
moto takes for each rule (`time` when the entry gives none, `ingestion-time`):
the local stack's rules match on source and detail type, not on those.
`tests/integration/local/test_faster_stand_ins.py` compares deliveries with
plain moto's (matching, non-matching and content-filtered rules, refused
entries and malformed details).
"""

from __future__ import annotations

import copy
import json
import warnings
from typing import Any

from moto.core.utils import unix_time
from moto.events import models as events_models
from moto.events.exceptions import ValidationException
from moto.events.utils import _BASE_EVENT_MESSAGE
from moto.moto_api._internal import mock_random

MAX_ENTRIES = 10


def _message(backend: Any, event: dict[str, Any], event_id: str) -> dict[str, Any]:
    """The message moto builds for one rule (`EventsBackend.put_events`, field for field)."""
    message = copy.deepcopy(_BASE_EVENT_MESSAGE)
    message["id"] = event_id
    message["detail-type"] = event["DetailType"]
    message["source"] = event["Source"]
    message["account"] = backend.account_id
    message["time"] = event.get("Time", unix_time())
    message["region"] = backend.region_name
    message["resources"] = event.get("Resources", [])
    message["detail"] = json.loads(event["Detail"])
    message["ingestion-time"] = unix_time()
    return message


def _refusal(event: dict[str, Any]) -> dict[str, str] | None:
    """moto's answer for an entry it refuses (a required field missing, a detail that is not JSON), else None."""
    for name in ("Source", "DetailType", "Detail"):
        if not event.get(name):
            return {
                "ErrorCode": "InvalidArgument",
                "ErrorMessage": f"Parameter {name} is not valid. Reason: {name} is a required argument.",
            }
    try:
        detail = json.loads(event["Detail"])
    except ValueError:
        return {"ErrorCode": "MalformedDetail", "ErrorMessage": "Detail is malformed."}
    if not isinstance(detail, dict):
        warnings.warn(
            f"EventDetail should be of type dict - types such as {type(detail)} are ignored by AWS",
            stacklevel=3,
        )
    return None


def put_events_matched_first(backend: Any, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """moto's `EventsBackend.put_events`, building a rule's message only when its pattern matches
    (the same checks, ids and deliveries, in the same order)."""
    if len(events) > MAX_ENTRIES:
        raise ValidationException(
            "1 validation error detected: "
            "Value '[PutEventsRequestEntry]' at 'entries' failed to satisfy constraint: "
            "Member must have length less than or equal to 10"
        )
    entries: list[dict[str, Any]] = []
    for event in events:
        refusal = _refusal(event)
        if refusal is not None:
            entries.append(refusal)
            continue
        event_id = str(mock_random.uuid4())
        entries.append({"EventId": event_id})
        bus = backend.describe_event_bus(backend._normalize_event_bus_arn(event.get("EventBusName")))
        probe = _message(backend, event, event_id)
        for rule in bus.rules.values():
            if rule.event_pattern.matches_event(probe):
                rule.send_to_targets(_message(backend, event, event_id))
    return entries


class _JsonOnRead(dict):  # type: ignore[type-arg]
    """A flattened message whose values are read as moto reads them: through `json.dumps`/`json.loads`."""

    def get(self, key: Any, default: Any = None) -> Any:
        if key not in self:
            return default
        return json.loads(json.dumps(self[key]))


def matches_once_per_value(pattern: Any, event: Any) -> bool:
    """moto's `EventPattern.matches_event`, passing through JSON only the fields the pattern reads."""
    if not pattern._pattern:
        return True
    flat = _JsonOnRead(events_models.EventPattern._flatten_dict(event))
    return bool(pattern._does_event_match(flat, pattern._pattern))


def bus_delivery() -> list[tuple[Any, str, Any]]:
    """The replacements, as `faster_stand_ins()` installs them."""
    return [
        (events_models.EventsBackend, "put_events", put_events_matched_first),
        (events_models.EventPattern, "matches_event", matches_once_per_value),
    ]
