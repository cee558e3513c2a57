"""`billbridge dlq list|show|redrive|delete` and `billbridge replay-archive`: recovering deliveries."""

from __future__ import annotations

import argparse
import sys
import time

from billbridge.cli.output import emit, wants_document
from billbridge.cli.target import add_target_options, local_read_store, open_hub
from billbridge.local import read_models

TYPE_CHECKING = False  # `typing` costs ~4 ms to import: its names serve annotations only
if TYPE_CHECKING:
    from typing import Any

QUEUE_HELP = (
    "dead-letter queue: a workflow (contracts, actuals, feedback), its delivery DLQ (contracts-delivery, ...), "
    "billing-start, kpi-publisher, a poller's (poll-erp-netsuite), or the queue's name"
)
MOVE_TASK_POLL_SECONDS = 2.0


def register(subparsers: Any) -> None:
    dlq = subparsers.add_parser(
        "dlq", help="dead-letter queues: depth, messages and their errors, redrive, delete (every DLQ of the hub)"
    )
    commands = dlq.add_subparsers(dest="dlq_command", metavar="SUBCOMMAND")

    listing = commands.add_parser("list", help="every dead-letter queue's depth")
    add_target_options(listing)
    listing.set_defaults(handler=list_command)

    show = commands.add_parser("show", help="the messages of a DLQ with their error and correlation id")
    show.add_argument("queue", help=QUEUE_HELP)
    show.add_argument("--limit", type=int, default=20, help="at most this many messages (default 20)")
    add_target_options(show)
    show.set_defaults(handler=show_command)

    redrive = commands.add_parser(
        "redrive",
        help="send a DLQ's messages (or one, --message-id) back where they failed: the workflow queue, "
        "or the scheduled function invoked again",
    )
    redrive.add_argument("queue", help=QUEUE_HELP)
    redrive.add_argument("--message-id", help="only this message (its id from `dlq show`)")
    redrive.add_argument("--dry-run", action="store_true", help="say what would move, move nothing")
    redrive.add_argument(
        "--wait",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="on a deployed stack, follow the SQS message move task's progress this long (default 60; 0: don't)",
    )
    add_target_options(redrive)
    redrive.set_defaults(handler=redrive_command)

    delete = commands.add_parser("delete", help="remove one message from a DLQ for good (after reading it)")
    delete.add_argument("queue", help=QUEUE_HELP)
    delete.add_argument("--message-id", required=True, help="the message's id (from `dlq show`)")
    add_target_options(delete)
    delete.set_defaults(handler=delete_command)

    dlq.set_defaults(handler=lambda args: (dlq.print_help(), 2)[1])

    replay = subparsers.add_parser(
        "replay-archive",
        help="replay the canonical events received in a time window (idempotent: nothing is billed twice)",
    )
    replay.add_argument("--from", dest="start", required=True, help="start: YYYY-MM-DD or ISO 8601 time (UTC)")
    replay.add_argument("--to", dest="end", required=True, help="end: YYYY-MM-DD (whole day) or ISO 8601 time")
    replay.add_argument("--name", help="replay name on AWS (default: derived from the window)")
    add_target_options(replay)
    replay.set_defaults(handler=replay_archive_command)


def _refuse(message: str) -> int:
    print(f"billbridge: {message}", file=sys.stderr)
    return 2


def list_command(args: argparse.Namespace) -> int:
    from billbridge.cli.tables import print_table

    with local_read_store(args) as store:
        rows = read_models.dead_letter_rows(store) if store is not None else _deployed_dead_letter_rows(args)
    emit(
        args,
        rows,
        lambda: print_table(
            ["queue", "kind", "messages", "in flight", "dead-letter queue"],
            [[r["workflow"], r["kind"], str(r["messages"]), str(r["in_flight"]), r["dead_letter_queue"]] for r in rows],
        ),
    )
    return 0


def _deployed_dead_letter_rows(args: argparse.Namespace) -> list[dict[str, Any]]:
    from billbridge.cli.commands.operations_target import dead_letter_queues_of

    with open_hub(args, read_only=True) as hub:
        depths = dead_letter_queues_of(hub).depths()
    return [
        {
            "workflow": d.workflow,
            "kind": d.kind,
            "messages": d.messages,
            "in_flight": d.in_flight,
            "dead_letter_queue": d.dead_letter_queue_url.rsplit("/", 1)[-1],
        }
        for d in depths
    ]


def show_command(args: argparse.Namespace) -> int:
    from billbridge.adapters.dlq_operations import UnknownDeadLetterQueueError
    from billbridge.cli.commands.operations_target import dead_letter_queues_of
    from billbridge.cli.tables import print_table

    with open_hub(args, read_only=True) as hub:
        queues = dead_letter_queues_of(hub)
        try:
            messages = queues.peek(args.queue, limit=args.limit)
        except UnknownDeadLetterQueueError as unknown:
            return _refuse(unknown.args[0])
    if wants_document(args):
        emit(args, [m.as_document() for m in messages], lambda: None)
        return 0
    if not messages:
        print(f"the {args.queue} dead-letter queue is empty")
        return 0
    print_table(
        ["message", "sent", "event", "type", "correlation", "error"],
        [
            [
                m.message_id,
                m.sent_at.isoformat(timespec="seconds") if m.sent_at else "-",
                m.event_ref or "-",
                m.event_type or "-",
                m.correlation_id or "-",
                m.error if len(m.error) <= 100 else m.error[:97] + "...",
            ]
            for m in messages
        ],
    )
    missing = sum(1 for m in messages if not m.has_error_attributes)
    if missing:
        print(
            f"\n{missing} message(s) carry no error attributes: the queue's redrive policy moved them after "
            "their receive limit; the consumer's logs (by correlation id) hold the cause."
        )
    return 0


def delete_command(args: argparse.Namespace) -> int:
    from billbridge.adapters.dlq_operations import DeadLetterNotFoundError, UnknownDeadLetterQueueError
    from billbridge.cli.commands.operations_target import dead_letter_queues_of

    with open_hub(args) as hub:
        queues = dead_letter_queues_of(hub)
        try:
            deleted = queues.delete(args.queue, args.message_id)
        except (UnknownDeadLetterQueueError, DeadLetterNotFoundError) as missing:
            return _refuse(missing.args[0])
        hub.changed = True
    if wants_document(args):
        emit(args, {"deleted": deleted.as_document()}, lambda: None)
        return 0
    print(
        f"deleted {deleted.message_id} from the {deleted.workflow} DLQ for good "
        f"({deleted.event_ref or deleted.event_type or 'message'}; error: {deleted.error[:100]})"
    )
    return 0


def redrive_command(args: argparse.Namespace) -> int:
    from billbridge.adapters.dlq_operations import (
        DeadLetterNotFoundError,
        NotRedrivableError,
        UnknownDeadLetterQueueError,
    )
    from billbridge.cli.commands.operations_target import dead_letter_queues_of

    with open_hub(args) as hub:
        queues = dead_letter_queues_of(hub)
        try:
            outcome = queues.redrive(args.queue, dry_run=args.dry_run, message_id=args.message_id)
        except (UnknownDeadLetterQueueError, DeadLetterNotFoundError, NotRedrivableError) as refused:
            return _refuse(refused.args[0])
        drained = None
        tasks: list[Any] = []
        if not args.dry_run:
            hub.changed = True
            if hub.is_local:
                drained = hub.drain()
            elif outcome.method == "message_move_task":
                tasks = _follow_move_task(queues, outcome.workflow, args.wait)
        remaining = next(d.messages for d in queues.depths() if d.workflow == outcome.workflow)
    document = {**outcome.as_document(), "remaining_in_dead_letter_queue": remaining}
    if drained is not None:
        document["drain"] = _drain_document(drained)
    if tasks:
        document["move_task"] = tasks[0].as_document()
    if wants_document(args):
        emit(args, document, lambda: None)
        return 0
    if outcome.dry_run:
        print(
            f"dry run: {outcome.would_move} message(s) would go from the {outcome.workflow} DLQ back "
            f"({outcome.method}); nothing moved"
        )
        for message_id in outcome.message_ids:
            print(f"  {message_id}")
        return 0
    if outcome.method == "message_move_task":
        print(
            f"started an SQS message move task for about {outcome.moved} message(s) "
            f"(task {outcome.task_handle}); the consumers process them as they arrive"
        )
        if tasks:
            task = tasks[0]
            print(
                f"move task {task.status}: {task.moved} of {task.to_move if task.to_move is not None else '?'} moved"
                + (f" ({task.failure_reason})" if task.failure_reason else "")
            )
    elif outcome.method == "invoke":
        print(f"invoked the {outcome.workflow} function again with {outcome.moved} failed input(s)")
    else:
        print(
            f"moved {outcome.moved} message(s) from the {outcome.workflow} DLQ back to its queue "
            "(each sent again before it was deleted from the DLQ)"
        )
    for left in outcome.not_redriven:
        print(f"  left in the DLQ: {left['message_id']}: {left['reason']}")
    if drained is not None:
        print("processed on the local stack: " + _drain_summary(document["drain"]))
    print(
        f"{remaining} message(s) now in the {outcome.workflow} DLQ"
        + (" (`billbridge dlq show " + outcome.workflow + "`)" if remaining else "")
    )
    return 0


def _follow_move_task(queues: Any, workflow: str, wait_seconds: float) -> list[Any]:
    """Polls ListMessageMoveTasks until the newest task ends or `wait_seconds` pass; progress on stderr."""
    deadline = time.monotonic() + max(wait_seconds, 0)
    while True:
        tasks = queues.move_tasks(workflow)
        if tasks:
            task = tasks[0]
            print(
                f"  move task {task.status}: {task.moved}/{task.to_move if task.to_move is not None else '?'}",
                file=sys.stderr,
            )
            if task.finished:
                return list(tasks)
        if time.monotonic() >= deadline:
            return list(tasks)
        time.sleep(MOVE_TASK_POLL_SECONDS)


def _drain_document(summary: Any) -> Any:
    as_dict = getattr(summary, "as_dict", None)
    return as_dict() if callable(as_dict) else None


def _drain_summary(document: Any) -> str:
    queues = document.get("queues") if isinstance(document, dict) else None
    if not isinstance(queues, dict):
        return str(document)
    parts = []
    for name, stats in queues.items():
        if isinstance(stats, dict) and any(stats.get(k) for k in ("processed", "failed", "dead_lettered")):
            parts.append(
                f"{name}: {stats.get('processed', 0)} processed, {stats.get('failed', 0)} failed attempt(s), "
                f"{stats.get('dead_lettered', 0)} dead-lettered"
            )
    return "; ".join(parts) or "nothing to process"


def replay_archive_command(args: argparse.Namespace) -> int:
    from billbridge.adapters.dlq_operations import EventBridgeArchiveReplay, RawPayloadReplay
    from billbridge.cli.commands.operations_target import (
        event_bus_name,
        parse_instant,
        publisher_of,
        raw_payload_bucket,
    )

    try:
        start = parse_instant(args.start)
        end = parse_instant(args.end, end_of_day=True)
    except argparse.ArgumentTypeError as invalid:
        print(invalid.args[0])
        return 2
    if end < start:
        print("--to is before --from")
        return 2
    drained = None
    with open_hub(args) as hub:
        if hub.is_local:
            outcome = RawPayloadReplay(
                hub.client("s3"),
                bucket=raw_payload_bucket(hub),
                ledger=hub.ledger,
                publisher=publisher_of(hub),
            ).replay(start, end)
            drained = hub.drain()
            hub.changed = True
        else:
            name = args.name or f"billbridge-{start:%Y%m%dT%H%M%S}-{end:%Y%m%dT%H%M%S}"
            outputs = hub.extras.get("outputs", {})
            outcome = EventBridgeArchiveReplay(
                hub.client("events"),
                event_bus_name=event_bus_name(hub),
                bus_arn=outputs.get("EventBusArn"),
                archive_arn=outputs.get("EventArchiveArn"),
            ).replay(start, end, name=name)
    document = outcome.as_document()
    if drained is not None:
        document["drain"] = _drain_document(drained)
    if wants_document(args):
        emit(args, document, lambda: None)
        return 0
    if outcome.method == "archive":
        print(
            f"started EventBridge replay {outcome.replay_name} ({outcome.state}) of {start.isoformat()} .. "
            f"{end.isoformat()}: {outcome.replay_arn}"
        )
        print("the consumers are idempotent: events already applied change nothing")
        return 0
    print(
        f"re-published {len(outcome.events)} event(s) from {outcome.payloads} stored webhook payload(s) "
        f"received {start.isoformat()} .. {end.isoformat()}"
    )
    for skipped in outcome.skipped:
        print(f"  skipped {skipped['event']} in {skipped['raw_key']}: {skipped['reason']}")
    print("processed on the local stack: " + _drain_summary(document.get("drain")))
    return 0
