"""The ledger stores a line with its texts written out, in the fields and order it always had."""

from __future__ import annotations

import json

from billbridge.adapters.dynamo_book_items import LINE_ADAPTER
from billbridge.domain.model import BillingLine, StatedBasis
from billbridge.domain.rating import rate_time_entry

from tests.unit.domain.builders import entry, timeline, version

STORED = (
    '{"line_id":"time:TE-9:r1:2026-03-02:0","kind":"time","ref":"TE-9","quantity":"8","amount":"1200.00",'
    '"currency":"USD","line_date":"2026-03-02","rate":"150.00","contract_version":1,"first_date":"2026-03-02",'
    '"days":[{"date":"2026-03-02","hours":"8"}],"split_position":0,"revision":1,'
    '"rate_rule":"rate_card[resource_id=R-7]","rules":["version 1 applies from 2026-01-01",'
    '"rate card resource_id=R-7 at 150.00","cost center CC-1 allowed"],"source_refs":["psa:TE-9-r1"],'
    '"correlation_id":"corr-TE-9-r1","description":"Time: architect R-7, 8 h on 2026-03-02..2026-03-02 at '
    '150.00 USD/h (contract version 1)","invoice_id":null,"cap_released":false}'
)


def _rated_line() -> BillingLine:
    rated = rate_time_entry(
        entry("TE-9", role="architect", resource_id="R-7", cost_center="CC-1"),
        timeline(version(cost_centers=["CC-1"], resources={"R-7": "150.00"})),
    )
    return rated.lines[0]


def test_a_rated_line_is_stored_with_its_texts_in_the_stored_field_order() -> None:
    assert LINE_ADAPTER.dump_json(_rated_line()).decode() == STORED


def test_a_stored_line_reads_back_equal_and_writes_back_the_same_bytes() -> None:
    line = LINE_ADAPTER.validate_json(STORED)
    assert isinstance(line.basis, StatedBasis)
    assert line == _rated_line()
    assert LINE_ADAPTER.dump_json(line).decode() == STORED


def test_a_stored_line_with_texts_rating_would_not_write_keeps_them() -> None:
    older = json.loads(STORED) | {"rules": ["an older rule text"], "description": "an older description"}
    line = LINE_ADAPTER.validate_json(json.dumps(older))
    assert line.rules == ("an older rule text",)
    assert line != _rated_line()
    assert json.loads(LINE_ADAPTER.dump_json(line)) == older
