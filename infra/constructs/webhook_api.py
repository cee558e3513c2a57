"""The public edge: `POST /webhooks/{source}` and `/webhooks/{source}/{vendor}` on a REST API, proxied to one
function (the vendor route reaches the vendor's adapter, docs/adapters.md)."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_logs as logs
from billbridge import topology
from constructs import Construct

from infra.constructs.api_stage import stage_options
from infra.constructs.edge_firewall import SIGNATURE_HEADERS, UNSIGNED_RESPONSE_BODY
from infra.constructs.function_defaults import BillbridgeFunction

SOURCE_PARAMETER = topology.WEBHOOK_ROUTE.rsplit("/", 1)[-1].strip("{}")
VENDOR_PARAMETER = topology.VENDOR_WEBHOOK_ROUTE.rsplit("/", 1)[-1].strip("{}")


class WebhookApi(Construct):
    """REST API with throttling, JSON access logs, tracing and request validation.

    API Gateway accepts bodies up to 10 MB and cannot lower that limit; the function
    enforces `topology.MAX_WEBHOOK_BODY_BYTES` and answers 413. The `{source}` path
    parameter is required here but validated by the function (one of
    `topology.WEBHOOK_SOURCES`) so that it can answer 404 with a clear message.
    The three signature headers are required here too: a request without them is
    answered 401 by API Gateway without invoking the function.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        receiver: BillbridgeFunction,
        throttle_rate_limit: int,
        throttle_burst_limit: int,
        log_retention: logs.RetentionDays,
    ) -> None:
        super().__init__(scope, construct_id)
        self.access_logs = logs.LogGroup(self, "AccessLogs", retention=log_retention)
        self.api = apigateway.RestApi(
            self,
            "Api",
            description="Webhook receiver for the CLM, PSA, ERP and CRM senders",
            endpoint_types=[apigateway.EndpointType.REGIONAL],
            # Every body reaches the function base64-encoded, byte for byte, so the
            # signature is checked over exactly what the sender signed.
            binary_media_types=["*/*"],
            cloud_watch_role=True,
            cloud_watch_role_removal_policy=cdk.RemovalPolicy.RETAIN,
            deploy_options=stage_options(
                access_logs=self.access_logs,
                throttle_rate_limit=throttle_rate_limit,
                throttle_burst_limit=throttle_burst_limit,
                names_the_caller=False,
            ),
        )
        self.request_validator = self.api.add_request_validator(
            "RequestValidator", validate_request_parameters=True, validate_request_body=False
        )
        route = self.api.root
        for part in topology.WEBHOOK_ROUTE.strip("/").split("/"):
            route = route.add_resource(part)
        self.method = route.add_method(
            "POST",
            apigateway.LambdaIntegration(receiver.function),
            request_parameters={
                f"method.request.path.{SOURCE_PARAMETER}": True,
                **{f"method.request.header.{name}": True for name in SIGNATURE_HEADERS},
            },
            request_validator=self.request_validator,
            authorization_type=apigateway.AuthorizationType.NONE,
        )
        # A request without the signature headers is answered by API Gateway itself, like the
        # function would (401), without invoking it.
        self.api.add_gateway_response(
            "MissingSignatureHeaders",
            type=apigateway.ResponseType.BAD_REQUEST_PARAMETERS,
            status_code="401",
            templates={"application/json": UNSIGNED_RESPONSE_BODY},
        )
        vendor_route = route.add_resource(f"{{{VENDOR_PARAMETER}}}")
        self.vendor_method = vendor_route.add_method(
            "POST",
            apigateway.LambdaIntegration(receiver.function),
            request_parameters={
                f"method.request.path.{SOURCE_PARAMETER}": True,
                f"method.request.path.{VENDOR_PARAMETER}": True,
            },
            request_validator=self.request_validator,
            authorization_type=apigateway.AuthorizationType.NONE,
        )
        unauthenticated = (
            "Webhook senders (CLM, PSA, ERP, CRM vendors) cannot use IAM or Cognito; every request "
            "is authenticated by its HMAC signature, verified in the function before anything is stored."
        )
        for method in (self.method, self.vendor_method):
            cdk.Validations.of(method).acknowledge(
                cdk.Acknowledgment(id="AwsSolutions-APIG4", reason=unauthenticated),
                cdk.Acknowledgment(id="AwsSolutions-COG4", reason=unauthenticated),
            )
        cdk.Validations.of(self.api).acknowledge(
            cdk.Acknowledgment(
                id="AwsSolutions-APIG2",
                reason="The required {source} parameter is validated here; the body must reach the "
                "function byte for byte to verify its signature, and is validated there against "
                "the source's schema.",
            )
        )
        cdk.Validations.of(self.api.deployment_stage).acknowledge(
            cdk.Acknowledgment(
                id="AwsSolutions-APIG3",
                reason="The stack's own web ACL (EdgeFirewall) guards the stage by default, or the "
                "organisation's (waf_web_acl_arn); with edge_firewall=off an ACL attached outside the stack "
                "does, and every request is signature-checked in the function.",
            )
        )
        cloud_watch_role = self.api.node.try_find_child("CloudWatchRole")
        if cloud_watch_role is not None:
            cdk.Validations.of(cloud_watch_role).acknowledge(
                cdk.Acknowledgment(
                    id="AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
                    "AmazonAPIGatewayPushToCloudWatchLogs]",
                    reason="The account-level role API Gateway needs to write execution logs; AWS "
                    "maintains this managed policy for exactly that purpose.",
                )
            )

    @property
    def url(self) -> str:
        return self.api.url
