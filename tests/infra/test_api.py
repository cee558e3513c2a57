"""`POST /webhooks/{source}` (and `/{vendor}`) proxied to the webhook function, on a throttled, traced stage."""

from __future__ import annotations

from billbridge import topology

from tests.infra.conftest import Synthesized


def json_values(value: object) -> list[object]:
    """Every dict and scalar inside a CloudFormation expression (to find a Ref in an Fn::Join)."""
    if isinstance(value, dict):
        return [value, *(v for item in value.values() for v in json_values(item))]
    if isinstance(value, list):
        return [v for item in value for v in json_values(item)]
    return [value]


def _webhook_api_methods(synthesized: Synthesized) -> list[dict]:
    """The webhook API's methods (the read API is another RestApi: tests/infra/test_read_api.py)."""
    api_id = synthesized.logical_id(synthesized.stack.webhook_api.api)
    return [m for m in synthesized.properties("AWS::ApiGateway::Method") if m["RestApiId"] == {"Ref": api_id}]


def _path_of(resource_id: str, resources: dict[str, dict]) -> str:
    props = resources[resource_id]["Properties"]
    parent = props["ParentId"]
    prefix = _path_of(parent["Ref"], resources) if "Ref" in parent else ""
    return f"{prefix}/{props['PathPart']}"


def test_post_webhooks_source_is_proxied_to_the_webhook_function(synthesized: Synthesized) -> None:
    resources = synthesized.resources("AWS::ApiGateway::Resource")
    methods = _webhook_api_methods(synthesized)
    routes = {(m["HttpMethod"], _path_of(m["ResourceId"]["Ref"], resources)): m for m in methods}
    assert set(routes) == {("POST", topology.WEBHOOK_ROUTE), ("POST", topology.VENDOR_WEBHOOK_ROUTE)}
    method = routes[("POST", topology.WEBHOOK_ROUTE)]
    assert method["RequestParameters"] == {
        "method.request.path.source": True,
        "method.request.header.webhook-id": True,
        "method.request.header.webhook-timestamp": True,
        "method.request.header.webhook-signature": True,
    }
    vendor_method = routes[("POST", topology.VENDOR_WEBHOOK_ROUTE)]
    assert vendor_method["RequestParameters"] == {
        "method.request.path.source": True,
        "method.request.path.vendor": True,
    }
    webhook_id = synthesized.logical_id(synthesized.stack.webhook.function)
    for route in (method, vendor_method):
        assert "RequestValidatorId" in route
        integration = route["Integration"]
        assert integration["Type"] == "AWS_PROXY"
        assert {"Fn::GetAtt": [webhook_id, "Arn"]} in integration["Uri"]["Fn::Join"][1]


def test_stage_is_throttled_traced_and_access_logged_as_json(synthesized: Synthesized) -> None:
    api_id = synthesized.logical_id(synthesized.stack.webhook_api.api)
    (stage,) = [s for s in synthesized.properties("AWS::ApiGateway::Stage") if s["RestApiId"] == {"Ref": api_id}]
    assert stage["TracingEnabled"] is True
    (settings,) = stage["MethodSettings"]
    assert settings["ThrottlingRateLimit"] > 0
    assert settings["ThrottlingBurstLimit"] > 0
    assert settings["LoggingLevel"] in {"ERROR", "INFO"}
    access = stage["AccessLogSetting"]
    access_logs_id = synthesized.logical_id(synthesized.stack.webhook_api.access_logs)
    assert {"Ref": access_logs_id} in access["DestinationArn"]["Fn::Join"][1]
    assert access["Format"].startswith("{")


def test_the_api_may_invoke_only_the_webhook_function(synthesized: Synthesized) -> None:
    webhook_id = synthesized.logical_id(synthesized.stack.webhook.function)
    api_id = synthesized.logical_id(synthesized.stack.webhook_api.api)
    permissions = [
        p
        for p in synthesized.properties("AWS::Lambda::Permission")
        if p["Principal"] == "apigateway.amazonaws.com" and {"Ref": api_id} in json_values(p["SourceArn"])
    ]
    assert permissions
    assert all(p["FunctionName"] == {"Fn::GetAtt": [webhook_id, "Arn"]} for p in permissions)


def test_bodies_reach_the_function_byte_for_byte(synthesized: Synthesized) -> None:
    api = synthesized.resources("AWS::ApiGateway::RestApi")[synthesized.logical_id(synthesized.stack.webhook_api.api)]
    assert api["Properties"]["BinaryMediaTypes"] == ["*/*"]
