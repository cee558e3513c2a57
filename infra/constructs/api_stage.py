"""The stage every REST API of the hub deploys: one version, throttled, traced, errors
logged, detailed metrics, and a JSON access log (with the IAM caller where callers sign
with IAM). The webhook API and the read API differ only in their limits and in whether
a caller is named."""

from __future__ import annotations

from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_logs as logs

STAGE_NAME = "v1"


def stage_options(
    *, access_logs: logs.ILogGroup, throttle_rate_limit: int, throttle_burst_limit: int, names_the_caller: bool
) -> apigateway.StageOptions:
    """`names_the_caller`: log the IAM caller and user (IAM-authorized APIs; a public webhook has none)."""
    return apigateway.StageOptions(
        stage_name=STAGE_NAME,
        throttling_rate_limit=throttle_rate_limit,
        throttling_burst_limit=throttle_burst_limit,
        tracing_enabled=True,
        logging_level=apigateway.MethodLoggingLevel.ERROR,
        metrics_enabled=True,
        access_log_destination=apigateway.LogGroupLogDestination(access_logs),
        access_log_format=apigateway.AccessLogFormat.json_with_standard_fields(
            caller=names_the_caller,
            http_method=True,
            ip=True,
            protocol=True,
            request_time=True,
            resource_path=True,
            response_length=True,
            status=True,
            user=names_the_caller,
        ),
    )
