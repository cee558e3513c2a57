"""`billbridge demo`: the main job. Replays the built-in engagement through the
whole local stack and shows what finance and delivery would see."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from billbridge.cli.target import add_replaced_state_options, confirm_replacing_state, default_state_path

DEFAULT_REPORT = Path("reports/demo-report.json")


def register(subparsers: Any) -> None:
    from billbridge.cli.main import EXIT_CODES

    parser = subparsers.add_parser(
        "demo",
        help="replay the built-in engagement on the local stack and show the result",
        epilog=EXIT_CODES,
    )
    parser.add_argument("--report", type=Path, default=DEFAULT_REPORT, help=f"replay report (default {DEFAULT_REPORT})")
    add_replaced_state_options(parser, what="the demo")
    parser.add_argument(
        "--vendors",
        action="store_true",
        help="the same engagement from vendor-shaped payloads: DocuSign Connect contracts, Xero webhooks "
        "and NetSuite polling against local stand-ins of their APIs (same invoices)",
    )
    parser.set_defaults(handler=demo_command)


def demo_command(args: argparse.Namespace) -> int:
    from contextlib import nullcontext

    from billbridge.cli.main import EXIT_HUB_FAILED
    from billbridge.local.demo_engagement import engagement
    from billbridge.local.downstream_systems import local_downstream
    from billbridge.local.scenario_replay import (
        ReplayResult,
        RunOutcome,
        ScenarioReplayer,
        generate_webhook_secrets,
    )
    from billbridge.local.stack import LocalStack
    from billbridge.local.vendor_demo import VendorWorld

    state_path = Path(args.state_file or default_state_path())
    confirm_replacing_state(str(state_path), yes=args.yes, command="billbridge demo")
    scenario = engagement()
    secrets = generate_webhook_secrets()
    vendors = VendorWorld() if getattr(args, "vendors", False) else None
    print(f"Billbridge demo: {scenario['name']}" + (" (from vendor-shaped payloads)" if vendors else ""))
    print("Starting the local stack (moto stands in for AWS; same handlers, same state machine definition)...")
    runs: list[RunOutcome] = []
    with (
        vendors if vendors is not None else nullcontext(),
        local_downstream() as downstream,
        LocalStack(
            secrets=secrets | (vendors.secrets() if vendors else {}),
            state_file=state_path,
            reset_state=True,
            extra_env=downstream.connector_environment() | (vendors.environment() if vendors else {}),
        ) as stack,
        ScenarioReplayer(stack, secrets, request_prefix="demo") as replayer,
    ):
        print("Local PSA and ERP servers started (the hub's command API over HTTP, on loopback)")
        downstream.install_secret(stack.client("secretsmanager"))
        _script_the_downstream_systems(downstream)
        replayer.configure(scenario["config"])
        deliveries = refused = 0
        posted = 0
        for index, step in enumerate(scenario["steps"], start=1):
            if "deliver" in step and vendors is not None and _from_clm(step["deliver"]):
                status = vendors.deliver_contract(replayer.server.url, step["deliver"])
                deliveries += 1
                refused += 400 <= status < 500
            elif "deliver" in step:
                outcome = replayer.deliver(step["deliver"], step=index)
                deliveries += 1
                refused += 400 <= outcome.status < 500
            elif "billing_run" in step:
                run = replayer.bill(step["billing_run"]["period"], None, request_id=f"demo-step-{index}")
                runs.append(run)
                print(f"  billing run {step['billing_run']['period']}: {run.shown_status}")
            elif "erp_feedback" in step and vendors is not None:
                pay = bool(step["erp_feedback"].get("pay"))
                posted += vendors.answer_as_erp(stack, replayer.server.url, replayer.report()["invoices"], pay=pay)
            elif "erp_feedback" in step:
                posted += _answer_as_erp(replayer, pay=bool(step["erp_feedback"].get("pay")), step=index)
        loop = _close_the_loop(stack, replayer, downstream, step=len(scenario["steps"]) + 1)
        result = ReplayResult(report={}, runs=runs)
        replayer.finish(result)
        report = result.report
        with stack.unit_of_work():
            ids = {contract_id: replayer.ledger.mapping(contract_id) for contract_id in replayer.ledger.contract_ids()}
            commands = replayer.ledger.commands.all_commands()
    args.report.parent.mkdir(parents=True, exist_ok=True)
    args.report.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(
        f"  {deliveries} signed webhook deliveries ({refused} refused), {len(runs)} billing runs, "
        f"{posted} ERP postings\n"
    )
    if vendors is not None:
        by_route: dict[str, int] = {}
        for route, _status in vendors.deliveries:
            by_route[route] = by_route.get(route, 0) + 1
        print("  vendor deliveries: " + ", ".join(f"{n} to /webhooks/{r}" for r, n in sorted(by_route.items())))
        raised = vendors.xero.requests.count(("PUT", "/api.xro/2.0/Invoices"))
        print(
            f"  vendor API calls: Xero {len(vendors.xero.requests)} ({raised} invoices raised by the hub), "
            f"NetSuite {len(vendors.netsuite.requests)}\n"
        )
    _show(report, ids)
    _show_downstream(loop, commands)
    print(f"\nReplay report: {args.report}    Local state: {state_path}")
    for reason, count in result.dead_lettered_with_reason.items():
        print(f"  dead-lettered (the sender's error): {count} x {reason}")
    failures = result.failures
    if failures:
        print(f"\nFAILED: {len(failures)} failure(s) of the hub (tracebacks above, on stderr):", file=sys.stderr)
        for line in failures:
            print(f"  {line}", file=sys.stderr)
        return EXIT_HUB_FAILED
    print("Next: `billbridge contracts show SOW-GLX-2026-01`, `billbridge exceptions list`, `billbridge trace <id>`")
    return 0


def _from_clm(payload: Any) -> bool:
    return isinstance(payload, dict) and payload.get("source") == "clm"


# --- the loop with the PSA and the ERP (separate from the engagement's own steps) ---------------

DE_CUSTOMER = "CUST-GLOBEX-DE"


def _script_the_downstream_systems(downstream: Any) -> None:
    """How the local PSA and ERP behave in the demo: the PSA does not know the German
    customer yet (refuses its project), rate-limits the first project upsert (the hub
    honours `Retry-After`), and the ERP acknowledges the first billing schedule later,
    through its webhook."""
    downstream.psa.refuse_customer(DE_CUSTOMER, f"customer {DE_CUSTOMER} is not set up in the PSA")
    downstream.psa.script("UpsertProject", "rate_limit")
    downstream.erp.script("UpsertBillingSchedule", "accept_later")


def _close_the_loop(stack: Any, replayer: Any, downstream: Any, *, step: int) -> list[str]:
    """The ERP's late acknowledgements arrive by webhook; the refused project is fixed in
    the PSA and retried the way `billbridge sync retry` does it. Returns what happened."""
    from billbridge.cli.commands.sync import request_retry

    happened = []
    for answer in downstream.erp.take_answers():
        replayer.deliver(answer, step=step)
        happened.append(
            f"ERP acknowledged {answer['data']['command_id']} later, by webhook: {answer['data']['reference']}"
        )
    with stack.unit_of_work():
        refused = [c for c in replayer.ledger.commands.all_commands() if c.state.value == "refused"]
    downstream.psa.register_customer(DE_CUSTOMER)
    for command in sorted(refused, key=lambda c: c.command_id):
        happened.append(f"{command.target} refused {command.command_id}: {command.answer}")
        with stack.unit_of_work():
            request_retry(stack, command.command_id, actor="demo-operator")
            stack.drain()
            retried = replayer.ledger.commands.get(command.command_id)
        happened.append(
            f"  fixed in the PSA ({DE_CUSTOMER} set up), retried: {retried.state.value}"
            + (f" as {retried.reference}" if retried.reference else "")
        )
    return happened


def _show_downstream(happened: list[str], commands: list[Any]) -> None:
    from billbridge.cli.tables import print_table
    from billbridge.domain.downstream_commands import propagation_of

    print("\nCommands to the PSA and the ERP (each with its outcome and the system's own id)")
    print_table(
        ["command", "state", "system id", "attempts"],
        [
            [c.command_id, c.state.value, c.reference or "-", str(c.attempts)]
            for c in sorted(commands, key=lambda c: (c.contract_id, c.system, c.name, c.command_id))
        ],
    )
    for line in happened:
        print(f"  {line}")
    print("\nPropagation (the contract version each system holds)")
    print_table(
        ["contract", "system", "target", "latest", "state", "holds", "system id"],
        [
            [
                p.contract_id,
                p.system,
                p.target,
                f"v{p.latest_version}",
                p.state.value,
                f"v{p.acknowledged_version}" if p.acknowledged_version else "-",
                p.reference or "-",
            ]
            for p in propagation_of(commands)
        ],
    )
    print("(with times: `billbridge contracts propagation`; stale ones: `--stale HOURS`)")


def _answer_as_erp(replayer: Any, *, pay: bool, step: int) -> int:
    """Post every proposed invoice in the ERP (an invoice number and its tax),
    and pay the ones the step says are paid."""
    answered = 0
    for invoice in replayer.report()["invoices"]:
        if invoice["status"] != "proposed":
            continue
        answered += 1
        number = "INV-" + invoice["proposal_id"].replace("SOW-", "")
        base = {
            "specversion": "1.0",
            "source": "erp",
            "time": "2026-04-01T09:00:00Z",
            "datacontenttype": "application/json",
        }
        replayer.deliver(
            {
                **base,
                "id": f"erp-post-{invoice['proposal_id']}",
                "type": "invoice.posted",
                "data": {
                    "proposal_id": invoice["proposal_id"],
                    "invoice_number": number,
                    "posting_date": "2026-04-01",
                    "subtotal": invoice["subtotal"],
                    "tax": invoice["tax"],
                    "total": invoice["total"],
                    "currency": invoice["currency"],
                },
            },
            step=step,
        )
        if pay:
            replayer.deliver(
                {
                    **base,
                    "id": f"erp-pay-{invoice['proposal_id']}",
                    "type": "payment.applied",
                    "data": {
                        "invoice_number": number,
                        "payment_id": f"PAY-{number}",
                        "amount": invoice["total"],
                        "currency": invoice["currency"],
                        "paid_on": "2026-04-20",
                    },
                },
                step=step,
            )
    return answered


def _show(report: dict[str, Any], ids: dict[str, dict[str, str]]) -> None:
    from billbridge.cli.tables import money, print_table

    print("Invoices")
    print_table(
        ["proposal", "ERP", "status", "ERP invoice", "subtotal", "tax", "total"],
        [
            [
                i["proposal_id"],
                i["erp_instance"],
                i["status"],
                i["erp_invoice_number"] or "-",
                money(i["subtotal"], i["currency"]),
                money(i["tax"], i["currency"]),
                money(i["total"], i["currency"]),
            ]
            for i in report["invoices"]
        ],
    )
    for invoice in report["invoices"]:
        print(f"\n  {invoice['proposal_id']} lines")
        print_table(
            ["kind", "ref", "version", "quantity", "rate", "amount", "what it is"],
            [
                [
                    line["kind"],
                    line["ref"],
                    str(line["contract_version"] or "-"),
                    line["quantity"],
                    money(line["rate"], line["currency"]) if line["rate"] else "-",
                    money(line["amount"], line["currency"]),
                    line["description"],
                ]
                for line in invoice["lines"]
            ],
        )
    print("\nExceptions (held, visible, resolvable)")
    print_table(
        ["type", "contract", "refs", "amount", "state"],
        [
            [e["type"], e["contract_id"], ", ".join(e["refs"]), money(e["amount"], e["currency"]), e["state"]]
            for e in report["exceptions"]
        ],
    )
    print("\nRe-rated after amendments")
    print_table(
        ["ref", "from", "to", "old amount", "new amount"],
        [
            [
                r["ref"],
                str(r["from_version"]),
                str(r["to_version"]),
                money(r["old_amount"], r["currency"]),
                money(r["new_amount"], r["currency"]),
            ]
            for r in report["rerated"]
        ],
    )
    print("\nCross-system id map")
    print_table(
        ["contract", "version", "PSA project", "ERP customer", "ERP billing schedule"],
        [
            [
                c,
                m.get("contract_version", "-"),
                m.get("psa_project_ref", "-"),
                m.get("erp_customer_id", "-"),
                m.get("erp_billing_schedule_ref", "-"),
            ]
            for c, m in ids.items()
        ],
    )
    print("\nUnbilled (rated, not yet invoiced)")
    currencies = report.get("currencies", {})
    print_table(["contract", "amount"], [[c, money(a, currencies.get(c, ""))] for c, a in report["unbilled"].items()])
