"""The bucket that keeps every webhook body exactly as it was received."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra.constructs.private_bucket import private_bucket


class RawPayloads(Construct):
    """Versioned, private, TLS-only bucket with a retention lifecycle and access logs."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        infrequent_access_after_days: int,
        retention_days: int,
    ) -> None:
        super().__init__(scope, construct_id)
        self.access_logs = private_bucket(
            self,
            "AccessLogs",
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_PREFERRED,
            lifecycle_rules=[s3.LifecycleRule(id="ExpireAccessLogs", expiration=cdk.Duration.days(retention_days))],
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )
        cdk.Validations.of(self.access_logs).acknowledge(
            cdk.Acknowledgment(
                id="AwsSolutions-S1",
                reason="This is the access-log bucket of the raw payload bucket; logging it to itself "
                "would loop and to another bucket would only move the finding.",
            )
        )
        self.bucket = private_bucket(
            self,
            "Bucket",
            versioned=True,
            server_access_logs_bucket=self.access_logs,
            server_access_logs_prefix="raw-payloads/",
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="AgeOutRawPayloads",
                    transitions=[
                        s3.Transition(
                            storage_class=s3.StorageClass.INFREQUENT_ACCESS,
                            transition_after=cdk.Duration.days(infrequent_access_after_days),
                        )
                    ],
                    expiration=cdk.Duration.days(retention_days),
                    noncurrent_version_expiration=cdk.Duration.days(30),
                    abort_incomplete_multipart_upload_after=cdk.Duration.days(1),
                )
            ],
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )
