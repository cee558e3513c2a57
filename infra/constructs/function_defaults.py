"""One way to make a Lambda function: Python 3.13 on arm64, shared code and layer,
Powertools settings, active tracing, its own role and its own log group."""

from __future__ import annotations

from collections.abc import Mapping

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.bundling import (
    BUNDLING_IMAGE,
    CODE_ASSET_EXCLUDES,
    DEPENDENCIES_DIR,
    FUNCTIONS_DIR,
    CodeAssetBundler,
    DependencyLayerBundler,
)
from infra.config import BillbridgeConfig

RUNTIME = lambda_.Runtime.PYTHON_3_13
ARCHITECTURE = lambda_.Architecture.ARM_64
METRICS_NAMESPACE = "Billbridge"
ASYNC_RETRY_ATTEMPTS = 2

RUNTIME_REASON = (
    "Python 3.13 is the runtime the dependency layer (cp313 wheels) and the byte code are built "
    "for and the code is tested on; a newer runtime is a deliberate upgrade of all three together."
)
RUNTIME_ACKNOWLEDGMENTS = (
    cdk.Acknowledgment(id="AwsSolutions-L1", reason=RUNTIME_REASON),
    cdk.Acknowledgment(id="Serverless-LambdaLatestVersion", reason=RUNTIME_REASON),
)

XRAY_ACKNOWLEDGMENT = cdk.Acknowledgment(
    id="AwsSolutions-IAM5[Resource::*]",
    reason="X-Ray PutTraceSegments/PutTelemetryRecords do not support resource-level permissions; "
    "this is the only wildcard in the function's role.",
)


class BillbridgeFunction(Construct):
    """A Lambda function with its own role and log group."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        handler: str,
        description: str,
        code: lambda_.Code,
        layers: list[lambda_.ILayerVersion],
        environment: Mapping[str, str],
        log_retention: logs.RetentionDays,
        timeout: cdk.Duration,
        memory_size: int,
        failure_queue: sqs.IQueue | None,
        synchronous_reason: str | None,
    ) -> None:
        if failure_queue is None and not synchronous_reason:
            raise ValueError(f"{construct_id}: a function without a failure queue must say why")
        super().__init__(scope, construct_id)
        self.log_group = logs.LogGroup(self, "Logs", retention=log_retention)
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"Runs {handler}",
        )
        self.function = lambda_.Function(
            self,
            "Function",
            runtime=RUNTIME,
            architecture=ARCHITECTURE,
            handler=handler,
            code=code,
            layers=layers,
            description=description,
            environment=dict(environment),
            timeout=timeout,
            memory_size=memory_size,
            tracing=lambda_.Tracing.ACTIVE,
            role=self.role,
            log_group=self.log_group,
            on_failure=destinations.SqsDestination(failure_queue) if failure_queue is not None else None,
            retry_attempts=ASYNC_RETRY_ATTEMPTS if failure_queue is not None else None,
        )
        self.log_group.grant_write(self.role)
        cdk.Validations.of(self.role).acknowledge(XRAY_ACKNOWLEDGMENT)
        cdk.Validations.of(self.function).acknowledge(*RUNTIME_ACKNOWLEDGMENTS)
        if failure_queue is not None:
            cdk.Validations.of(self.function).acknowledge(
                cdk.Acknowledgment(
                    id="Serverless-LambdaDLQ",
                    reason="Asynchronous failures go to an SQS on-failure destination, the successor of "
                    "a DLQ that also records the error; configuring both would deliver each failure twice.",
                )
            )
        else:
            cdk.Validations.of(self.function).acknowledge(
                cdk.Acknowledgment(id="Serverless-LambdaDLQ", reason=str(synchronous_reason)),
                cdk.Acknowledgment(id="Serverless-LambdaAsyncFailureDestination", reason=str(synchronous_reason)),
            )


class FunctionDefaults(Construct):
    """Owns the shared code asset and dependencies layer; makes functions that use them."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: BillbridgeConfig,
        environment: Mapping[str, str],
    ) -> None:
        super().__init__(scope, construct_id)
        self._config = config
        self.environment: dict[str, str] = {
            "POWERTOOLS_SERVICE_NAME": config.service_name,
            "POWERTOOLS_LOG_LEVEL": config.log_level,
            "LOG_LEVEL": config.log_level,
            "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
            **environment,
        }
        self.code: lambda_.Code = lambda_.Code.from_asset(
            str(FUNCTIONS_DIR),
            exclude=list(CODE_ASSET_EXCLUDES),
            asset_hash_type=cdk.AssetHashType.OUTPUT,
            bundling=cdk.BundlingOptions(
                image=BUNDLING_IMAGE,
                local=CodeAssetBundler(source=FUNCTIONS_DIR),
            ),
        )
        self.dependencies_layer = lambda_.LayerVersion(
            self,
            "DependenciesLayer",
            description="Third-party runtime dependencies (layers/dependencies/requirements.txt)",
            code=lambda_.Code.from_asset(
                str(DEPENDENCIES_DIR),
                asset_hash_type=cdk.AssetHashType.OUTPUT,
                bundling=cdk.BundlingOptions(
                    image=BUNDLING_IMAGE,
                    local=DependencyLayerBundler(requirements=DEPENDENCIES_DIR / "requirements.txt"),
                ),
            ),
            compatible_runtimes=[RUNTIME],
            compatible_architectures=[ARCHITECTURE],
        )

    def new_function(
        self,
        scope: Construct,
        construct_id: str,
        *,
        handler: str,
        description: str,
        environment: Mapping[str, str] | None = None,
        timeout: cdk.Duration | None = None,
        memory_size: int = 512,
        failure_queue: sqs.IQueue | None = None,
        synchronous_reason: str | None = None,
    ) -> BillbridgeFunction:
        """A function in `scope`.

        Functions invoked asynchronously pass `failure_queue` (their on-failure destination
        after Lambda's retries); the others say in `synchronous_reason` where their failures
        go instead.
        """
        return BillbridgeFunction(
            scope,
            construct_id,
            handler=handler,
            description=description,
            code=self.code,
            layers=[self.dependencies_layer],
            environment={**self.environment, **(environment or {})},
            log_retention=log_retention(self._config),
            timeout=timeout or cdk.Duration.seconds(30),
            memory_size=memory_size,
            failure_queue=failure_queue,
            synchronous_reason=synchronous_reason,
        )


def log_retention(config: BillbridgeConfig) -> logs.RetentionDays:
    """The retention of every log group of the stack."""
    return logs.RetentionDays[config.log_retention]
