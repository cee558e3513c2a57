"""The edge numbers benchmark runs at a tiny size and produces its figures (values not judged)."""

from __future__ import annotations

from benchmarks import edge_numbers


def test_edge_numbers_measures_the_reader_a_delivery_and_a_hostile_batch() -> None:
    figures = edge_numbers.run(reader_calls=100, deliveries=3, batch_elements=250)
    assert figures["reader_us_per_field"] > 0 and figures["bare_decimal_us_per_field"] > 0
    assert figures["webhook_us_per_signed_delivery"] > 0
    assert figures["hostile_batch_status"] == 400
    assert 0 < figures["hostile_batch_answer_bytes"] < 64 * 1024
