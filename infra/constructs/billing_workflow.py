"""The billing run: a Standard state machine whose Distributed Map bills batches of contracts
in child executions, so that no execution's history grows with the number of contracts.

Execution input: `{"period": "2026-03", "contract_ids": [...] | null, "run_id": "..."}`.

    SelectContracts          writes the selected contract ids, in batches of `BILLING_BATCH_SIZE`,
                             to the run workspace bucket; adds `plan` (counts, bucket, items key,
                             workspace prefix) to the state: never the ids themselves
    BillBatches              Distributed Map: ItemReader = the batches object (one item per batch),
                             one Express child execution per batch, MaxConcurrency
                             BILLING_MAP_MAX_CONCURRENCY, ToleratedFailureCount 0, ResultWriter to
                             the workspace bucket; its result is discarded
      child: ForEachContract   inline Map over the batch's contract ids (BILLING_BATCH_MAX_CONCURRENCY)
               ComposeInvoice  item plus `proposal_id` (absent or null: nothing to bill)
               HasProposal     -> PostInvoice -> Invoiced, else NothingToInvoice
               any failure     -> RecordFailure -> ContractFailed
               each path ends in a Pass that yields `{contract_id, outcome}`
             ConcludeBatch     counts the outcomes, writes the batch's summary to the workspace
    ConcludeRun              adds up the summaries into `summary`; a batch without a summary
                             counts as failed
    RunComplete              summary.complete -> Summarize, else ContractsFailed (Fail)

History events: the parent records a fixed number (the Map Run's events, not its children's);
a child about 17 per contract of its batch. Children are Express executions (billed per
request and duration, not per transition; at most 5 minutes each; docs/decisions/0005).
A contract's failure never stops the other contracts, and it fails the run at the end
(`ContractsFailed`, the cause names the contracts).
A failure outside a contract's steps (a child that fails, selection, concluding) fails the
run through RecordRunFailure -> RunFailed. Tasks use `payload_response_only`, so their
`Resource` is the function ARN and the definition runs unchanged in the local stack's
interpreter, which has no ItemBatcher: batching is done by SelectContracts. JSONPath only.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from billbridge import topology
from constructs import Construct

from infra.constructs.function_defaults import BillbridgeFunction, FunctionDefaults
from infra.constructs.private_bucket import private_bucket

RETRYABLE_ERRORS: tuple[str, ...] = (
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
    "TransientError",
)
"""`TransientError` is what a task handler raises for a failure worth retrying."""

TASK_TIMEOUTS: dict[str, cdk.Duration] = {
    "select_contracts": cdk.Duration.seconds(300),
    "compose_invoice": cdk.Duration.seconds(300),
    "post_invoice": cdk.Duration.seconds(120),
    "record_failure": cdk.Duration.seconds(30),
    "conclude_batch": cdk.Duration.seconds(30),
    "conclude_run": cdk.Duration.seconds(300),
}
EXECUTION_TIMEOUT = cdk.Duration.hours(24)
WORKSPACE_EXPIRY = cdk.Duration.days(35)
MAP_RESULTS_PREFIX = "map-results"
TASKS_WRITING_THE_WORKSPACE = ("select_contracts", "conclude_batch")
TASKS_READING_THE_WORKSPACE = ("conclude_run",)
TASKS_WRITING_CLAIM_CHECKS = ("post_invoice",)
"""An ERP command larger than an event (256 KB) is written to the workspace under `commands/`
and the event names it (claim check; `adapters.connectors.event_connector`)."""


class _DistributedMapFailingOnAnyChild(sfn.DistributedMap):
    """CDK leaves out `ToleratedFailureCount: 0` (a falsy value); the definition states it, so
    that a child execution's failure fails the Map and, through its Catch, the run."""

    def to_state_json(self, state_machine: object = None) -> dict[str, object]:
        state = dict(super().to_state_json(state_machine))  # type: ignore[arg-type]
        state["ToleratedFailureCount"] = 0
        return state


class BillingWorkflow(Construct):
    """The billing run state machine, its task functions (`task_functions` by task name)
    and the run workspace bucket (`workspace`)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        functions: FunctionDefaults,
        log_retention: logs.RetentionDays,
    ) -> None:
        super().__init__(scope, construct_id)
        self.workspace = self._workspace_bucket()
        self.task_functions: dict[str, BillbridgeFunction] = {
            task.name: functions.new_function(
                self,
                f"{task.construct_id}Function",
                handler=task.handler,
                description=f"Billing run task {task.construct_id}",
                timeout=TASK_TIMEOUTS.get(task.name, cdk.Duration.seconds(60)),
                synchronous_reason="Invoked synchronously by the billing run state machine, whose "
                "Retry and Catch handle its failures.",
                environment={topology.ENV_BILLING_RUN_BUCKET: self.workspace.bucket_name},
            )
            for task in topology.BILLING_TASKS
        }
        self._grant_workspace()

        self.log_group = logs.LogGroup(self, "Logs", retention=log_retention)
        self.state_machine = sfn.StateMachine(
            self,
            "StateMachine",
            state_machine_type=sfn.StateMachineType.STANDARD,
            comment="Monthly billing run: select contracts, bill them in batches (child executions), conclude",
            definition_body=sfn.DefinitionBody.from_chainable(self._definition()),
            timeout=EXECUTION_TIMEOUT,
            tracing_enabled=True,
            # Errors only, without execution data: inputs and outputs carry invoice contents and
            # contacts; the ledger and the execution history are the record of a run.
            logs=sfn.LogOptions(destination=self.log_group, level=sfn.LogLevel.ERROR, include_execution_data=False),
        )
        cdk.Validations.of(self.state_machine).acknowledge(
            cdk.Acknowledgment(
                id="AwsSolutions-SF1",
                reason="ERROR level without execution data by choice: ALL would copy every state's input "
                "and output (invoice contents, billing contacts) into logs; the execution history and the "
                "ledger record each run.",
            )
        )
        self._acknowledge_role_wildcards()

    def _definition(self) -> sfn.IChainable:
        select = self._invoke("select_contracts", "SelectContracts", result_path="$.plan")
        record_run_failure = self._invoke("record_failure", "RecordRunFailure", result_path=sfn.JsonPath.DISCARD)
        run_failed = record_run_failure.next(
            sfn.Fail(
                self,
                "RunFailed",
                error="BillingRunFailed",
                cause="Contracts could not be selected, or a batch of contracts failed outside a "
                "contract's own steps; see the execution history",
            )
        )
        select.add_catch(run_failed, errors=[sfn.Errors.ALL], result_path="$.error")

        bill_batches = _DistributedMapFailingOnAnyChild(
            self,
            "BillBatches",
            item_reader=sfn.S3JsonItemReader(bucket=self.workspace, key=sfn.JsonPath.string_at("$.plan.items_key")),
            item_selector={
                "period": sfn.JsonPath.string_at("$.period"),
                "run_id": sfn.JsonPath.string_at("$.run_id"),
                "workspace": sfn.JsonPath.string_at("$.plan.workspace"),
                "batch": sfn.JsonPath.object_at("$$.Map.Item.Value"),
            },
            max_concurrency=topology.BILLING_MAP_MAX_CONCURRENCY,
            map_execution_type=sfn.StateMachineType.EXPRESS,
            result_writer_v2=sfn.ResultWriterV2(bucket=self.workspace, prefix=MAP_RESULTS_PREFIX),
            result_path=sfn.JsonPath.DISCARD,
        ).item_processor(self._bill_one_batch())
        bill_batches.add_catch(run_failed, errors=[sfn.Errors.ALL], result_path="$.error")

        conclude = self._invoke("conclude_run", "ConcludeRun", result_path="$.summary")
        conclude.add_catch(run_failed, errors=[sfn.Errors.ALL], result_path="$.error")
        summarize = sfn.Pass(
            self,
            "Summarize",
            parameters={
                "run_id": sfn.JsonPath.string_at("$.run_id"),
                "period": sfn.JsonPath.string_at("$.period"),
                "contract_count": sfn.JsonPath.number_at("$.plan.contract_count"),
                "batch_count": sfn.JsonPath.number_at("$.plan.batch_count"),
                "invoiced": sfn.JsonPath.number_at("$.summary.invoiced"),
                "nothing_to_invoice": sfn.JsonPath.number_at("$.summary.nothing_to_invoice"),
            },
        )
        contracts_failed = sfn.Fail(
            self,
            "ContractsFailed",
            error="ContractsFailed",
            cause_path=sfn.JsonPath.string_at("$.summary.cause"),
        )
        outcome = (
            sfn.Choice(self, "RunComplete")
            .when(sfn.Condition.boolean_equals("$.summary.complete", True), summarize)
            .otherwise(contracts_failed)
        )
        return select.next(bill_batches).next(conclude).next(outcome)

    def _bill_one_batch(self) -> sfn.IChainable:
        """A child execution: every contract of one batch, then the batch's summary."""
        compose = self._invoke("compose_invoice", "ComposeInvoice")
        post = self._invoke("post_invoice", "PostInvoice")
        record_failure = self._invoke("record_failure", "RecordFailure", result_path=sfn.JsonPath.DISCARD)

        def outcome(state_id: str, value: str, **extra: str) -> sfn.Pass:
            return sfn.Pass(
                self,
                state_id,
                parameters={"contract_id": sfn.JsonPath.string_at("$.contract_id"), "outcome": value, **extra},
            )

        contract_failed = record_failure.next(
            outcome("ContractFailed", "failed", error=sfn.JsonPath.string_at("$.error.Error"))
        )
        for step in (compose, post):
            step.add_catch(contract_failed, errors=[sfn.Errors.ALL], result_path="$.error")
        per_contract = compose.next(
            sfn.Choice(self, "HasProposal")
            .when(
                sfn.Condition.and_(
                    sfn.Condition.is_present("$.proposal_id"),
                    sfn.Condition.is_not_null("$.proposal_id"),
                ),
                post.next(outcome("Invoiced", "invoiced")),
            )
            .otherwise(outcome("NothingToInvoice", "nothing_to_invoice"))
        )
        for_each_contract = sfn.Map(
            self,
            "ForEachContract",
            items_path="$.batch.contract_ids",
            max_concurrency=topology.BILLING_BATCH_MAX_CONCURRENCY,
            item_selector={
                "contract_id": sfn.JsonPath.string_at("$$.Map.Item.Value"),
                "period": sfn.JsonPath.string_at("$.period"),
                "run_id": sfn.JsonPath.string_at("$.run_id"),
            },
            result_path="$.outcomes",
        ).item_processor(per_contract)
        return for_each_contract.next(self._invoke("conclude_batch", "ConcludeBatch"))

    def _workspace_bucket(self) -> s3.Bucket:
        bucket = private_bucket(
            self,
            "RunWorkspace",
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="ExpireRunWorkspaces",
                    expiration=WORKSPACE_EXPIRY,
                    abort_incomplete_multipart_upload_after=cdk.Duration.days(1),
                )
            ],
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )
        cdk.Validations.of(bucket).acknowledge(
            cdk.Acknowledgment(
                id="AwsSolutions-S1",
                reason="Working data of billing runs (batches of contract ids, batch summaries), written "
                "and read only by the run's own roles and expired after 35 days; every write is in "
                "the execution history and the task logs. The ledger is the record.",
            )
        )
        return bucket

    def _grant_workspace(self) -> None:
        objects = self.workspace.arn_for_objects("runs/*")
        for name in TASKS_WRITING_THE_WORKSPACE:
            self.task_functions[name].role.add_to_principal_policy(
                iam.PolicyStatement(actions=["s3:PutObject"], resources=[objects])
            )
        for name in TASKS_READING_THE_WORKSPACE:
            role = self.task_functions[name].role
            role.add_to_principal_policy(iam.PolicyStatement(actions=["s3:GetObject"], resources=[objects]))
            role.add_to_principal_policy(
                iam.PolicyStatement(
                    actions=["s3:ListBucket"],
                    resources=[self.workspace.bucket_arn],
                    conditions={"StringLike": {"s3:prefix": ["runs/*"]}},
                )
            )
        commands = self.workspace.arn_for_objects("commands/*")
        for name in TASKS_WRITING_CLAIM_CHECKS:
            self.task_functions[name].role.add_to_principal_policy(
                iam.PolicyStatement(actions=["s3:PutObject"], resources=[commands])
            )
        bucket_id = cdk.Stack.of(self).get_logical_id(self.workspace.node.default_child)  # type: ignore[arg-type]
        for name in TASKS_WRITING_CLAIM_CHECKS:
            cdk.Validations.of(self.task_functions[name].role).acknowledge(
                cdk.Acknowledgment(
                    id=f"AwsSolutions-IAM5[Resource::<{bucket_id}.Arn>/commands/*]",
                    reason="Claim checks of ERP commands too large for an event: one object per "
                    "command identity (target, command, idempotency key), not known in advance.",
                )
            )
        for name in (*TASKS_WRITING_THE_WORKSPACE, *TASKS_READING_THE_WORKSPACE):
            cdk.Validations.of(self.task_functions[name].role).acknowledge(
                cdk.Acknowledgment(
                    id=f"AwsSolutions-IAM5[Resource::<{bucket_id}.Arn>/runs/*]",
                    reason="The objects of billing run workspaces: every run writes under its own "
                    "new prefix, so the keys cannot be named in advance.",
                )
            )

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
        bucket_id = stack.get_logical_id(self.workspace.node.default_child)  # type: ignore[arg-type]
        acknowledgments.append(
            cdk.Acknowledgment(
                id=f"AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:s3:::<{bucket_id}>/*]",
                reason="The Distributed Map reads its item list (a run's batches) and writes the "
                "children's results under keys that each run chooses; this one bucket only.",
            )
        )
        cdk.Validations.of(role).acknowledge(*acknowledgments)
        machine_id = stack.get_logical_id(self.state_machine.node.default_child)  # type: ignore[arg-type]
        executions = (
            "arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:"
            f'{{"Fn::Select":[6,{{"Fn::Split":[":",{{"Ref":"{machine_id}"}}]}}]}}'
        )
        cdk.Validations.of(self.state_machine).acknowledge(
            cdk.Acknowledgment(
                id=f"AwsSolutions-IAM5[Resource::{executions}:*]",
                reason="The Distributed Map describes and stops its own child executions, whose "
                "names Step Functions chooses; scoped to this state machine's executions.",
            ),
            cdk.Acknowledgment(
                id=f"AwsSolutions-IAM5[Resource::{executions}/*:*]",
                reason="The Distributed Map redrives its own Map Runs' child executions; scoped to "
                "this state machine's executions.",
            ),
        )
