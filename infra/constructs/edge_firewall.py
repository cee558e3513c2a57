"""The web ACL in front of the webhook API, on by default.

Rules, cheapest refusal first:
1. `RefuseUnsignedDeliveries`: a request without the three Standard Webhooks
   headers (`webhook-id`, `webhook-timestamp`, a `webhook-signature` holding a
   `v1,` signature), and without any vendor's signature header either
   (`X-DocuSign-Signature-1`, `x-xero-signature`: the vendor routes
   `/webhooks/{source}/{vendor}`), is answered 401 by WAF itself: it never
   reaches API Gateway's throttle, the function, or the bill for either.
2. `LimitPerSource`: a rate limit per request path, i.e. per
   `/webhooks/{source}`: a flood on one source's route cannot spend the
   others' share of the stage throttle.
3. `LimitPerAddress`: a rate limit per client IP address across the API.
Rate limits are counted over WAF's 5-minute window. Every rule's metrics and
sampled requests are on. The function still verifies every signature: WAF
only refuses what cannot possibly be a signed delivery.
"""

from __future__ import annotations

from aws_cdk import aws_wafv2 as wafv2
from billbridge import topology
from constructs import Construct

SIGNATURE_HEADERS = ("webhook-id", "webhook-timestamp", "webhook-signature")
UNSIGNED_RESPONSE_KEY = "Unsigned"
UNSIGNED_RESPONSE_BODY = (
    '{"error": "signature rejected: the webhook-id, webhook-timestamp and webhook-signature headers are required"}'
)


def _visibility(metric_name: str) -> wafv2.CfnWebACL.VisibilityConfigProperty:
    return wafv2.CfnWebACL.VisibilityConfigProperty(
        cloud_watch_metrics_enabled=True, metric_name=metric_name, sampled_requests_enabled=True
    )


def _header_present(name: str, *, starts_with: str | None = None) -> wafv2.CfnWebACL.StatementProperty:
    """The header exists (its value is at least one byte), or starts with `starts_with`."""
    field = wafv2.CfnWebACL.FieldToMatchProperty(single_header={"Name": name})
    no_change = [wafv2.CfnWebACL.TextTransformationProperty(priority=0, type="NONE")]
    if starts_with is not None:
        return wafv2.CfnWebACL.StatementProperty(
            byte_match_statement=wafv2.CfnWebACL.ByteMatchStatementProperty(
                field_to_match=field,
                positional_constraint="STARTS_WITH",
                search_string=starts_with,
                text_transformations=no_change,
            )
        )
    return wafv2.CfnWebACL.StatementProperty(
        size_constraint_statement=wafv2.CfnWebACL.SizeConstraintStatementProperty(
            field_to_match=field, comparison_operator="GT", size=0, text_transformations=no_change
        )
    )


class EdgeFirewall(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        api_stage_arn: str,
        rate_limit_per_source: int,
        rate_limit_per_address: int,
    ) -> None:
        super().__init__(scope, construct_id)
        for name, limit in (("per source", rate_limit_per_source), ("per address", rate_limit_per_address)):
            if not 10 <= limit <= 2_000_000_000:
                raise ValueError(f"the WAF rate limit {name} must be 10..2,000,000,000 requests per 5 minutes")
        standard_webhooks_signed = wafv2.CfnWebACL.StatementProperty(
            and_statement=wafv2.CfnWebACL.AndStatementProperty(
                statements=[
                    _header_present("webhook-id"),
                    _header_present("webhook-timestamp"),
                    _header_present("webhook-signature", starts_with="v1,"),
                ]
            )
        )
        signed = wafv2.CfnWebACL.StatementProperty(
            or_statement=wafv2.CfnWebACL.OrStatementProperty(
                statements=[
                    standard_webhooks_signed,
                    *(_header_present(header) for header in topology.VENDOR_SIGNATURE_HEADERS),
                ]
            )
        )
        self.web_acl = wafv2.CfnWebACL(
            self,
            "WebAcl",
            scope="REGIONAL",
            description="Webhook edge: unsigned requests refused, rate limits per source route and per address",
            default_action=wafv2.CfnWebACL.DefaultActionProperty(allow={}),
            visibility_config=_visibility("BillbridgeWebhookEdge"),
            custom_response_bodies={
                UNSIGNED_RESPONSE_KEY: wafv2.CfnWebACL.CustomResponseBodyProperty(
                    content=UNSIGNED_RESPONSE_BODY, content_type="APPLICATION_JSON"
                )
            },
            rules=[
                wafv2.CfnWebACL.RuleProperty(
                    name="RefuseUnsignedDeliveries",
                    priority=0,
                    statement=wafv2.CfnWebACL.StatementProperty(
                        not_statement=wafv2.CfnWebACL.NotStatementProperty(statement=signed)
                    ),
                    action=wafv2.CfnWebACL.RuleActionProperty(
                        block=wafv2.CfnWebACL.BlockActionProperty(
                            custom_response=wafv2.CfnWebACL.CustomResponseProperty(
                                response_code=401, custom_response_body_key=UNSIGNED_RESPONSE_KEY
                            )
                        )
                    ),
                    visibility_config=_visibility("UnsignedDeliveriesRefused"),
                ),
                wafv2.CfnWebACL.RuleProperty(
                    name="LimitPerSource",
                    priority=1,
                    statement=wafv2.CfnWebACL.StatementProperty(
                        rate_based_statement=wafv2.CfnWebACL.RateBasedStatementProperty(
                            limit=rate_limit_per_source,
                            evaluation_window_sec=300,
                            aggregate_key_type="CUSTOM_KEYS",
                            custom_keys=[
                                wafv2.CfnWebACL.RateBasedStatementCustomKeyProperty(
                                    uri_path=wafv2.CfnWebACL.RateLimitUriPathProperty(
                                        text_transformations=[
                                            wafv2.CfnWebACL.TextTransformationProperty(priority=0, type="LOWERCASE")
                                        ]
                                    )
                                )
                            ],
                        )
                    ),
                    action=wafv2.CfnWebACL.RuleActionProperty(block={}),
                    visibility_config=_visibility("SourceRateLimited"),
                ),
                wafv2.CfnWebACL.RuleProperty(
                    name="LimitPerAddress",
                    priority=2,
                    statement=wafv2.CfnWebACL.StatementProperty(
                        rate_based_statement=wafv2.CfnWebACL.RateBasedStatementProperty(
                            limit=rate_limit_per_address, evaluation_window_sec=300, aggregate_key_type="IP"
                        )
                    ),
                    action=wafv2.CfnWebACL.RuleActionProperty(block={}),
                    visibility_config=_visibility("AddressRateLimited"),
                ),
            ],
        )
        self.association = wafv2.CfnWebACLAssociation(
            self, "Association", resource_arn=api_stage_arn, web_acl_arn=self.web_acl.attr_arn
        )
