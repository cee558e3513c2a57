"""The local stand-in of the data-platform feed (Firehose from the bus to the feed bucket).

The same bus patterns as the deployed rules (`topology.FEED_EVENTS`) route the events to a
local queue; `write_feed` builds each event's record as the rules' input transformer does
(`feed_record`) and writes the records, grouped by partition, as JSON-lines objects under the
keys Firehose's dynamic partitioning gives them (`feed/type=.../date=.../`). moto's Firehose
does not partition dynamically, so the stand-in writes the objects to S3 itself.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from typing import Any

from billbridge import topology
from billbridge.app.feed_records import feed_record, partition_prefix
from billbridge.local.resources import LocalNames


def feed_bucket(names: LocalNames) -> str:
    return f"{names.prefix}-feed"


def feed_queue(names: LocalNames) -> str:
    return f"{names.prefix}-feed"


def create_feed(s3: Any, sqs: Any, events: Any, names: LocalNames) -> None:
    s3.create_bucket(Bucket=feed_bucket(names))
    sqs.create_queue(QueueName=feed_queue(names))
    arn = names.queue_arn(feed_queue(names))
    for feed in topology.FEED_EVENTS:
        rule = f"{names.prefix}-feed-{feed.construct_id}"
        events.put_rule(
            Name=rule, EventBusName=names.event_bus, EventPattern=json.dumps(feed.event_pattern), State="ENABLED"
        )
        events.put_targets(Rule=rule, EventBusName=names.event_bus, Targets=[{"Id": "feed", "Arn": arn}])


def write_feed(s3: Any, sqs: Any, names: LocalNames) -> list[str]:
    """Deliver what the feed's rules routed since the last call; returns the keys written."""
    url = sqs.get_queue_url(QueueName=feed_queue(names))["QueueUrl"]
    partitions: dict[str, list[dict[str, Any]]] = defaultdict(list)
    while True:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=300).get("Messages", [])
        if not messages:
            break
        for message in messages:
            record = feed_record(json.loads(message["Body"]))
            if record is not None:
                partitions[partition_prefix(record)].append(record)
        sqs.delete_message_batch(
            QueueUrl=url, Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)]
        )
    written = []
    for prefix, records in sorted(partitions.items()):
        records.sort(key=lambda r: (str(r["occurred_at"]), str(r["event_id"])))
        body = "".join(json.dumps(r, separators=(",", ":"), ensure_ascii=False) + "\n" for r in records)
        digest = hashlib.sha256(body.encode("utf-8")).hexdigest()[:16]
        key = f"{prefix}billbridge-feed-local-{digest}"
        s3.put_object(Bucket=feed_bucket(names), Key=key, Body=body.encode("utf-8"))
        written.append(key)
    return written


def read_feed(s3: Any, names: LocalNames) -> dict[str, list[dict[str, Any]]]:
    """Every feed object's records, by key (what a warehouse would read)."""
    found: dict[str, list[dict[str, Any]]] = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=feed_bucket(names), Prefix=topology.FEED_PREFIX):
        for obj in page.get("Contents", []):
            body = s3.get_object(Bucket=feed_bucket(names), Key=obj["Key"])["Body"].read().decode("utf-8")
            found[obj["Key"]] = [json.loads(line) for line in body.splitlines() if line]
    return found
