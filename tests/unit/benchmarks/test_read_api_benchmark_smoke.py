"""The read API benchmark runs at a tiny size and counts DynamoDB calls for every request."""

from __future__ import annotations

import os

from benchmarks import read_api


def test_read_api_benchmark_counts_calls_per_request() -> None:
    before = dict(os.environ)
    figures = read_api.run(copies=1, runs=1)
    assert figures["contracts"] == 6
    assert all(row["dynamodb_calls"] >= 1 for row in figures["requests"].values())
    assert figures["requests"]["GET /invoices?contract_id=..."]["dynamodb_calls"] == 1
    assert dict(os.environ) == before
    assert "| request | ms | DynamoDB calls | items |" in read_api.markdown(figures)
