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
import urllib.request
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
TOP_IMPORTS = 10

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
    from billbridge.bootstrap import ingest_webhook
    from billbridge.entrypoints.api.webhook_http import http_answer

    event = app.current_event
    headers = {k.lower(): v for k, v in (event.headers or {}).items()}
    body = event.decoded_body.encode("utf-8") if event.decoded_body is not None else b""
    result = http_answer(ingest_webhook().handle(WebhookRequest(source=source, headers=headers, body=body)))
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
            ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "local", "cli"),
        )
        (task / f"{NAIVE_MODULE}.py").write_text(NAIVE_HANDLER_SOURCE)
        for point in entrypoints():
            (task / f"{naive_module_name(point)}.py").write_text(naive_source(point))
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
            # What the Lambda runtime sets: the X-Ray SDK reads LAMBDA_TASK_ROOT to pick its Lambda
            # sampler (outside Lambda it builds two X-Ray API clients at import, ~0.3 s here).
            "LAMBDA_TASK_ROOT": box.python_path.split(os.pathsep)[0],
            "AWS_LAMBDA_FUNCTION_NAME": "bench",
            "AWS_EXECUTION_ENV": f"AWS_Lambda_python{RUNTIME_VERSION}",
        }
    )
    env.update(extra or {})
    return env


def run_probe(
    box: Sandbox,
    code: str,
    args: list[str] | None = None,
    env: Mapping[str, str] | None = None,
    importtime: dict[str, float] | None = None,
) -> tuple[float, str]:
    """Wall time of one fresh process (ms) and its stdout; with `importtime`, the process runs
    under `-X importtime` and the dictionary receives its self time per package (ms)."""
    started = time.perf_counter()
    flags = ["-X", "importtime"] if importtime is not None else []
    result = subprocess.run(
        [*box.runtime.command, "-s", *flags, "-c", code, *(args or [])],
        capture_output=True,
        text=True,
        env=dict(env or probe_env(box)),
        check=False,
    )
    elapsed = (time.perf_counter() - started) * 1000
    if result.returncode != 0:
        raise RuntimeError(f"probe failed: {result.stderr.strip().splitlines()[-1:]}")
    if importtime is not None:
        importtime.update(self_time_by_package(result.stderr))
    return elapsed, result.stdout.strip().splitlines()[-1]


def package_of(module: str) -> str:
    """What a `-X importtime` line is counted under: the top-level package, or for our own code
    its module (`billbridge.domain.model`), where the choices are ours to make."""
    parts = module.strip().split(".")
    return ".".join(parts[:3]) if parts[0] == "billbridge" else parts[0]


def self_time_by_package(stderr: str) -> dict[str, float]:
    totals: dict[str, float] = {}
    for line in stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        self_us, _cumulative, module = line.removeprefix("import time:").split("|", 2)
        key = package_of(module)
        totals[key] = totals.get(key, 0.0) + float(self_us) / 1000
    return totals


def top_imports(totals: Mapping[str, float], n: int = TOP_IMPORTS) -> list[list[Any]]:
    return [[name, round(ms, 1)] for name, ms in sorted(totals.items(), key=lambda kv: kv[1], reverse=True)[:n]]


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
    targets["publish_kpis"] = module_of(topology.PUBLISH_KPIS_HANDLER)
    targets["poll_vendor_source"] = module_of(topology.POLL_VENDOR_HANDLER)
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
    from billbridge.local import resources
    from billbridge.local.scenario_replay import generate_webhook_secrets
    from moto.server import ThreadedMotoServer

    secrets = generate_webhook_secrets()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST")).close()
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
    """The webhook against its own naive handler: import, first and second signed delivery."""
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
        importtime: dict[str, float] = {}  # one more webhook process under -X importtime (not timed)
        events = [signed_proxy_event(secret, time_entry_event(f"TE-importtime-{n}"), f"msg_it_{n}") for n in (1, 2)]
        events_file = Path(temp) / "importtime.json"
        events_file.write_text(json.dumps(events))
        run_probe(box, FIRST_CALL_PROBE.format(module=modules["webhook"]), [str(events_file)], env, importtime)
    figures: dict[str, dict[str, Any]] = {
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
    figures["webhook"]["top_imports_ms"] = top_imports(importtime)  # type: ignore[assignment]
    return figures


# -- first handled event of every entrypoint -----------------------------------------------------

NAIVE_PRELUDE = """import boto3  # noqa: F401
import pydantic  # noqa: F401
from aws_lambda_powertools import Logger, Metrics, Tracer
{extra}
logger = Logger()
tracer = Tracer()
metrics = Metrics()
"""
NAIVE_EXTRA = {
    "queue": (
        "from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response"
        "  # noqa: F401"
    ),
    "task": "",
    "schedule": "",
}

EVENT_PROBE = """
import json, sys, time
event = json.load(open(sys.argv[1]))
class Context:
    function_name = "bench"; memory_limit_in_mb = 512; aws_request_id = "bench-1"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:bench"
    def get_remaining_time_in_millis(self): return 30000
t0 = time.perf_counter()
import {module} as handler
t1 = time.perf_counter()
try:
    result, error = handler.lambda_handler(event, Context()), None
except Exception as failure:
    result, error = None, type(failure).__name__
t2 = time.perf_counter()
print(json.dumps({{"import_ms": (t1 - t0) * 1000, "first_call_ms": (t2 - t1) * 1000, "result": result,
    "error": error}}, default=str))
"""


@dataclass(frozen=True, slots=True)
class Entrypoint:
    label: str
    module: str
    kind: str  # queue, task or schedule: which naive prelude stands beside it


def entrypoints() -> list[Entrypoint]:
    """Every entrypoint in the order of a month's flow (later inputs use earlier results)."""

    def module_of(path: str) -> str:
        return path.rpartition(".")[0]

    tasks = {t.name: module_of(t.handler) for t in topology.BILLING_TASKS}
    queues = {w.name: module_of(w.handler) for w in topology.WORKFLOWS}
    flow = (
        ("queue", "contracts"),
        ("queue", "actuals"),
        ("task", "select_contracts"),
        ("task", "compose_invoice"),
        ("task", "post_invoice"),
        ("queue", "feedback"),
        ("task", "conclude_batch"),
        ("task", "conclude_run"),
        ("task", "record_failure"),
    )
    found = [
        Entrypoint(f"{kind} {name}", (queues if kind == "queue" else tasks)[name], kind)
        for kind, name in flow
        if name in (queues if kind == "queue" else tasks)
    ]
    named = {point.label for point in found}
    found += [Entrypoint(f"queue {n}", m, "queue") for n, m in queues.items() if f"queue {n}" not in named]
    found += [Entrypoint(f"task {n}", m, "task") for n, m in tasks.items() if f"task {n}" not in named]
    found += [
        Entrypoint("start_billing_run", module_of(topology.START_BILLING_RUN_HANDLER), "schedule"),
        Entrypoint("publish_kpis", module_of(topology.PUBLISH_KPIS_HANDLER), "schedule"),
    ]
    return found


def naive_module_name(entrypoint: Entrypoint) -> str:
    return "naive_" + entrypoint.module.rpartition(".")[2]


def naive_source(entrypoint: Entrypoint) -> str:
    """The same handler behind the usual eager module prelude (Powertools objects, pydantic, boto3)."""
    prelude = NAIVE_PRELUDE.format(extra=NAIVE_EXTRA[entrypoint.kind])
    return (
        f'"""{entrypoint.label}, the usual first cut: everything imported and built at module level."""\n'
        f"{prelude}\nfrom {entrypoint.module} import lambda_handler as _handler\n\n\n"
        "def lambda_handler(event, context):\n"
        "    response = _handler(event, context)\n"
        "    metrics.flush_metrics()\n"
        "    return response\n"
    )


def bus_event(raw: dict[str, Any]) -> dict[str, Any]:
    """The bus event the webhook publishes for one accepted CloudEvent (`IngestWebhook._outbound`)."""
    return {
        "version": "0",
        "id": f"bus-{raw['id']}",
        "detail-type": raw["type"],
        "source": topology.INGEST_EVENT_SOURCE,
        "account": "123456789012",
        "time": raw["time"],
        "region": "us-east-1",
        "resources": [],
        "detail": {
            "schema_version": 1,
            "correlationid": f"corr-{raw['id']}",
            "delivery": {
                "source": raw["source"],
                "id": raw["id"],
                "webhook_id": f"msg_{raw['id']}",
                "raw_key": f"inline/{raw['source']}/{raw['id']}",
                "received_at": raw["time"],
            },
            "event": raw,
        },
    }


def sqs_event(raw: dict[str, Any], queue: str) -> dict[str, Any]:
    """An SQS batch of one record carrying `raw`'s bus event (what the queue's Lambda poller hands over)."""
    return {
        "Records": [
            {
                "messageId": f"sqs-{raw['id']}",
                "receiptHandle": f"handle-{raw['id']}",
                "body": json.dumps(bus_event(raw)),
                "attributes": {
                    "ApproximateReceiveCount": "1",
                    "SentTimestamp": "1774980000000",
                    "SenderId": "AIDAEXAMPLE",
                    "ApproximateFirstReceiveTimestamp": "1774980000000",
                },
                "messageAttributes": {},
                "md5OfBody": hashlib.md5(json.dumps(bus_event(raw)).encode()).hexdigest(),
                "eventSource": "aws:sqs",
                "eventSourceARN": f"arn:aws:sqs:us-east-1:123456789012:{queue}",
                "awsRegion": "us-east-1",
            }
        ]
    }


def cloud_event(source: str, event_id: str, event_type: str, data: dict[str, Any], subject: str) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": event_id,
        "source": source,
        "type": event_type,
        "time": "2026-03-31T18:00:00Z",
        "datacontenttype": "application/json",
        "subject": subject,
        "data": data,
    }


def contract_approved(contract_id: str) -> dict[str, Any]:
    """A CLM `contract.approved` (the shape of docs/spec/events.md, as in tests/scenarios)."""
    return cloud_event(
        "clm",
        f"clm-{contract_id}",
        "contract.approved",
        {
            "contract_id": contract_id,
            "version": 1,
            "effective_date": "2026-01-01",
            "customer_id": f"CUST-{contract_id}",
            "legal_entity": "US01",
            "currency": "USD",
            "tax_jurisdiction": "US-NY",
            "start_date": "2026-01-01",
            "end_date": "2026-12-31",
            "rate_card": [{"role": "consultant", "rate": "150.00"}, {"resource_id": "EMP-7", "rate": "225.00"}],
            "expense_policy": {"billable_categories": ["travel"], "markup_pct": "0.10"},
            "cost_centers": ["CC-100"],
        },
        contract_id,
    )


def time_entry_approved(contract_id: str) -> dict[str, Any]:
    event = time_entry_event(f"TE-{contract_id}")
    event["data"]["contract_id"] = contract_id
    return event


def invoice_posted(contract_id: str, proposal_id: str) -> dict[str, Any]:
    """The ERP's `invoice.posted` for the proposal the chain's ComposeInvoice made."""
    return cloud_event(
        "erp",
        f"erp-{contract_id}",
        "invoice.posted",
        {
            "proposal_id": proposal_id,
            "invoice_number": f"INV-{contract_id}",
            "posting_date": "2026-03-02",
            "subtotal": "1200.00",
            "tax": "106.50",
            "total": "1306.50",
            "currency": "USD",
        },
        proposal_id,
    )


WAITING_DEFINITION = json.dumps({"StartAt": "Started", "States": {"Started": {"Type": "Pass", "End": True}}})
"""The state machine the scheduled start finds (moto records executions without running them)."""

BENCH_CONFIG: dict[str, Any] = {
    "tax_rates": [{"jurisdiction": "US-NY", "rate": "0.08875", "effective_from": "2020-01-01"}],
    "legal_entities": [{"legal_entity": "US01", "erp_instance": "erp-us"}],
}


def event_for(label: str, contract_id: str, results: Mapping[str, Any]) -> dict[str, Any]:
    """The first input of `label` for one contract's chain, built from the chain's earlier results."""
    run_id = f"run-{contract_id}"
    plan = results.get("task select_contracts") or {}
    if label == "queue contracts":
        return sqs_event(contract_approved(contract_id), "contracts")
    if label == "queue actuals":
        return sqs_event(time_entry_approved(contract_id), "actuals")
    if label == "queue feedback":
        proposal_id = (results.get("task compose_invoice") or {}).get("proposal_id") or f"{contract_id}-2026-03-1"
        return sqs_event(invoice_posted(contract_id, str(proposal_id)), "feedback")
    if label == "task select_contracts":
        return {"period": "2026-03", "contract_ids": [contract_id], "run_id": run_id}
    if label in ("task compose_invoice", "task post_invoice"):
        return {"contract_id": contract_id, "period": "2026-03", "run_id": run_id, "correlation_id": run_id}
    if label == "task conclude_batch":
        return {
            "workspace": plan.get("workspace", f"runs/{run_id}/"),
            "batch": {"batch": 0, "contract_ids": [contract_id]},
            "outcomes": [{"contract_id": contract_id, "outcome": "invoiced"}],
        }
    if label == "task conclude_run":
        return {
            "run_id": run_id,
            "plan": plan or {"workspace": f"runs/{run_id}/", "contract_count": 1, "batch_count": 1},
        }
    if label == "task record_failure":
        return {
            "contract_id": contract_id,
            "period": "2026-03",
            "run_id": run_id,
            "error": {"Error": "States.Timeout", "Cause": "benchmark: a step that timed out"},
        }
    if label == "start_billing_run":
        return {"id": f"tick-{contract_id}", "time": "2026-04-01T00:00:00Z", "detail-type": "Scheduled Event"}
    if label == "publish_kpis":
        return {"as_of": "2026-03-31"}
    raise KeyError(label)


@contextmanager
def full_backend() -> Iterator[dict[str, str]]:
    """The webhook's resources plus the billing-run bucket, a state machine and the configuration."""
    import boto3
    from billbridge.local import resources

    with moto_backend() as (endpoint, env, _):
        names = resources.LocalNames()
        session = boto3.session.Session(
            aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
        )
        resources.create_state_machine(
            session.client("stepfunctions", endpoint_url=endpoint), names, WAITING_DEFINITION
        )
        env = env | {topology.ENV_BILLING_RUN_BUCKET: names.billing_run_bucket}
        with _environment(env | {"AWS_DEFAULT_REGION": "us-east-1"}):
            from billbridge import bootstrap
            from billbridge.app.billing_config_document import billing_config_from

            bootstrap.reset()
            bootstrap.ledger().save_config(billing_config_from(BENCH_CONFIG))
            bootstrap.reset()
        yield env


@contextmanager
def _environment(values: Mapping[str, str]) -> Iterator[None]:
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def measure_first_events(box: Sandbox, runs: int) -> dict[str, dict[str, Any]]:
    """Import + first handled event of every entrypoint beside its naive twin, fresh processes, round-robin."""
    points = entrypoints()
    samples: dict[str, dict[str, list[dict[str, Any]]]] = {p.label: {"hub": [], "naive": []} for p in points}
    with full_backend() as handler_env, tempfile.TemporaryDirectory() as temp:
        env = probe_env(box, handler_env)
        for run in range(runs):
            for variant in ("hub", "naive"):
                contract_id = f"SOW-COLD-{run}-{variant}"
                results: dict[str, Any] = {}
                for point in points:
                    module = point.module if variant == "hub" else naive_module_name(point)
                    event_file = Path(temp) / f"{contract_id}-{point.label.replace(' ', '-')}.json"
                    event_file.write_text(json.dumps(event_for(point.label, contract_id, results)))
                    wall, out = run_probe(box, EVENT_PROBE.format(module=module), [str(event_file)], env)
                    result = json.loads(out)
                    results[point.label] = result["result"]
                    samples[point.label][variant].append(result | {"process_ms": wall})
        importtimes = {point.label: dict[str, float]() for point in points}
        contract_id = "SOW-COLD-importtime"
        results = {}
        for point in points:  # one more chain under -X importtime (not timed: the flag slows imports)
            event_file = Path(temp) / f"{contract_id}-{point.label.replace(' ', '-')}.json"
            event_file.write_text(json.dumps(event_for(point.label, contract_id, results)))
            _, out = run_probe(
                box,
                EVENT_PROBE.format(module=point.module),
                [str(event_file)],
                env,
                importtime=importtimes[point.label],
            )
            results[point.label] = json.loads(out)["result"]
    figures: dict[str, dict[str, Any]] = {}
    for label, by_variant in samples.items():
        row: dict[str, Any] = {}
        for variant, values in by_variant.items():
            row[variant] = {
                "import_ms": round(statistics.median(v["import_ms"] for v in values), 1),
                "first_event_ms": round(statistics.median(v["first_call_ms"] for v in values), 1),
                "import_plus_first_event_ms": round(
                    statistics.median(v["import_ms"] + v["first_call_ms"] for v in values), 1
                ),
                "process_ms": round(statistics.median(v["process_ms"] for v in values), 1),
                "errors": sorted({v["error"] for v in values if v["error"]}),
            }
        row["import_ratio"] = (
            round(row["hub"]["import_ms"] / row["naive"]["import_ms"], 2) if row["naive"]["import_ms"] else 0.0
        )
        row["cold_ratio"] = round(
            row["hub"]["import_plus_first_event_ms"] / row["naive"]["import_plus_first_event_ms"], 2
        )
        row["top_imports_ms"] = top_imports(importtimes[label])
        figures[label] = row
    return figures


def run(runs: int = 11, first_call_runs: int = 5, first_event_runs: int = 5) -> dict[str, Any]:
    runtime = find_runtime()
    with sandbox(runtime) as box:
        imports = with_ratios(measure_imports(box, runs))
        first = measure_first_invocation(box, first_call_runs)
        first_events = measure_first_events(box, first_event_runs)
    webhook, naive = first["webhook"], first["naive handler"]
    cold_ratio = round(webhook["import_plus_first_call_ms"] / naive["import_plus_first_call_ms"], 2)
    return {
        "python": runtime.label,
        "runs": runs,
        "first_call_runs": first_call_runs,
        "first_event_runs": first_event_runs,
        "imports": imports,
        "first_invocation": first,
        "first_events": first_events,
        "goals": goals(cold_ratio, first_events),
        "webhook_import_ratio_to_naive": imports["webhook"]["import_ratio_to_naive"],
        "webhook_process_ratio_to_naive": imports["webhook"]["process_ratio_to_naive"],
        "webhook_first_invocation_ratio_to_naive": cold_ratio,
        "goal_webhook_import_ratio_max": WEBHOOK_GOAL_RATIO,
    }


GOAL_WEBHOOK_COLD = 0.40
GOAL_CONSUMER_COLD = 0.50
GOAL_TASK_IMPORT = 0.10
GOAL_TASK_COLD = 0.40


def goals(webhook_cold_ratio: float, first_events: Mapping[str, Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Issue 19's goals, each with its measured ratio (worst row of its kind) and verdict."""

    def worst(prefix: str, key: str) -> tuple[str, float]:
        rows = {label: row[key] for label, row in first_events.items() if label.startswith(prefix)}
        label = max(rows, key=lambda name: rows[name])
        return label, rows[label]

    found = [{"goal": "webhook cold request", "row": "webhook", "ratio": webhook_cold_ratio, "max": GOAL_WEBHOOK_COLD}]
    for goal, prefix, key, limit in (
        ("queue consumers, import + first batch", "queue ", "cold_ratio", GOAL_CONSUMER_COLD),
        ("workflow tasks, import", "task ", "import_ratio", GOAL_TASK_IMPORT),
        ("workflow tasks, import + first task", "task ", "cold_ratio", GOAL_TASK_COLD),
    ):
        label, ratio = worst(prefix, key)
        found.append({"goal": goal, "row": label, "ratio": ratio, "max": limit})
    for item in found:
        item["met"] = item["ratio"] <= item["max"]
    return found


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=11, help="fresh processes per import target")
    parser.add_argument("--first-call-runs", type=int, default=5, help="fresh processes per first-invocation target")
    parser.add_argument("--first-event-runs", type=int, default=5, help="rounds of every entrypoint's first event")
    parser.add_argument("--only-first-events", action="store_true", help="skip the import table and the webhook rows")
    args = parser.parse_args(argv)
    if args.only_first_events:
        with sandbox(find_runtime()) as box:
            figures: dict[str, Any] = {"first_events": measure_first_events(box, args.first_event_runs)}
        print(json.dumps(figures, indent=2))
        return figures
    figures = run(args.runs, args.first_call_runs, args.first_event_runs)
    print(json.dumps(figures, indent=2))
    return figures


if __name__ == "__main__":
    main()
