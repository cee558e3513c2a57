"""A whole-book change's audit is kept however many records it has (an amendment re-rating
thousands of lines): compressed when large, cut into parts under DynamoDB's item size."""

from __future__ import annotations

import random

from billbridge.adapters.dynamo_audit_log import MAX_PART_BYTES, audit_items, audit_records_of

from benchmarks.aws_calls import item_size


def test_a_large_save_is_compressed_and_cut_into_parts_that_hold_every_record_in_order() -> None:
    noise = random.Random(7)
    records = [
        {
            "action": "line_rerated",
            "correlation_id": "corr-amend",
            "ref": f"TE-{n:06d}",
            "detail": "".join(noise.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(120)),
        }
        for n in range(20_000)
    ]
    parts = audit_items("SOW-1", "save1", records, recorded_at="2026-03-16T12:00:00+00:00", expires_at=1)

    assert len(parts) > 1
    assert all(item_size(part) < 400 * 1024 and "records_z" in part for part in parts)
    assert all(len(part["records_z"]["B"]) <= MAX_PART_BYTES for part in parts)
    assert [r for part in parts for r in audit_records_of(part)] == records
    assert {part["gsi1pk"]["S"] for part in parts} == {"CORRELATION#corr-amend"}
    assert len({part["sk"]["S"] for part in parts}) == len(parts)
    assert all(part["save"]["S"] == "2026-03-16T12:00:00+00:00#save1" for part in parts[1:])


def test_a_small_save_is_one_plain_item_as_before() -> None:
    records = [{"action": "version_stored", "correlation_id": "c", "ref": "v2"}]
    (item,) = audit_items("SOW-1", "save2", records, recorded_at="2026-03-16T12:00:00+00:00", expires_at=1)
    assert item["sk"]["S"] == "2026-03-16T12:00:00+00:00#save2" and "records" in item and "save" not in item
    assert audit_records_of(item) == records
