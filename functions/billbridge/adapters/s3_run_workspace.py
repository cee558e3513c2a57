"""RunWorkspace on S3: a billing run's batches (the Distributed Map's item list) and the
batches' summaries, as JSON objects under `runs/<run id>/<attempt>/`.

The bucket's lifecycle expires them: they are working data of a run, the ledger is the record.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any


class S3RunWorkspace:
    def __init__(self, *, bucket_name: str, client: Any | None = None) -> None:
        if not bucket_name:
            raise ValueError("the billing run workspace needs a bucket name")
        self._bucket = bucket_name
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:
            import boto3

            self._client = boto3.client("s3")
        return self._client

    @property
    def location(self) -> str:
        return self._bucket

    def write(self, key: str, document: Any) -> None:
        self.client.put_object(
            Bucket=self._bucket,
            Key=key,
            Body=json.dumps(document, separators=(",", ":")).encode("utf-8"),
            ContentType="application/json",
        )

    def read(self, key: str) -> Any:
        return json.loads(self.client.get_object(Bucket=self._bucket, Key=key)["Body"].read())

    def keys(self, prefix: str) -> Iterator[str]:
        for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self._bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                yield str(item["Key"])
