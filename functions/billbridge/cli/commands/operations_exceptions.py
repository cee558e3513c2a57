"""`billbridge exceptions list|show|approve|write-off`: what the hub holds back, why, and the decision."""

from __future__ import annotations

import argparse

from billbridge.cli.output import emit, not_found, wants_document, warn_if_nothing_matched
from billbridge.cli.target import add_target_options, local_read_store, open_hub
from billbridge.local import read_models

TYPE_CHECKING = False  # `typing` costs ~4 ms to import: its names serve annotations only
if TYPE_CHECKING:
    from typing import Any


def register(subparsers: Any) -> None:
    exceptions = subparsers.add_parser("exceptions", help="billing exceptions: list, explain, approve, write off")
    commands = exceptions.add_subparsers(dest="exceptions_command", metavar="SUBCOMMAND")

    # `--state` is the exception state (a filter); the local state file is `--state-file`.
    listing = commands.add_parser("list", help="exceptions, filtered")
    listing.add_argument("--type", choices=read_models.EXCEPTION_TYPES, help="only this type")
    listing.add_argument("--contract", help="only this contract")
    listing.add_argument(
        "--state",
        "--exception-state",
        dest="exception_state",
        choices=read_models.EXCEPTION_STATES,
        help="only exceptions in this state",
    )
    add_target_options(listing)
    listing.set_defaults(handler=list_command)

    show = commands.add_parser(
        "show", help="one exception with the lines, contract terms, cap and audit trail that explain it"
    )
    show.add_argument("exception_id")
    add_target_options(show)
    show.set_defaults(handler=show_command)

    approve = commands.add_parser(
        "approve",
        help="approve: a retroactive or invoiced-entry change becomes an adjustment on the next invoice; "
        "held cap lines are released",
    )
    approve.add_argument("exception_id")
    approve.add_argument("--reason", default="", help="why (kept in the audit trail)")
    add_target_options(approve, writes=True)
    approve.set_defaults(handler=decide_command, decision="approve")

    write_off = commands.add_parser("write-off", help="write off: what the exception holds is never billed")
    write_off.add_argument("exception_id")
    write_off.add_argument("--reason", required=True, help="why (kept in the audit trail)")
    add_target_options(write_off, writes=True)
    write_off.set_defaults(handler=decide_command, decision="write_off")

    exceptions.set_defaults(handler=lambda args: (exceptions.print_help(), 2)[1])


def list_command(args: argparse.Namespace) -> int:
    from billbridge.cli.tables import print_table

    with local_read_store(args) as store:
        if store is not None:
            rows = read_models.exception_rows(
                store, type_=args.type, state=args.exception_state, contract_id=args.contract
            )
        else:
            rows = _deployed_exception_rows(args)
    warn_if_nothing_matched(
        rows, {"--type": args.type, "--state": args.exception_state, "--contract": args.contract}, "exceptions"
    )
    if wants_document(args):
        emit(args, rows, lambda: None)
        return 0
    print_table(
        ["id", "type", "state", "contract", "amount", "refs", "correlation"],
        [
            [
                r["exception_id"],
                r["type"],
                r["state"],
                r["contract_id"],
                f"{r['amount']} {r['currency']}".strip(),
                ", ".join(r["refs"]),
                r["correlation_id"] or "-",
            ]
            for r in rows
        ],
    )
    return 0


def _deployed_exception_rows(args: argparse.Namespace) -> list[dict[str, Any]]:
    from billbridge.domain.money import format_amount

    with open_hub(args, read_only=True) as hub:
        currencies: dict[str, str] = {}
        rows = []
        for exception in hub.ledger.exceptions():
            if args.type and exception.type.value != args.type:
                continue
            if args.exception_state and exception.state.value != args.exception_state:
                continue
            if args.contract and exception.contract_id != args.contract:
                continue
            if not exception.currency and exception.contract_id not in currencies:
                latest = hub.ledger.load(exception.contract_id).book.latest_version
                currencies[exception.contract_id] = latest.currency if latest else ""
            rows.append(
                {
                    "exception_id": exception.exception_id,
                    "type": exception.type.value,
                    "state": exception.state.value,
                    "contract_id": exception.contract_id,
                    "amount": format_amount(exception.amount),
                    "currency": exception.currency or currencies[exception.contract_id],
                    "refs": list(exception.refs),
                    "period": exception.period,
                    "correlation_id": exception.correlation_id,
                    "decided_by": exception.decision.actor if exception.decision else None,
                }
            )
    return rows


def show_command(args: argparse.Namespace) -> int:
    view = exception_document(args)
    if view is None:
        return not_found(f"no exception {args.exception_id!r}")
    emit(args, view, lambda: _print_explanation(view))
    return 0


def exception_document(args: argparse.Namespace) -> dict[str, Any] | None:
    """What `exceptions show` prints (None: no such exception). On the local state it is read with
    the standard library (billbridge.local.exception_reads); on a deployed stack, or with the
    book in the single-item layout, through the ledger (`ledger_exception_document`)."""
    from billbridge.local.exception_reads import explain_exception

    with local_read_store(args) as store:
        if store is not None:
            view = explain_exception(store, args.exception_id)
            if not isinstance(view, str):
                if view is not None and view["type"] in ("sync_refused", "sync_failed") and view["refs"]:
                    stored = read_models.command(store, view["refs"][0])
                    view["command"] = (
                        None if stored is None else read_models.command_document(stored, with_payload=True)
                    )
                return view
    return ledger_exception_document(args)


def ledger_exception_document(args: argparse.Namespace) -> dict[str, Any] | None:
    from billbridge.cli.commands.operations_target import raw_payloads_of
    from billbridge.reporting.trace_lineage import UnknownIdentifierError, explain_exception

    with open_hub(args, read_only=True) as hub:
        try:
            view = explain_exception(args.exception_id, hub.ledger, raw_payloads_of(hub))
        except UnknownIdentifierError:
            return None
        if view["type"] in ("sync_refused", "sync_failed") and view["refs"]:
            from billbridge.reporting.downstream_view import command_document

            command = hub.ledger.commands.get(view["refs"][0])
            view["command"] = None if command is None else command_document(command, with_payload=True)
    return view


def _print_explanation(view: dict[str, Any]) -> None:
    from billbridge.cli.tables import print_table

    print(f"Exception {view['exception_id']}")
    print(f"  type      {view['type']}   state {view['state']}")
    print(f"  contract  {view['contract_id']}   period {view['period'] or '-'}")
    currency = view["currency"] or ""
    print(f"  amount    {view['amount']} {currency}   refs {', '.join(view['refs']) or '-'}")
    print(f"  raised    {view['raised_at'] or '-'} by {view['raised_by']}   correlation {view['correlation_id']}")
    if view["detail"]:
        print(f"  detail    {view['detail']}")
    if view["decision"]:
        decision = view["decision"]
        print(f"  decision  {view['state']} by {decision['actor']} at {decision['decided_at']}: {decision['reason']}")
    if view["source_event"]:
        event = view["source_event"]
        print(f"  raised by {event['ref']} {event['type']} (raw webhook {event['raw_key'] or 'unknown'})")
    print(f"\nHow to resolve: {view['how_to_resolve']}")
    command = view.get("command")
    if command:
        import json

        print(
            f"\nCommand {command['command_id']}: {command['state']} after {command['attempts']} attempt(s); "
            f"the system answered: {command['answer'] or '-'}"
        )
        print("Payload sent")
        print(json.dumps(command["payload"], indent=2, sort_keys=True))
    terms = view["contract_version"]
    if terms:
        print(
            f"\nContract version {terms['version']} (effective {terms['effective_date']}, "
            f"term {terms['term']}, "
            f"{terms['currency']}, legal entity {terms['legal_entity']}, tax {terms['tax_jurisdiction']})"
        )
        print_table(
            ["rate card line", "rate"], [[r["line"], f"{r['rate']} {terms['currency']}"] for r in terms["rate_card"]]
        )
        extras = []
        if terms["cap_amount"]:
            extras.append(f"cap {terms['cap_amount']} {terms['currency']}")
        if terms["cost_centers"]:
            extras.append(f"cost centers {', '.join(terms['cost_centers'])}")
        if terms["milestones"]:
            extras.append(
                "milestones "
                + ", ".join(f"{m['milestone_id']} {m['amount']} {terms['currency']}" for m in terms["milestones"])
            )
        if terms["expense_policy"]:
            policy = terms["expense_policy"]
            extras.append(f"billable expenses {', '.join(policy['billable_categories'])} (+{policy['markup_pct']})")
        if extras:
            print("  " + "; ".join(extras))
    if view["cap"]:
        cap = view["cap"]
        cap_currency = (terms or {}).get("currency") or currency
        print(
            f"\nCap {cap['cap_amount']} {cap_currency} (version {cap['cap_version']}): "
            f"invoiced time {cap['invoiced_time']} {cap_currency}, "
            f"remaining {cap['remaining']} {cap_currency}, held {cap['held']} {cap_currency}"
        )
    print("\nLines")
    print_table(
        ["line", "date", "version", "quantity", "rate", "amount", "state", "rule", "what it is"],
        [
            [
                line["line_id"],
                line["line_date"],
                str(line["contract_version"] or "-"),
                line["quantity"],
                f"{line['rate']} {line['currency']}" if line["rate"] else "-",
                f"{line['amount']} {line['currency']}",
                line["invoice_id"] or line["state"],
                line["rate_rule"] or "-",
                line["description"],
            ]
            for line in view["lines"]
        ],
    )
    if view["inputs"]:
        print("\nInputs")
        for item in view["inputs"]:
            print("  " + ", ".join(f"{k}={v}" for k, v in item.items() if v not in (None, "", False)))
    print("\nCorrelation trail")
    print_table(
        ["recorded", "contract", "action", "ref", "rule", "detail"],
        [
            [
                r.get("recorded_at", ""),
                r.get("contract_id", ""),
                r["action"],
                r["ref"],
                r.get("rule", ""),
                r.get("detail", ""),
            ]
            for r in view["correlation_trail"]
        ],
    )


def decide_command(args: argparse.Namespace) -> int:
    import sys

    from billbridge.app.decide_exception import DecideException, MissingReasonError, UnknownExceptionError
    from billbridge.app.segregation_of_duties import SegregationOfDutiesError, segregation_policy_from
    from billbridge.cli import environment
    from billbridge.cli.commands.operations_target import ActorError, SystemClock, actor_of, publisher_of
    from billbridge.domain.exception_decisions import ExceptionDecisionError
    from billbridge.domain.money import format_amount

    try:
        policy = segregation_policy_from(*environment.segregation_thresholds())
    except ValueError as bad:
        print(f"billbridge: {bad}", file=sys.stderr)
        return 2
    with open_hub(args) as hub:
        try:
            actor = actor_of(args, hub)
        except ActorError as refused:
            print(f"billbridge: {refused}", file=sys.stderr)
            return 2
        use_case = DecideException(hub.ledger, SystemClock(), publisher_of(hub), policy=policy)
        try:
            if args.decision == "approve":
                decision = use_case.approve(args.exception_id, actor=actor, reason=args.reason)
            else:
                decision = use_case.write_off(args.exception_id, actor=actor, reason=args.reason)
        except SegregationOfDutiesError as refused:
            hub.changed = True  # the refusal is in the audit trail
            print(f"refused (segregation of duties): {refused.args[0]}")
            return 1
        except (UnknownExceptionError, ExceptionDecisionError, MissingReasonError) as refused:
            print(refused.args[0])
            return 1
        hub.changed = True
    exception = decision.exception
    document = {
        "exception_id": exception.exception_id,
        "type": exception.type.value,
        "state": exception.state.value,
        "contract_id": exception.contract_id,
        "amount": format_amount(exception.amount),
        "currency": exception.currency,
        "actor": exception.decision.actor if exception.decision else actor,
        "reason": exception.decision.reason if exception.decision else args.reason,
        "decided_at": exception.decision.decided_at if exception.decision else None,
        "adjustment_lines": [
            {
                "line_id": line.line_id,
                "amount": format_amount(line.amount),
                "currency": line.currency,
                "line_date": line.line_date.isoformat(),
            }
            for line in decision.added_lines
        ],
    }
    if wants_document(args):
        emit(args, document, lambda: None)
        return 0
    print(
        f"{exception.exception_id}: {exception.state.value} by {document['actor']} "
        f"({document['reason'] or 'no reason given'})"
    )
    for line in document["adjustment_lines"]:
        print(
            f"  adjustment {line['line_id']}: {line['amount']} {line['currency']} on the next invoice "
            f"(dated {line['line_date']})"
        )
    if exception.type.value == "cap_exceeded" and exception.state.value == "approved":
        print("  held lines released: the next billing run bills them")
    return 0
