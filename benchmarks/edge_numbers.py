"""What the edge's number checks cost, and how large a refusal can get.

    python -m benchmarks.edge_numbers

- the canonical decimal reader (`domain/decimal_text.read_decimal`) against a
  bare `Decimal(text)`, microseconds per field (median of repeats);
- one signed `expense.approved` through the webhook use case over in-memory
  ports, microseconds per delivery (parse, JSON number walk, validation, claim,
  publish);
- the answer to a signed batch of 50,000 `{}`: its size in bytes (the 400
  lists the first 100 problems and counts the rest) and the time to judge it.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
import timeit
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def _median_us(function: Any, *, number: int, repeat: int) -> float:
    return statistics.median(timeit.repeat(function, number=number, repeat=repeat)) / number * 1e6


def run(*, reader_calls: int = 100_000, deliveries: int = 500, batch_elements: int = 50_000) -> dict[str, Any]:
    for path in (ROOT, ROOT / "functions"):
        if str(path) not in sys.path:
            sys.path.insert(0, str(path))
    from billbridge.app.ingest_webhook import IngestWebhook, WebhookRequest
    from billbridge.app.webhook_signature import sign
    from billbridge.domain import decimal_text
    from billbridge.entrypoints.api.webhook_http import http_answer

    from tests.fakes.edge import (
        PSA_SECRET,
        FixedClock,
        InMemoryDeliveryRegistry,
        InMemoryEventPublisher,
        InMemoryRawPayloadStore,
        InMemoryWebhookSecrets,
        SequentialIds,
    )

    reader_us = _median_us(
        lambda: decimal_text.read_decimal("1250.00", decimal_text.MONEY), number=reader_calls, repeat=5
    )
    bare_us = _median_us(lambda: Decimal("1250.00"), number=reader_calls, repeat=5)

    clock = FixedClock()
    use_case = IngestWebhook(
        secrets=InMemoryWebhookSecrets({"psa": [PSA_SECRET]}),
        raw_payloads=InMemoryRawPayloadStore(),
        deliveries=InMemoryDeliveryRegistry(),
        publisher=InMemoryEventPublisher(),
        clock=clock,
        ids=SequentialIds(),
    )

    def request(body: bytes, index: int, content_type: str) -> WebhookRequest:
        headers = sign(PSA_SECRET, f"msg_bench_{index}", clock.now(), body) | {"content-type": content_type}
        return WebhookRequest(source="psa", headers=headers, body=body)

    requests = []
    for index in range(deliveries):
        event = {
            "specversion": "1.0",
            "id": f"psa-bench-{index}",
            "source": "psa",
            "type": "expense.approved",
            "time": "2026-03-16T12:00:00Z",
            "data": {
                "expense_id": f"EX-{index}",
                "contract_id": "SOW-1",
                "date": "2026-03-16",
                "category": "travel",
                "amount": "1250.00",
                "currency": "USD",
                "billable": True,
                "vendor": {"score": 0.93, "count": 12},
            },
        }
        requests.append(request(json.dumps(event).encode(), index, "application/cloudevents+json"))
    started = time.perf_counter()
    statuses = [http_answer(use_case.handle(r)).status for r in requests]
    delivery_us = (time.perf_counter() - started) / deliveries * 1e6
    assert statuses == [202] * deliveries, "every benchmark delivery is accepted"

    hostile = b"[" + b",".join([b"{}"] * batch_elements) + b"]"
    started = time.perf_counter()
    response = http_answer(use_case.handle(request(hostile, deliveries + 1, "application/cloudevents-batch+json")))
    batch_seconds = time.perf_counter() - started
    answer_bytes = len(json.dumps(response.body).encode())
    return {
        "reader_us_per_field": round(reader_us, 2),
        "bare_decimal_us_per_field": round(bare_us, 2),
        "webhook_us_per_signed_delivery": round(delivery_us, 1),
        "deliveries": deliveries,
        "hostile_batch_elements": batch_elements,
        "hostile_batch_status": response.status,
        "hostile_batch_answer_bytes": answer_bytes,
        "hostile_batch_seconds": round(batch_seconds, 2),
        "python": sys.version.split()[0],
    }


def main() -> int:
    print(json.dumps(run(), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
