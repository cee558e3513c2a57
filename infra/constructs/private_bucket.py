"""Every bucket of the hub is private the same way: S3-managed encryption, public access
blocked, TLS only. Buckets are made here so that none can be made without these."""

from __future__ import annotations

from typing import Any

from aws_cdk import aws_s3 as s3
from constructs import Construct


def private_bucket(scope: Construct, construct_id: str, **props: Any) -> s3.Bucket:
    """An `s3.Bucket` with the hub's privacy settings and the bucket's own `props`
    (lifecycle, versioning, access logs, removal policy)."""
    return s3.Bucket(
        scope,
        construct_id,
        encryption=s3.BucketEncryption.S3_MANAGED,
        block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
        enforce_ssl=True,
        **props,
    )
