"""`billbridge sync list|show|retry`: the hub's commands to the PSA and the ERP and their outcomes.

`retry` asks the hub to send a refused, failed or unanswered command again: the
request goes on the hub's bus (`sync.retry_requested`) to the feedback consumer,
which rebuilds the payload from the contract as it is now and sends it with the
connector and credentials of the deployed functions (or of the local stack).
"""

from __future__ import annotations

import argparse
import sys

from billbridge.cli.output import emit, not_found, wants_document, warn_if_nothing_matched
from billbridge.cli.target import add_target_options, local_read_store, open_hub
from billbridge.local import read_models

TYPE_CHECKING = False  # `typing` costs ~4 ms to import: its names serve annotations only
if TYPE_CHECKING:
    from typing import Any

STATES = read_models.COMMAND_STATES


def register(subparsers: Any) -> None:
    sync = subparsers.add_parser("sync", help="commands sent to the PSA and the ERP, their outcomes, retries")
    commands = sync.add_subparsers(dest="sync_command", metavar="SUBCOMMAND")
    listing = commands.add_parser("list", help="commands and their outcomes")
    listing.add_argument("--contract", help="only this contract's commands")
    listing.add_argument("--state", choices=STATES, help="only commands in this state")
    add_target_options(listing)
    listing.set_defaults(handler=list_command)
    show = commands.add_parser("show", help="one command: payload, the system's answers, attempts")
    show.add_argument("command_id")
    add_target_options(show)
    show.set_defaults(handler=show_command)
    retry = commands.add_parser("retry", help="send a refused, failed or unanswered command again (once fixed)")
    retry.add_argument("command_id")
    add_target_options(retry, writes=True)
    retry.set_defaults(handler=retry_command)
    sync.set_defaults(handler=lambda args: (sync.print_help(), 2)[1])


def list_command(args: argparse.Namespace) -> int:
    from billbridge.cli.tables import print_table

    with local_read_store(args) as store:
        if store is not None:
            rows = read_models.command_rows(store, contract_id=args.contract, state=args.state)
        else:
            rows = _deployed_command_rows(args)
    warn_if_nothing_matched(rows, {"--contract": args.contract, "--state": args.state}, "commands")
    if wants_document(args):
        emit(args, rows, lambda: None)
        return 0
    print_table(
        ["command", "version", "state", "system id", "attempts", "answer"],
        [
            [
                r["command_id"],
                str(r["contract_version"] or "-"),
                r["state"],
                r["reference"] or "-",
                str(r["attempts"]),
                r["answer"] or "-",
            ]
            for r in rows
        ],
    )
    return 0


def _deployed_command_rows(args: argparse.Namespace) -> list[dict[str, Any]]:
    from billbridge.reporting.downstream_view import command_document

    with open_hub(args, read_only=True) as hub:
        log = hub.ledger.commands
        found = log.of_contract(args.contract) if args.contract else log.all_commands()
    return sorted(
        (command_document(c) for c in found if args.state is None or c.state.value == args.state),
        key=lambda d: (d["contract_id"], d["first_sent_at"], d["command_id"]),
    )


def show_command(args: argparse.Namespace) -> int:
    import json

    with local_read_store(args) as store:
        if store is not None:
            stored = read_models.command(store, args.command_id)
            document = None if stored is None else read_models.command_document(stored, with_payload=True)
        else:
            document = _deployed_command(args)
    if document is None:
        return not_found(f"no command {args.command_id} was sent (see `billbridge sync list`)")
    if wants_document(args):
        emit(args, document, lambda: None)
        return 0
    for key in ("command_id", "contract_id", "contract_version", "target", "state", "reference", "answer", "attempts"):
        print(f"{key:17} {document[key] if document[key] is not None else '-'}")
    print("history")
    for entry in document["history"]:
        print(f"  {entry['at']}  {entry['state']:12} {entry['answer']}")
    print("payload")
    print(json.dumps(document["payload"], indent=2, sort_keys=True))
    return 0


def _deployed_command(args: argparse.Namespace) -> dict[str, Any] | None:
    from billbridge.reporting.downstream_view import command_document

    with open_hub(args, read_only=True) as hub:
        command = hub.ledger.commands.get(args.command_id)
    return None if command is None else command_document(command, with_payload=True)


def retry_command(args: argparse.Namespace) -> int:
    from billbridge.cli.commands.operations_target import ActorError, actor_of, publisher_of
    from billbridge.reporting.downstream_view import command_document

    with open_hub(args) as hub:
        command = hub.ledger.commands.get(args.command_id)
        if command is None:
            print(f"no command {args.command_id} was sent")
            return 1
        if command.state.value == "acknowledged":
            print(f"{command.command_id} was acknowledged as {command.reference or '-'}: nothing to retry")
            return 1
        try:
            actor = actor_of(args, hub)
        except ActorError as refused:
            print(f"billbridge: {refused}", file=sys.stderr)
            return 2
        publish_retry_request(publisher_of(hub), command.command_id, command.correlation_id, actor=actor)
        hub.changed = True
        hub.drain()
        after = hub.ledger.commands.get(args.command_id) if hub.is_local else None
    if after is None:
        print(f"retry of {args.command_id} requested (by {actor}); `billbridge sync show` follows it")
        return 0
    document = command_document(after)
    if wants_document(args):
        emit(args, document, lambda: None)
    else:
        print(
            f"{after.command_id}: {after.state.value} after {after.attempts} attempt(s)"
            + (f", system id {after.reference}" if after.reference else "")
            + (f" ({after.answer})" if after.answer else "")
        )
    return 0


def publish_retry_request(publisher: Any, command_id: str, correlation_id: str, *, actor: str) -> None:
    """Put an operator's retry request on the hub's bus, for the feedback consumer."""
    import uuid

    from billbridge import topology
    from billbridge.app.ports import OutboundEvent

    request_id = f"retry-{uuid.uuid4()}"
    publisher.publish(
        [
            OutboundEvent(
                source=topology.INGEST_EVENT_SOURCE,
                detail_type=topology.SYNC_RETRY_REQUESTED,
                detail={
                    "schema_version": 1,
                    "correlationid": correlation_id,
                    "delivery": {"source": "operator", "id": request_id},
                    "event": {
                        "specversion": "1.0",
                        "source": "operator",
                        "id": request_id,
                        "type": topology.SYNC_RETRY_REQUESTED,
                        "data": {"command_id": command_id, "actor": actor},
                    },
                },
                correlation_id=correlation_id,
            )
        ]
    )


def request_retry(stack: Any, command_id: str, *, actor: str) -> None:
    """`sync retry` on a running local stack (the demo, the tests): the same request, same bus."""
    from billbridge.adapters.dynamo_ledger import DynamoLedger
    from billbridge.adapters.eventbridge_publisher import EventBridgeEventPublisher

    command = DynamoLedger(stack.names.ledger_table, client=stack.client("dynamodb")).commands.get(command_id)
    if command is None:
        raise LookupError(f"no command {command_id!r} was sent")
    publisher = EventBridgeEventPublisher(event_bus_name=stack.names.event_bus, client=stack.client("events"))
    publish_retry_request(publisher, command_id, command.correlation_id, actor=actor)
