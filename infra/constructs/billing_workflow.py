"""The billing run: a Standard state machine over one Lambda per `topology.BILLING_TASKS` item.

Execution input: `{"period": "2026-03", "contract_ids": [...] | null, "run_id": "..."}`.

    SelectContracts            returns its input plus `contracts: [{"contract_id": ...}, ...]`
    ForEachContract (Map over $.contracts, MaxConcurrency BILLING_MAP_MAX_CONCURRENCY)
      item = {contract_id, period, run_id}
      ComposeInvoice           returns the item plus `proposal_id` (absent or null: nothing to bill)
      HasProposal              $.proposal_id present and not null -> PostInvoice, else NothingToInvoice
      PostInvoice              -> InvoicePosted
      any task failure         -> RecordFailure (input + `error`) -> ContractFailed (Succeed)
    Summarize                  {run_id, period, contract_count}

Every task Lambda returns the state for the next step (its input plus what it adds):
the tasks use `payload_response_only`, so their `Resource` is the function ARN and the
definition runs unchanged in the local stack's interpreter. JSONPath only.
A contract's failure is recorded and never fails the other contracts; a failure to
select the contracts, or to record a failure, fails the execution (and alarms).
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_logs as logs
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from billbridge import topology
from constructs import Construct

from infra.constructs.function_defaults import BillbridgeFunction, FunctionDefaults

RETRYABLE_ERRORS: tuple[str, ...] = (
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
    "TransientError",
)
"""`TransientError` is what a task handler raises for a failure worth retrying."""

TASK_TIMEOUTS: dict[str, cdk.Duration] = {
    "select_contracts": cdk.Duration.seconds(60),
    "compose_invoice": cdk.Duration.seconds(120),
    "post_invoice": cdk.Duration.seconds(60),
    "record_failure": cdk.Duration.seconds(30),
}
EXECUTION_TIMEOUT = cdk.Duration.hours(6)


class BillingWorkflow(Construct):
    """The billing run state machine and its task functions (`task_functions` by task name)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        functions: FunctionDefaults,
        log_retention: logs.RetentionDays,
    ) -> None:
        super().__init__(scope, construct_id)
        self.task_functions: dict[str, BillbridgeFunction] = {
            task.name: functions.new_function(
                self,
                f"{task.construct_id}Function",
                handler=task.handler,
                description=f"Billing run task {task.construct_id}",
                timeout=TASK_TIMEOUTS.get(task.name, cdk.Duration.seconds(60)),
                synchronous_reason="Invoked synchronously by the billing run state machine, whose "
                "Retry and Catch handle its failures.",
            )
            for task in topology.BILLING_TASKS
        }

        select = self._invoke("select_contracts", "SelectContracts")
        compose = self._invoke("compose_invoice", "ComposeInvoice")
        post = self._invoke("post_invoice", "PostInvoice")
        record_failure = self._invoke("record_failure", "RecordFailure", result_path=sfn.JsonPath.DISCARD)
        record_run_failure = self._invoke("record_failure", "RecordRunFailure", result_path=sfn.JsonPath.DISCARD)

        contract_failed = record_failure.next(sfn.Succeed(self, "ContractFailed"))
        for step in (compose, post):
            step.add_catch(contract_failed, errors=[sfn.Errors.ALL], result_path="$.error")
        select.add_catch(
            record_run_failure.next(
                sfn.Fail(self, "RunFailed", error="BillingRunFailed", cause="Contracts could not be selected")
            ),
            errors=[sfn.Errors.ALL],
            result_path="$.error",
        )

        per_contract = compose.next(
            sfn.Choice(self, "HasProposal")
            .when(
                sfn.Condition.and_(
                    sfn.Condition.is_present("$.proposal_id"),
                    sfn.Condition.is_not_null("$.proposal_id"),
                ),
                post.next(sfn.Succeed(self, "InvoicePosted")),
            )
            .otherwise(sfn.Succeed(self, "NothingToInvoice"))
        )
        for_each_contract = sfn.Map(
            self,
            "ForEachContract",
            items_path="$.contracts",
            max_concurrency=topology.BILLING_MAP_MAX_CONCURRENCY,
            item_selector={
                "contract_id": sfn.JsonPath.string_at("$$.Map.Item.Value.contract_id"),
                "period": sfn.JsonPath.string_at("$.period"),
                "run_id": sfn.JsonPath.string_at("$.run_id"),
            },
            result_path=sfn.JsonPath.DISCARD,
        ).item_processor(per_contract)
        summarize = sfn.Pass(
            self,
            "Summarize",
            parameters={
                "run_id": sfn.JsonPath.string_at("$.run_id"),
                "period": sfn.JsonPath.string_at("$.period"),
                "contract_count": sfn.JsonPath.array_length(sfn.JsonPath.list_at("$.contracts")),
            },
        )

        self.log_group = logs.LogGroup(self, "Logs", retention=log_retention)
        self.state_machine = sfn.StateMachine(
            self,
            "StateMachine",
            state_machine_type=sfn.StateMachineType.STANDARD,
            comment="Monthly billing run: select contracts, compose and post one invoice each",
            definition_body=sfn.DefinitionBody.from_chainable(select.next(for_each_contract).next(summarize)),
            timeout=EXECUTION_TIMEOUT,
            tracing_enabled=True,
            logs=sfn.LogOptions(destination=self.log_group, level=sfn.LogLevel.ALL, include_execution_data=True),
        )
        self._acknowledge_role_wildcards()

    def _invoke(self, task_name: str, state_id: str, *, result_path: str | None = None) -> tasks.LambdaInvoke:
        step = tasks.LambdaInvoke(
            self,
            state_id,
            lambda_function=self.task_functions[task_name].function,
            payload_response_only=True,
            retry_on_service_exceptions=False,
            result_path=result_path,
        )
        step.add_retry(
            errors=list(RETRYABLE_ERRORS),
            interval=cdk.Duration.seconds(1),
            backoff_rate=2,
            max_attempts=3,
        )
        return step

    def _acknowledge_role_wildcards(self) -> None:
        role = self.state_machine.role
        acknowledgments = [
            cdk.Acknowledgment(
                id="AwsSolutions-IAM5[Resource::*]",
                reason="Step Functions log delivery (logs:CreateLogDelivery and friends) and X-Ray "
                "tracing do not support resource-level permissions.",
            )
        ]
        stack = cdk.Stack.of(self)
        for task in self.task_functions.values():
            logical_id = stack.get_logical_id(task.function.node.default_child)  # type: ignore[arg-type]
            acknowledgments.append(
                cdk.Acknowledgment(
                    id=f"AwsSolutions-IAM5[Resource::<{logical_id}.Arn>:*]",
                    reason="lambda:InvokeFunction on the task function's versions and aliases "
                    "(ARN:*), granted by the LambdaInvoke task; scoped to this one function.",
                )
            )
        cdk.Validations.of(role).acknowledge(*acknowledgments)
