"""The local stand-in of bulk intake: the intake bucket, its two queues and their consumers.

`run_intake` drops a file at `intake/{source}/NAME` in the local intake bucket, puts on the
queue the S3 `Object Created` event EventBridge would deliver for it
(https://docs.aws.amazon.com/AmazonS3/latest/userguide/ev-events.html), then drains the files
queue (the splitter) and the chunk queue (the chunk workers) through the same handlers the
deployed functions run, with the same partial-batch contract, and returns the file's result.
The actuals the rows produced then wait in the actuals queue for `LocalStack.drain()`.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from pathlib import Path, PurePath
from typing import Any

from billbridge import topology
from billbridge.local.aws_environment import ACCOUNT_ID, REGION, PatchedEnvironment
from billbridge.local.lambda_context import new_context
from billbridge.local.queue_pump import sqs_record
from billbridge.local.resources import LocalNames

MAX_RECEIVES = 5
"""As the deployed queues' redrive policy: a record failing this often goes to its DLQ."""


def intake_bucket(names: LocalNames) -> str:
    return f"{names.prefix}-intake"


def files_queue(names: LocalNames) -> str:
    return f"{names.prefix}-{topology.INTAKE_WORK_QUEUES['intake-files']}"


def chunk_queue(names: LocalNames) -> str:
    return f"{names.prefix}-{topology.INTAKE_WORK_QUEUES['intake-chunks']}"


def create_intake(s3: Any, sqs: Any, names: LocalNames) -> None:
    s3.create_bucket(Bucket=intake_bucket(names))
    for queue in (files_queue(names), chunk_queue(names)):
        dlq = f"{queue}-dlq"
        sqs.create_queue(QueueName=dlq)
        sqs.create_queue(
            QueueName=queue,
            Attributes={
                "RedrivePolicy": json.dumps(
                    {"deadLetterTargetArn": names.queue_arn(dlq), "maxReceiveCount": MAX_RECEIVES}
                ),
                "VisibilityTimeout": "30",
            },
        )


def intake_environment(sqs: Any, names: LocalNames) -> dict[str, str]:
    """What the deployed stack sets on the intake functions."""
    return {
        topology.ENV_INTAKE_BUCKET: intake_bucket(names),
        topology.ENV_INTAKE_CHUNK_QUEUE_URL: sqs.get_queue_url(QueueName=chunk_queue(names))["QueueUrl"],
    }


def object_created_event(bucket: str, key: str, size: int, etag: str, sequencer: str) -> dict[str, Any]:
    """The EventBridge event S3 sends for a new object (its documented shape)."""
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Object Created",
        "source": "aws.s3",
        "account": ACCOUNT_ID,
        "time": now,
        "region": REGION,
        "resources": [f"arn:aws:s3:::{bucket}"],
        "detail": {
            "version": "0",
            "bucket": {"name": bucket},
            "object": {"key": key, "size": size, "etag": etag, "sequencer": sequencer},
            "request-id": uuid.uuid4().hex[:16].upper(),
            "requester": ACCOUNT_ID,
            "source-ip-address": "127.0.0.1",
            "reason": "PutObject",
        },
    }


def drop_file(s3: Any, sqs: Any, names: LocalNames, *, source: str, name: str, body: bytes) -> str:
    """Put the file and announce it as S3 and the intake rule would; returns its key."""
    key = f"{topology.INTAKE_PREFIX}{source}/{PurePath(name).name}"
    etag = str(s3.put_object(Bucket=intake_bucket(names), Key=key, Body=body)["ETag"]).strip('"')
    sequencer = f"{datetime.now(UTC).strftime('%Y%m%d%H%M%S%f')}{uuid.uuid4().hex[:6]}".upper()
    event = object_created_event(intake_bucket(names), key, len(body), etag, sequencer)
    sqs.send_message(
        QueueUrl=sqs.get_queue_url(QueueName=files_queue(names))["QueueUrl"], MessageBody=json.dumps(event)
    )
    return key


def pump(sqs: Any, names: LocalNames, queue: str, handler: Any, *, batch_size: int = 1) -> list[str]:
    """Drain one intake queue through its consumer; returns the errors of batches that raised."""
    url = sqs.get_queue_url(QueueName=queue)["QueueUrl"]
    errors: list[str] = []
    while True:
        messages = sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=batch_size, VisibilityTimeout=30, AttributeNames=["All"]
        ).get("Messages", [])
        if not messages:
            return errors
        records = [sqs_record(m, names.queue_arn(queue)) for m in messages]
        try:
            response = handler({"Records": records}, new_context(queue, timeout_seconds=900))
            failed = {str(f.get("itemIdentifier")) for f in (response or {}).get("batchItemFailures", [])}
        except Exception as error:  # the whole batch failed, as Lambda would report it
            errors.append(f"{type(error).__name__}: {error}")
            failed = {m["MessageId"] for m in messages}
        done = [m for m in messages if m["MessageId"] not in failed]
        if done:
            sqs.delete_message_batch(
                QueueUrl=url, Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)]
            )
        retry = [m for m in messages if m["MessageId"] in failed]
        if retry:
            errors.append(f"{len(retry)} record(s) of {queue} failed and will be retried")
            sqs.change_message_visibility_batch(
                QueueUrl=url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": 0}
                    for i, m in enumerate(retry)
                ],
            )


def run_intake(stack: Any, path: str | PurePath, *, source: str, body: bytes | None = None) -> dict[str, Any]:
    """Drop a local file into the running local stack's intake and process it; returns its result
    (the `result.json` document), with the pumps' errors under `local_errors` when any."""
    from billbridge.bootstrap import ingest_intake_chunk, split_intake_file
    from billbridge.entrypoints.queues import ingest_intake_chunk as chunk_function
    from billbridge.entrypoints.queues import split_intake_file as split_function
    from billbridge.settings import HubSettings

    s3, sqs, names = stack.client("s3"), stack.client("sqs"), stack.names
    content = body if body is not None else Path(path).read_bytes()
    with stack.unit_of_work(), PatchedEnvironment(intake_environment(sqs, names), isolate=False):
        settings = HubSettings.from_environment()
        split, chunk = split_intake_file(settings), ingest_intake_chunk(settings)
        key = drop_file(s3, sqs, names, source=source, name=str(path), body=content)
        errors = pump(sqs, names, files_queue(names), lambda e, c: split_function.lambda_handler(e, c, split))
        errors += pump(sqs, names, chunk_queue(names), lambda e, c: chunk_function.lambda_handler(e, c, chunk))
    result_key = key + topology.INTAKE_RESULT_SUFFIX
    try:
        result: dict[str, Any] = json.loads(s3.get_object(Bucket=intake_bucket(names), Key=result_key)["Body"].read())
    except Exception:
        result = {"file": key, "status": "failed", "error": "no result was written", "rows": 0}
    if errors:
        result["local_errors"] = errors
    return result
