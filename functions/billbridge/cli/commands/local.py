"""`billbridge local serve|reset`: run the hub on this machine, with moto standing in for AWS."""

from __future__ import annotations

import argparse
import json
import signal
import sys
from pathlib import Path
from types import FrameType
from typing import Any

from billbridge import topology
from billbridge.cli import environment

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8787
READ_TOKEN_ENV_VAR = environment.READ_TOKEN


def register(subparsers: Any) -> None:
    local = subparsers.add_parser("local", help="run the hub locally (moto stands in for AWS)")
    commands = local.add_subparsers(dest="local_command", metavar="SUBCOMMAND")

    serve = commands.add_parser("serve", help="serve POST /webhooks/{source} on this machine")
    serve.add_argument("--host", default=DEFAULT_HOST, help=f"address to bind (default {DEFAULT_HOST})")
    serve.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT}; 0 = any)")
    serve.add_argument(
        "--secrets",
        type=Path,
        required=True,
        help='JSON file of webhook secrets per source: {"clm": ["whsec_..."], "psa": [...], ...}',
    )
    _add_vendors_option(serve)
    serve.add_argument(
        "--read-token",
        default=None,
        metavar="TOKEN",
        help=f"the bearer token the read routes (GET /contracts, /invoices, ...) require "
        f"(default ${READ_TOKEN_ENV_VAR}, else a new random one, printed at start)",
    )
    serve.add_argument(
        "--poll-every",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="the local scheduler: run every configured vendor poller this often (default 0: never)",
    )
    _add_state_option(serve)
    serve.set_defaults(handler=serve_command)

    poll = commands.add_parser("poll", help="run one poll of a vendor without webhooks (e.g. erp/netsuite)")
    poll.add_argument("source", metavar="SOURCE", help="the poller: source/vendor (erp/netsuite) or the vendor name")
    poll.add_argument(
        "--secrets",
        type=Path,
        required=True,
        help='JSON file of secrets, with the vendor\'s API credentials: {"api:erp/netsuite": ["<token>"], ...}',
    )
    _add_vendors_option(poll, required=True)
    _add_state_option(poll)
    poll.set_defaults(handler=poll_command)

    reset = commands.add_parser("reset", help="forget the saved local state")
    _add_state_option(reset)
    reset.set_defaults(handler=reset_command)

    local.set_defaults(handler=lambda args: _usage(local))


def _add_state_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--state-file",
        metavar="PATH",
        default=None,
        help="the local state, an SQLite database several processes share "
        "(default $BILLBRIDGE_STATE_FILE or .billbridge/local-state.sqlite)",
    )


def _add_vendors_option(parser: argparse.ArgumentParser, *, required: bool = False) -> None:
    parser.add_argument(
        "--vendors",
        type=Path,
        required=required,
        default=None,
        help='JSON file of the vendor adapters\' configuration: {"erp/netsuite": {"api_base_url": ...}, ...} '
        "(docs/adapters.md)",
    )


def _vendor_environment(args: argparse.Namespace) -> dict[str, str]:
    """The functions' environment for the vendor adapters (the file's JSON, checked first)."""
    if getattr(args, "vendors", None) is None:
        return {}
    from billbridge.adapters.vendors.vendor_registry import read_configuration

    text = Path(args.vendors).read_text(encoding="utf-8")
    read_configuration(text)
    return {topology.ENV_VENDOR_ADAPTERS: text}


def _poller_name(text: str) -> str:
    if "/" in text:
        return text
    matches = [p.name for p in topology.VENDOR_POLLERS if p.vendor == text or p.source == text]
    if len(matches) != 1:
        known = ", ".join(p.name for p in topology.VENDOR_POLLERS)
        raise ValueError(f"{text!r} names no single poller; pollers: {known}")
    return matches[0]


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2


def _state_path(args: argparse.Namespace) -> Path:
    from billbridge.local.store import default_state_path

    return Path(args.state_file) if args.state_file is not None else default_state_path()


def read_secrets(path: Path) -> dict[str, list[str]]:
    document = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(document, dict) or not all(
        isinstance(v, list) and all(isinstance(s, str) for s in v) for v in document.values()
    ):
        raise ValueError(f'{path}: expected {{"<source>": ["whsec_...", ...], ...}}')
    return {str(k): list(v) for k, v in document.items()}


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def serve_command(args: argparse.Namespace) -> int:
    from billbridge.local.definition import DefinitionUnavailableError
    from billbridge.local.http_server import LocalWebhookServer
    from billbridge.local.stack import LocalStack
    from billbridge.local.store import LocalStateError

    try:
        secrets = read_secrets(args.secrets)
    except (OSError, ValueError) as error:
        print(f"billbridge local serve: cannot read secrets: {error}", file=sys.stderr)
        return 2
    state = _state_path(args)
    try:
        vendor_env = _vendor_environment(args)
    except (OSError, ValueError) as error:
        print(f"billbridge local serve: cannot read the vendor configuration: {error}", file=sys.stderr)
        return 2
    try:
        stack = LocalStack(secrets=secrets, state_file=state, extra_env=vendor_env)
        stack.__enter__()
    except (DefinitionUnavailableError, LocalStateError, ValueError) as error:
        print(f"billbridge local serve: {error}", file=sys.stderr)
        return 2 if isinstance(error, LocalStateError) else 1
    try:
        server = LocalWebhookServer(stack, args.host, args.port, request_log=sys.stderr, read_token=_read_token(args))
    except OSError as error:
        stack.__exit__(None, None, None)
        print(f"billbridge local serve: cannot listen on {args.host}:{args.port}: {error}", file=sys.stderr)
        return 1
    previous_sigterm = signal.signal(signal.SIGTERM, _raise_interrupt)
    print(f"billbridge local stack ready in {stack.started_in_seconds:.1f} s", flush=True)
    print(f"listening on {server.url}{topology.WEBHOOK_ROUTE}", flush=True)
    print(f"sources: {', '.join(topology.WEBHOOK_SOURCES)}", flush=True)
    if vendor_env:
        configured = sorted(json.loads(vendor_env[topology.ENV_VENDOR_ADAPTERS]))
        print(f"vendors: {', '.join(configured)} (POST /webhooks/{{source}}/{{vendor}}; docs/adapters.md)", flush=True)
    print(f"state: {state} (each request committed before its response)", flush=True)
    print(f"read API: GET {server.url}{{{', '.join(topology.READ_API_ROUTES)}}}", flush=True)
    print(f"read token: Authorization: Bearer {server.read_token}", flush=True)
    vendor_config = json.loads(vendor_env.get(topology.ENV_VENDOR_ADAPTERS, "") or "{}")
    pollers = [p for p in topology.VENDOR_POLLERS if p.name in vendor_config]
    scheduler = _start_local_scheduler(stack, args.poll_every, pollers) if args.poll_every > 0 and pollers else None
    try:
        server.serve_forever(poll_interval=0.1)
    except KeyboardInterrupt:
        print("shutting down", flush=True)
    finally:
        signal.signal(signal.SIGTERM, previous_sigterm)
        if scheduler is not None:
            scheduler.set()
        server.server_close()
        stack.__exit__(None, None, None)
    return 0


def _read_token(args: argparse.Namespace) -> str:
    """`--read-token`, else $BILLBRIDGE_READ_TOKEN, else a new random token (printed at start)."""
    import secrets

    return str(args.read_token or environment.read_token() or secrets.token_urlsafe(24))


def reset_command(args: argparse.Namespace) -> int:
    state = _state_path(args)
    removed = [p for p in (state, Path(f"{state}-wal"), Path(f"{state}-shm")) if p.exists()]
    for path in removed:
        path.unlink()
    print(f"removed {state}" if removed else f"no local state at {state}")
    return 0


def _start_local_scheduler(stack: Any, every_seconds: float, pollers: list[topology.VendorPoller]) -> Any:
    """The local stand-in for EventBridge Scheduler: every configured poller (an unconfigured one is
    deployed disabled), every `every_seconds`, one at a time."""
    import threading

    stop = threading.Event()

    def run() -> None:
        while not stop.wait(every_seconds):
            for poller in pollers:
                try:
                    with stack.unit_of_work():
                        report = stack.poll_vendor(poller.name)
                        stack.drain()
                    print(
                        f"poll {poller.name}: {report['accepted']} accepted, {report['duplicates']} duplicates",
                        flush=True,
                    )
                except Exception as error:  # one failed poll must not stop the scheduler
                    print(f"poll {poller.name} failed: {error}", file=sys.stderr, flush=True)

    threading.Thread(target=run, name="billbridge-local-scheduler", daemon=True).start()
    print(f"scheduler: {', '.join(p.name for p in pollers)} every {every_seconds:g} s", flush=True)
    return stop


def poll_command(args: argparse.Namespace) -> int:
    from billbridge.local.definition import DefinitionUnavailableError
    from billbridge.local.stack import LocalStack
    from billbridge.local.store import LocalStateError

    try:
        name = _poller_name(args.source)
        secrets = read_secrets(args.secrets)
        vendor_env = _vendor_environment(args)
    except (OSError, ValueError) as error:
        print(f"billbridge local poll: {error}", file=sys.stderr)
        return 2
    try:
        with (
            LocalStack(secrets=secrets, state_file=_state_path(args), extra_env=vendor_env, lazy_billing=True) as stack,
            stack.unit_of_work(),
        ):
            try:
                report = stack.poll_vendor(name)
                failure = None
            except Exception as error:
                report, failure = None, error
            summary = stack.drain()
    except (DefinitionUnavailableError, LocalStateError, ValueError) as error:
        print(f"billbridge local poll: {error}", file=sys.stderr)
        return 2
    if failure is not None:
        print(f"billbridge local poll {name}: {failure}", file=sys.stderr)
        return 1
    assert report is not None
    print(json.dumps(report, indent=2))
    print(f"drained: {summary.as_dict()['queues']}", file=sys.stderr)
    return 0
