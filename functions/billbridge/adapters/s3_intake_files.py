"""IntakeFiles on S3: the intake bucket's dropped files, their results and the chunk results."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any


class S3IntakeFiles:
    def __init__(self, *, bucket_name: str, client: Any | None = None) -> None:
        self._bucket = bucket_name
        self._client = client

    @property
    def bucket_name(self) -> str:
        return self._bucket

    @property
    def client(self) -> Any:
        if self._client is None:
            import boto3

            self._client = boto3.client("s3")
        return self._client

    def read(self, key: str) -> bytes:
        body: bytes = self.client.get_object(Bucket=self._bucket, Key=key)["Body"].read()
        return body

    def read_json(self, key: str) -> dict[str, Any] | None:
        from botocore.exceptions import ClientError

        try:
            body = self.read(key)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                return None
            raise
        document: dict[str, Any] = json.loads(body)
        return document

    def write_json(self, key: str, document: Mapping[str, Any]) -> None:
        self.client.put_object(
            Bucket=self._bucket,
            Key=key,
            Body=json.dumps(document, ensure_ascii=False, indent=1).encode("utf-8"),
            ContentType="application/json",
        )

    def put(self, key: str, body: bytes) -> None:
        """Drop a file (the local `billbridge intake` command; on AWS the data platform uploads)."""
        self.client.put_object(Bucket=self._bucket, Key=key, Body=body)
