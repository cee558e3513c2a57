"""The read API: `GET` routes over the ledger on their own REST API, IAM-authorized per route.

Its own API rather than more routes on the webhook's: the webhook is public and
authenticated by each vendor's signature (no IAM, the edge web ACL in front), the
read API is for the organisation's own principals and authenticated by IAM
(Signature Version 4) on every method. Keeping them apart keeps each stage's
throttling, access log and authorization uniform, and a change to one cannot
open the other (decision 0011).

Least privilege per route: a principal may invoke only the methods its policy
names (`execute-api:Invoke` on `<api>/<stage>/GET/<route>`). The operator and
approver roles may call every read route; `ReadOnlyRole` (dashboards, portals)
only those of `topology.READ_API_DASHBOARD_ROUTES`. The function reads the
ledger and nothing else.
"""

from __future__ import annotations

from collections.abc import Iterable

import aws_cdk as cdk
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from billbridge import topology
from constructs import Construct

from infra.constructs.api_stage import STAGE_NAME, stage_options
from infra.constructs.function_defaults import BillbridgeFunction

ROLE_SESSION_DURATION = cdk.Duration.hours(1)


class ReadApi(Construct):
    """REST API, one `GET` method per read route (IAM authorization), stage throttling,
    JSON access logs with the caller, tracing."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        reader: BillbridgeFunction,
        throttle_rate_limit: int,
        throttle_burst_limit: int,
        log_retention: logs.RetentionDays,
    ) -> None:
        super().__init__(scope, construct_id)
        self.access_logs = logs.LogGroup(self, "AccessLogs", retention=log_retention)
        self.api = apigateway.RestApi(
            self,
            "Api",
            description="Billbridge read API: contracts, invoices, exceptions, lineage, KPIs (IAM-authorized)",
            endpoint_types=[apigateway.EndpointType.REGIONAL],
            # The account-level CloudWatch role is the webhook API's (one per account and region).
            cloud_watch_role=False,
            deploy_options=stage_options(
                access_logs=self.access_logs,
                throttle_rate_limit=throttle_rate_limit,
                throttle_burst_limit=throttle_burst_limit,
                names_the_caller=True,
            ),
        )
        self.request_validator = self.api.add_request_validator(
            "RequestValidator", validate_request_parameters=True, validate_request_body=False
        )
        integration = apigateway.LambdaIntegration(reader.function)
        self.methods: dict[str, apigateway.Method] = {}
        for route in topology.READ_API_ROUTES:
            resource = self.api.root.resource_for_path(route)
            path_parameters = [part.strip("{}") for part in route.split("/") if part.startswith("{")]
            self.methods[route] = resource.add_method(
                "GET",
                integration,
                authorization_type=apigateway.AuthorizationType.IAM,
                request_parameters={f"method.request.path.{name}": True for name in path_parameters},
                request_validator=self.request_validator,
            )
            cdk.Validations.of(self.methods[route]).acknowledge(
                cdk.Acknowledgment(
                    id="AwsSolutions-COG4",
                    reason="Callers are the organisation's IAM principals (roles), authorized by IAM on "
                    "every method; there is no user pool.",
                )
            )
        cdk.Validations.of(self.api).acknowledge(
            cdk.Acknowledgment(
                id="AwsSolutions-APIG2",
                reason="GET routes have no body; required path parameters are validated here, query "
                "parameters by the function against the published OpenAPI document (answered 422 naming "
                "the parameter).",
            )
        )
        cdk.Validations.of(self.api.deployment_stage).acknowledge(
            cdk.Acknowledgment(
                id="AwsSolutions-APIG3",
                reason="Every method requires an IAM-signed request from a principal allowed that route; "
                "unsigned traffic is refused by API Gateway before any integration, and the stage is "
                "throttled.",
            )
        )
        self.read_only_role = iam.Role(
            self,
            "ReadOnlyRole",
            description="Billbridge read-only: finance dashboards and portals read contracts, invoices, KPIs and "
            "unbilled work through the read API",
            assumed_by=iam.AccountRootPrincipal().with_conditions({"Bool": {"aws:MultiFactorAuthPresent": "true"}}),
            max_session_duration=ROLE_SESSION_DURATION,
        )
        self.allow(self.read_only_role, topology.READ_API_DASHBOARD_ROUTES)

    def route_arn(self, route: str) -> str:
        """The `execute-api:Invoke` resource of `GET route` on the stage (path parameters as `*`)."""
        path = "/".join("*" if part.startswith("{") else part for part in route.split("/"))
        return self.api.arn_for_execute_api(method="GET", path=path, stage=STAGE_NAME)

    def allow(self, role: iam.IRole, routes: Iterable[str] = topology.READ_API_ROUTES) -> None:
        """Let `role` call `routes` (and no other)."""
        chosen = list(routes)
        unknown = set(chosen) - set(topology.READ_API_ROUTES)
        if unknown:
            raise ValueError(f"not read API routes: {sorted(unknown)}")
        role.add_to_principal_policy(
            iam.PolicyStatement(actions=["execute-api:Invoke"], resources=[self.route_arn(r) for r in chosen])
        )
        api_id = cdk.Stack.of(self).get_logical_id(self.api.node.default_child)  # type: ignore[arg-type]
        for route in chosen:
            if "{" not in route:
                continue
            path = "/".join("*" if part.startswith("{") else part for part in route.split("/"))
            cdk.Validations.of(role).acknowledge(
                cdk.Acknowledgment(
                    id="AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:execute-api:<AWS::Region>:"
                    f"<AWS::AccountId>:<{api_id}>/{STAGE_NAME}/GET{path}]",
                    reason=f"GET {route} only: the wildcard stands for the value of its path parameter.",
                )
            )

    @property
    def url(self) -> str:
        return self.api.url
