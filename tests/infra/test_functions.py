"""Every function: runtime, architecture, tracing, layer, Powertools settings, env, own role."""

from __future__ import annotations

from billbridge import topology

from tests.infra.conftest import Synthesized

HUB_ENV = (
    topology.ENV_LEDGER_TABLE,
    topology.ENV_RAW_BUCKET,
    topology.ENV_EVENT_BUS,
)


def _functions_by_handler(synthesized: Synthesized) -> dict[str, dict]:
    return {props["Handler"]: props for props in synthesized.properties("AWS::Lambda::Function")}


def test_there_is_one_function_per_handler_of_the_topology(synthesized: Synthesized) -> None:
    expected = {
        topology.WEBHOOK_HANDLER,
        topology.START_BILLING_RUN_HANDLER,
        topology.PUBLISH_KPIS_HANDLER,
        topology.POLL_VENDOR_HANDLER,
        topology.READ_API_HANDLER,
        topology.SPLIT_INTAKE_FILE_HANDLER,
        topology.INGEST_INTAKE_CHUNK_HANDLER,
        *(workflow.handler for workflow in topology.WORKFLOWS),
        *(task.handler for task in topology.BILLING_TASKS),
    }
    assert set(_functions_by_handler(synthesized)) == expected


def test_functions_run_python_3_13_on_arm64_with_tracing_and_the_dependencies_layer(
    synthesized: Synthesized,
) -> None:
    layer_ids = set(synthesized.resources("AWS::Lambda::LayerVersion"))
    for handler, props in _functions_by_handler(synthesized).items():
        assert props["Runtime"] == "python3.13", handler
        assert props["Architectures"] == ["arm64"], handler
        assert props["TracingConfig"] == {"Mode": "Active"}, handler
        assert [layer["Ref"] for layer in props["Layers"]] == sorted(layer_ids), handler
        assert props["MemorySize"] > 128 and props["Timeout"] > 3, handler


def test_functions_carry_powertools_settings_and_the_hub_environment(synthesized: Synthesized) -> None:
    for handler, props in _functions_by_handler(synthesized).items():
        env = props["Environment"]["Variables"]
        assert env["POWERTOOLS_METRICS_NAMESPACE"] == "Billbridge", handler
        assert env["POWERTOOLS_SERVICE_NAME"], handler
        assert env["POWERTOOLS_LOG_LEVEL"] == env["LOG_LEVEL"], handler
        assert env[topology.ENV_CONNECTOR_MODE] == "event", handler
        assert all(name in env for name in HUB_ENV), handler


def test_only_the_webhook_and_the_pollers_know_the_secret_and_only_the_starter_the_state_machine(
    synthesized: Synthesized,
) -> None:
    """The vendor pollers read their vendor's API credentials from the same secret."""
    functions = _functions_by_handler(synthesized)
    with_secret = {h for h, p in functions.items() if topology.ENV_WEBHOOK_SECRETS_ARN in p["Environment"]["Variables"]}
    with_machine = {h for h, p in functions.items() if topology.ENV_STATE_MACHINE_ARN in p["Environment"]["Variables"]}
    assert with_secret == {topology.WEBHOOK_HANDLER, topology.POLL_VENDOR_HANDLER}
    assert with_machine == {topology.START_BILLING_RUN_HANDLER}


def test_each_function_has_its_own_role_and_log_group_with_retention(synthesized: Synthesized) -> None:
    functions = synthesized.properties("AWS::Lambda::Function")
    roles = [props["Role"]["Fn::GetAtt"][0] for props in functions]
    log_groups = [props["LoggingConfig"]["LogGroup"]["Ref"] for props in functions]
    assert len(set(roles)) == len(functions)
    assert len(set(log_groups)) == len(functions)
    all_log_groups = synthesized.resources("AWS::Logs::LogGroup")
    for log_group in log_groups:
        assert all_log_groups[log_group]["Properties"]["RetentionInDays"] > 0


def test_no_function_uses_a_managed_policy(synthesized: Synthesized) -> None:
    role_ids = {props["Role"]["Fn::GetAtt"][0] for props in synthesized.properties("AWS::Lambda::Function")}
    roles = synthesized.resources("AWS::IAM::Role")
    for role_id in role_ids:
        assert "ManagedPolicyArns" not in roles[role_id]["Properties"], role_id


def test_the_scheduled_functions_send_failed_asynchronous_invocations_to_a_queue(
    synthesized: Synthesized,
) -> None:
    stack = synthesized.stack
    configs = synthesized.properties("AWS::Lambda::EventInvokeConfig")
    assert {config["FunctionName"]["Ref"] for config in configs} == {
        synthesized.logical_id(stack.schedule.starter.function),
        synthesized.logical_id(stack.kpi_publisher.publisher.function),
        *(synthesized.logical_id(poller.function.function) for poller in stack.vendor_pollers),
    }
    for config in configs:
        assert "OnFailure" in config["DestinationConfig"]
        assert config["MaximumRetryAttempts"] >= 1


def test_cdk_json_rollout_and_systems_of_record_reach_every_function_and_the_dashboard(
    synthesized: Synthesized,
) -> None:
    import json

    functions = synthesized.properties("AWS::Lambda::Function")
    hub_functions = [f for f in functions if "LEDGER_TABLE_NAME" in f.get("Environment", {}).get("Variables", {})]
    assert hub_functions
    for function in hub_functions:
        variables = function["Environment"]["Variables"]
        assert json.loads(variables["ROLLOUT"])["workflows"]["actuals"] == "on"
        assert json.loads(variables["SYSTEMS_OF_RECORD"])["customer"] == "erp"
    (dashboard,) = synthesized.properties("AWS::CloudWatch::Dashboard")
    assert "Phased rollout" in json.dumps(dashboard["DashboardBody"])
