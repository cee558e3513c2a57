"""Cold start proxy: import time of every Lambda entrypoint in fresh processes.

    python -m benchmarks.cold_start [--runs N]

The handlers are imported by the Lambda runtime's Python (3.13, found as
`python3.13` or through pyenv; else this interpreter, and the figures say so)
from a copy of the code asset and a Lambda-like site directory (the layer's
requirements plus the runtime-provided boto3), both byte-compiled first. Each
target is run `--runs` times in round-robin order (so machine noise falls on all
of them alike) and the medians are reported, beside two baselines of the same
run: a bare interpreter and a naive handler that imports Powertools' Logger,
Tracer, Metrics, APIGatewayRestResolver, pydantic and boto3 eagerly.

Two times per process: `process_ms`, the wall time of `python -c "import mod"`
seen from outside (interpreter start included), and `import_ms`, the import alone
timed inside the process.

First invocation: the webhook handler and the naive handler each import and then
handle one signed delivery against a moto server (one per process, a fresh
delivery id each time), so the cost that lazy imports move into the first call is
counted too.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from billbridge import topology

REPO_ROOT = Path(__file__).resolve().parents[1]
FUNCTIONS_DIR = REPO_ROOT / "functions"
REQUIREMENTS = REPO_ROOT / "layers" / "dependencies" / "requirements.txt"
RUNTIME_CACHE = REPO_ROOT / ".build" / "bench-runtime"
RUNTIME_VERSION = "3.13"
WEBHOOK_GOAL_RATIO = 0.60

NAIVE_MODULE = "naive_handler"
NAIVE_HANDLER_SOURCE = '''"""The usual first cut of a webhook Lambda: everything imported and built at module level."""
import json

import boto3  # noqa: F401
import pydantic  # noqa: F401
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.metrics import MetricUnit

logger = Logger()
tracer = Tracer()
metrics = Metrics()
app = APIGatewayRestResolver()


@app.post("/webhooks/<source>")
def webhook(source):
    from billbridge.app.ingest_webhook import Outcome, WebhookRequest
    from billbridge.bootstrap_webhook import build_ingest_webhook

    event = app.current_event
    headers = {k.lower(): v for k, v in (event.headers or {}).items()}
    body = event.decoded_body.encode("utf-8") if event.decoded_body is not None else b""
    result = build_ingest_webhook().handle(WebhookRequest(source=source, headers=headers, body=body))
    metrics.add_metric(name="WebhooksAccepted", unit=MetricUnit.Count, value=result.count(Outcome.ACCEPTED))
    return Response(
        status_code=result.status,
        content_type="application/json",
        body=json.dumps(result.body, default=str),
        headers=dict(result.headers or {}),
    )


def lambda_handler(event, context):
    response = app.resolve(event, context)
    metrics.flush_metrics()
    return response
'''

IMPORT_PROBE = "import time; t = time.perf_counter(); import {module}; print((time.perf_counter() - t) * 1000)"
BARE_PROBE = "print(0.0)"

FIRST_CALL_PROBE = """
import json, sys, time
events = json.load(open(sys.argv[1]))
class Context:
    function_name = "bench"; memory_limit_in_mb = 512; aws_request_id = "bench-1"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:bench"
    def get_remaining_time_in_millis(self): return 30000
t0 = time.perf_counter()
import {module} as handler
t1 = time.perf_counter()
first = handler.lambda_handler(events[0], Context())
t2 = time.perf_counter()
second = handler.lambda_handler(events[1], Context())
t3 = time.perf_counter()
print(json.dumps({{"import_ms": (t1 - t0) * 1000, "first_call_ms": (t2 - t1) * 1000,
    "second_call_ms": (t3 - t2) * 1000, "statuses": [first["statusCode"], second["statusCode"]]}}))
"""


@dataclass(frozen=True, slots=True)
class Runtime:
    command: tuple[str, ...]
    env: dict[str, str]
    version: str
    label: str


@dataclass(frozen=True, slots=True)
class Sandbox:
    runtime: Runtime
    python_path: str


def find_runtime() -> Runtime:
    """Python 3.13 (the Lambda runtime's version) if it can be found, else this interpreter."""
    candidates: list[tuple[tuple[str, ...], dict[str, str]]] = []
    for name in (f"python{RUNTIME_VERSION}", "python"):
        executable = shutil.which(name)
        if executable:
            candidates += [((executable,), {}), ((executable,), {"PYENV_VERSION": f"{RUNTIME_VERSION}.0"})]
    for command, extra in candidates:
        version = _version_of(command, extra)
        if version == RUNTIME_VERSION:
            return Runtime(command, extra, version, f"Python {version}")
    version = "{}.{}".format(*sys.version_info[:2])
    return Runtime((sys.executable,), {}, version, f"Python {version} (fallback: 3.13 not found)")


def _version_of(command: tuple[str, ...], extra: Mapping[str, str]) -> str | None:
    try:
        result = subprocess.run(
            [*command, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
            env={**os.environ, **extra},
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout.strip() if result.returncode == 0 else None


def _boto_pins() -> list[str]:
    import boto3
    import botocore

    return [f"boto3=={boto3.__version__}", f"botocore=={botocore.__version__}"]


def site_directory(runtime: Runtime) -> Path:
    """The layer's requirements plus boto3, installed for `runtime` and byte-compiled (cached)."""
    pins = _boto_pins()
    key = hashlib.sha256((REQUIREMENTS.read_text() + " ".join(pins) + runtime.version).encode()).hexdigest()[:16]
    site = RUNTIME_CACHE / f"site-{runtime.version}-{key}"
    if (site / ".complete").exists():
        return site
    shutil.rmtree(site, ignore_errors=True)
    _run(
        runtime,
        [
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--no-compile",
            "--target",
            str(site),
            "--only-binary=:all:",
            "-r",
            str(REQUIREMENTS),
            *pins,
        ],
    )
    compile_tree(runtime, site)
    (site / ".complete").write_text(key)
    return site


def compile_tree(runtime: Runtime, directory: Path) -> None:
    _run(runtime, ["-m", "compileall", "-q", "-j", "0", str(directory)])


def _run(runtime: Runtime, args: list[str]) -> None:
    subprocess.run(
        [*runtime.command, *args],
        check=True,
        env={**os.environ, **runtime.env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


@contextmanager
def sandbox(runtime: Runtime) -> Iterator[Sandbox]:
    """A byte-compiled copy of the code asset, the naive handler beside it, and the site directory."""
    site = site_directory(runtime) if runtime.version == RUNTIME_VERSION else None
    with tempfile.TemporaryDirectory(prefix="billbridge-cold-") as temp:
        task = Path(temp) / "task"
        shutil.copytree(
            FUNCTIONS_DIR / "billbridge",
            task / "billbridge",
            ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "localstack", "cli"),
        )
        (task / f"{NAIVE_MODULE}.py").write_text(NAIVE_HANDLER_SOURCE)
        compile_tree(runtime, task)
        paths = [str(task)] + ([str(site)] if site is not None else [])
        yield Sandbox(runtime, os.pathsep.join(paths))


def probe_env(box: Sandbox, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "POWERTOOLS_", "PYTHON"))}
    env.update(box.runtime.env)
    env.update(
        {
            "PYTHONPATH": box.python_path,
            "PYTHONDONTWRITEBYTECODE": "1",
            "AWS_DEFAULT_REGION": "us-east-1",
            "POWERTOOLS_SERVICE_NAME": "billbridge",
            "POWERTOOLS_METRICS_NAMESPACE": "Billbridge",
            "POWERTOOLS_TRACE_DISABLED": "true",
        }
    )
    env.update(extra or {})
    return env


def run_probe(
    box: Sandbox, code: str, args: list[str] | None = None, env: Mapping[str, str] | None = None
) -> tuple[float, str]:
    """Wall time of one fresh process (ms) and its stdout."""
    started = time.perf_counter()
    result = subprocess.run(
        [*box.runtime.command, "-s", "-c", code, *(args or [])],
        capture_output=True,
        text=True,
        env=dict(env or probe_env(box)),
        check=False,
    )
    elapsed = (time.perf_counter() - started) * 1000
    if result.returncode != 0:
        raise RuntimeError(f"probe failed: {result.stderr.strip().splitlines()[-1:]}")
    return elapsed, result.stdout.strip().splitlines()[-1]


def import_targets() -> dict[str, str]:
    """Label -> module: the baselines and every Lambda entrypoint of the topology."""

    def module_of(path: str) -> str:
        return path.rpartition(".")[0]

    targets = {
        "bare interpreter": "",
        "naive handler": NAIVE_MODULE,
        "webhook": module_of(topology.WEBHOOK_HANDLER),
    }
    targets.update({f"queue {w.name}": module_of(w.handler) for w in topology.WORKFLOWS})
    targets.update({f"task {t.name}": module_of(t.handler) for t in topology.BILLING_TASKS})
    targets["start_billing_run"] = module_of(topology.START_BILLING_RUN_HANDLER)
    return targets


def measure_imports(box: Sandbox, runs: int) -> dict[str, dict[str, float]]:
    targets = import_targets()
    samples: dict[str, list[tuple[float, float]]] = {label: [] for label in targets}
    env = probe_env(box)
    for _ in range(runs):
        for label, module in targets.items():
            code = IMPORT_PROBE.format(module=module) if module else BARE_PROBE
            wall, out = run_probe(box, code, env=env)
            samples[label].append((wall, float(out)))
    return {
        label: {
            "process_ms": round(statistics.median(s[0] for s in values), 1),
            "import_ms": round(statistics.median(s[1] for s in values), 1),
        }
        for label, values in samples.items()
    }


def with_ratios(imports: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
    naive = imports["naive handler"]
    for row in imports.values():
        row["process_ratio_to_naive"] = round(row["process_ms"] / naive["process_ms"], 2)
        row["import_ratio_to_naive"] = round(row["import_ms"] / naive["import_ms"], 2) if naive["import_ms"] else 0.0
    return imports


# -- first invocation against a moto server ------------------------------------------------------


@contextmanager
def moto_backend() -> Iterator[tuple[str, dict[str, str], dict[str, list[str]]]]:
    """A moto server with the webhook's resources; yields (endpoint, handler env, webhook secrets)."""
    import boto3
    from billbridge.localstack import resources
    from billbridge.localstack.scenario_replay import generate_webhook_secrets
    from moto.server import ThreadedMotoServer

    secrets = generate_webhook_secrets()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        session = boto3.session.Session(
            aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
        )
        names = resources.LocalNames()
        resources.create_tables(session.client("dynamodb", endpoint_url=endpoint), names)
        resources.create_bucket(session.client("s3", endpoint_url=endpoint), names)
        resources.create_queues_and_rules(
            session.client("sqs", endpoint_url=endpoint),
            session.client("events", endpoint_url=endpoint),
            names,
        )
        secret_arn = resources.create_secret(session.client("secretsmanager", endpoint_url=endpoint), names, secrets)
        env = {
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            topology.ENV_LEDGER_TABLE: names.ledger_table,
            topology.ENV_RAW_BUCKET: names.raw_bucket,
            topology.ENV_EVENT_BUS: names.event_bus,
            topology.ENV_WEBHOOK_SECRETS_ARN: secret_arn,
            topology.ENV_STATE_MACHINE_ARN: names.state_machine_arn,
            topology.ENV_CONNECTOR_MODE: "event",
        }
        yield endpoint, env, secrets
    finally:
        server.stop()


def time_entry_event(entry_id: str) -> dict[str, Any]:
    """A PSA `time_entry.approved` CloudEvent."""
    return {
        "specversion": "1.0",
        "id": f"psa-{entry_id}",
        "source": "psa",
        "type": "time_entry.approved",
        "time": "2026-03-31T18:00:00Z",
        "datacontenttype": "application/json",
        "subject": entry_id,
        "data": {
            "entry_id": entry_id,
            "revision": 1,
            "contract_id": "SOW-BENCH-0",
            "resource_id": "EMP-1",
            "role": "consultant",
            "billable": True,
            "cost_center": "CC-100",
            "work_date": "2026-03-02",
            "hours": "8",
        },
    }


def signed_proxy_event(secret: str, payload: dict[str, Any] | list[dict[str, Any]], message_id: str) -> dict[str, Any]:
    """An API Gateway REST proxy event of one signed delivery to `POST /webhooks/psa`."""
    from billbridge.app.webhook_signature import sign

    body = json.dumps(payload)
    headers = sign(secret, message_id, int(time.time()), body.encode())
    headers["Content-Type"] = (
        "application/cloudevents-batch+json" if isinstance(payload, list) else "application/cloudevents+json"
    )
    return {
        "resource": topology.WEBHOOK_ROUTE,
        "path": "/webhooks/psa",
        "httpMethod": "POST",
        "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": None,
        "pathParameters": {"source": "psa"},
        "requestContext": {
            "requestId": message_id,
            "stage": "bench",
            "resourcePath": topology.WEBHOOK_ROUTE,
            "httpMethod": "POST",
            "path": "/bench/webhooks/psa",
        },
        "body": body,
        "isBase64Encoded": False,
    }


def measure_first_invocation(box: Sandbox, runs: int) -> dict[str, dict[str, float]]:
    modules = {"webhook": topology.WEBHOOK_HANDLER.rpartition(".")[0], "naive handler": NAIVE_MODULE}
    samples: dict[str, list[dict[str, Any]]] = {label: [] for label in modules}
    with moto_backend() as (_, handler_env, secrets), tempfile.TemporaryDirectory() as temp:
        env = probe_env(box, handler_env)
        secret = secrets["psa"][0]
        for run in range(runs):
            for label, module in modules.items():
                tag = f"{label.split()[0]}-{run}"
                events = [
                    signed_proxy_event(secret, time_entry_event(f"TE-{tag}-{n}"), f"msg_{tag}_{n}") for n in (1, 2)
                ]
                events_file = Path(temp) / f"{tag}.json"
                events_file.write_text(json.dumps(events))
                wall, out = run_probe(box, FIRST_CALL_PROBE.format(module=module), [str(events_file)], env)
                result = json.loads(out)
                if result["statuses"] != [202, 202] and result["statuses"] != [200, 200]:
                    raise RuntimeError(f"{label}: unexpected statuses {result['statuses']}")
                samples[label].append(result | {"process_ms": wall})
    return {
        label: {
            key: round(statistics.median(float(s[key]) for s in values), 1)
            for key in ("import_ms", "first_call_ms", "second_call_ms", "process_ms")
        }
        | {
            "import_plus_first_call_ms": round(
                statistics.median(s["import_ms"] + s["first_call_ms"] for s in values), 1
            )
        }
        for label, values in samples.items()
    }


def run(runs: int = 11, first_call_runs: int = 5) -> dict[str, Any]:
    runtime = find_runtime()
    with sandbox(runtime) as box:
        imports = with_ratios(measure_imports(box, runs))
        first = measure_first_invocation(box, first_call_runs)
    webhook, naive = first["webhook"], first["naive handler"]
    return {
        "python": runtime.label,
        "runs": runs,
        "first_call_runs": first_call_runs,
        "imports": imports,
        "first_invocation": first,
        "webhook_import_ratio_to_naive": imports["webhook"]["import_ratio_to_naive"],
        "webhook_process_ratio_to_naive": imports["webhook"]["process_ratio_to_naive"],
        "webhook_first_invocation_ratio_to_naive": round(
            webhook["import_plus_first_call_ms"] / naive["import_plus_first_call_ms"], 2
        ),
        "goal_webhook_import_ratio_max": WEBHOOK_GOAL_RATIO,
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=11, help="fresh processes per import target")
    parser.add_argument("--first-call-runs", type=int, default=5, help="fresh processes per first-invocation target")
    args = parser.parse_args(argv)
    figures = run(args.runs, args.first_call_runs)
    print(json.dumps(figures, indent=2))
    return figures


if __name__ == "__main__":
    main()
