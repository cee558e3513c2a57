"""moto's Batch package body waits until something uses Batch; the billing interpreter loads without it."""

from __future__ import annotations

import subprocess
import sys
import textwrap

PROGRAM = textwrap.dedent(
    """
    import os, sys
    os.environ.update(AWS_DEFAULT_REGION="us-east-1", AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing")
    import boto3
    from moto import mock_aws
    from billbridge.local.deferred_imports import defer_batch_models

    assert defer_batch_models() is True
    assert defer_batch_models() is False
    import moto.stepfunctions.parser.models  # the interpreter, with its Batch integration
    from moto.batch.utils import JobStatus
    assert "moto.ec2.models" not in sys.modules, "EC2 models loaded with the interpreter"
    assert JobStatus.SUCCEEDED.value == "SUCCEEDED"
    with mock_aws():
        batch = boto3.client("batch")
        assert batch.describe_compute_environments()["computeEnvironments"] == []
        ec2 = boto3.client("ec2")
        assert ec2.describe_availability_zones()["AvailabilityZones"]
    import moto.batch
    assert moto.batch.batch_backends is not None
    print("ok")
    """
)


def test_batch_is_imported_when_used_and_not_with_the_interpreter() -> None:
    result = subprocess.run([sys.executable, "-c", PROGRAM], capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "ok"
